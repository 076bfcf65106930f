"""WebSocketTransport: against mosquitto's ws/wss listeners, and against websockets' sans-IO
server in memory for what mosquitto never sends (text frames, pings, odd framing, rejections)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.broker import Mosquitto
from support.certs import TLSMaterial
from support.driver import TIMEOUT, TransportDriver
from support.raw_mqtt import (
    CONNACK_ACCEPTED,
    CONNECT_311,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    publish,
    publish_payload,
    subscribe,
)
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from adapters.transports import (
    WEBSOCKET_RECV_DATA,
    HandshakeFailed,
    StreamTransport,
    TLSVerificationFailed,
    TransportClosed,
    TransportProtocolError,
    WebSocketTransport,
    create_ssl_context,
    tls_error_from_ssl,
)
from adapters.transports.base import Transport

# -- helpers ----------------------------------------------------------------------------------


def _ws_driver(
    broker: Mosquitto,
    *,
    secure: bool = False,
    context: ssl.SSLContext | None = None,
    server_hostname: str = "localhost",
    **options: object,
) -> TransportDriver:
    port = broker.wss_port if secure else broker.ws_port
    sock: socket.socket = socket.create_connection((broker.host, port), timeout=TIMEOUT)
    if secure:
        context = context or create_ssl_context(cafile=broker.ca_file)
        try:
            sock = context.wrap_socket(sock, server_hostname=server_hostname)
        except BaseException:
            sock.close()
            raise
    transport = WebSocketTransport(broker.host, port, secure=secure, **options)  # type: ignore[arg-type]
    return TransportDriver(transport, sock)


class MemoryServer:
    """websockets' sans-IO server wired to a client transport in memory."""

    def __init__(self, client: WebSocketTransport, subprotocols: tuple[str, ...] = ("mqtt",)):
        self.client = client
        self.server = ServerProtocol(
            subprotocols=[Subprotocol(s) for s in subprotocols], max_size=None
        )
        self.requests: list[Request] = []
        self.frames: list[Frame] = []
        self.server_eof = False

    def to_server(self) -> None:
        for chunk in self.client.wire_to_send(0.0):
            self.server.receive_data(chunk)
        for event in self.server.events_received():
            if isinstance(event, Request):
                self.requests.append(event)
            elif isinstance(event, Frame):
                self.frames.append(event)

    def to_client(self) -> None:
        for chunk in self.server.data_to_send():
            if chunk == b"":
                self.server_eof = True
                self.client.receive_wire_eof(0.0)
            else:
                self.client.receive_wire(chunk, 0.0)

    def handshake(self, accept: bool = True) -> None:
        self.client.start(0.0)
        self.to_server()
        request = self.requests[-1]
        response = self.server.accept(request) if accept else self.server.reject(404, "no")
        self.server.send_response(response)
        self.to_client()
        self.to_server()

    def send_frame(self, frame: Frame) -> None:
        self.server.send_frame(frame)
        self.to_client()
        self.to_server()


def _closed(transport: Transport) -> bool:
    # A call, not an attribute read: mypy would keep an earlier assert's narrowing.
    return transport.closed


@pytest.fixture
def pair() -> Iterator[MemoryServer]:
    yield MemoryServer(WebSocketTransport("broker.example.org", 8083))


# -- the layer on its own ---------------------------------------------------------------------


def test_websocket_transport_is_a_transport() -> None:
    transport: Transport = WebSocketTransport("localhost", 8083)
    assert transport.socket_type == "websocket"
    assert transport.recv_event_name == WEBSOCKET_RECV_DATA == ("emqtt", "websocket", "recv_data")
    assert not transport.passthrough and not transport.datagram
    assert transport.connection_module == "adapters.transports.websocket"


def test_upgrade_request_offers_mqtt_on_the_default_path(pair: MemoryServer) -> None:
    pair.handshake()
    request = pair.requests[0]
    assert request.path == "/mqtt"
    assert request.headers["Host"] == "broker.example.org:8083"
    # [MQTT-6.0.0-3] the client offers the "mqtt" subprotocol.
    assert request.headers["Sec-WebSocket-Protocol"] == "mqtt"
    assert "Sec-WebSocket-Extensions" not in request.headers
    assert pair.client.established and pair.client.subprotocol == "mqtt"


def test_path_headers_origin_and_ipv6_host() -> None:
    client = WebSocketTransport(
        "::1",
        9001,
        path="/ws?token=1",
        headers=[("Authorization", "Bearer x"), ("Host", "mqtt.example.org")],
        origin="https://app.example.org",
    )
    pair = MemoryServer(client)
    pair.handshake()
    request = pair.requests[0]
    assert request.path == "/ws?token=1"
    assert request.headers["Authorization"] == "Bearer x"
    assert request.headers.get_all("Host") == ["mqtt.example.org"]
    assert request.headers["Origin"] == "https://app.example.org"
    assert WebSocketTransport("::1", 9001).uri == "ws://[::1]:9001/mqtt"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "mqtt"}, "path"),
        ({"subprotocols": ()}, "subprotocol"),
        ({"max_frame_size": 0}, "max_frame_size"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WebSocketTransport("localhost", 8083, **options)  # type: ignore[arg-type]


def test_bad_header_is_refused_at_start() -> None:
    transport = WebSocketTransport("localhost", 8083, headers=[("X-Bad", "a\r\nb")])
    with pytest.raises(ValueError, match="X-Bad"):
        transport.start(0.0)


def test_bytes_sent_before_the_upgrade_go_out_after_it() -> None:
    client = WebSocketTransport("localhost", 8083)
    pair = MemoryServer(client)
    client.start(0.0)
    client.send(CONNECT_311, 0.0)
    pair.to_server()
    assert pair.frames == []  # only the HTTP request went out so far
    pair.server.send_response(pair.server.accept(pair.requests[0]))
    pair.to_client()
    pair.to_server()
    assert [(f.opcode, f.data) for f in pair.frames] == [(Opcode.BINARY, CONNECT_311)]


def test_each_send_is_one_binary_frame(pair: MemoryServer) -> None:
    # [MQTT-6.0.0-1] MQTT control packets are sent in binary data frames.
    pair.handshake()
    pair.client.send(CONNECT_311, 0.0)
    pair.client.send(PINGREQ + PINGREQ, 0.0)
    pair.to_server()
    assert [(f.opcode, f.data) for f in pair.frames] == [
        (Opcode.BINARY, CONNECT_311),
        (Opcode.BINARY, PINGREQ + PINGREQ),
    ]


def test_packets_may_span_frames_and_share_them(pair: MemoryServer) -> None:
    # [MQTT-6.0.0-2] the receiver must not assume packets are aligned on frame boundaries.
    pair.handshake()
    pair.send_frame(Frame(Opcode.BINARY, CONNACK_ACCEPTED[:1], fin=False))
    pair.send_frame(Frame(Opcode.CONT, CONNACK_ACCEPTED[1:] + PINGRESP[:1], fin=False))
    pair.send_frame(Frame(Opcode.CONT, PINGRESP[1:], fin=True))
    pair.send_frame(Frame(Opcode.BINARY, PINGRESP + PINGRESP))
    assert pair.client.receive() == CONNACK_ACCEPTED + PINGRESP * 3


def test_one_megabyte_message_in_one_frame(pair: MemoryServer) -> None:
    pair.handshake()
    packet = publish("big", bytes(range(256)) * 4096)
    wire = Frame(Opcode.BINARY, packet).serialize(mask=False)
    for offset in range(0, len(wire), 65536):  # as a socket would deliver it
        pair.client.receive_wire(wire[offset : offset + 65536], 0.0)
    assert pair.client.receive() == packet


def test_one_megabyte_message_in_many_fragments(pair: MemoryServer) -> None:
    pair.handshake()
    packet = publish("big", bytes(range(256)) * 4096)
    chunks = [packet[i : i + 4096] for i in range(0, len(packet), 4096)]
    pair.send_frame(Frame(Opcode.BINARY, chunks[0], fin=False))
    for chunk in chunks[1:-1]:
        pair.send_frame(Frame(Opcode.CONT, chunk, fin=False))
    pair.send_frame(Frame(Opcode.CONT, chunks[-1], fin=True))
    assert pair.client.receive() == packet


def test_text_frame_fails_the_connection_with_1003(pair: MemoryServer) -> None:
    # [MQTT-6.0.0-1] a data frame other than binary: the recipient closes the connection.
    pair.handshake()
    pair.send_frame(Frame(Opcode.BINARY, CONNACK_ACCEPTED))
    pair.send_frame(Frame(Opcode.TEXT, b"\x20\x02\x00\x00"))
    assert pair.client.receive() == CONNACK_ACCEPTED  # what came before is kept
    assert isinstance(pair.client.error, TransportProtocolError)
    assert pair.client.eof_received and pair.client.closed
    close = pair.frames[-1]
    assert close.opcode is Opcode.CLOSE
    assert int.from_bytes(close.data[:2], "big") == CloseCode.UNSUPPORTED_DATA
    with pytest.raises(TransportClosed):
        pair.client.send(PINGREQ, 0.0)


def test_ping_is_answered_with_pong(pair: MemoryServer) -> None:
    pair.handshake()
    pair.send_frame(Frame(Opcode.PING, b"keepalive"))
    assert [(f.opcode, f.data) for f in pair.frames] == [(Opcode.PONG, b"keepalive")]
    assert pair.client.receive() == b"" and not pair.client.closed


def test_close_frame_from_server_is_answered(pair: MemoryServer) -> None:
    pair.handshake()
    pair.server.send_close(CloseCode.GOING_AWAY, "restart")
    pair.to_client()
    assert pair.client.eof_received and not _closed(pair.client)
    pair.to_server()
    assert pair.frames[-1].opcode is Opcode.CLOSE  # echoed
    assert pair.client.close_code == CloseCode.GOING_AWAY
    # The server closes TCP after the closing handshake; the layer is then finished.
    pair.to_client()
    assert pair.server_eof and _closed(pair.client)
    assert pair.client.error is None


def test_close_waits_for_the_server_then_times_out(pair: MemoryServer) -> None:
    pair.handshake()
    pair.client.close(100.0)
    pair.to_server()
    assert pair.frames[-1].opcode is Opcode.CLOSE
    assert int.from_bytes(pair.frames[-1].data[:2], "big") == CloseCode.NORMAL_CLOSURE
    with pytest.raises(TransportClosed):
        pair.client.send(PINGREQ, 100.0)
    timer = pair.client.get_timer()
    assert timer == 100.0 + pair.client.close_timeout
    pair.client.handle_timer(timer - 0.001)
    assert not _closed(pair.client)
    pair.client.handle_timer(timer)
    assert _closed(pair.client) and pair.client.get_timer() is None


def test_oversized_frame_is_refused_before_buffering() -> None:
    client = WebSocketTransport("localhost", 8083, max_frame_size=1024)
    pair = MemoryServer(client)
    pair.handshake()
    # Only the frame header is sent: the size is checked before any payload is buffered.
    header = Frame(Opcode.BINARY, b"x" * 4096).serialize(mask=False)[:4]
    client.receive_wire(header, 0.0)
    assert isinstance(client.error, TransportProtocolError)
    pair.to_server()
    assert int.from_bytes(pair.frames[-1].data[:2], "big") == CloseCode.MESSAGE_TOO_BIG


def test_rejected_upgrade_is_a_handshake_failure(pair: MemoryServer) -> None:
    pair.handshake(accept=False)
    assert isinstance(pair.client.error, HandshakeFailed)
    assert "404" in str(pair.client.error.__cause__)
    assert pair.client.closed and not pair.client.established


def test_server_selecting_another_subprotocol_is_refused() -> None:
    pair = MemoryServer(WebSocketTransport("localhost", 8083, subprotocols=("mqtt",)))
    pair.client.start(0.0)
    pair.to_server()
    response = pair.server.accept(pair.requests[0])
    del response.headers["Sec-WebSocket-Protocol"]
    response.headers["Sec-WebSocket-Protocol"] = "chat"
    pair.server.send_response(response)
    pair.to_client()
    assert isinstance(pair.client.error, HandshakeFailed)


def test_eof_during_upgrade_is_a_handshake_failure() -> None:
    client = WebSocketTransport("localhost", 8083)
    client.start(0.0)
    client.wire_to_send(0.0)
    client.receive_wire(b"HTTP/1.1 101 Switching", 0.0)
    client.receive_wire_eof(0.0)
    assert isinstance(client.error, HandshakeFailed)
    assert client.closed


def test_garbage_instead_of_http_is_a_handshake_failure() -> None:
    client = WebSocketTransport("localhost", 8083)
    client.start(0.0)
    client.receive_wire(b"\x20\x02\x00\x00" * 64 + b"\r\n\r\n", 0.0)
    assert isinstance(client.error, HandshakeFailed)


# -- against mosquitto ------------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_connect_answered_by_connack(mosquitto: Mosquitto, secure: bool) -> None:
    driver = _ws_driver(mosquitto, secure=secure)
    driver.start()
    assert driver.transport.established and driver.transport.error is None
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    driver.send(PINGREQ)
    assert driver.read_packet() == PINGRESP
    driver.send(DISCONNECT)
    driver.close()
    assert driver.transport.error is None


def _connected(driver: TransportDriver) -> TransportDriver:
    driver.start()
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    return driver


def _tcp_driver(broker: Mosquitto) -> TransportDriver:
    sock = socket.create_connection((broker.host, broker.tcp_port), timeout=TIMEOUT)
    return _connected(TransportDriver(StreamTransport(), sock))


# mosquitto 2.0.11 writes WebSocket output in ~4 KB steps, one per turn of its 100 ms main loop
# (about 40 KB/s towards a ws client; measured here), while it reads WebSocket input at full
# speed. So the megabyte goes out over ws/wss and comes back over TCP; what comes back over
# ws is smaller, and the 1 MiB inbound path is covered in memory above.
ONE_MIB = bytes(range(256)) * 4096


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_one_megabyte_message_out_over_websocket(mosquitto: Mosquitto, secure: bool) -> None:
    topic = f"transports/{'wss' if secure else 'ws'}/big-out"
    subscriber = _tcp_driver(mosquitto)
    subscriber.send(subscribe(1, topic))
    assert subscriber.read_packet() == b"\x90\x03\x00\x01\x00"
    driver = _connected(_ws_driver(mosquitto, secure=secure))
    driver.send(publish(topic, ONE_MIB))
    # One binary frame carried the whole packet [MQTT-6.0.0-1].
    assert max(len(chunk) for chunk in driver.written) > len(ONE_MIB)
    assert publish_payload(subscriber.read_packet(timeout=30.0)) == (topic, ONE_MIB)
    driver.send(DISCONNECT)
    driver.close()
    subscriber.send(DISCONNECT)
    subscriber.close()


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_large_message_round_trip_to_self(mosquitto: Mosquitto, secure: bool) -> None:
    topic = f"transports/{'wss' if secure else 'ws'}/big-self"
    payload = ONE_MIB[: 48 * 1024]
    driver = _connected(_ws_driver(mosquitto, secure=secure))
    driver.send(subscribe(1, topic))
    assert driver.read_packet() == b"\x90\x03\x00\x01\x00"
    driver.send(publish(topic, payload))
    assert publish_payload(driver.read_packet(timeout=30.0)) == (topic, payload)
    driver.send(DISCONNECT)
    driver.close()


def test_broker_closing_after_disconnect_ends_the_stream(mosquitto: Mosquitto) -> None:
    driver = _ws_driver(mosquitto)
    driver.start()
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    driver.send(CONNECT_311)  # a second CONNECT is a protocol violation [MQTT-3.1.0-2]
    driver.wait_until(lambda: driver.transport.eof_received)
    driver.wait_closed()
    driver.sock.close()


def test_wss_refuses_a_server_signed_by_another_ca(mosquitto: Mosquitto, tmp_path: Path) -> None:
    other = TLSMaterial.create(tmp_path / "other-ca")
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _ws_driver(mosquitto, secure=True, context=create_ssl_context(cafile=other.ca_file))
    error = tls_error_from_ssl(caught.value)
    assert isinstance(error, TLSVerificationFailed) and not error.hostname_mismatch


def test_wss_refuses_a_host_name_mismatch(mosquitto: Mosquitto) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _ws_driver(mosquitto, secure=True, server_hostname="broker.example.org")
    error = tls_error_from_ssl(caught.value)
    assert isinstance(error, TLSVerificationFailed) and error.hostname_mismatch
