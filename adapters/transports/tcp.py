"""MQTT over TCP and over TLS: the pass-through layer.

TLS is done by the adapter's socket (the ``ssl`` module, see `adapters.transports.tls`), so
for both ``tcp`` and ``ssl`` the wire bytes are the MQTT bytes. `StreamTransport` only keeps the
transport contract, so adapters can treat every transport alike; its ``passthrough`` flag tells
them they may skip it on the hot path and move bytes between socket and engine directly. Each
call costs a list append or swap (see ``tests/benchmarks``).
"""

from __future__ import annotations

from adapters.transports.base import SOCKET_RECV_DATA, BaseTransport

__all__ = ["StreamTransport"]


class StreamTransport(BaseTransport):
    """MQTT bytes carried as they are, over TCP (``socket_type="tcp"``) or TLS (``"ssl"``)."""

    recv_event_name = SOCKET_RECV_DATA
    connection_module = __name__
    datagram = False
    passthrough = True

    def __init__(self, *, tls: bool = False) -> None:
        """Create the layer.

        Args:
            tls: The adapter's socket runs TLS (only changes ``socket_type`` to ``"ssl"``).
        """
        super().__init__()
        self.socket_type = "ssl" if tls else "tcp"
        self._to_send: list[bytes] = []

    def start(self, now: float) -> None:
        """Nothing to negotiate: the layer is established at once (TLS is the socket's)."""
        self.established = True

    def receive_wire(self, data: bytes, now: float) -> None:
        """Take bytes read from the socket; they are MQTT bytes as they are."""
        if not self.eof_received and data:
            self._received.append(data)

    def receive_wire_eof(self, now: float) -> None:
        """The peer closed the connection: end of the MQTT stream, and of the layer."""
        self.eof_received = True
        self.closed = True

    def wire_to_send(self, now: float) -> list[bytes]:
        """The MQTT bytes given to `send`, to write as they are."""
        to_send = self._to_send
        if to_send:
            self._to_send = []
            return to_send
        return []

    def send(self, data: bytes, now: float) -> None:
        """Queue MQTT bytes for the socket.

        Raises:
            TransportClosed: `close` was called or the peer closed the connection.
        """
        if self.closed:
            self._check_can_send()
        if data:
            self._to_send.append(data)

    def close(self, now: float) -> None:
        """Finish: the adapter writes what is left in `wire_to_send`, then closes the socket."""
        self.closed = True

    def get_timer(self) -> float | None:
        """No timers: TCP retransmission and TLS are the kernel's and the ssl module's."""
        return None

    def handle_timer(self, now: float) -> None:
        """Nothing to do."""
