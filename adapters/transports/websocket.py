"""MQTT over WebSocket (``ws``) and secure WebSocket (``wss``), on websockets' sans-IO client.

The layer speaks the client side of RFC 6455 with `websockets.client.ClientProtocol` over the
adapter's TCP socket (``ws``) or TLS socket (``wss``: TLS is the socket's, as for ``ssl``):

- the opening handshake is an HTTP/1.1 upgrade to ``ws[s]://host:port/path`` (default path
  ``/mqtt``) offering the ``mqtt`` subprotocol [MQTT-6.0.0-3], with the user's extra headers;
- MQTT bytes handed to `WebSocketTransport.send` go out as one binary frame per call
  [MQTT-6.0.0-1]; bytes received are the payloads of binary frames, concatenated: an MQTT packet
  may span frames and a frame may hold several packets [MQTT-6.0.0-2];
- a text frame is a protocol error: the layer fails the connection with close code 1003
  (unsupported data) and records a `TransportProtocolError` [MQTT-6.0.0-1];
- pings are answered with pongs and a close frame is answered with a close frame by websockets;
  after a close handshake the server closes TCP, or the layer gives up after ``close_timeout``;
- no extension (per-message deflate) is offered: compressed frames could inflate without bound;
- one frame may be at most ``max_frame_size`` bytes (default: a maximum-size MQTT packet plus its
  fixed header), so a hostile server cannot make the layer buffer an endless frame. Messages may
  span any number of frames, since each frame's payload is passed on as soon as it is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

from adapters.transports.base import WEBSOCKET_RECV_DATA, BaseTransport
from adapters.transports.errors import (
    HandshakeFailed,
    TransportClosed,
    TransportProtocolError,
)

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_PATH",
    "WebSocketTransport",
]


class _WithoutFrameDebug(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' logger minus its DEBUG lines.

    At DEBUG level websockets logs every frame with the end of its payload in hex, and the frame
    that carries CONNECT ends with the password: those lines must never be written. Reporting
    DEBUG as disabled also spares websockets the formatting on the hot path.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level > logging.DEBUG:
            super().log(level, msg, *args, **kwargs)


_LOGGER = _WithoutFrameDebug(logging.getLogger("adapters.transports.websocket"), {})

#: The path MQTT brokers serve WebSocket on by convention (mosquitto accepts any, EMQX /mqtt).
DEFAULT_PATH = "/mqtt"
#: A maximum-size MQTT packet: a 268,435,455-byte remaining length plus a 5-byte fixed header.
DEFAULT_MAX_FRAME_SIZE = 268_435_455 + 5
#: Seconds to wait for the server to close TCP after the close handshake.
DEFAULT_CLOSE_TIMEOUT = 10.0
#: The WebSocket subprotocol registered for MQTT 3.1.1 and 5.0 [MQTT-6.0.0-3].
MQTT_SUBPROTOCOL = "mqtt"


class WebSocketTransport(BaseTransport):
    """MQTT carried in WebSocket binary frames (``socket_type="websocket"``, ws and wss)."""

    socket_type = "websocket"
    recv_event_name = WEBSOCKET_RECV_DATA
    connection_module = __name__
    datagram = False
    passthrough = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        secure: bool = False,
        path: str = DEFAULT_PATH,
        headers: Sequence[tuple[str, str]] = (),
        subprotocols: Sequence[str] = (MQTT_SUBPROTOCOL,),
        origin: str | None = None,
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        """Prepare the client side of a WebSocket connection to ``host:port``.

        Args:
            host: Server host name or address, as connected to; used in the URI and the
                ``Host`` header (IPv6 addresses without brackets).
            port: Server port.
            secure: The adapter's socket runs TLS (``wss``).
            path: Request path (with an optional ``?query``); must start with ``/``.
            headers: Extra HTTP headers for the upgrade request. A header named like one the
                handshake sets (``Host``, ``Origin``) replaces it.
            subprotocols: Subprotocols to offer, in order of preference (``mqttv3.1`` for an
                MQTT 3.1 broker).
            origin: Value of the ``Origin`` header, if any.
            max_frame_size: Largest frame accepted, in bytes; None for no limit (then only the
                engine's maximum packet size bounds what is buffered).
            close_timeout: Seconds to wait for the server to close TCP once the closing
                handshake started.

        Raises:
            ValueError: A bad path, host, port or header.
        """
        super().__init__()
        if not path.startswith("/"):
            raise ValueError(f"the WebSocket path must start with '/', not {path!r}")
        if not subprotocols:
            raise ValueError("at least one subprotocol must be offered [MQTT-6.0.0-3]")
        if max_frame_size is not None and max_frame_size <= 0:
            raise ValueError(f"max_frame_size must be positive, not {max_frame_size!r}")
        self.secure = secure
        authority = f"[{host}]" if ":" in host else host
        uri_text = f"{'wss' if secure else 'ws'}://{authority}:{port}{path}"
        try:
            uri = parse_uri(uri_text)
        except InvalidURI as exc:
            raise ValueError(f"invalid WebSocket address {uri_text!r}: {exc}") from exc
        #: The URI requested, for logs and errors.
        self.uri = uri_text
        self.close_timeout = close_timeout
        self._headers = tuple(headers)
        self._protocol = ClientProtocol(
            uri,
            origin=Origin(origin) if origin is not None else None,
            subprotocols=[Subprotocol(name) for name in subprotocols],
            # Messages may be endless (a stream of MQTT packets); each frame is bounded.
            max_size=(None, max_frame_size),
            logger=_LOGGER,
        )
        self._pending: list[bytes] = []
        self._close_at: float | None = None
        self._closing = False
        self._in_binary_message = False
        self._started = False

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server selected (``"mqtt"``), once established."""
        return self._protocol.subprotocol

    @property
    def close_code(self) -> int | None:
        """The close code received from the server, if it sent a close frame."""
        close = self._protocol.close_rcvd
        return None if close is None else int(close.code)

    def start(self, now: float) -> None:
        """Queue the HTTP upgrade request; then call `wire_to_send`.

        Raises:
            ValueError: An extra header has an invalid name or value.
        """
        if self._started:
            return
        self._started = True
        request = self._protocol.connect()
        for name, value in self._headers:
            if name in request.headers:
                del request.headers[name]
            try:
                request.headers[name] = value
            except Exception as exc:  # websockets' InvalidHeaderValue and kin
                raise ValueError(f"invalid WebSocket header {name!r}: {exc}") from exc
        self._protocol.send_request(request)

    def receive_wire(self, data: bytes, now: float) -> None:
        """Take bytes read from the socket; then call `receive` and `wire_to_send`."""
        if self.closed or self._protocol.state is State.CLOSED:
            return
        self._protocol.receive_data(data)
        self._process(now)

    def receive_wire_eof(self, now: float) -> None:
        """The server closed TCP: the layer is finished."""
        if self._protocol.state is not State.CLOSED:
            self._protocol.receive_eof()
            self._process(now)
        self.eof_received = True
        self.closed = True

    def wire_to_send(self, now: float) -> list[bytes]:
        """Frames (and the upgrade request) to write to the socket, in order."""
        writes = self._protocol.data_to_send()
        if not writes:
            return writes
        if writes[-1] == b"":
            # websockets' SEND_EOF: the connection is over on our side; the adapter closes it.
            writes.pop()
            self.closed = True
        return writes

    def send(self, data: bytes, now: float) -> None:
        """Carry MQTT bytes in one binary frame [MQTT-6.0.0-1] (kept until the upgrade).

        Raises:
            TransportClosed: The layer is closing or closed.
        """
        if self._closing or self.closed or self.error is not None:
            self._check_can_send()
            raise TransportClosed("the WebSocket connection is closing")
        if not data:
            return
        if self.established:
            self._protocol.send_binary(data)
        else:
            self._pending.append(data)

    def close(self, now: float) -> None:
        """Start the closing handshake (close frame 1000); then call `wire_to_send`."""
        if self._closing or self.closed:
            return
        self._closing = True
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(CloseCode.NORMAL_CLOSURE)
            self._arm_close_timer(now)
        elif self._protocol.state is State.CONNECTING:
            # Nothing to close politely before the upgrade: just drop the connection.
            self._pending.clear()
            self.closed = True
        else:
            self._arm_close_timer(now)

    def get_timer(self) -> float | None:
        """The close timeout, while waiting for the server to close TCP."""
        return None if self.closed else self._close_at

    def handle_timer(self, now: float) -> None:
        """Give up waiting for the server to close TCP after the closing handshake."""
        if self._close_at is not None and now >= self._close_at and not self.closed:
            self.eof_received = True
            self.closed = True

    # -- internals ----------------------------------------------------------------------------

    def _arm_close_timer(self, now: float) -> None:
        if self._close_at is None:
            self._close_at = now + self.close_timeout

    def _process(self, now: float) -> None:
        protocol = self._protocol
        for event in protocol.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            elif isinstance(event, Response):
                self._response()
        if protocol.handshake_exc is not None and self.error is None:
            reason = protocol.handshake_exc
            failed = HandshakeFailed(f"WebSocket upgrade to {self.uri} failed: {reason}")
            failed.__cause__ = reason
            self._fail(failed)
        elif protocol.parser_exc is not None and self.error is None:
            if not isinstance(protocol.parser_exc, EOFError):
                # A framing violation (bad opcode, oversized frame, bad close frame...).
                reason = protocol.parser_exc
                error = TransportProtocolError(f"WebSocket protocol error: {reason}")
                error.__cause__ = reason
                self._fail(error)
            else:
                self.eof_received = True
        if protocol.close_expected():
            self._arm_close_timer(now)
        if protocol.state is State.CLOSED:
            self.eof_received = True

    def _response(self) -> None:
        if self._protocol.handshake_exc is not None:
            return
        self.established = True
        pending, self._pending = self._pending, []
        for data in pending:
            self._protocol.send_binary(data)

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.BINARY or (opcode is Opcode.CONT and self._in_binary_message):
            self._in_binary_message = not frame.fin
            if frame.data and not self.eof_received:
                self._received.append(bytes(frame.data))
        elif opcode is Opcode.TEXT:
            # [MQTT-6.0.0-1] MQTT packets travel in binary frames only: close the connection.
            self._protocol.fail(CloseCode.UNSUPPORTED_DATA, "MQTT uses binary frames")
            self._fail(
                TransportProtocolError("the server sent a WebSocket text frame [MQTT-6.0.0-1]")
            )
        elif opcode is Opcode.CLOSE:
            # No MQTT bytes follow a close frame; websockets has queued the answering frame.
            self.eof_received = True
