"""Every documented error of the asyncio client, each provoked for real."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trustme
from asyncio_support import WatchedClient, endpoint, make_client, run, unique_topic
from support.net import free_tcp_port

import telemetry
from adapters.asyncio import (
    AckTimeout,
    Client,
    ClientClosed,
    ConnackRefused,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    InvalidOptions,
    PublishFailed,
    ReconnectPolicy,
    TLSHostnameMismatch,
    TLSVerificationFailed,
)
from adapters.errors import ConnectError
from emqtt_core.codec import encode
from emqtt_core.enums import ProtocolVersion
from emqtt_core.packets import ConnAck, Disconnect, PingReq
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

pytestmark = pytest.mark.timeout(60)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.Server, int]:
    """A scripted MQTT server on a free loopback port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts and never answers."""
    await reader.read()
    writer.close()


def connack_then_silence(connack: ConnAck, version: ProtocolVersion) -> Handler:
    """Answers CONNECT with ``connack``, then reads and ignores everything."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(encode(connack, version))
        await reader.read()
        writer.close()

    return handler


# -- connection errors -------------------------------------------------------------------------


def test_nothing_listening_is_connection_refused() -> None:
    port = free_tcp_port()
    with pytest.raises(ConnectionRefused) as info:
        run(Client("127.0.0.1", port).connect())
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)


@pytest.mark.broker
@pytest.mark.parametrize("transport", ["ssl", "wss", "quic"])
def test_untrusted_certificate_is_refused(request: pytest.FixtureRequest, transport: str) -> None:
    options = endpoint(request, transport)
    options["ssl_context"] = ssl.create_default_context()
    trustme.CA().configure_trust(options["ssl_context"])  # some other CA only
    with pytest.raises(TLSVerificationFailed) as info:
        run(make_client(options).connect())
    assert not isinstance(info.value, TLSHostnameMismatch)
    assert info.value.__cause__ is not None


@pytest.mark.broker
@pytest.mark.parametrize("transport", ["ssl", "wss", "quic"])
def test_certificate_for_another_host_is_refused(
    request: pytest.FixtureRequest, transport: str
) -> None:
    options = endpoint(request, transport)
    with pytest.raises(TLSHostnameMismatch):
        run(make_client(options, server_hostname="not-this-server.example").connect())


@pytest.mark.broker
@pytest.mark.parametrize("version", [4, 5])
def test_connack_refusal_carries_the_reason_code(mosquitto_factory: Any, version: int) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    client = Client(broker.host, broker.tcp_port, protocol_version=version)
    with pytest.raises(ConnackRefused) as info:
        run(client.connect())
    # mosquitto: 0x87 Not authorized (MQTT 5) or return code 5 (3.1.1), mapped to 0x87.
    assert info.value.reason_code == ReasonCode.NOT_AUTHORIZED
    assert client.status == "closed"


def test_no_connack_is_connect_timeout() -> None:
    async def scenario() -> None:
        server, port = await serve(silent)
        async with server:
            await Client("127.0.0.1", port, connect_timeout=0.3).connect()

    with pytest.raises(ConnectTimeout) as info:
        run(scenario())
    assert isinstance(info.value, TimeoutError)


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("subscribe", lambda c: c.subscribe("a/b", qos=1)),
        ("unsubscribe", lambda c: c.unsubscribe("a/b")),
        ("ping", lambda c: c.ping()),
        ("publish", lambda c: c.publish("a/b", b"x", qos=1)),
    ],
)
def test_missing_acknowledgement_is_ack_timeout(
    operation: str, call: Callable[[Client], Awaitable[object]]
) -> None:
    async def scenario() -> None:
        server, port = await serve(connack_then_silence(ConnAck(), ProtocolVersion.MQTT_5))
        async with server:
            client = Client("127.0.0.1", port, client_id="c", ack_timeout=0.3, keep_alive=0)
            async with client:
                await call(client)

    with pytest.raises(AckTimeout) as info:
        run(scenario())
    assert info.value.operation == operation


@pytest.mark.broker
def test_broker_death_is_connection_lost_for_consumers(mosquitto_factory: Any) -> None:
    broker = mosquitto_factory()
    topic = unique_topic("lost")

    async def scenario() -> Client:
        client = Client(broker.host, broker.tcp_port)
        await client.connect()
        await client.subscribe(topic)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: broker.stop(kill=True))
        with pytest.raises(ConnectionLost):
            async for _ in client.messages():
                pass
        return client

    client = run(scenario())
    assert client.status == "closed"

    async def after() -> None:
        await client.publish(topic, b"x")

    with pytest.raises(ClientClosed):
        run(after())


# -- misuse ------------------------------------------------------------------------------------


def test_operations_need_a_connected_client() -> None:
    client = Client("127.0.0.1", free_tcp_port())

    async def scenario() -> None:
        with pytest.raises(ClientClosed):
            await client.publish("a", b"x")
        with pytest.raises(ClientClosed):
            await client.subscribe("a")
        with pytest.raises(ClientClosed):
            client.publish_nowait("a", b"x", qos=1)

    run(scenario())


@pytest.mark.broker
def test_a_disconnected_client_stays_closed(request: pytest.FixtureRequest) -> None:
    options = endpoint(request, "tcp")

    async def scenario() -> None:
        client = make_client(options)
        async with client:
            pass
        assert client.status == "closed"
        with pytest.raises(ClientClosed):
            await client.publish("a", b"x", qos=1)
        with pytest.raises(ClientClosed):
            await client.connect()
        await client.disconnect()  # idempotent

    run(scenario())


@pytest.mark.parametrize(
    "options",
    [
        {"port": 0},
        {"port": 70000},
        {"transport": "udp"},
        {"protocol_version": 6},
        {"keep_alive": -1},
        {"ssl_context": ssl.create_default_context()},  # with plain tcp
        {"ws_path": "mqtt"},
        {"connect_timeout": 0},
        {"message_queue_size": 0},
        {"reconnect": -2},
        {"protocol_version": 4, "session_expiry_interval": 10},
        {"properties": {"no_such_property": 1}},
        {"properties": {"topic_alias": 3}},
        {"hosts": "a,b"},
        {"password": 3},
    ],
)
def test_bad_options_are_rejected_before_anything_is_sent(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptions):
        Client("127.0.0.1", **options)


def test_bad_urls_are_rejected() -> None:
    with pytest.raises(InvalidOptions):
        Client.from_url("http://example.org")


# -- failover and redirection ------------------------------------------------------------------


@pytest.mark.broker
def test_hosts_are_tried_in_order(request: pytest.FixtureRequest) -> None:
    broker = request.getfixturevalue("mosquitto")
    dead = free_tcp_port()

    async def scenario() -> tuple[str, int] | None:
        client = Client(hosts=[f"127.0.0.1:{dead}", (broker.host, broker.tcp_port)])
        async with client:
            assert client.endpoint is not None
            return client.endpoint.host, client.endpoint.port

    assert run(scenario()) == (broker.host, broker.tcp_port)


def test_all_hosts_failing_raises_the_last_error() -> None:
    ports = [free_tcp_port(), free_tcp_port()]
    client = Client(hosts=[("127.0.0.1", p) for p in ports])
    with pytest.raises(ConnectionRefused) as info:
        run(client.connect())
    assert info.value.port == ports[-1]


@pytest.mark.broker
@pytest.mark.parametrize("code", [ReasonCode.USE_ANOTHER_SERVER, ReasonCode.SERVER_MOVED])
def test_server_redirection_is_followed(
    request: pytest.FixtureRequest, code: ReasonCode
) -> None:
    """CONNACK 0x9C/0x9D with a Server Reference sends the client to that server."""
    broker = request.getfixturevalue("mosquitto")
    refusal = ConnAck(
        reason_code=code,
        properties=Properties(server_reference=f"{broker.host}:{broker.tcp_port}"),
    )

    async def scenario() -> int | None:
        server, port = await serve(connack_then_silence(refusal, ProtocolVersion.MQTT_5))
        async with server:
            client = Client("127.0.0.1", port)
            async with client:
                assert client.endpoint is not None
                return client.endpoint.port

    assert run(scenario()) == broker.tcp_port


def test_redirection_without_a_working_server_fails_with_the_refusal() -> None:
    async def scenario() -> None:
        refusal = ConnAck(
            reason_code=ReasonCode.USE_ANOTHER_SERVER,
            properties=Properties(server_reference=f"127.0.0.1:{free_tcp_port()}"),
        )
        server, port = await serve(connack_then_silence(refusal, ProtocolVersion.MQTT_5))
        async with server:
            await Client("127.0.0.1", port).connect()

    with pytest.raises(ConnectError):
        run(scenario())


def test_a_silent_server_is_detected_by_keepalive() -> None:
    """No PINGRESP within ping_timeout: the client declares the connection dead (the
    keepalive of MQTT section 3.1.2.10) instead of hanging on a half-open connection."""

    async def scenario() -> None:
        server, port = await serve(connack_then_silence(ConnAck(), ProtocolVersion.MQTT_5))
        async with server:
            client = Client("127.0.0.1", port, client_id="c", keep_alive=1, ping_timeout=0.5)
            await client.connect()
            async for _ in client.messages():
                pass

    with pytest.raises(ConnectionLost):
        run(scenario(), timeout=10)


@pytest.mark.broker
def test_keepalive_pings_an_idle_connection(request: pytest.FixtureRequest) -> None:
    """An idle client sends PINGREQ once per keepalive interval [MQTT-3.1.2-20] and stays
    connected."""
    options = endpoint(request, "tcp")

    async def scenario() -> str:
        pinged = asyncio.Event()

        def on_send(name: Any, measurements: Any, metadata: Any, config: Any) -> None:
            if isinstance(metadata["data"], PingReq):
                pinged.set()

        telemetry.attach("keepalive-test", ("emqtt", "socket", "send_data"), on_send)
        try:
            async with make_client(options, keep_alive=1, telemetry=True) as client:
                await asyncio.wait_for(pinged.wait(), 5)
                await client.publish("t/keepalive", b"still here", qos=1)
                return client.status
        finally:
            telemetry.detach("keepalive-test")

    assert run(scenario()) == "connected"


def test_a_publish_the_server_forgot_is_publish_failed() -> None:
    """With session_lost_policy="fail", a QoS 1 message in flight when the connection drops
    fails with PublishFailed once the server reconnects without the session (CONNACK
    session_present=0): whether it was delivered is unknown, so it is not sent again."""
    connections = 0

    async def forgetful(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(1)
        writer.write(encode(ConnAck(session_present=False), ProtocolVersion.MQTT_5))
        if connections == 1:
            data = await reader.read(1)  # the PUBLISH arrives; it is never acknowledged
            assert data[0] >> 4 == 3
            writer.transport.abort()
            return
        await reader.read()
        writer.close()

    async def scenario() -> None:
        server, port = await serve(forgetful)
        async with server:
            client = Client(
                "127.0.0.1",
                port,
                client_id="forgotten",
                session_expiry_interval=60,
                session_lost_policy="fail",
                reconnect=True,
                keep_alive=0,
            )
            async with client:
                await client.publish("a/b", b"lost?", qos=1)

    with pytest.raises(PublishFailed) as info:
        run(scenario())
    assert info.value.__cause__ is not None
    assert connections == 2


@pytest.mark.broker
def test_a_server_disconnect_with_a_reference_moves_the_client(
    request: pytest.FixtureRequest,
) -> None:
    """DISCONNECT 0x9C Use another server with a Server Reference, while connected: a client
    with reconnection goes to that server at once."""
    broker = request.getfixturevalue("mosquitto")
    goodbye = Disconnect(
        reason_code=ReasonCode.USE_ANOTHER_SERVER,
        properties=Properties(server_reference=f"{broker.host}:{broker.tcp_port}"),
    )

    async def sends_away(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(encode(ConnAck(), ProtocolVersion.MQTT_5))
        writer.write(encode(goodbye, ProtocolVersion.MQTT_5))
        await reader.read()
        writer.close()

    async def scenario() -> tuple[int, int]:
        server, port = await serve(sends_away)
        async with server:
            slow = ReconnectPolicy(initial_delay=60)  # a backoff would time the test out
            client = WatchedClient("127.0.0.1", port, client_id="moved", reconnect=slow)
            async with client:
                await asyncio.wait_for(client.connection_ended_event.wait(), 5)
                codes = await client.subscribe("t/moved", qos=1)  # waits for the new server
                assert client.endpoint is not None
                return client.endpoint.port, int(codes[0])

    assert run(scenario()) == (broker.tcp_port, 1)


def test_a_malformed_packet_from_the_server_ends_the_connection_cleanly() -> None:
    """Garbage after CONNACK: the client answers DISCONNECT 0x81 Malformed Packet (MQTT 5),
    closes, and reports ConnectionLost with the engine's protocol error as the cause; it
    neither hangs nor raises anything else."""
    received = bytearray()

    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(encode(ConnAck(), ProtocolVersion.MQTT_5))
        writer.write(b"\x00\xff\xff\xff\xff\x7f")  # packet type 0 is reserved
        while data := await reader.read(4096):
            received.extend(data)
        writer.close()

    async def scenario() -> ConnectionLost:
        server, port = await serve(hostile)
        async with server:
            client = Client("127.0.0.1", port, client_id="victim")
            await client.connect()
            with pytest.raises(ConnectionLost) as info:
                async for _ in client.messages():
                    pass
            return info.value

    error = run(scenario())
    assert error.__cause__ is not None
    # The client's last packet: DISCONNECT (0xE0), remaining length, reason code.
    disconnect = received[received.rindex(0xE0) :]
    assert disconnect[2] == ReasonCode.MALFORMED_PACKET


@pytest.mark.broker
@pytest.mark.parametrize("transport", ["ssl", "wss", "quic"])
def test_tls_verifies_by_default(request: pytest.FixtureRequest, transport: str) -> None:
    """Without an ssl_context the system's CAs are trusted, and they do not know the test CA:
    verification is on unless turned off."""
    options = endpoint(request, transport)
    del options["ssl_context"]
    with pytest.raises(TLSVerificationFailed):
        run(make_client(options).connect())


def test_a_packet_over_the_maximum_size_is_refused_before_it_is_buffered() -> None:
    """A PUBLISH announcing 200 MB: with maximum_packet_size set, the client disconnects
    (0x95 Packet too large) as soon as the fixed header arrives, without waiting for or
    buffering the body."""
    received = bytearray()

    async def hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(encode(ConnAck(), ProtocolVersion.MQTT_5))
        writer.write(b"\x30\x80\x80\xe8\x5f")  # PUBLISH, remaining length 200,000,000
        while data := await reader.read(4096):
            received.extend(data)
        writer.close()

    async def scenario() -> None:
        server, port = await serve(hostile)
        async with server:
            client = Client(
                "127.0.0.1",
                port,
                client_id="small",
                properties={"maximum_packet_size": 1024 * 1024},
            )
            await client.connect()
            with pytest.raises(ConnectionLost):
                async for _ in client.messages():
                    pass

    run(scenario(), timeout=10)
    disconnect = received[received.rindex(0xE0) :]
    assert disconnect[2] == ReasonCode.PACKET_TOO_LARGE
