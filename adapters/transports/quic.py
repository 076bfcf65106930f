"""MQTT over QUIC as EMQX's QUIC listener expects it, on aioquic's sans-IO `QuicConnection`.

- TLS 1.3 inside QUIC with ALPN ``mqtt``; the server certificate is verified (chain and name)
  unless turned off; SNI is the host name connected to.
- MQTT travels on one client-opened bidirectional stream, the *control stream* (stream 0), with
  the same framing as over TCP: CONNECT, CONNACK and everything after. Server-opened streams are
  refused (STOP_SENDING); EMQX's optional extra data streams ("multi-stream") are not used.
- Wire units are UDP datagrams: the adapter sends each item of `QuicTransport.wire_to_send` as
  one datagram on a UDP socket connected to the server (see `open_udp_socket`) and passes each
  datagram it reads to `QuicTransport.receive_wire`.
- QUIC's own timers (loss recovery, idle timeout, pacing) are behind `get_timer` /
  `handle_timer`. The idle timeout defaults to three times the MQTT keepalive, as in emqtt.
- A session ticket from an earlier connection (``session_ticket``, kept up to date from the
  server's NewSessionTicket messages) resumes TLS, and lets MQTT bytes sent before the
  handshake completes go out as 0-RTT early data when the server allows it.
- A graceful `QuicTransport.close` ends the stream (FIN), waits for the server to end its side
  too (or ``close_timeout``), then closes the connection (CONNECTION_CLOSE, no error).
- A reset of the control stream, STOP_SENDING on it, or the connection's end with an error
  closes the layer with a `TransportClosed` (or a handshake error) in ``error``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from typing import Any

from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import NetworkAddress, QuicConnection
from aioquic.quic.packet import QuicErrorCode
from aioquic.tls import AlertDescription, SessionTicket

from adapters.transports.base import SOCKET_RECV_DATA, BaseTransport
from adapters.transports.errors import (
    HandshakeFailed,
    TLSVerificationFailed,
    TransportClosed,
    TransportError,
    TransportProtocolError,
)
from adapters.transports.tls import StrPath

__all__ = [
    "ALPN",
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_KEEPALIVE",
    "QuicTransport",
    "open_udp_socket",
    "quic_configuration",
]

#: The ALPN protocol of MQTT over QUIC (EMQX's listener accepts only this one).
ALPN = "mqtt"
#: emqtt's default keepalive; the idle timeout is three times the keepalive.
DEFAULT_KEEPALIVE = 60.0
#: Seconds a graceful close waits for the server to end the stream before closing.
DEFAULT_CLOSE_TIMEOUT = 2.0
#: Application error code for streams we abandon (0 would read as "no error").
STREAM_ERROR = 0x1
#: TLS alerts that mean "your certificate is not acceptable" (RFC 8446 section 6.2).
_CERTIFICATE_ALERTS = frozenset(
    {
        AlertDescription.bad_certificate,
        AlertDescription.unsupported_certificate,
        AlertDescription.certificate_revoked,
        AlertDescription.certificate_expired,
        AlertDescription.certificate_unknown,
        AlertDescription.unknown_ca,
    }
)


def quic_configuration(
    host: str,
    *,
    server_name: str | None = None,
    verify: bool = True,
    verify_mode: ssl.VerifyMode | None = None,
    cafile: StrPath | None = None,
    capath: StrPath | None = None,
    cadata: bytes | None = None,
    certfile: StrPath | None = None,
    keyfile: StrPath | None = None,
    password: str | bytes | None = None,
    ssl_context: ssl.SSLContext | None = None,
    keepalive: float = DEFAULT_KEEPALIVE,
    idle_timeout: float | None = None,
    session_ticket: SessionTicket | None = None,
) -> QuicConfiguration:
    """Build the client `QuicConfiguration` for MQTT over QUIC.

    Args:
        host: The server connected to; the default ``server_name``.
        server_name: Name for SNI and for checking the certificate (a DNS name or an address).
        verify: Verify the server certificate and its name. False is insecure (testing only).
        verify_mode: The same as an `ssl.VerifyMode` (as aioquic and `ssl` spell it):
            ``CERT_NONE`` means ``verify=False``; it overrides ``verify`` when given.
        cafile: PEM file of CAs to trust. Without any CA option the ``certifi`` bundle is used.
        capath: Directory of CA certificates to trust.
        cadata: PEM bytes of CAs to trust.
        certfile: Client certificate chain (PEM), for mutual TLS.
        keyfile: Its private key (default: in ``certfile``).
        password: Password of an encrypted private key.
        ssl_context: Take the trusted CAs and the verification mode from this context
            (the one given for ``ssl``/``wss``). Client certificates cannot be read back
            from an `ssl.SSLContext`: give ``certfile``/``keyfile`` for mutual TLS.
        keepalive: MQTT keepalive in seconds; the idle timeout defaults to three times it.
        idle_timeout: QUIC idle timeout in seconds (overrides the keepalive rule).
        session_ticket: A ticket from an earlier connection, for resumption and 0-RTT.

    Raises:
        ValueError: Conflicting or invalid options.
    """
    if verify_mode is not None:
        verify = verify_mode != ssl.CERT_NONE
    if idle_timeout is None:
        idle_timeout = 3 * keepalive if keepalive > 0 else 3 * DEFAULT_KEEPALIVE
    if idle_timeout <= 0:
        raise ValueError(f"idle_timeout must be positive, not {idle_timeout!r}")
    if certfile is None and (keyfile is not None or password is not None):
        raise ValueError("keyfile and password need a certfile")
    configuration = QuicConfiguration(
        is_client=True,
        alpn_protocols=[ALPN],
        idle_timeout=idle_timeout,
        server_name=server_name or host,
        session_ticket=session_ticket,
    )
    if ssl_context is not None:
        verify = verify and ssl_context.verify_mode != ssl.CERT_NONE
        ca_der = ssl_context.get_ca_certs(binary_form=True)
        if ca_der and cafile is None and capath is None and cadata is None:
            cadata = "".join(ssl.DER_cert_to_PEM_cert(der) for der in ca_der).encode()
    configuration.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if cafile is not None or capath is not None or cadata is not None:
        configuration.load_verify_locations(
            cafile=None if cafile is None else str(cafile),
            capath=None if capath is None else str(capath),
            cadata=cadata,
        )
    if certfile is not None:
        configuration.load_cert_chain(certfile, keyfile, password)
    return configuration


def open_udp_socket(address: tuple[Any, ...], family: int = socket.AF_INET) -> socket.socket:
    """A non-blocking UDP socket connected to a resolved server ``address``.

    It is bound to the loopback address when the server is on loopback, else to the family's
    wildcard address (aioquic's own helpers always bind ``::``). Usable by every adapter:
    asyncio (``create_datagram_endpoint(sock=...)``), trio (``trio.socket.from_stdlib_socket``)
    and threads.

    Args:
        address: The server's address as returned by ``getaddrinfo`` for ``SOCK_DGRAM``.
        family: ``AF_INET`` or ``AF_INET6``, from the same ``getaddrinfo`` result.

    Raises:
        ValueError: ``address`` holds a host name instead of an IP address.
        OSError: The socket could not be created or connected.
    """
    host = str(address[0])
    try:
        loopback = ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        raise ValueError(f"open_udp_socket needs a resolved address, not {host!r}") from None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if loopback:
            # Keep loopback traffic on loopback: never listen on every interface.
            sock.bind((host, 0))
        sock.setblocking(False)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock

class QuicTransport(BaseTransport):
    """MQTT on the control stream of a QUIC connection (``socket_type="quic"``)."""

    socket_type = "quic"
    recv_event_name = SOCKET_RECV_DATA
    connection_module = __name__
    datagram = True
    passthrough = False

    def __init__(
        self,
        configuration: QuicConfiguration,
        address: NetworkAddress,
        *,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        """Prepare a connection; nothing is sent before `start`.

        Args:
            configuration: Client configuration, usually from `quic_configuration`.
            address: The server's resolved address, exactly as the UDP socket is connected
                to it (QUIC tracks the network path by address).
            close_timeout: Seconds a graceful close waits for the server to end the stream.
        """
        super().__init__()
        if not configuration.is_client:
            raise ValueError("QuicTransport needs a client configuration")
        #: The latest session ticket the server issued (``None`` until one arrives); pass it
        #: to the next connection's `quic_configuration` to resume, with 0-RTT if allowed.
        self.session_ticket: SessionTicket | None = configuration.session_ticket
        #: Whether the server accepted the 0-RTT early data, once established.
        self.early_data_accepted = False
        #: Whether TLS resumed an earlier session, once established.
        self.session_resumed = False
        self.close_timeout = close_timeout
        self._address = address
        self._quic = QuicConnection(
            configuration=configuration, session_ticket_handler=self._ticket_received
        )
        self._stream_id: int | None = None
        self._fin_sent = False
        self._closing = False
        self._close_at: float | None = None
        self._connection_close_queued = False

    @property
    def stream_id(self) -> int | None:
        """The control stream's id (0), once started."""
        return self._stream_id

    @property
    def connection(self) -> QuicConnection:
        """The underlying aioquic connection (for statistics and qlog; do not drive it)."""
        return self._quic

    def start(self, now: float) -> None:
        """Queue the QUIC handshake and open the control stream; then call `wire_to_send`."""
        if self._stream_id is not None:
            return
        self._quic.connect(self._address, now=now)
        # The first client-initiated bidirectional stream: id 0, the MQTT control stream.
        self._stream_id = self._quic.get_next_available_stream_id()

    def receive_wire(self, data: bytes, now: float) -> None:
        """Take one UDP datagram from the server; then call `receive` and `wire_to_send`."""
        if self.closed:
            return
        self._quic.receive_datagram(data, self._address, now=now)
        self._process(now)

    def receive_wire_eof(self, now: float) -> None:
        """A UDP socket has no end of stream; treated as the connection being lost."""
        self._fail(TransportClosed("the UDP socket was closed"))

    def wire_to_send(self, now: float) -> list[bytes]:
        """Datagrams to send to the server, in order."""
        if self.closed and not self._connection_close_queued:
            return []
        datagrams = [data for data, _ in self._quic.datagrams_to_send(now=now)]
        if self._connection_close_queued:
            # CONNECTION_CLOSE went out with these datagrams: nothing more to do. (The
            # closing period exists for retransmissions to a peer that missed it; the client
            # leaves it to the server's idle timer.)
            self._connection_close_queued = False
            self.closed = True
        return datagrams

    def send(self, data: bytes, now: float) -> None:
        """Carry MQTT bytes on the control stream; then call `wire_to_send`.

        Before the handshake completes the bytes wait in the stream, or go out as 0-RTT early
        data when resuming with a session ticket that allows it.

        Raises:
            TransportClosed: The layer is closing or closed, or the stream can no longer send.
        """
        if self._closing or self.closed or self._stream_id is None:
            self._check_can_send()
            raise TransportClosed("the QUIC transport is closing or not started")
        if not data:
            return
        try:
            self._quic.send_stream_data(self._stream_id, data)
        except ValueError as exc:  # the stream was reset (STOP_SENDING) or already ended
            raise TransportClosed("the QUIC control stream cannot send any more") from exc

    def close(self, now: float) -> None:
        """End the control stream (FIN), then close the connection; then `wire_to_send`."""
        if self._closing or self.closed:
            return
        self._closing = True
        if self._stream_id is None:  # never started: nothing was sent, nothing to close
            self.closed = True
            return
        if not self.established or self.eof_received:
            self._end_stream()
            self._close_connection()
            return
        self._end_stream()
        self._close_at = now + self.close_timeout

    def get_timer(self) -> float | None:
        """The earliest of QUIC's timers and the graceful-close deadline."""
        if self.closed:
            return None
        timer = self._quic.get_timer()
        if self._close_at is not None and (timer is None or self._close_at < timer):
            return self._close_at
        return timer

    def handle_timer(self, now: float) -> None:
        """Run QUIC timers (retransmission, idle timeout) and the close deadline."""
        if self.closed:
            return
        timer = self._quic.get_timer()
        if timer is not None and now >= timer:
            self._quic.handle_timer(now=now)
        if self._close_at is not None and now >= self._close_at:
            self._close_at = None
            self._close_connection()
        self._process(now)

    # -- internals ----------------------------------------------------------------------------

    def _ticket_received(self, ticket: SessionTicket) -> None:
        self.session_ticket = ticket

    def _end_stream(self) -> None:
        if self._fin_sent or self._stream_id is None:
            return
        self._fin_sent = True
        # A ValueError means a STOP_SENDING already reset it: nothing left to end.
        with contextlib.suppress(ValueError):
            self._quic.send_stream_data(self._stream_id, b"", end_stream=True)

    def _close_connection(self, error_code: int = QuicErrorCode.NO_ERROR, reason: str = "") -> None:
        if self._connection_close_queued or self.closed:
            return
        self._quic.close(error_code=error_code, reason_phrase=reason)
        self._connection_close_queued = True

    def _fail_and_close(self, error: TransportError, error_code: int) -> None:
        """Record ``error``, nothing more is received; the CONNECTION_CLOSE still goes out."""
        if self.error is None:
            self.error = error
        self.eof_received = True
        self._closing = True
        self._close_connection(error_code, str(error))

    def _process(self, now: float) -> None:
        quic = self._quic
        event = quic.next_event()
        while event is not None:
            if isinstance(event, events.StreamDataReceived):
                self._stream_data(event)
            elif isinstance(event, events.HandshakeCompleted):
                self._handshake_completed(event)
            elif isinstance(event, events.StreamReset):
                if event.stream_id == self._stream_id:
                    self._fail_and_close(
                        TransportClosed(
                            f"the server reset the MQTT stream (error {event.error_code:#x})"
                        ),
                        QuicErrorCode.NO_ERROR,
                    )
            elif isinstance(event, events.StopSendingReceived):
                if event.stream_id == self._stream_id:
                    # aioquic has already reset our sending half in answer.
                    self._fail_and_close(
                        TransportClosed(
                            f"the server stopped reading the MQTT stream "
                            f"(error {event.error_code:#x})"
                        ),
                        QuicErrorCode.NO_ERROR,
                    )
            elif isinstance(event, events.ConnectionTerminated):
                self._terminated(event)
            event = quic.next_event()
        # aioquic reports ConnectionTerminated only at the end of the closing or draining
        # period (three probe timeouts): peek at the pending close so that a refused
        # certificate or the server's CONNECTION_CLOSE is known at once.
        pending_close = getattr(quic, "_close_event", None)
        if isinstance(pending_close, events.ConnectionTerminated) and not (
            self._connection_close_queued or self.closed
        ):
            self._terminated(pending_close)
        if (
            self._closing
            and self._close_at is not None
            and self.eof_received
            and not self._connection_close_queued
        ):
            # Both sides ended the stream: the graceful close can finish now.
            self._close_at = None
            self._close_connection()

    def _stream_data(self, event: events.StreamDataReceived) -> None:
        if event.stream_id != self._stream_id:
            # A server-opened stream: not part of MQTT over QUIC's single-stream mode.
            if event.stream_id % 4 in (1, 3):
                with contextlib.suppress(ValueError):
                    self._quic.stop_stream(event.stream_id, STREAM_ERROR)
            return
        if event.data and not self.eof_received:
            self._received.append(event.data)
        if event.end_stream:
            self.eof_received = True

    def _handshake_completed(self, event: events.HandshakeCompleted) -> None:
        if event.alpn_protocol != ALPN:
            error = HandshakeFailed(
                f"the server did not select ALPN {ALPN!r} (got {event.alpn_protocol!r})"
            )
            self._fail_and_close(
                error, QuicErrorCode.CRYPTO_ERROR + AlertDescription.no_application_protocol
            )
            return
        self.established = True
        self.early_data_accepted = event.early_data_accepted
        self.session_resumed = event.session_resumed

    def _terminated(self, event: events.ConnectionTerminated) -> None:
        if self.closed:
            return
        self.eof_received = True
        orderly = event.error_code == QuicErrorCode.NO_ERROR and (
            self._closing or self.established
        )
        if self.error is None and not orderly:
            self.error = _termination_error(event, established=self.established)
        # wire_to_send sends what is left (our CONNECTION_CLOSE, if aioquic closed on an
        # error it found itself) and then marks the layer closed.
        self._connection_close_queued = True

def _termination_error(event: events.ConnectionTerminated, *, established: bool) -> TransportError:
    code, reason = event.error_code, event.reason_phrase
    detail = f"{reason or 'no reason given'} (error {code:#x})"
    crypto = QuicErrorCode.CRYPTO_ERROR
    if crypto <= code < crypto + 0x100:
        alert = code - crypto
        if alert in _CERTIFICATE_ALERTS:
            # aioquic's message when only the name is wrong: "hostname 'x' doesn't match 'y'".
            mismatch = "doesn't match" in reason
            return TLSVerificationFailed(
                f"QUIC TLS certificate verification failed: {detail}", hostname_mismatch=mismatch
            )
        return HandshakeFailed(f"QUIC TLS handshake failed: {detail}")
    if not established:
        return HandshakeFailed(f"QUIC handshake failed: {detail}")
    if reason == "Idle timeout":
        return TransportClosed(f"QUIC idle timeout: {detail}")
    if code == QuicErrorCode.NO_ERROR or code > 0xFF:
        return TransportClosed(f"QUIC connection closed by the server: {detail}")
    return TransportProtocolError(f"QUIC connection error: {detail}")
