"""The transport contract: a sans-IO bytes <-> bytes layer between a socket and the engine.

A transport turns what the network carries (TCP bytes, WebSocket frames, QUIC datagrams) into
the MQTT byte stream the engine reads, and back. It owns no socket, no thread and no clock: the
adapter gives it bytes and the current time, and takes bytes to write.

The adapter's pump, after connecting its socket (TCP, TLS or UDP)::

    transport.start(now)                          # WebSocket upgrade request, QUIC Initial
    loop:
        network bytes       -> transport.receive_wire(data, now)      # or receive_wire_eof(now)
        timer fired         -> transport.handle_timer(now)
        engine output       -> transport.send(session.data_to_send(now), now)
        then, every time:
            data = transport.receive()            # MQTT bytes; b"" if none
            if data: session.receive_data(data, now)
            if transport.eof_received (once): session.receive_eof(now)
            for chunk in transport.wire_to_send(now): write chunk (a datagram for QUIC)
            if transport.closed: close the socket (transport.error says why, if abnormal)
            timer = min(session.get_timer(), transport.get_timer())

``send`` may be called as soon as ``start`` was: bytes sent before the handshake completes are
kept and go out once it has (or as QUIC 0-RTT early data when a session ticket allows it).
Nothing here raises out of ``receive_wire``, ``receive_wire_eof`` or ``handle_timer``; failures
close the layer and are recorded in ``error``.
"""

from __future__ import annotations

from typing import Final, Protocol

from adapters.transports.errors import TransportClosed, TransportError

__all__ = [
    "SOCKET_RECV_DATA",
    "WEBSOCKET_RECV_DATA",
    "BaseTransport",
    "Transport",
]

#: Telemetry event for MQTT bytes received over TCP, TLS or a QUIC stream.
SOCKET_RECV_DATA: Final[tuple[str, ...]] = ("emqtt", "socket", "recv_data")
#: Telemetry event for MQTT bytes received in WebSocket binary frames (ws and wss).
WEBSOCKET_RECV_DATA: Final[tuple[str, ...]] = ("emqtt", "websocket", "recv_data")


class Transport(Protocol):
    """What every transport layer provides; adapters are written against this."""

    #: ``"tcp"``, ``"ssl"``, ``"websocket"`` (ws and wss) or ``"quic"``: telemetry metadata.
    socket_type: str
    #: The telemetry event name for received bytes (`SOCKET_RECV_DATA` or
    #: `WEBSOCKET_RECV_DATA`).
    recv_event_name: tuple[str, ...]
    #: Dotted name of the module implementing it (telemetry ``connection_module``).
    connection_module: str
    #: True when wire units are datagrams (QUIC over UDP): each `wire_to_send` item is one
    #: datagram and each `receive_wire` call takes exactly one.
    datagram: bool
    #: True when wire bytes *are* the MQTT bytes (TCP, TLS): an adapter may bypass the layer
    #: on its hot path and move bytes between socket and engine directly.
    passthrough: bool
    #: The handshake has completed (always true for TCP/TLS once started).
    established: bool
    #: The peer will send no more MQTT bytes (end of stream, close frame, reset).
    eof_received: bool
    #: The layer is finished: the adapter writes what `wire_to_send` returns, then closes.
    closed: bool
    #: Why the layer closed abnormally, or None (orderly close, or still open).
    error: TransportError | None

    def start(self, now: float) -> None:
        """Begin: queue the WebSocket upgrade request or the QUIC handshake.

        Call once, right after the socket is connected; then call `wire_to_send`.
        """

    def receive_wire(self, data: bytes, now: float) -> None:
        """Take bytes (a datagram, for QUIC) read from the network.

        Then call `receive`, `wire_to_send` and `get_timer`.
        """

    def receive_wire_eof(self, now: float) -> None:
        """The network connection reached end of stream (the peer closed its side)."""

    def wire_to_send(self, now: float) -> list[bytes]:
        """Bytes to write to the socket (one datagram per item for QUIC), oldest first."""
        ...

    def send(self, data: bytes, now: float) -> None:
        """Carry MQTT bytes to the peer; then call `wire_to_send`.

        Raises:
            TransportClosed: The layer is closing or closed.
        """

    def receive(self) -> bytes:
        """MQTT bytes received since the last call (``b""`` when there are none)."""
        ...

    def close(self, now: float) -> None:
        """Close gracefully (WebSocket close frame, QUIC stream FIN then CONNECTION_CLOSE).

        Then keep pumping `wire_to_send` and the timer until `closed`. Idempotent.
        """

    def get_timer(self) -> float | None:
        """When `handle_timer` must be called next (absolute time, same clock as ``now``)."""
        ...

    def handle_timer(self, now: float) -> None:
        """Run timers due at ``now`` (retransmission, idle and close timeouts)."""


class BaseTransport:
    """State and buffers shared by the transport layers (not a transport by itself)."""

    socket_type: str = ""
    recv_event_name: tuple[str, ...] = SOCKET_RECV_DATA
    connection_module: str = __name__
    datagram: bool = False
    passthrough: bool = False

    def __init__(self) -> None:
        self.established = False
        self.eof_received = False
        self.closed = False
        self.error: TransportError | None = None
        self._received: list[bytes] = []

    def receive(self) -> bytes:
        """MQTT bytes received since the last call (``b""`` when there are none)."""
        received = self._received
        if not received:
            return b""
        self._received = []
        # join() of a single bytes object returns that object: no copy on the common path.
        return received[0] if len(received) == 1 else b"".join(received)

    def _check_can_send(self) -> None:
        if self.closed or self.error is not None:
            raise TransportClosed("the transport is closed") from self.error

    def _fail(self, error: TransportError) -> None:
        """Record the first error and finish: nothing more is received."""
        if self.error is None:
            self.error = error
        self.eof_received = True
        self.closed = True

    def __repr__(self) -> str:
        state = (
            "closed" if self.closed else "established" if self.established else "connecting"
        )
        return f"<{type(self).__name__} {self.socket_type} {state}>"
