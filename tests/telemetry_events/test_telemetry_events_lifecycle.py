"""The emqtt telemetry events over a client's life: across a reconnection to a restarted
broker, and when a hostile server sends bytes that are not MQTT."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import pytest
from events_session import (
    ALL_EVENTS,
    SEND_DATA,
    SESSION_TIMEOUT,
    decode_all,
    kinds,
    named,
    real_size,
)

from adapters.asyncio import Client, ConnectionLost, ReconnectPolicy
from emqtt_core.packets import Connect, Disconnect
from telemetry.testing import CapturedEvent, capture

#: Reconnect at once (the test restarts the broker and waits for the new connection).
FAST_RECONNECT = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.0)


def split_connections(events: Sequence[CapturedEvent]) -> list[list[CapturedEvent]]:
    """The events of each network connection: a new one starts at each CONNECT sent."""
    connections: list[list[CapturedEvent]] = []
    for event in events:
        if event.event_name == SEND_DATA and isinstance(event.metadata["data"], Connect):
            connections.append([])
        connections[-1].append(event)
    return connections


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_events_follow_the_client_across_a_reconnection(
    mosquitto_factory: object, transport: str
) -> None:
    from support.broker import Mosquitto

    assert callable(mosquitto_factory)
    broker = mosquitto_factory()
    assert isinstance(broker, Mosquitto)
    port = broker.tcp_port if transport == "tcp" else broker.ws_port
    client_id = f"reconnecting-{transport}-{os.getpid()}"

    async def session() -> None:
        async with Client(
            broker.host,
            port,
            transport=transport,
            client_id=client_id,
            protocol_version=4,
            reconnect=FAST_RECONNECT,
            telemetry=True,
        ) as client:
            await client.publish("telemetry/reconnect", b"before", qos=1)
            # SIGKILL: no DISCONNECT, the socket just dies; the client reconnects by itself.
            await asyncio.to_thread(broker.restart, kill=True)
            # A publish made while reconnecting waits for the new connection.
            await client.publish("telemetry/reconnect", b"after", qos=1)

    with capture(ALL_EVENTS) as events:
        asyncio.run(asyncio.wait_for(session(), SESSION_TIMEOUT))

    first, second = split_connections(events)
    for connection, sent_kinds in (
        (first, {"Connect": 1, "Publish": 1}),
        (second, {"Connect": 1, "Publish": 1, "Disconnect": 1}),
    ):
        sent = [e.metadata["data"] for e in named(connection, SEND_DATA)]
        assert kinds(sent) == sent_kinds
        for event in named(connection, SEND_DATA):
            assert event.measurements["data_size"] == real_size(event.metadata["data"], 4, None)
        # Each connection's bytes decode on their own: no chunk is lost or counted twice.
        chunks = [e.metadata["data"] for e in connection if e.event_name[2] == "recv_data"]
        assert kinds(decode_all(chunks, 4)) == {"ConnAck": 1, "PubAck": 1}
    payloads = [e.metadata["data"].payload for e in named(events, SEND_DATA)
                if hasattr(e.metadata["data"], "payload")]
    assert payloads == [b"before", b"after"]
    for event in events:
        assert event.metadata["client_id"] == client_id
        assert event.metadata["socket_type"] == ("tcp" if transport == "tcp" else "websocket")


def test_recv_data_reports_hostile_bytes_before_the_client_refuses_them() -> None:
    # Not a broker: a loopback server that accepts the connection, then sends a byte string
    # that is no MQTT packet (packet type 0 is reserved [MQTT-2.1.3-1]).
    connack = b"\x20\x03\x00\x00\x00"  # MQTT 5 CONNACK: success, no properties
    garbage = b"\x00\x02\xff\xff"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # the CONNECT
        writer.write(connack)
        await writer.drain()
        await reader.read(65536)  # the SUBSCRIBE: the client is connected
        writer.write(garbage)
        await writer.drain()
        await reader.read(65536)  # until the client closes
        writer.close()

    async def session() -> BaseException | None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with Client("127.0.0.1", port, client_id="victim", telemetry=True) as client:
                subscribed = asyncio.ensure_future(client.subscribe("a/b"))
                try:
                    await subscribed
                except ConnectionLost as exc:
                    return exc
                return None
        finally:
            server.close()
            await server.wait_closed()

    with capture(ALL_EVENTS) as events:
        error = asyncio.run(asyncio.wait_for(session(), SESSION_TIMEOUT))

    assert isinstance(error, ConnectionLost)
    received = b"".join(e.metadata["data"] for e in events if e.event_name[2] == "recv_data")
    assert received == connack + garbage
    sent = [e.metadata["data"] for e in named(events, SEND_DATA)]
    assert [type(p).__name__ for p in sent] == ["Connect", "Subscribe", "Disconnect"]
    disconnect = sent[-1]
    assert isinstance(disconnect, Disconnect)
    assert int(disconnect.reason_code) >= 0x80  # the client says why it closes
    for event in named(events, SEND_DATA):
        assert event.measurements["data_size"] == real_size(event.metadata["data"], 5, None)
