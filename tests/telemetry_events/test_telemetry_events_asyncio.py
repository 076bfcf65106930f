"""The four emqtt telemetry events, emitted by the asyncio client against the real broker over
every transport (tcp, ssl, ws, wss, quic): sizes, bytes, packets and metadata."""

from __future__ import annotations

import asyncio
import os

import pytest
from events_session import (
    ALL_EVENTS,
    COMMON_KEYS,
    PASSWORD,
    PUBLISHES,
    SEND_DATA,
    SEND_DATA_FAILED,
    USERNAME,
    BrokerEndpoint,
    decode_all,
    kinds,
    named,
    real_size,
    run_session,
)

from emqtt_core.packets import (
    ConnAck,
    Connect,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    SubAck,
    UnsubAck,
)
from telemetry.testing import capture

#: The packets the session receives: CONNACK, SUBACK, its four messages back, PUBACK for the
#: two QoS 1 publishes, PUBREC and PUBCOMP for the QoS 2 one, PUBREL for the QoS 2 message
#: delivered to it, PINGRESP and UNSUBACK.
RECEIVED_KINDS = {
    "ConnAck": 1,
    "SubAck": 1,
    "Publish": 4,
    "PubAck": 2,
    "PubRec": 1,
    "PubComp": 1,
    "PubRel": 1,
    "PingResp": 1,
    "UnsubAck": 1,
}
#: The packets it sends: CONNECT, SUBSCRIBE, four PUBLISH, PUBACK for the two QoS 1 messages
#: delivered to it, PUBREC and PUBCOMP for the QoS 2 one, PUBREL for its own QoS 2 publish,
#: PINGREQ, UNSUBSCRIBE and DISCONNECT.
SENT_KINDS = {
    "Connect": 1,
    "Subscribe": 1,
    "Publish": 4,
    "PubAck": 2,
    "PubRec": 1,
    "PubRel": 1,
    "PubComp": 1,
    "PingReq": 1,
    "Unsubscribe": 1,
    "Disconnect": 1,
}


def test_recv_data_carries_exactly_the_bytes_the_client_processed(
    endpoint: BrokerEndpoint,
) -> None:
    with capture(ALL_EVENTS) as events:
        observed = asyncio.run(run_session(endpoint.client_options(telemetry=True)))

    received = [event for event in events if event.event_name[2] == "recv_data"]
    assert {event.event_name for event in received} == {endpoint.recv_event}
    for event in received:
        assert event.measurements == {"data_size": len(event.metadata["data"])}
        assert type(event.metadata["data"]) is bytes
    chunks = [event.metadata["data"] for event in received]
    packets = decode_all(chunks, observed.protocol_version)
    assert sum(event.measurements["data_size"] for event in received) == sum(
        len(chunk) for chunk in chunks
    )
    assert kinds(packets) == RECEIVED_KINDS
    # The decoded packets are the ones the client acted on, value for value.
    [connack] = [p for p in packets if isinstance(p, ConnAck)]
    assert connack == observed.connected.connack
    [suback] = [p for p in packets if isinstance(p, SubAck)]
    assert suback.reason_codes == tuple(observed.suback)
    assert [p for p in packets if isinstance(p, Publish)] == observed.messages
    assert [p.payload for p in observed.messages] == [payload for _, payload in PUBLISHES]
    qos1_results = [r for (qos, _), r in zip(PUBLISHES, observed.results, strict=True) if qos == 1]
    assert sorted(p.reason_code for p in packets if isinstance(p, PubAck)) == sorted(
        r.reason_code for r in qos1_results
    )
    [pubcomp] = [p for p in packets if isinstance(p, PubComp)]
    [qos2_result] = [r for (qos, _), r in zip(PUBLISHES, observed.results, strict=True) if qos == 2]
    assert pubcomp.reason_code == qos2_result.reason_code
    [unsuback] = [p for p in packets if isinstance(p, UnsubAck)]
    assert unsuback.reason_codes == tuple(observed.unsuback)
    assert len([p for p in packets if isinstance(p, PingResp)]) == 1


def test_send_data_sizes_are_the_encoded_sizes_packet_by_packet(endpoint: BrokerEndpoint) -> None:
    options = endpoint.client_options(telemetry=True, username=USERNAME, password=PASSWORD)
    with capture(ALL_EVENTS) as events:
        observed = asyncio.run(run_session(options))

    sent = named(events, SEND_DATA)
    assert not named(events, SEND_DATA_FAILED)
    packets = [event.metadata["data"] for event in sent]
    assert kinds(packets) == SENT_KINDS
    assert isinstance(packets[0], Connect)
    for event, packet in zip(sent, packets, strict=True):
        assert event.measurements == {
            "data_size": real_size(packet, observed.protocol_version, PASSWORD.encode())
        }
    connect = packets[0]
    assert connect.username == USERNAME
    assert connect.password is not None and PASSWORD.encode() not in connect.password
    published = [packet for packet in packets if isinstance(packet, Publish)]
    assert [(p.qos, p.payload) for p in published] == list(PUBLISHES)


def test_every_event_carries_the_common_metadata(endpoint: BrokerEndpoint) -> None:
    with capture(ALL_EVENTS) as events:
        observed = asyncio.run(run_session(endpoint.client_options(telemetry=True)))

    assert events
    for event in events:
        metadata = event.metadata
        extra = "reason" if event.event_name == SEND_DATA_FAILED else "data"
        assert set(metadata) == COMMON_KEYS | {extra}, event
        assert metadata["socket_type"] == endpoint.socket_type
        assert metadata["connection_module"] == endpoint.connection_module
        assert metadata["protocol_version"] == 5
        assert metadata["pid"] == os.getpid()
    # MQTT 5 without a client identifier: the server assigns one in CONNACK
    # [MQTT-3.2.2-16]; events before it carry the configured (empty) one.
    assigned = observed.client_id
    assert assigned and assigned == observed.connected.client_id
    ids = [event.metadata["client_id"] for event in events]
    first_recv = next(i for i, e in enumerate(events) if e.event_name[2] == "recv_data")
    assert ids[: first_recv + 1] == [""] * (first_recv + 1)  # CONNECT, then CONNACK
    assert ids[first_recv + 1 :] == [assigned] * (len(ids) - first_recv - 1)


@pytest.mark.parametrize("protocol_version", [3, 4, 5])
def test_metadata_follows_the_protocol_version_and_configured_client_id(
    tcp_endpoint: BrokerEndpoint, protocol_version: int
) -> None:
    client_id = f"tele-v{protocol_version}-{os.getpid()}"
    options = tcp_endpoint.client_options(
        telemetry=True, protocol_version=protocol_version, client_id=client_id
    )
    with capture(ALL_EVENTS) as events:
        observed = asyncio.run(run_session(options))

    assert observed.protocol_version == protocol_version
    assert {event.metadata["protocol_version"] for event in events} == {protocol_version}
    assert {event.metadata["client_id"] for event in events} == {client_id}
    for event in named(events, SEND_DATA):
        packet = event.metadata["data"]
        assert event.measurements["data_size"] == real_size(packet, protocol_version, None)
    chunks = [e.metadata["data"] for e in events if e.event_name[2] == "recv_data"]
    assert kinds(decode_all(chunks, protocol_version)) == RECEIVED_KINDS


def test_disabled_telemetry_emits_nothing(endpoint: BrokerEndpoint) -> None:
    with capture([*ALL_EVENTS, ("emqtt", "_", "_")]) as events:
        observed = asyncio.run(run_session(endpoint.client_options(telemetry=False)))
    assert len(observed.messages) == len(PUBLISHES)  # the session did happen
    assert events == []


def test_telemetry_is_off_by_default(tcp_endpoint: BrokerEndpoint) -> None:
    with capture([("emqtt", "_", "_")]) as events:
        asyncio.run(run_session(tcp_endpoint.client_options()))
    assert events == []
