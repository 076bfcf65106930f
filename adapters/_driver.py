"""The connection driver: the engine, the transport layer and telemetry, without I/O.

One `ConnectionDriver` lives as long as its client. It owns the `ClientSession` (which outlives
network connections), the transport layer of the current connection, the table of pending
operations and the telemetry emitter, and turns wire bytes and time into wire bytes and
resolved waiters. An adapter does only the waiting: it reads the socket into `receive_wire`,
calls `flush` when the engine may have something to send (it writes through `writer`), and
arms one timer at `timer()` that calls `handle_timer`. Every call leaves the engine's events
drained: futures resolved, messages delivered, closure reported through `ConnectionHooks`.
"""

from __future__ import annotations

import socket
import ssl
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from adapters._client import ClientOptions
from adapters._message import ReasonCodes
from adapters._options import Endpoint
from adapters._results import Results, Waiter
from adapters._telemetry import TelemetryEmitter
from adapters.errors import (
    ClientError,
    ConnackRefused,
    ConnectError,
    ConnectionFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    PublishFailed,
    TLSHostnameMismatch,
    TLSVerificationFailed,
)
from adapters.transports.base import Transport
from adapters.transports.errors import (
    TLSVerificationFailed as TransportTLSVerificationFailed,
)
from adapters.transports.errors import TransportClosed, TransportError, tls_error_from_ssl
from adapters.transports.tcp import StreamTransport
from emqtt_core import exceptions as core_errors
from emqtt_core.events import (
    AuthReceived,
    Connected,
    ConnectionClosed,
    MessageReceived,
    PongReceived,
    PublishCompleted,
    Reauthenticated,
    Subscribed,
    Unsubscribed,
)
from emqtt_core.events import (
    PublishFailed as PublishFailedEvent,
)
from emqtt_core.packets import Packet
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession

__all__ = ["ConnectionDriver", "ConnectionHooks", "connect_error_from", "make_transport"]


class ConnectionHooks(Protocol):
    """What the adapter does when the driver reports a change of connection."""

    def connection_made(self, event: Connected) -> None:
        """CONNACK accepted the connection."""

    def connection_ended(self, event: ConnectionClosed, error: ClientError | None) -> None:
        """The connection ended (``error`` is None after the client's own ``disconnect``).

        The final bytes (a DISCONNECT) were already flushed: close the socket.
        """

    def message_received(self, event: MessageReceived) -> None:
        """An application message arrived."""


def make_transport(options: ClientOptions, endpoint: Endpoint, address: Any = None) -> Transport:
    """A new transport layer for a connection to ``endpoint``.

    Args:
        options: The client's options.
        endpoint: The server connected to.
        address: For QUIC, the resolved address the UDP socket is connected to.
    """
    kind = options.transport
    if kind in ("tcp", "ssl"):
        return StreamTransport(tls=kind == "ssl")
    if kind in ("ws", "wss"):
        # Imported when used: websockets is an optional dependency (extra "websocket").
        from adapters.transports.websocket import WebSocketTransport  # noqa: PLC0415

        return WebSocketTransport(
            endpoint.host,
            endpoint.port,
            secure=kind == "wss",
            path=options.ws_path,
            headers=options.ws_headers,
        )
    # Imported when used: aioquic is an optional dependency (extra "quic").
    from adapters.transports.quic import QuicTransport, quic_configuration  # noqa: PLC0415

    quic_options = dict(options.quic_options)
    quic_options.setdefault("keepalive", float(options.config.keep_alive))
    configuration = quic_configuration(
        endpoint.host,
        server_name=options.server_hostname,
        ssl_context=options.ssl_context,
        **quic_options,
    )
    return QuicTransport(configuration, address)


def connect_error_from(exc: BaseException, endpoint: Endpoint | None) -> ConnectError:
    """Classify why a connection could not be opened, chaining ``exc`` as the cause."""
    host = endpoint.host if endpoint else None
    port = endpoint.port if endpoint else None
    where = f" to {endpoint}" if endpoint else ""
    error: ConnectError
    if isinstance(exc, ConnectError):
        return exc
    if isinstance(exc, ssl.SSLError):
        exc = tls_error_from_ssl(exc)
    if isinstance(exc, TransportTLSVerificationFailed):
        cls = TLSHostnameMismatch if exc.hostname_mismatch else TLSVerificationFailed
        error = cls(f"TLS verification failed{where}: {exc}", host=host, port=port)
    elif isinstance(exc, ConnectionRefusedError):
        error = ConnectionRefused(f"connection refused{where}", host=host, port=port)
    elif isinstance(exc, TimeoutError):
        error = ConnectTimeout(f"connecting{where} timed out", host=host, port=port)
    elif isinstance(exc, OSError | TransportError | socket.gaierror):
        error = ConnectionFailed(f"cannot connect{where}: {exc}", host=host, port=port)
    else:
        error = ConnectionFailed(f"cannot connect{where}: {exc!r}", host=host, port=port)
    error.__cause__ = exc
    return error


def _reference(event: ConnectionClosed) -> str | None:
    return event.server_reference


class ConnectionDriver:
    """Drives a `ClientSession` over one transport layer at a time (see the module doc).

    Args:
        options: The client's validated options.
        hooks: The adapter's reactions to connection changes and messages.
    """

    def __init__(self, options: ClientOptions, hooks: ConnectionHooks) -> None:
        self.options = options
        self.session = ClientSession(options.config)
        # No reference cycles through the driver (bound methods of itself or of its client
        # stored in its attributes): a finished client is freed by reference counting, not
        # left for the cyclic garbage collector, which matters to short-lived clients.
        # Withdraw a publish that times out while still queued, so it is never sent; one in
        # flight must finish the exchange it started (the server may have it).
        self.results = Results(options.ack_timeout, self.session.cancel)
        self.hooks: ConnectionHooks = weakref.proxy(hooks)
        self.emitter: TelemetryEmitter | None = None
        if options.telemetry:
            self.emitter = TelemetryEmitter(
                options.config.client_id, int(options.config.protocol_version)
            )
            self.session.record_sent_packets = True
        self.layer: Transport | None = None
        #: TCP and TLS: wire bytes are MQTT bytes, the layer is skipped on the hot path.
        self.passthrough = False
        #: Writes wire bytes (one datagram per call for QUIC); set by the adapter. It raises
        #: when the bytes cannot be taken.
        self.writer: Callable[[bytes], object] = _no_writer
        #: Whether the adapter's socket is closing, set by an adapter whose socket silently
        #: drops what is written once it is (asyncio's transports): bytes are then not
        #: written but reported as failed with `TransportClosed`.
        self.writer_closing: Callable[[], bool] = _never
        # Packets (with their sizes) a WebSocket or QUIC layer accepted and has not written
        # out yet (telemetry only): reported as sent once the socket took the layer's bytes,
        # as failed if that write fails or the connection ends first.
        self._unwritten: list[tuple[Packet, int]] = []
        self.endpoint: Endpoint | None = None
        #: Waiter of the connection being established (resolved by CONNACK).
        self.connect_waiter: Waiter | None = None
        #: The latest CONNACK event (None before the first connection).
        self.connected: Connected | None = None
        #: Why the socket failed, if it did (reported instead of a bare "connection lost").
        self.socket_error: BaseException | None = None
        #: Why the client itself ended the attempt (an enhanced-authentication failure).
        self.local_error: BaseException | None = None
        #: Whether the connection that ended last had not been accepted yet (its connect
        #: waiter got the error).
        self.ended_while_connecting = False
        self._eof_given = False
        self._now = 0.0

    # -- connection lifecycle ------------------------------------------------------------------

    def start(self, layer: Transport, endpoint: Endpoint, now: float, waiter: Waiter) -> None:
        """A socket to ``endpoint`` is open: start ``layer`` on it and queue CONNECT.

        ``waiter`` gets the `Connected` event, or the `ConnectError` if the attempt fails.
        Then call `flush`.
        """
        self.layer = layer
        self.passthrough = layer.passthrough
        self.endpoint = endpoint
        self.socket_error = None
        self.local_error = None
        self._eof_given = False
        self.connect_waiter = waiter
        if self.emitter is not None:
            self.emitter.use_transport(layer)
        layer.start(now)
        self.session.connect()

    def receive_wire(self, data: bytes, now: float) -> None:
        """Bytes (one datagram, for QUIC) arrived from the network."""
        self._now = now
        if self.passthrough:
            if self.emitter is not None:
                self.emitter.received(data)
            self.session.receive_data(data, now)
            self.process_events()
            return
        layer = self.layer
        if layer is None:
            return
        layer.receive_wire(data, now)
        self._from_layer(layer, now)

    def receive_wire_eof(self, now: float, error: BaseException | None = None) -> None:
        """The network connection ended (``error``: the socket's failure, if any)."""
        if error is not None and self.socket_error is None:
            self.socket_error = error
        layer = self.layer
        if layer is None:
            return
        layer.receive_wire_eof(now)
        self._from_layer(layer, now)
        if not self._eof_given:
            self._eof_given = True
            self.session.receive_eof(now)
            self.process_events()

    def _from_layer(self, layer: Transport, now: float) -> None:
        data = layer.receive()
        if data:
            if self.emitter is not None:
                self.emitter.received(data)
            self.session.receive_data(data, now)
        if layer.eof_received and not self._eof_given:
            self._eof_given = True
            if layer.error is not None and self.socket_error is None:
                self.socket_error = layer.error
            self.session.receive_eof(now)
        self.process_events()

    def flush(self, now: float) -> int:
        """Write what the engine and the layer have for the network.

        Telemetry: each MQTT packet is reported once, as ``send_data`` when its bytes were
        handed to the socket's writer, or as ``send_data_failed`` (with its size) when the
        write, the layer or the connection failed first.

        Returns:
            The number of MQTT bytes the engine produced.
        """
        session = self.session
        data = session.data_to_send(now)
        if self.passthrough:
            if data:
                try:
                    if self.writer_closing():
                        raise TransportClosed("the connection is closing")
                    self.writer(data)
                except Exception as exc:
                    self._write_failed(exc, now)
                else:
                    if self.emitter is not None:
                        self.emitter.sent(session.take_sent_packets())
        else:
            layer = self.layer
            if layer is not None:
                if data:
                    try:
                        layer.send(data, now)
                    except TransportClosed as exc:
                        self._write_failed(exc, now)
                    else:
                        if self.emitter is not None:
                            self._unwritten += session.take_sent_packets()
                try:
                    chunks = layer.wire_to_send(now)
                    if chunks:
                        if self.writer_closing():
                            raise TransportClosed("the connection is closing")
                        for chunk in chunks:
                            self.writer(chunk)
                except Exception as exc:
                    self._write_failed(exc, now)
                else:
                    # Before the handshake completes the layer keeps the MQTT bytes (a
                    # WebSocket upgrade in progress) or holds them in the QUIC stream; after
                    # it, what the layer accepted is in the chunks just written.
                    if self._unwritten and layer.established:
                        assert self.emitter is not None
                        unwritten, self._unwritten = self._unwritten, []
                        self.emitter.sent(unwritten)
        self.process_events()
        return len(data)

    def _write_failed(self, exc: BaseException, now: float) -> None:
        self._report_failed(exc)
        if self.socket_error is None:
            self.socket_error = exc
        if not self._eof_given:
            self._eof_given = True
            self.session.receive_eof(now)

    def _report_failed(self, exc: BaseException) -> None:
        """Telemetry: every packet not reported as sent yet failed with ``exc``."""
        emitter = self.emitter
        if emitter is not None:
            failed, self._unwritten = self._unwritten, []
            failed += self.session.take_sent_packets()
            for _, size in failed:
                emitter.send_failed(size, exc)

    def close_layer(self, now: float) -> None:
        """Close the current layer gracefully (WebSocket close frame, QUIC FIN); then `flush`
        until `layer_closed`."""
        if self.layer is not None:
            self.layer.close(now)

    @property
    def layer_closed(self) -> bool:
        """Whether the current layer is finished (or there is none)."""
        return self.layer is None or self.layer.closed

    def detach(self) -> None:
        """Forget the current layer (its socket is closed)."""
        if self._unwritten:
            # The layer never wrote them out (the upgrade or the handshake did not complete).
            layer = self.layer
            error = TransportClosed("the connection closed before these bytes were written")
            error.__cause__ = layer.error if layer is not None else None
            self._report_failed(error)
        self.layer = None
        self.passthrough = False
        self.writer = _no_writer
        self.writer_closing = _never

    # -- timers --------------------------------------------------------------------------------

    def timer(self) -> float | None:
        """When `handle_timer` must run next (absolute, on the ``now`` clock), or None."""
        when = self.session.get_timer()
        layer = self.layer
        if layer is not None and not self.passthrough:
            other = layer.get_timer()
            if other is not None and (when is None or other < when):
                when = other
        other = self.results.next_deadline()
        if other is not None and (when is None or other < when):
            when = other
        return when

    def handle_timer(self, now: float) -> None:
        """Run the engine's, the layer's and the pending operations' timers due at ``now``;
        then call `flush`."""
        self.session.handle_timer(now)
        layer = self.layer
        if layer is not None and not self.passthrough:
            layer.handle_timer(now)
            self._from_layer(layer, now)
        self.results.expire(now)
        self.process_events()

    # -- events --------------------------------------------------------------------------------

    def process_events(self) -> None:
        """Drain the engine's events into waiters and hooks."""
        next_event = self.session.next_event
        dispatch = _DISPATCH
        publishes = self.results.publishes
        deliver = self.hooks.message_received
        while (event := next_event()) is not None:
            # The two hot paths (receiving, publishing) first, without a table lookup.
            if type(event) is MessageReceived:
                deliver(event)
            elif type(event) is PublishCompleted:
                waiter = publishes.pop(event.ticket, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
            else:
                dispatch[type(event)](self, event)

    def _publish_completed(self, event: PublishCompleted) -> None:
        self.results.resolve(self.results.publishes.pop(event.ticket, None), event)

    def _publish_failed(self, event: PublishFailedEvent) -> None:
        waiter = self.results.publishes.pop(event.ticket, None)
        if waiter is not None:
            error = PublishFailed(str(event.error))
            error.__cause__ = event.error
            self.results.fail(waiter, error)

    def _subscribed(self, event: Subscribed) -> None:
        waiter = self.results.subscribes.pop(event.packet_id, None)
        self.results.resolve(waiter, ReasonCodes(event.reason_codes, event.properties))

    def _unsubscribed(self, event: Unsubscribed) -> None:
        waiter = self.results.unsubscribes.pop(event.packet_id, None)
        self.results.resolve(waiter, ReasonCodes(event.reason_codes, event.properties))

    def _pong(self, event: PongReceived) -> None:
        self.results.resolve(self.results.pop_ping(), None)

    def _auth_received(self, event: AuthReceived) -> None:
        handler = self.options.auth_handler
        try:
            if handler is None:
                raise ConnectionFailed(
                    "the server continues an authentication exchange and no auth_handler was given"
                )
            data = handler(event.packet)
            self.session.auth(reason_code=ReasonCode.CONTINUE_AUTHENTICATION, data=data)
        except Exception as exc:
            # A client that cannot go on ends the exchange (MQTT 5 section 4.12). DISCONNECT
            # has no authentication reason code a client may send: 0x80 Unspecified error.
            self.local_error = exc
            try:
                self.session.disconnect(reason_code=ReasonCode.UNSPECIFIED_ERROR)
            except core_errors.MQTTError:
                self.session.receive_eof(self._now)

    def _reauthenticated(self, event: Reauthenticated) -> None:
        self.results.resolve(self.results.pop_reauth(), event.packet)

    def _connected(self, event: Connected) -> None:
        self.connected = event
        if self.emitter is not None:
            self.emitter.set_client_id(event.client_id)
        waiter, self.connect_waiter = self.connect_waiter, None
        self.results.resolve(waiter, event)
        self.hooks.connection_made(event)

    def _closed(self, event: ConnectionClosed) -> None:
        waiter, self.connect_waiter = self.connect_waiter, None
        # Read by the hook: an attempt that fails reports to its waiter; the adapter must not
        # also treat it as the loss of an established connection.
        self.ended_while_connecting = waiter is not None
        error = self.closed_error(event, connecting=waiter is not None)
        if waiter is not None:
            assert error is not None
            self.results.fail(waiter, error)
        if error is not None:
            cause = error

            def lost() -> BaseException:
                failure = ConnectionLost(f"connection lost: {cause}")
                failure.__cause__ = cause
                return failure

            self.results.fail_calls(lost)
        self.hooks.connection_ended(event, error)

    def closed_error(self, event: ConnectionClosed, *, connecting: bool) -> ClientError | None:
        """The adapter error that describes why a connection ended (None: our disconnect)."""
        engine_error = event.error
        error: ClientError
        if engine_error is None:
            local = self.local_error
            if local is None and not connecting:
                return None
            error = ConnectionFailed(
                f"authentication failed: {local}"
                if local
                else "the connection ended before CONNACK"
            )
            error.__cause__ = local
            if not connecting:
                reauth = self.results.pop_reauth()
                self.results.fail(reauth, error)
            return error
        endpoint = self.endpoint
        host = endpoint.host if endpoint else None
        port = endpoint.port if endpoint else None
        if isinstance(engine_error, core_errors.ConnectRefused):
            code = int(engine_error.reason_code)
            error = ConnackRefused(
                f"the server refused the connection: {engine_error.reason_code.name} "
                f"(0x{code:02X})",
                reason_code=engine_error.reason_code,
                properties=engine_error.properties,
                server_reference=event.server_reference,
                host=host,
                port=port,
            )
        elif isinstance(engine_error, core_errors.ConnectTimeout):
            error = ConnectTimeout(
                f"no CONNACK within {self.options.connect_timeout:g} s", host=host, port=port
            )
        elif connecting and self.socket_error is not None:
            return connect_error_from(self.socket_error, endpoint)
        elif isinstance(engine_error, core_errors.ServerDisconnected):
            error = ConnectionLost(
                f"the server disconnected: {engine_error.reason_code.name} "
                f"(0x{int(engine_error.reason_code):02X})",
                reason_code=int(engine_error.reason_code),
                by_server=True,
                server_reference=event.server_reference,
            )
        elif connecting:
            error = ConnectionFailed(
                f"the connection to {endpoint} ended before CONNACK: {engine_error}",
                host=host,
                port=port,
            )
        else:
            detail = self.socket_error or engine_error
            error = ConnectionLost(f"connection lost: {detail}", by_server=event.by_server)
            if self.socket_error is not None:
                error.__cause__ = self.socket_error
                return error
        error.__cause__ = engine_error
        return error


#: The driver's handler of each engine event but the two hot ones (plain functions, not bound
#: methods held by each driver: see the note in `ConnectionDriver.__init__`).
_DISPATCH: dict[type, Callable[[ConnectionDriver, Any], None]] = {
    PublishCompleted: ConnectionDriver._publish_completed,
    MessageReceived: lambda driver, event: driver.hooks.message_received(event),
    Connected: ConnectionDriver._connected,
    ConnectionClosed: ConnectionDriver._closed,
    PublishFailedEvent: ConnectionDriver._publish_failed,
    Subscribed: ConnectionDriver._subscribed,
    Unsubscribed: ConnectionDriver._unsubscribed,
    PongReceived: ConnectionDriver._pong,
    AuthReceived: ConnectionDriver._auth_received,
    Reauthenticated: ConnectionDriver._reauthenticated,
}


def is_redirect(event: ConnectionClosed) -> bool:
    """Whether the server sent the client elsewhere (0x9C Use another server, 0x9D Server
    moved) with a Server Reference."""
    return event.server_reference is not None and event.reason_code in (
        ReasonCode.USE_ANOTHER_SERVER,
        ReasonCode.SERVER_MOVED,
    )


def _no_writer(data: bytes) -> None:
    raise TransportClosed("no connection")


def _never() -> bool:
    return False
