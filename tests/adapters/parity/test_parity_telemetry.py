"""Parity of the four telemetry events: every adapter emits the same events over every
transport, with sizes that match the bytes that arrived and the packets that were sent."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from parity_facade import Adapter, Target, target_for, unique
from support.broker import Mosquitto
from support.telemetry_metadata import MODULES, SOCKET_TYPES

from adapters._telemetry import EVENT_NAMES
from adapters.errors import ClientClosed, ConnectionLost
from adapters.transports.errors import TransportClosed
from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import QoS
from emqtt_core.packets import Packet, Publish
from telemetry.testing import CapturedEvent, capture


def decode_stream(chunks: list[bytes], version: int) -> list[Packet]:
    """Decode a byte stream cut in ``chunks``; every byte must belong to a whole packet."""
    decoder = Decoder(version)
    packets: list[Packet] = []
    for chunk in chunks:
        decoder.feed(chunk)
        while (packet := decoder.next_packet()) is not None:
            packets.append(packet)
    assert decoder.buffered == 0
    return packets


def kinds(packets: list[Packet]) -> Counter[str]:
    return Counter(type(packet).__name__ for packet in packets)


def test_events_describe_the_traffic(adapter: Adapter, target: Target, version: int) -> None:
    topic = unique()
    client_id = unique("tm").replace("/", "-")
    with capture(EVENT_NAMES) as events:
        with adapter.client(
            target, protocol_version=version, client_id=client_id, telemetry=True
        ) as client:
            client.subscribe(topic, qos=2)
            for qos in (0, 1, 2):
                client.publish(topic, b"t%d" % qos, qos=qos)
            received = client.messages(3)
            client.unsubscribe(topic)
            client.ping()
        adapter.settle()
    mine: list[CapturedEvent] = [e for e in events if e.metadata["client_id"] == client_id]
    by_name = Counter(e.event_name[1:] for e in mine)
    recv_name = ("websocket" if target.transport in ("ws", "wss") else "socket", "recv_data")
    assert set(by_name) == {recv_name, ("socket", "send_data")}  # no send_data_failed

    for event in mine:
        metadata = event.metadata
        assert metadata["socket_type"] == SOCKET_TYPES[target.transport]
        assert metadata["connection_module"] == MODULES[target.transport]
        assert metadata["protocol_version"] == version
        assert metadata["pid"] == os.getpid()

    # recv_data: the chunks are exactly the MQTT bytes that arrived, whole packets once joined.
    chunks = [e.metadata["data"] for e in mine if e.event_name[1:] == recv_name]
    sizes = [e.measurements["data_size"] for e in mine if e.event_name[1:] == recv_name]
    assert sizes == [len(chunk) for chunk in chunks]
    arrived = decode_stream(chunks, version)
    assert sum(sizes) == sum(len(encode(packet, version)) for packet in arrived)
    assert kinds(arrived) == Counter(
        ConnAck=1, SubAck=1, Publish=3, PubAck=1, PubRec=1, PubRel=1, PubComp=1,
        UnsubAck=1, PingResp=1,
    )
    delivered = [p.payload for p in arrived if isinstance(p, Publish)]
    assert sorted(delivered) == sorted(m.payload for m in received)

    # send_data: one event per packet, its size the packet's encoded size.
    sent = [e for e in mine if e.event_name[1:] == ("socket", "send_data")]
    for event in sent:
        assert event.measurements["data_size"] == len(encode(event.metadata["data"], version))
    assert kinds([e.metadata["data"] for e in sent]) == Counter(
        Connect=1, Subscribe=1, Publish=3, PubAck=1, PubRec=1, PubRel=1, PubComp=1,
        Unsubscribe=1, PingReq=1, Disconnect=1,
    )


@pytest.fixture(params=["ws", "wss", "quic"])
def layered_target(request: pytest.FixtureRequest, mosquitto: Mosquitto) -> Target:
    """A transport with a layer of its own (WebSocket, QUIC) that can close under the client."""
    return target_for(request, mosquitto, request.param)


def test_send_data_failed_when_the_layer_closed_under_the_client(
    adapter: Adapter, layered_target: Target
) -> None:
    # Closing a QUIC layer sends CONNECTION_CLOSE, and the relay's answer can reach the client
    # before the publish does: the client then ends the connection without trying to send, and
    # there is no send to fail. Such an attempt proves nothing, so it is made again (a few
    # times at most); the attempt that did try to send must report exactly one failure.
    for _attempt in range(5):
        client_id = unique("tf").replace("/", "-")
        topic = unique()
        with capture(EVENT_NAMES) as events:
            client = adapter.client(
                layered_target, protocol_version=4, client_id=client_id, telemetry=True
            )
            try:
                client.close_layer()
                # ClientClosed: the client had already ended the connection (the lost race).
                with pytest.raises((ConnectionLost, ClientClosed)):
                    client.publish(topic, b"lost", qos=1)
            finally:
                client.disconnect()
        mine = [e for e in events if e.metadata["client_id"] == client_id]
        failed = [e for e in mine if e.event_name == ("emqtt", "socket", "send_data_failed")]
        sent = [e.metadata["data"] for e in mine if e.event_name[2] == "send_data"]
        if failed or any(isinstance(p, Publish) for p in sent):
            break
    assert len(failed) == 1
    assert failed[0].metadata["reason"] is not None
    publish = Publish(topic=topic, payload=b"lost", qos=QoS.AT_LEAST_ONCE, packet_id=1)
    assert failed[0].measurements == {"data_size": len(encode(publish, 4))}
    assert isinstance(failed[0].metadata["reason"], TransportClosed)
    assert failed[0].metadata["socket_type"] == SOCKET_TYPES[layered_target.transport]
    # The publish that failed is not reported as sent.
    assert not any(isinstance(p, Publish) for p in sent)
