"""send_data / send_data_failed from the shared connection driver: each MQTT packet is reported
once, as sent when the socket's writer took its bytes, or as failed with its encoded size.

The driver runs here without a network: the server side of the WebSocket upgrade is
websockets' own sans-IO server protocol, and the writer is the adapter's role (a callable that
takes wire bytes or raises), played by a list or by a raising function."""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from adapters._driver import ConnectionDriver
from adapters._options import Endpoint
from adapters.asyncio import TELEMETRY_EVENTS, Client
from adapters.transports.errors import TransportClosed
from adapters.transports.tcp import StreamTransport
from adapters.transports.websocket import WebSocketTransport
from emqtt_core.codec import encode
from emqtt_core.packets import ConnAck, Connect, Packet, Publish
from telemetry.testing import CapturedEvent, capture

SENT = ("emqtt", "socket", "send_data")
FAILED = ("emqtt", "socket", "send_data_failed")
ENDPOINT = Endpoint("127.0.0.1", 8083)


class _Hooks:
    def __init__(self) -> None:
        self.ended: list[Any] = []

    def connection_made(self, event: Any) -> None:
        pass

    def connection_ended(self, event: Any, error: Any) -> None:
        self.ended.append(error)

    def message_received(self, event: Any) -> None:
        pass


class _Waiter:
    def __init__(self) -> None:
        self.error: BaseException | None = None

    def done(self) -> bool:
        return self.error is not None

    def set_result(self, result: Any) -> None:
        self.result = result

    def set_exception(self, error: BaseException) -> None:
        self.error = error


def _driver(transport: str = "ws") -> tuple[ConnectionDriver, _Hooks]:
    options = Client("127.0.0.1", transport=transport, telemetry=True, client_id="d1").options
    hooks = _Hooks()
    return ConnectionDriver(options, hooks), hooks


def _named(events: list[CapturedEvent], name: tuple[str, ...]) -> list[CapturedEvent]:
    return [event for event in events if event.event_name == name]


def _size(packet: Packet) -> int:
    return len(encode(packet, 5))


def _upgrade(server: ServerProtocol, wire: list[bytes]) -> bytes:
    """The server's answer to the upgrade request found in ``wire`` (which it consumes)."""
    for chunk in wire:
        server.receive_data(chunk)
    wire.clear()
    [request] = [e for e in server.events_received() if isinstance(e, Request)]
    server.send_response(server.accept(request))
    return b"".join(server.data_to_send())


def _server() -> ServerProtocol:
    return ServerProtocol(subprotocols=[Subprotocol("mqtt")], max_size=None)


def _connect_over_websocket() -> tuple[list[CapturedEvent], list[Frame]]:
    """The events of a driver whose WebSocket upgrade completes, and the frames the server
    got."""
    driver, _ = _driver()
    wire: list[bytes] = []
    driver.writer = wire.append
    layer = WebSocketTransport(ENDPOINT.host, ENDPOINT.port)
    server = _server()
    with capture(TELEMETRY_EVENTS) as events:
        driver.start(layer, ENDPOINT, 0.0, _Waiter())
        driver.flush(0.0)
        # The upgrade request is written; CONNECT waits in the layer for the upgrade.
        assert events == []
        driver.receive_wire(_upgrade(server, wire), 0.0)
        assert events == []
        driver.flush(0.0)
    for chunk in wire:
        server.receive_data(chunk)
    frames = [e for e in server.events_received() if isinstance(e, Frame)]
    return list(events), frames


def test_a_websocket_packet_is_sent_once_its_frame_was_written() -> None:
    events, frames = _connect_over_websocket()
    [sent] = events
    assert sent.event_name == SENT
    assert isinstance(sent.metadata["data"], Connect)
    [frame] = frames  # written before the event, in one binary frame [MQTT-6.0.0-1]
    assert sent.measurements == {"data_size": len(frame.data)}
    assert encode(sent.metadata["data"], 5) == frame.data


def test_a_failed_socket_write_fails_each_packet_once_with_its_size() -> None:
    driver, hooks = _driver()
    wire: list[bytes] = []
    driver.writer = wire.append
    layer = WebSocketTransport(ENDPOINT.host, ENDPOINT.port)
    failure = BrokenPipeError("gone")
    with capture(TELEMETRY_EVENTS) as events:
        driver.start(layer, ENDPOINT, 0.0, _Waiter())
        driver.flush(0.0)
        server = _server()
        driver.receive_wire(_upgrade(server, wire), 0.0)
        driver.flush(0.0)  # CONNECT goes out
        server.send_binary(encode(ConnAck(), 5))
        driver.receive_wire(b"".join(server.data_to_send()), 0.0)
        driver.session.publish("t/1", b"one", qos=0)
        driver.session.publish("t/2", b"two!", qos=0)

        def broken(data: bytes) -> None:
            raise failure

        driver.writer = broken
        driver.flush(0.0)
        driver.close_layer(0.0)
        driver.flush(0.0)  # the close frame cannot be written either: no packet in it
        driver.detach()
    failed = _named(events, FAILED)
    expected = [
        _size(Publish(topic="t/1", payload=b"one")),
        _size(Publish(topic="t/2", payload=b"two!")),
    ]
    assert [e.measurements["data_size"] for e in failed] == expected
    assert all(e.metadata["reason"] is failure for e in failed)
    assert [type(e.metadata["data"]) for e in _named(events, SENT)] == [Connect]
    assert len(hooks.ended) == 1 and hooks.ended[0].__cause__ is failure


def test_packets_the_layer_never_wrote_fail_when_the_connection_ends() -> None:
    driver, _ = _driver()
    wire: list[bytes] = []
    driver.writer = wire.append
    layer = WebSocketTransport(ENDPOINT.host, ENDPOINT.port)
    waiter = _Waiter()
    with capture(TELEMETRY_EVENTS) as events:
        driver.start(layer, ENDPOINT, 0.0, waiter)
        driver.flush(0.0)
        driver.receive_wire_eof(0.0)  # the server hung up during the upgrade
        driver.flush(0.0)
        driver.detach()
    assert _named(events, SENT) == []
    [failed] = _named(events, FAILED)
    assert isinstance(failed.metadata["reason"], TransportClosed)
    [connected] = _connect_over_websocket()[0]
    assert failed.measurements == connected.measurements
    assert waiter.error is not None


def test_a_closing_socket_is_not_written_and_its_packets_fail() -> None:
    driver, _ = _driver("tcp")
    wire: list[bytes] = []
    driver.writer = wire.append
    driver.writer_closing = lambda: True
    with capture(TELEMETRY_EVENTS) as events:
        driver.start(StreamTransport(), ENDPOINT, 0.0, _Waiter())
        driver.flush(0.0)
    assert wire == []
    assert _named(events, SENT) == []
    [failed] = _named(events, FAILED)
    assert isinstance(failed.metadata["reason"], TransportClosed)
    assert failed.measurements["data_size"] > 0

