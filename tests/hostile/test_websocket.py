"""Hostile WebSocket servers (MQTT over WebSocket, section 6): text frames, packets cut into
many frames.

The server here is a websockets handler written per scenario (the relay of the other tests
only forwards bytes); it decodes with the project's codec all the same.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostile_facade import wait_lost
from hostile_server import TIMEOUT
from parity_facade import Adapter, Target
from support.net import LOOPBACK
from websockets.sync.server import ServerConnection, serve
from websockets.typing import Subprotocol

from adapters.errors import ConnectionFailed, ConnectionLost
from emqtt_core.codec import Decoder, encode
from emqtt_core.packets import ConnAck, Connect, Packet

Handler = Callable[[ServerConnection], None]


class WebSocketServer:
    """A websockets server on a free loopback port running ``handler`` per connection;
    records the close code each connection ended with."""

    def __init__(self, handler: Handler) -> None:
        self.close_codes: list[int | None] = []
        self.done = threading.Event()

        def run(websocket: ServerConnection) -> None:
            try:
                handler(websocket)
                for _ in websocket:  # until the client closes
                    pass
            except Exception:
                pass
            finally:
                received = websocket.protocol.close_rcvd
                self.close_codes.append(None if received is None else received.code)
                self.done.set()

        protocols = [Subprotocol("mqtt")]
        self._server = serve(run, LOOPBACK, 0, subprotocols=protocols, compression=None)
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @contextlib.contextmanager
    def running(self) -> Iterator[WebSocketServer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._thread.join(TIMEOUT)


def read_connect(websocket: ServerConnection) -> Connect:
    """The client's CONNECT, from however many binary frames it came in."""
    decoder = Decoder(None)
    while True:
        message = websocket.recv(TIMEOUT)
        assert isinstance(message, bytes), "MQTT travels in binary frames [MQTT-6.0.0-1]"
        decoder.feed(message)
        packet: Packet | None = decoder.next_packet()
        if packet is not None:
            assert isinstance(packet, Connect)
            return packet


def _client(adapter: Adapter, server: WebSocketServer, version: int, **options: Any) -> Any:
    target = Target("ws", LOOPBACK, server.port, None)
    return adapter.new(target, protocol_version=version, client_id="hostile-ws", **options)


def _close(adapter: Adapter, client: Any) -> None:
    with contextlib.suppress(Exception):
        client.disconnect()
    adapter.settle()


def test_text_frame_instead_of_connack(adapter: Adapter, version: int) -> None:
    """[MQTT-6.0.0-1] a text frame makes the client close the connection (WebSocket close
    code 1003, unsupported data); the attempt fails with ConnectionFailed."""

    def handler(websocket: ServerConnection) -> None:
        read_connect(websocket)
        websocket.send(encode(ConnAck(), version).decode("latin-1"))  # a text frame

    server = WebSocketServer(handler)
    with server.running():
        client = _client(adapter, server, version)
        try:
            with pytest.raises(ConnectionFailed):
                client.connect()
            assert server.done.wait(TIMEOUT)
            assert server.close_codes == [1003]
        finally:
            _close(adapter, client)


def test_text_frame_after_connack(adapter: Adapter, version: int) -> None:
    """The same after the connection was established: ConnectionLost."""

    def handler(websocket: ServerConnection) -> None:
        read_connect(websocket)
        websocket.send(encode(ConnAck(), version))
        websocket.send("hello")

    server = WebSocketServer(handler)
    with server.running():
        client = _client(adapter, server, version)
        try:
            client.connect()
            lost = wait_lost(client)
            assert isinstance(lost, ConnectionLost)
            assert server.done.wait(TIMEOUT)
            assert server.close_codes == [1003]
        finally:
            _close(adapter, client)


def test_connack_one_byte_per_frame(adapter: Adapter, version: int) -> None:
    """[MQTT-6.0.0-2] a packet may span frames: a CONNACK in single-byte frames is a
    CONNACK."""

    def handler(websocket: ServerConnection) -> None:
        read_connect(websocket)
        for byte in encode(ConnAck(), version):
            websocket.send(bytes([byte]))

    server = WebSocketServer(handler)
    with server.running():
        client = _client(adapter, server, version)
        try:
            client.connect()
            assert client.status == "connected"
        finally:
            _close(adapter, client)
