"""A scripted MQTT server for the hostile-server tests, built on the project's codec.

`ScriptedServer` listens on a free loopback port and runs a *script* for every connection it
accepts, in a thread of its own. The script is the test's: it reads what the client sent
(`ServerConnection.expect`, `ServerConnection.read_packet`) and answers well-formed packets
(`ServerConnection.send`), raw bytes of any shape (`ServerConnection.send_raw`), or nothing.
When the script returns, the server keeps reading until the client closes the connection, so
that every packet the client sent last (its DISCONNECT and reason code) is recorded; then it
closes its end. The server decides nothing by itself.

The decoder starts as a server's does (`Decoder(None)`): it accepts only CONNECT first and
learns the protocol version from it, so packets are encoded in the version the client chose.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from support.net import LOOPBACK

from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import ProtocolVersion
from emqtt_core.packets import Connect, Disconnect, Packet

__all__ = ["TIMEOUT", "Script", "ScriptedServer", "ServerConnection"]

#: Default bound, in seconds, of every wait of the server and of the tests.
TIMEOUT = 10.0

P = TypeVar("P", bound=Packet)


class ServerConnection:
    """The server's end of one accepted connection (used by the script, in its thread)."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self._stop = stop
        self._decoder = Decoder(None)
        #: Every packet the client sent, in order.
        self.received: list[Packet] = []
        #: Bytes the client sent that did not decode (after the decoder failed), if any.
        self.undecoded = bytearray()
        #: Set once the client closed its end (end of stream or reset).
        self.eof = threading.Event()
        #: Set once the server closed the socket.
        self.closed = threading.Event()
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def version(self) -> ProtocolVersion:
        """The protocol version the client's CONNECT asked for."""
        version = self._decoder.protocol_version
        assert version is not None, "no CONNECT received yet"
        return version

    def read_packet(self, timeout: float = TIMEOUT) -> Packet | None:
        """The next packet from the client; None once it closed the connection.

        Raises:
            TimeoutError: nothing complete arrived within ``timeout``.
        """
        self.sock.settimeout(timeout)
        while True:
            packet = self._decoder.next_packet()
            if packet is not None:
                self.received.append(packet)
                return packet
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"no packet from the client within {timeout:g} s") from None
            except OSError:
                data = b""
            if not data:
                self.eof.set()
                return None
            self._decoder.feed(data)

    def expect(self, cls: type[P], timeout: float = TIMEOUT) -> P:
        """The next packet, which must be a ``cls``."""
        packet = self.read_packet(timeout)
        assert isinstance(packet, cls), f"expected {cls.__name__}, got {packet!r}"
        return packet

    def expect_connect(self, timeout: float = TIMEOUT) -> Connect:
        """The client's CONNECT (the first packet)."""
        return self.expect(Connect, timeout)

    def read_until_closed(self, timeout: float = TIMEOUT) -> list[Packet]:
        """Read (and record) packets until the client closes the connection.

        Raises:
            TimeoutError: the client kept the connection open for ``timeout`` seconds.
        """
        packets: list[Packet] = []
        while (packet := self.read_packet(timeout)) is not None:
            packets.append(packet)
        return packets

    # -- writing ---------------------------------------------------------------------------------

    def send(self, *packets: Packet) -> None:
        """Encode ``packets`` in the client's protocol version and send them."""
        self.send_raw(b"".join(encode(packet, self.version) for packet in packets))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (malformed on purpose, or packets cut anywhere)."""
        self.sock.sendall(data)

    def hold(self) -> None:
        """Do nothing (read nothing, send nothing) until the server is closed."""
        self._stop.wait()

    def close(self) -> None:
        """Close the server's end now (an abortive close: no more reading)."""
        with self._lock:
            if not self.closed.is_set():
                self.closed.set()
                with contextlib.suppress(OSError):
                    self.sock.close()

    # -- what the client did ---------------------------------------------------------------------

    @property
    def disconnects(self) -> list[Disconnect]:
        """The DISCONNECT packets the client sent."""
        return [packet for packet in self.received if isinstance(packet, Disconnect)]

    def packets(self, cls: type[P]) -> list[P]:
        """The packets of type ``cls`` the client sent."""
        return [packet for packet in self.received if isinstance(packet, cls)]


Script = Callable[[ServerConnection], None]


class ScriptedServer:
    """A loopback TCP listener that runs ``script`` for each accepted connection.

    Use it as a context manager; leaving it stops the listener, releases held scripts and
    closes every connection. An exception raised by a script (a failed ``expect``) is
    re-raised by `check`, which leaving the context calls.
    """

    def __init__(self, script: Script, *, receive_buffer: int | None = None) -> None:
        self.script = script
        self._receive_buffer = receive_buffer
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            # Inherited by accepted sockets; set before listen() so the window is small.
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        #: The listening port.
        self.port: int = self._listener.getsockname()[1]
        self.host = LOOPBACK
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._accepted = threading.Condition()
        #: Every connection accepted so far.
        self.connections: list[ServerConnection] = []
        self._acceptor = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        if exc_info[0] is None:
            self.check()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            connection = ServerConnection(sock, self._stop)
            thread = threading.Thread(
                target=self._serve, args=(connection,), name="hostile-conn", daemon=True
            )
            with self._accepted:
                self.connections.append(connection)
                self._threads.append(thread)
                thread.start()
                self._accepted.notify_all()

    def _serve(self, connection: ServerConnection) -> None:
        try:
            self.script(connection)
            if not connection.closed.is_set() and not self._stop.is_set():
                connection.read_until_closed(TIMEOUT)
        except BaseException as exc:
            if not (self._stop.is_set() or connection.closed.is_set()):
                self._errors.append(exc)
        finally:
            connection.close()

    def connection(self, index: int = 0, timeout: float = TIMEOUT) -> ServerConnection:
        """The ``index``-th accepted connection, waiting for it if needed."""
        with self._accepted:
            if not self._accepted.wait_for(lambda: len(self.connections) > index, timeout):
                raise TimeoutError(f"connection {index} was not made within {timeout:g} s")
            return self.connections[index]

    def wait_closed(self, index: int = 0, timeout: float = TIMEOUT) -> ServerConnection:
        """The ``index``-th connection, once the client has closed it and the server has
        recorded everything it sent."""
        connection = self.connection(index, timeout)
        thread = self._threads[index]
        thread.join(timeout)
        assert not thread.is_alive(), "the client did not close the connection"
        return connection

    def check(self) -> None:
        """Re-raise the first exception a script raised."""
        if self._errors:
            raise self._errors[0]

    def close(self) -> None:
        """Stop listening, release held scripts and close every connection."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in list(self.connections):
            connection.close()
        self._acceptor.join(TIMEOUT)
        for thread in self._threads:
            thread.join(TIMEOUT)


class WebSocketRelay:
    """A WebSocket endpoint (subprotocol ``mqtt``) in front of a `ScriptedServer`: each
    WebSocket connection is relayed to a TCP connection to the server, binary messages one
    way, stream bytes the other, and the end of either side ends the other. The script sees
    exactly what a WebSocket client sent, and its bytes reach the client framed.
    """

    def __init__(self, target: ScriptedServer) -> None:
        # Imported here: websockets is an optional dependency of the project.
        from websockets.sync.server import serve
        from websockets.typing import Subprotocol

        self._target = (target.host, target.port)
        self._server = serve(
            self._relay, LOOPBACK, 0, subprotocols=[Subprotocol("mqtt")], compression=None
        )
        self.host = LOOPBACK
        #: The WebSocket listening port.
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="hostile-ws", daemon=True
        )

    def __enter__(self) -> WebSocketRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(TIMEOUT)

    def _relay(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        upstream = socket.create_connection(self._target)

        def downstream() -> None:
            try:
                while data := upstream.recv(65536):
                    websocket.send(data)
            except (OSError, ConnectionClosed):
                pass
            finally:
                websocket.close()

        thread = threading.Thread(target=downstream, name="hostile-ws-down", daemon=True)
        thread.start()
        try:
            for message in websocket:
                upstream.sendall(message if isinstance(message, bytes) else message.encode())
        except (OSError, ConnectionClosed):
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            thread.join(TIMEOUT)
            upstream.close()
