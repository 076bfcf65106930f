"""A blocking driver for one transport layer over a real socket, for tests.

`TransportDriver` runs the adapter pump of ``adapters.transports.base`` with plain sockets and
``select``: it feeds what the socket reads to the layer, writes what the layer wants written,
fires the layer's timer, and collects the MQTT bytes received. Every wait is bounded by a
deadline and wakes up on socket readiness or on the layer's own timer.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable

from adapters.transports.base import Transport
from support.raw_mqtt import split_packet

#: Default bound for every wait, in seconds.
TIMEOUT = 10.0
_READ_SIZE = 65536


class TransportDriver:
    """Pumps ``transport`` over ``sock`` (a connected TCP, TLS or UDP socket)."""

    def __init__(self, transport: Transport, sock: socket.socket) -> None:
        self.transport = transport
        self.sock = sock
        self.received = bytearray()
        #: Every chunk (or datagram) written, for tests that inspect the wire.
        self.written: list[bytes] = []
        self.socket_eof = False
        sock.setblocking(False)

    @staticmethod
    def now() -> float:
        """The clock given to the layer."""
        return time.monotonic()

    # -- pump ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the layer has to send, collect MQTT bytes, close when it is finished."""
        transport = self.transport
        data = transport.receive()
        if data:
            self.received += data
        for chunk in transport.wire_to_send(self.now()):
            self.written.append(chunk)
            self._write(chunk)

    def _write(self, chunk: bytes) -> None:
        if self.transport.datagram:
            self.sock.send(chunk)
            return
        view = memoryview(chunk)
        while view:
            try:
                sent = self.sock.send(view)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                select.select([], [self.sock], [], TIMEOUT)
                continue
            except OSError:
                return  # the peer is gone; the read side will tell
            view = view[sent:]

    def pump(self, deadline: float) -> None:
        """Wait for the socket or the layer's timer (not past ``deadline``) and handle it."""
        transport = self.transport
        timer = transport.get_timer()
        wake = deadline if timer is None else min(deadline, timer)
        pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
        if not pending and not self.socket_eof:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, wake - self.now()))
        else:
            readable = [self.sock] if pending else []
        if readable:
            self._read()
        timer = transport.get_timer()
        if timer is not None and self.now() >= timer:
            transport.handle_timer(max(timer, self.now()))
        self.flush()

    def _read(self) -> None:
        transport = self.transport
        while True:
            try:
                data = self.sock.recv(_READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (ConnectionRefusedError, ConnectionResetError, ssl.SSLError, OSError):
                if transport.datagram:
                    return  # ICMP errors on UDP: QUIC's timers decide
                data = b""
            if not data and not transport.datagram:
                self.socket_eof = True
                transport.receive_wire_eof(self.now())
                return
            transport.receive_wire(data, self.now())
            if not transport.datagram and not (
                isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            ):
                return

    def wait_until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Pump until ``predicate()`` holds.

        Raises:
            TimeoutError: It did not within ``timeout`` seconds.
            AssertionError: The layer closed before it did.
        """
        deadline = self.now() + timeout
        self.flush()
        while not predicate():
            if self.transport.closed and self.socket_eof:
                raise AssertionError(f"transport closed first (error: {self.transport.error!r})")
            if self.now() >= deadline:
                raise TimeoutError(f"condition not met in {timeout}s; {self.transport!r}")
            self.pump(deadline)

    # -- what tests do ------------------------------------------------------------------------

    def start(self, timeout: float = TIMEOUT) -> None:
        """Start the layer and wait for its handshake to complete."""
        self.transport.start(self.now())
        self.wait_until(
            lambda: self.transport.established or self.transport.closed, timeout
        )

    def send(self, data: bytes) -> None:
        """Send MQTT bytes through the layer."""
        self.transport.send(data, self.now())
        self.flush()

    def read_packet(self, timeout: float = TIMEOUT) -> bytes:
        """The next whole MQTT packet received."""
        found: list[bytes] = []

        def have_packet() -> bool:
            split = split_packet(self.received)
            if split is None:
                return False
            packet, rest = split
            self.received[:] = rest
            found.append(packet)
            return True

        self.wait_until(lambda: have_packet() or self._ended(), timeout)
        if not found:
            raise EOFError(f"the transport ended before a whole packet: {self.transport!r}")
        return found[0]

    def _ended(self) -> bool:
        # Called after have_packet() failed; flush() has already collected what was received.
        return self.transport.eof_received or self.transport.closed

    def wait_closed(self, timeout: float = TIMEOUT) -> None:
        """Pump until the layer is closed."""
        self.wait_until(lambda: self.transport.closed, timeout)

    def close(self, timeout: float = TIMEOUT) -> None:
        """Close the layer gracefully and wait until it is finished, then close the socket."""
        self.transport.close(self.now())
        try:
            self.wait_closed(timeout)
        finally:
            self.sock.close()
