"""A QUIC-to-TCP relay that puts an EMQX-style QUIC listener in front of mosquitto.

No broker with QUIC is available to the test suite, so `QuicRelay` plays the part of EMQX's QUIC
listener: it accepts QUIC connections (ALPN ``mqtt``, TLS 1.3 with a test certificate), and
forwards each client-opened bidirectional stream to the broker's TCP port over a TCP connection of
its own, in both directions. The first stream is the MQTT control stream; MQTT bytes on it are the
same as over TCP.

What crosses the relay, and how:

- data, both ways, in order;
- a FIN from the client becomes a TCP half-close (``write_eof``) towards the broker; the broker
  closing its side becomes a FIN on the stream;
- a client stream reset (RESET_STREAM) or STOP_SENDING aborts the TCP connection (RST); a TCP
  connection that fails (refused, reset) resets the stream and asks the client to stop sending;
- the end of the QUIC connection aborts every TCP connection it owns.

It runs its own asyncio loop in its own thread, so threading, asyncio and trio tests can share
it. It reacts to `QuicConnection` events directly: aioquic's stream reader/writer helpers ignore
resets and STOP_SENDING.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer, serve
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import SessionTicket

from support.certs import TLSMaterial
from support.net import LOOPBACK

#: ALPN EMQX's QUIC listener (and so this relay) negotiates.
ALPN = "mqtt"
#: Application error code used on streams whose TCP side failed (0 would read as "no error").
RELAY_STREAM_ERROR = 0x1
#: How long `QuicRelay.start` and `QuicRelay.stop` wait for the relay thread.
THREAD_TIMEOUT = 10.0


@dataclass
class _Leg:
    """One client stream and the TCP connection that carries it to the broker."""

    stream_id: int
    pending: bytearray = field(default_factory=bytearray)
    pending_eof: bool = False
    opening: asyncio.Future[None] | None = None
    transport: asyncio.Transport | None = None
    quic_fin_received: bool = False
    tcp_eof_received: bool = False
    done: bool = False


class _TcpSide(asyncio.Protocol):
    """asyncio protocol of one TCP connection to the broker; reports to its QUIC connection."""

    def __init__(self, owner: _RelayConnection, leg: _Leg) -> None:
        self._owner = owner
        self._leg = leg

    def data_received(self, data: bytes) -> None:
        self._owner.tcp_data(self._leg, data)

    def eof_received(self) -> bool:
        # True keeps our sending half open: the client may still be talking (half-close).
        return self._owner.tcp_eof(self._leg)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.tcp_lost(self._leg, exc)


class _RelayConnection(QuicConnectionProtocol):
    """One QUIC connection from a client: maps its streams to TCP connections."""

    def __init__(
        self,
        quic: QuicConnection,
        stream_handler: Any = None,
        *,
        relay: QuicRelay,
    ) -> None:
        super().__init__(quic, stream_handler)
        self._relay = relay
        self._legs: dict[int, _Leg] = {}
        relay._connections.add(self)

    # -- QUIC side ----------------------------------------------------------------------------

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.StreamDataReceived):
            self._stream_data(event)
        elif isinstance(event, events.StreamReset | events.StopSendingReceived):
            # The client abandoned the stream (or our direction of it): TCP has no half-reset,
            # so the whole TCP connection is aborted, and our sending half is reset to match.
            leg = self._legs.get(event.stream_id)
            if leg is not None:
                if isinstance(event, events.StreamReset):
                    leg.quic_fin_received = True  # its sending half is over: no STOP_SENDING
                self._abort_leg(leg)
        elif isinstance(event, events.ConnectionTerminated):
            for leg in list(self._legs.values()):
                self._abort_leg(leg, notify_client=False)
            self._relay._connections.discard(self)
        elif isinstance(event, events.HandshakeCompleted):
            self._relay._handshakes += 1

    def _stream_data(self, event: events.StreamDataReceived) -> None:
        stream_id = event.stream_id
        leg = self._legs.get(stream_id)
        if leg is None:
            if stream_id % 4 != 0:
                # Only client-initiated bidirectional streams carry MQTT (stream ids 0, 4, 8...).
                with contextlib.suppress(ValueError):
                    self._quic.stop_stream(stream_id, RELAY_STREAM_ERROR)
                self.transmit()
                return
            leg = _Leg(stream_id)
            self._legs[stream_id] = leg
            self._relay._tcp_connections_opened += 1
            leg.opening = asyncio.ensure_future(self._open_tcp(leg))
        if leg.done:
            return
        if event.data:
            if leg.transport is None:
                leg.pending += event.data
            else:
                leg.transport.write(event.data)
        if event.end_stream:
            leg.quic_fin_received = True
            if leg.transport is None:
                leg.pending_eof = True
            else:
                leg.transport.write_eof()
                self._maybe_finish(leg)

    async def _open_tcp(self, leg: _Leg) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(
                lambda: _TcpSide(self, leg), self._relay.target_host, self._relay.target_port
            )
        except OSError:
            # The broker is down: the client sees its stream reset, as with a refused TCP
            # connection.
            self._abort_leg(leg)
            return
        if leg.done:
            transport.abort()
            return
        leg.transport = transport
        if leg.pending:
            transport.write(bytes(leg.pending))
            leg.pending.clear()
        if leg.pending_eof:
            transport.write_eof()
            self._maybe_finish(leg)

    # -- TCP side -----------------------------------------------------------------------------

    def tcp_data(self, leg: _Leg, data: bytes) -> None:
        try:
            self._quic.send_stream_data(leg.stream_id, data)
        except ValueError:
            # Our sending half is finished or reset (the client sent STOP_SENDING).
            self._abort_leg(leg)
            return
        self.transmit()

    def tcp_eof(self, leg: _Leg) -> bool:
        leg.tcp_eof_received = True
        with contextlib.suppress(ValueError):
            self._quic.send_stream_data(leg.stream_id, b"", end_stream=True)
        self.transmit()
        self._maybe_finish(leg)
        return not leg.done

    def tcp_lost(self, leg: _Leg, exc: Exception | None) -> None:
        if leg.done:
            return
        if exc is None and leg.tcp_eof_received:
            self._forget(leg)
        elif exc is None:
            # Closed without a half-close first: still a clean end of the broker's stream.
            self.tcp_eof(leg)
            self._forget(leg)
        else:
            self._abort_leg(leg)

    # -- shared -------------------------------------------------------------------------------

    def _maybe_finish(self, leg: _Leg) -> None:
        if leg.quic_fin_received and leg.tcp_eof_received and leg.transport is not None:
            leg.transport.close()
            self._forget(leg)

    def _forget(self, leg: _Leg) -> None:
        leg.done = True
        self._legs.pop(leg.stream_id, None)

    def _abort_leg(self, leg: _Leg, *, notify_client: bool = True) -> None:
        """Tear a stream down abruptly on both sides."""
        self._forget(leg)
        if leg.transport is not None:
            leg.transport.abort()
        if notify_client:
            # reset_stream ignores streams already reset or fully acknowledged.
            self._quic.reset_stream(leg.stream_id, RELAY_STREAM_ERROR)
            if not leg.quic_fin_received:
                with contextlib.suppress(ValueError):
                    self._quic.stop_stream(leg.stream_id, RELAY_STREAM_ERROR)
            self.transmit()

    def abort_all(self) -> None:
        """Abort every TCP connection of this QUIC connection (relay shutdown)."""
        for leg in list(self._legs.values()):
            self._abort_leg(leg, notify_client=False)


class QuicRelay:
    """A QUIC listener on a free 127.0.0.1 UDP port relaying streams to a TCP MQTT broker.

    Attributes:
        host: Address the relay listens on (127.0.0.1).
        port: UDP port, known once `start` returned.
        target_host: The broker's TCP address.
        target_port: The broker's TCP port.
        tls: Certificates: the relay presents the server certificate signed by ``tls.ca``.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        tls: TLSMaterial,
        *,
        idle_timeout: float = 60.0,
    ) -> None:
        """Prepare a relay to ``target_host:target_port``; nothing runs until `start`.

        Args:
            target_host: The broker's TCP address.
            target_port: The broker's TCP port.
            tls: The CA and the server certificate the relay presents.
            idle_timeout: QUIC idle timeout of the relay's side, in seconds.
        """
        self.host = LOOPBACK
        self.port = 0
        self.target_host = target_host
        self.target_port = target_port
        self.tls = tls
        self.idle_timeout = idle_timeout
        self._connections: set[_RelayConnection] = set()
        self._tickets: dict[bytes, SessionTicket] = {}
        self._tcp_connections_opened = 0
        self._handshakes = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    # -- what tests use -----------------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        """PEM file of the CA that signed the relay's certificate."""
        return self.tls.ca_file

    @property
    def tcp_connections_opened(self) -> int:
        """How many TCP connections to the broker the relay has opened (one per stream)."""
        return self._tcp_connections_opened

    @property
    def handshakes_completed(self) -> int:
        """How many QUIC handshakes the relay has completed."""
        return self._handshakes

    @property
    def running(self) -> bool:
        """Whether the relay thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def client_quic_configuration(self, **overrides: Any) -> QuicConfiguration:
        """A client `QuicConfiguration` that verifies the relay (ALPN mqtt, CA, SNI localhost).

        Args:
            overrides: Fields to set on the configuration (for example ``idle_timeout``).
        """
        configuration = QuicConfiguration(
            is_client=True, alpn_protocols=[ALPN], server_name="localhost"
        )
        configuration.load_verify_locations(cafile=str(self.ca_file))
        for name, value in overrides.items():
            setattr(configuration, name, value)
        return configuration

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the relay thread and return once it listens.

        Raises:
            RuntimeError: The relay is already running or could not start.
        """
        if self.running:
            raise RuntimeError("the QUIC relay is already running")
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="quic-relay", daemon=True)
        self._thread.start()
        if not self._ready.wait(THREAD_TIMEOUT):
            raise RuntimeError("the QUIC relay did not start in time")
        if self._failure is not None:
            raise RuntimeError("the QUIC relay could not start") from self._failure

    def stop(self) -> None:
        """Close every connection, stop listening and join the thread. Idempotent."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is None or stop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(stop.set)
        thread.join(THREAD_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("the QUIC relay thread did not stop")
        self._thread = None

    def __enter__(self) -> QuicRelay:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the relay thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        configuration = QuicConfiguration(
            is_client=False, alpn_protocols=[ALPN], idle_timeout=self.idle_timeout
        )
        configuration.load_cert_chain(self.tls.server_cert_file, self.tls.server_key_file)

        def create_protocol(quic: QuicConnection, stream_handler: Any = None) -> _RelayConnection:
            return _RelayConnection(quic, stream_handler, relay=self)

        server: QuicServer = await serve(
            self.host,
            0,
            configuration=configuration,
            create_protocol=create_protocol,
            session_ticket_fetcher=self._fetch_ticket,
            session_ticket_handler=self._store_ticket,
        )
        try:
            transport = server._transport
            assert transport is not None
            self.port = transport.get_extra_info("sockname")[1]
            self._ready.set()
            await self._stop.wait()
        finally:
            for connection in list(self._connections):
                connection.abort_all()
            server.close()

    def _fetch_ticket(self, label: bytes) -> SessionTicket | None:
        # Single use, as TLS 1.3 recommends for tickets that allow early data.
        return self._tickets.pop(label, None)

    def _store_ticket(self, ticket: SessionTicket) -> None:
        self._tickets[ticket.ticket] = ticket
