"""A short MQTT session through the asyncio client, and what the client observed of it.

The tests compare the telemetry events of this session with what the client itself processed:
the CONNACK of the connection, the SUBACK and UNSUBACK reason codes, the acknowledgements of
its publishes and the PUBLISH packets of the messages it delivered.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from adapters.asyncio import Client, ClientError, PublishResult, ReasonCodes
from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import QoS
from emqtt_core.events import Connected
from emqtt_core.packets import Connect, Packet, Publish
from telemetry.testing import CapturedEvent, capture

#: Every transport of the client; QUIC goes through the relay in front of mosquitto.
TRANSPORTS = ("tcp", "ssl", "ws", "wss", pytest.param("quic", marks=pytest.mark.quic))


@dataclass(frozen=True)
class BrokerEndpoint:
    """Where a client of one transport connects, as `Client` keyword arguments."""

    transport: str
    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    #: The ``connection_module`` and ``socket_type`` the events must carry.
    connection_module: str
    socket_type: str
    extra: dict[str, Any] = field(default_factory=dict)

    def client_options(self, **options: Any) -> dict[str, Any]:
        """Keyword arguments of ``Client(**...)`` for this endpoint, plus ``options``."""
        return {
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            "ssl_context": self.ssl_context,
            **self.extra,
            **options,
        }

    @property
    def recv_event(self) -> tuple[str, str, str]:
        """The name of the receive event on this transport."""
        if self.socket_type == "websocket":
            return ("emqtt", "websocket", "recv_data")
        return ("emqtt", "socket", "recv_data")


def make_endpoint(request: pytest.FixtureRequest, transport: str) -> BrokerEndpoint:
    """The private broker's endpoint for ``transport`` (starting the QUIC relay if needed)."""
    from support.broker import Mosquitto
    from support.telemetry_metadata import MODULES, SOCKET_TYPES

    broker = request.getfixturevalue("mosquitto")
    assert isinstance(broker, Mosquitto)
    module, socket_type = MODULES[transport], SOCKET_TYPES[transport]
    secure = transport in ("ssl", "wss", "quic")
    context = broker.client_ssl_context() if secure else None
    if transport == "quic":
        relay = request.getfixturevalue("quic_relay")
        host, port = relay.host, relay.port
    else:
        host, port = broker.host, broker.port_for(transport)
    return BrokerEndpoint(transport, host, port, context, module, socket_type)


#: Seconds a whole session may take (a hang fails the test instead of blocking it).
SESSION_TIMEOUT = 30.0
#: What the session publishes to its own subscription: (QoS, payload). The last message is
#: larger than a socket read and a WebSocket frame of the broker, so it arrives in pieces.
PUBLISHES: tuple[tuple[int, bytes], ...] = (
    (0, b"qos0"),
    (1, b"qos1"),
    (2, b"qos2"),
    (1, bytes(range(256)) * 400),
)
PASSWORD = "pw-" + uuid.uuid4().hex
USERNAME = "telemetry-user"

SEND_DATA = ("emqtt", "socket", "send_data")
SEND_DATA_FAILED = ("emqtt", "socket", "send_data_failed")
SOCKET_RECV = ("emqtt", "socket", "recv_data")
WEBSOCKET_RECV = ("emqtt", "websocket", "recv_data")
ALL_EVENTS = (SOCKET_RECV, WEBSOCKET_RECV, SEND_DATA, SEND_DATA_FAILED)
COMMON_KEYS = frozenset(
    {"client_id", "socket_type", "connection_module", "protocol_version", "pid"}
)


@dataclass
class Observed:
    """What the client processed during `run_session`."""

    protocol_version: int
    client_id: str
    connected: Connected
    suback: ReasonCodes
    results: list[PublishResult]
    #: The PUBLISH packets of the messages the client delivered, in order.
    messages: list[Publish]
    unsuback: ReasonCodes


async def run_session(options: dict[str, Any]) -> Observed:
    """Connect with ``options``, subscribe to a fresh topic, publish `PUBLISHES` to it,
    receive them all, ping, unsubscribe, disconnect."""
    return await asyncio.wait_for(_session(options), SESSION_TIMEOUT)


async def _session(options: dict[str, Any]) -> Observed:
    topic = f"telemetry-events/{uuid.uuid4().hex}"
    async with Client(**options) as client:
        suback = await client.subscribe(topic, qos=2)
        results = [await client.publish(topic, payload, qos=qos) for qos, payload in PUBLISHES]
        messages: list[Publish] = []
        iterator = client.messages()
        while len(messages) < len(PUBLISHES):
            message = await iterator.__anext__()
            messages.append(message.packet)
        await client.ping()
        unsuback = await client.unsubscribe(topic)
        connected = client.connack
        assert connected is not None
        client_id = client.client_id
        version = int(client.options.config.protocol_version)
    return Observed(version, client_id, connected, suback, results, messages, unsuback)


def decode_all(chunks: Iterable[bytes], protocol_version: int) -> list[Packet]:
    """Decode a byte stream cut in ``chunks``; every byte must belong to a whole packet."""
    decoder = Decoder(protocol_version)
    packets: list[Packet] = []
    for chunk in chunks:
        decoder.feed(chunk)
        while (packet := decoder.next_packet()) is not None:
            packets.append(packet)
    assert decoder.buffered == 0, f"{decoder.buffered} bytes left over after the last packet"
    return packets


def kinds(packets: Iterable[object]) -> Counter[str]:
    """How many packets of each type."""
    return Counter(type(packet).__name__ for packet in packets)


def real_size(packet: Packet, protocol_version: int, password: bytes | None) -> int:
    """The encoded size of a packet as it went on the wire: a CONNECT with its real password."""
    if isinstance(packet, Connect):
        packet = replace(packet, password=password)
    return len(encode(packet, protocol_version))


def named(events: Iterable[CapturedEvent], name: tuple[str, ...]) -> list[CapturedEvent]:
    """The events called ``name``, in order."""
    return [event for event in events if event.event_name == name]


#: Seconds a publish of the failure tests may wait.
TIMEOUT = 10.0
TOPIC = "telemetry-events/failures"
PAYLOAD = b"never delivered"


def publish_size(client: Client, packet_id: int = 1) -> int:
    """The encoded size of the QoS 1 PUBLISH the failure tests try to send."""
    version = int(client.options.config.protocol_version)
    packet = Publish(topic=TOPIC, payload=PAYLOAD, qos=QoS.AT_LEAST_ONCE, packet_id=packet_id)
    return len(encode(packet, version))


async def publish_after(
    endpoint: BrokerEndpoint,
    break_it: Callable[[Client], None],
    *,
    before: bool = True,
    **options: Any,
) -> tuple[list[CapturedEvent], int, BaseException | None]:
    """Connect (MQTT 3.1.1, ``options``), break the connection with ``break_it`` (before the
    publish is written, or right after it was queued), publish one QoS 1 message; the events
    from that point on, the size of that publish, and what the publish raised."""
    client_options = endpoint.client_options(telemetry=True, protocol_version=4, **options)
    async with Client(**client_options) as client:
        with capture(ALL_EVENTS) as events:
            if before:
                break_it(client)
            future = client.publish_nowait(TOPIC, PAYLOAD, qos=1)
            if not before:
                break_it(client)
            error: BaseException | None = None
            try:
                await asyncio.wait_for(future, TIMEOUT)
            except ClientError as exc:
                error = exc
            return list(events), publish_size(client), error


def close_layer(client: Client) -> None:
    """Close the client's WebSocket or QUIC layer under it (its socket stays open)."""
    layer = client._driver.layer
    assert layer is not None and not layer.passthrough
    layer.close(asyncio.get_running_loop().time())
