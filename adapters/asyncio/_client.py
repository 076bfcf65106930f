"""The asyncio client: the shared connection driver pumped by asyncio protocols and timers.

Design for throughput: the client is an `asyncio.Protocol` (no StreamReader/Writer, no task
per message). Commands only queue work in the engine and schedule one flush per event-loop
iteration (``loop.call_soon``), so many publishes leave in one write; bytes read in one
``data_received`` chunk (up to 256 KiB) are decoded and their futures resolved in one go.
Outgoing pressure is bounded by the engine's window and queue and by the transport's write
buffer (``pause_writing``); incoming pressure by the message queue (``pause_reading``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

from adapters._client import (
    ClientBase,
    properties_from,
    subscribe_arguments,
    unsubscribe_arguments,
)
from adapters._driver import ConnectionDriver, connect_error_from, make_transport
from adapters._lifecycle import (
    CLOSE_TIMEOUT,
    QOS0_RESULT,
    Status,
    closed_error,
    follow_connack_redirect,
    lost_error,
    next_step,
)
from adapters._message import Message as _BaseMessage
from adapters._message import PublishResult, ReasonCodes
from adapters._options import Endpoint
from adapters._reconnect import ConnectPlan
from adapters.errors import (
    AckTimeout,
    ClientClosed,
    ClientError,
    ConnectError,
    ConnectionFailed,
    ConnectionLost,
    ConnectTimeout,
)
from emqtt_core.events import (
    Connected,
    ConnectionClosed,
    MessageReceived,
)
from emqtt_core.exceptions import InvalidStateError, UsageError
from emqtt_core.packets import Auth, Subscription
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

__all__ = ["Client", "Message", "Status"]

#: Connection lifecycle: INFO for connections made and ended, WARNING for losses and
#: reconnection attempts that fail. Nothing is logged per message.
logger = logging.getLogger("adapters.asyncio")


#: Bytes of publishes accepted since the last flush after which the next publish flushes at
#: once instead of waiting for the end of the event-loop iteration: a producer that never
#: yields must not pile up an unbounded engine buffer.
FLUSH_THRESHOLD = 64 * 1024
#: Reading resumes once the message queue is down to this fraction of its bound.
_RESUME_FRACTION = 0.5


class Message(_BaseMessage):
    """An application message received by the asyncio client (see `adapters._message`)."""

    __slots__ = ()

    async def ack(self) -> None:
        """Acknowledge this message (with ``auto_ack=False``); see `Client.ack`."""
        client = self._client
        assert isinstance(client, Client)
        client.ack(self)


class _Protocol(asyncio.Protocol, asyncio.DatagramProtocol):
    """Socket callbacks of one connection, forwarded to the client while it is current."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.client._protocol is self:
            self.client._data_received(data)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.client._protocol is self:
            self.client._data_received(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors on UDP (port unreachable...): QUIC's own timers decide; nothing to do.
        pass

    def eof_received(self) -> bool:
        if self.client._protocol is self:
            self.client._connection_lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client._protocol is self:
            self.client._connection_lost(exc)

    def pause_writing(self) -> None:
        if self.client._protocol is self:
            self.client._write_paused = True

    def resume_writing(self) -> None:
        if self.client._protocol is self:
            self.client._write_paused = False
            self.client._writing_resumed()


class Client(ClientBase):
    """An MQTT client for asyncio.

    Use it as an async context manager, which connects and disconnects::

        async with Client("broker.example", transport="ssl") as client:
            await client.subscribe("sensors/#", qos=1)
            await client.publish("sensors/t1", b"21.5", qos=1)
            async for message in client.messages():
                print(message.topic, message.payload)

    The constructor takes the options documented in `adapters._client.ClientBase`;
    ``Client.from_url("mqtts://user:pw@host")`` is the URL form. A client connects once:
    after ``disconnect()`` (or a final connection loss), create a new one.
    """

    def _setup(self) -> None:
        self._driver = ConnectionDriver(self.options, self)
        self._session = self._driver.session
        # A QoS 0 publish sent at once is resolved here (see publish_nowait), not by an event.
        self._session.immediate_qos0_events = False
        self._results = self._driver.results
        self._status: Status = "initialized"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol: _Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._plan = ConnectPlan(
            self.options.endpoints, self.options.reconnect, self.options.default_port
        )
        self._flush_pending = False
        self._unflushed = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._write_paused = False
        self._read_paused = False
        self._room_waiters: list[asyncio.Future[None]] = []
        self._queue: deque[Message] = deque()
        self._queue_limit = self.options.message_queue_size
        self._queue_resume = max(1, int(self._queue_limit * _RESUME_FRACTION))
        self._queue_waiter: asyncio.Future[None] | None = None
        self._final_error: ClientError | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._reconnected: asyncio.Future[None] | None = None
        self._closed_waiter: asyncio.Future[None] | None = None
        self._max_queued = self.options.config.max_queued
        self._qos0_done: asyncio.Future[PublishResult] | None = None
        # QoS 0 publishes accepted while writing was paused, resolved when it resumes.
        self._qos0_unwritten: list[asyncio.Future[PublishResult]] = []
        # A finished client's last layer completing its closing handshake, until this time.
        self._drain_until: float | None = None
        self._drained: asyncio.Future[None] | None = None

    # -- properties ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"<Client {self.options.transport} {self._status} client_id={self.client_id!r} "
            f"endpoint={self._driver.endpoint or self.options.endpoints[0]}>"
        )

    @property
    def status(self) -> Status:
        """``initialized``, ``connecting``, ``connected``, ``reconnecting`` or ``closed``."""
        return self._status

    @property
    def client_id(self) -> str:
        """The client identifier in use (the server-assigned one once connected, on MQTT 5)."""
        return self._session.client_id

    @property
    def connack(self) -> Connected | None:
        """The latest accepted connection (session_present, CONNACK packet), if any."""
        return self._driver.connected

    @property
    def endpoint(self) -> Endpoint | None:
        """The server of the current (or latest) connection."""
        return self._driver.endpoint

    @property
    def subscriptions(self) -> Mapping[str, Any]:
        """Acknowledged subscriptions by topic filter (emqtt's ``subscriptions/1``), a live
        read-only view of the engine's table."""
        return self._session.subscriptions

    @property
    def inflight_count(self) -> int:
        """Outgoing QoS 1/2 messages awaiting acknowledgement (emqtt's ``n_inflight``)."""
        return self._session.inflight_count

    @property
    def queued_count(self) -> int:
        """Publishes waiting for room in the window or for a connection (``n_queued``)."""
        return self._session.queued_count

    @property
    def pending_messages(self) -> int:
        """Received messages waiting in the queue for the application."""
        return len(self._queue)

    @property
    def reading_paused(self) -> bool:
        """Whether reading from the network is paused because the message queue is full."""
        return self._read_paused

    @property
    def session(self) -> Any:
        """The engine's `ClientSession` (read its state; do not drive it)."""
        return self._session

    # -- connecting ----------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def connect(self) -> Connected:
        """Connect to the first server that accepts, trying ``hosts`` in order.

        Returns:
            The `Connected` event: ``session_present``, ``client_id`` and the CONNACK.

        Raises:
            ConnectError: no server accepted; the error of the last attempt (a
                `ConnectionRefused`, `TLSVerificationFailed`, `ConnackRefused`,
                `ConnectTimeout`...).
            ClientClosed: the client was already connected once.
        """
        if self._status != "initialized":
            raise ClientClosed(f"connect() on a client that is {self._status}")
        self._loop = asyncio.get_running_loop()
        self._status = "connecting"
        plan = self._plan
        plan.start_round()
        try:
            event = await self._connect_round()
        except BaseException:
            self._status = "closed"
            self._results.fail_all(lambda: ClientClosed("the client could not connect"))
            raise
        return event

    async def _connect_round(self) -> Connected:
        plan = self._plan
        while (endpoint := plan.next_endpoint()) is not None:
            try:
                event = await self._attempt(endpoint)
            except ConnectError as exc:
                plan.failed(exc)
                follow_connack_redirect(plan, exc)
                continue
            # plan.succeeded() already ran, in connection_made.
            return event
        error = plan.last_error
        assert isinstance(error, ConnectError)
        raise error

    async def _attempt(self, endpoint: Endpoint) -> Connected:
        """One connection attempt: socket, transport layer, CONNECT, CONNACK."""
        loop = self._loop
        assert loop is not None
        options = self.options
        protocol = _Protocol(self)
        address: Any = None
        deadline = _Deadline(loop, options.connect_timeout)
        try:
            if options.transport == "quic":
                address = await self._open_udp(endpoint, protocol)
            else:
                await self._open_stream(endpoint, protocol)
        except asyncio.CancelledError as exc:
            self._abort(protocol)
            if deadline.expired():
                raise ConnectTimeout(
                    f"opening the connection to {endpoint} took more than "
                    f"{options.connect_timeout:g} s",
                    host=endpoint.host,
                    port=endpoint.port,
                ) from exc
            raise
        except (OSError, ValueError) as exc:
            self._abort(protocol)
            raise connect_error_from(exc, endpoint) from exc
        except BaseException:
            self._abort(protocol)
            raise
        finally:
            deadline.cancel()
        transport = protocol.transport
        assert transport is not None
        layer = make_transport(options, endpoint, address)
        waiter: asyncio.Future[Connected] = loop.create_future()
        self._protocol = protocol
        self._transport = transport
        self._write_paused = False
        self._read_paused = False
        driver = self._driver
        # asyncio's UDP transport does not derive from DatagramTransport: look the method up.
        driver.writer = getattr(transport, "sendto" if layer.datagram else "write")
        # A closing asyncio transport drops writes without an error.
        driver.writer_closing = transport.is_closing
        driver.start(layer, endpoint, loop.time(), waiter)
        self._flush()
        try:
            return await waiter
        except BaseException:
            if self._protocol is protocol:
                self._close_connection()
            raise

    async def _open_stream(self, endpoint: Endpoint, protocol: _Protocol) -> None:
        loop = self._loop
        assert loop is not None
        options = self.options
        secure = options.transport in ("ssl", "wss")
        await loop.create_connection(
            lambda: protocol,
            endpoint.host,
            endpoint.port,
            ssl=options.ssl_context if secure else None,
            server_hostname=(options.server_hostname or endpoint.host) if secure else None,
            local_addr=options.local_address,
        )
        # asyncio already disables Nagle's algorithm on TCP sockets (MQTT packets are small
        # and latency matters); apply the user's own options.
        if options.socket_options:
            transport = protocol.transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            for level, name, value in options.socket_options:
                sock.setsockopt(level, name, value)

    async def _open_udp(self, endpoint: Endpoint, protocol: _Protocol) -> Any:
        # Imported when used: aioquic is an optional dependency (extra "quic").
        from adapters.transports.quic import open_udp_socket  # noqa: PLC0415

        loop = self._loop
        assert loop is not None
        infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
        if not infos:
            raise OSError(f"cannot resolve {endpoint.host}")
        family, _, _, _, address = infos[0]
        sock = open_udp_socket(address, family)
        await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
        return address

    def _abort(self, protocol: _Protocol) -> None:
        if protocol.transport is not None:
            protocol.transport.close()

    # -- the pump ------------------------------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        loop = self._loop
        assert loop is not None
        self._driver.receive_wire(data, loop.time())
        # Answers (acknowledgements, PUBREL) leave now: the tasks this chunk woke run later
        # in this iteration and schedule their own flush, so waiting would batch nothing.
        self._flush()

    def _connection_lost(self, exc: BaseException | None) -> None:
        loop = self._loop
        assert loop is not None
        self._driver.receive_wire_eof(loop.time(), exc)
        self._flush()

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            loop = self._loop
            assert loop is not None
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self._unflushed = 0
        loop = self._loop
        assert loop is not None
        driver = self._driver
        if driver.layer is not None:
            driver.flush(loop.time())
            if self._drain_until is not None:
                self._close_connection()
        self._arm_timer()
        if self._room_waiters:
            self._wake_room()

    def _arm_timer(self) -> None:
        when = self._driver.timer()
        drain = self._drain_until
        if drain is not None and (when is None or drain < when):
            when = drain
        if when is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= when:
                # Fires early at worst; _on_timer re-arms at the right time.
                return
            timer.cancel()
        loop = self._loop
        assert loop is not None
        self._timer_at = when
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        # Clamp: the loop may run a callback a little before its time.
        now = max(loop.time(), self._timer_at)
        self._driver.handle_timer(now)
        self._flush()

    # -- hooks of the driver -------------------------------------------------------------------

    def connection_made(self, event: Connected) -> None:
        """CONNACK accepted (driver hook)."""
        # Now, not when the connecting coroutine resumes: a DISCONNECT with a redirection may
        # follow in the same read, and its target must survive the end of this round.
        self._plan.succeeded()
        self._status = "connected"
        logger.info(
            "connected to %s as %r (session present: %s)",
            self._driver.endpoint,
            event.client_id,
            event.session_present,
        )
        reconnected, self._reconnected = self._reconnected, None
        if reconnected is not None and not reconnected.done():
            reconnected.set_result(None)

    def connection_ended(self, event: ConnectionClosed, error: ClientError | None) -> None:
        """The engine ended the connection (driver hook): close it; maybe reconnect."""
        loop = self._loop
        assert loop is not None
        if self._closed_waiter is None:
            # The final bytes (DISCONNECT) go out before the socket closes: close it once the
            # driver is done with this event; bound to this connection, which a reconnection
            # may have replaced by then. (After disconnect(), disconnect() closes it.)
            loop.call_soon(self._close_connection, self._protocol)
        if self._driver.ended_while_connecting or self._status in ("connecting", "closed"):
            # A connection attempt reports its own failure (and the reconnect loop, if any,
            # goes on); a finished client has nothing more to do.
            return
        reconnect, redirected = next_step(
            self._plan, event, error, closing=self._closed_waiter is not None
        )
        if not reconnect:
            if error is None:
                logger.info("disconnected from %s", self._driver.endpoint)
            else:
                logger.warning("connection to %s lost: %s", self._driver.endpoint, error)
            self._finish(error)
            return
        assert error is not None
        logger.warning(
            "connection to %s lost (%s); reconnecting%s",
            self._driver.endpoint,
            error,
            " to the server it named" if redirected else "",
        )
        self._status = "reconnecting"
        self._reconnect_task = loop.create_task(self._reconnect(error, redirected))

    def message_received(self, event: MessageReceived) -> None:
        """An application message arrived (driver hook): queue it, pause reading if full."""
        queue = self._queue
        queue.append(Message(event.message, event.needs_ack, self))
        waiter = self._queue_waiter
        if waiter is not None:
            self._queue_waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if len(queue) >= self._queue_limit and not self._read_paused:
            transport = self._transport
            if transport is not None:
                self._read_paused = True
                transport.pause_reading()  # type: ignore[attr-defined]

    def _close_connection(self, protocol: _Protocol | None = None) -> None:
        """Write what is left (DISCONNECT, close frames), then close the socket of
        ``protocol`` (default: the current connection).

        When the client is finished, a WebSocket or QUIC layer first completes its closing
        handshake (close frames; stream FIN then CONNECTION_CLOSE), within `CLOSE_TIMEOUT`:
        the socket stays open and pumped until the layer reports it is closed.
        """
        loop = self._loop
        assert loop is not None
        driver = self._driver
        if protocol is not None and protocol is not self._protocol:
            # An earlier connection, already replaced: its socket is all that is left.
            if protocol.transport is not None:
                protocol.transport.close()
            return
        protocol = self._protocol
        transport = self._transport
        if protocol is None or transport is None:
            return
        now = loop.time()
        if driver.layer is not None and not driver.layer_closed:
            driver.flush(now)
            if self._drain_until is None:
                driver.close_layer(now)
                if not driver.passthrough:  # TCP and TLS layers have no closing bytes
                    driver.flush(now)
            if not driver.layer_closed and self._status == "closed":
                if self._drain_until is None:
                    self._drain_until = now + CLOSE_TIMEOUT
                    self._drained = loop.create_future()
                if now < self._drain_until:
                    self._arm_timer()
                    return
        self._protocol = None
        self._transport = None
        # The next connection starts with an empty write buffer and reading on.
        self._write_paused = False
        self._read_paused = False
        unwritten, self._qos0_unwritten = self._qos0_unwritten, []
        for future in unwritten:
            if not future.done():
                future.set_exception(
                    ConnectionLost("the connection closed before the message was written")
                )
        driver.detach()
        transport.close()
        self._drain_until = None
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)
        self._arm_timer()

    def _finish(self, error: ClientError | None) -> None:
        """The client is done: fail what waits, wake message consumers."""
        self._status = "closed"
        self._final_error = error
        if error is not None:
            cause = error
            self._results.fail_all(lambda: lost_error(cause))
        else:
            self._results.fail_all(lambda: ClientClosed("the client disconnected"))
        waiter = self._queue_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake_room()
        reconnected, self._reconnected = self._reconnected, None
        if reconnected is not None and not reconnected.done():
            reconnected.set_exception(error or ClientClosed("the client disconnected"))
            reconnected.exception()  # retrieved: nobody may be waiting
        closed = self._closed_waiter
        if closed is not None and not closed.done():
            closed.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _reconnect(self, error: ClientError, redirected: bool) -> None:
        plan = self._plan
        try:
            while True:
                if not redirected:
                    delay = plan.next_delay()
                    if delay is None:
                        self._finish(error)
                        return
                    await asyncio.sleep(delay)
                redirected = False
                plan.start_round()
                try:
                    await self._connect_round()
                except ConnectError as exc:
                    logger.warning("reconnection round failed: %s", exc)
                    error = exc
                    continue
                return
        except asyncio.CancelledError:
            self._finish(None)
            raise
        except Exception as exc:
            # Not a failed attempt but a failure of the attempt itself: nothing to retry.
            failure = ConnectionFailed(f"reconnecting failed: {exc!r}")
            failure.__cause__ = exc
            self._finish(failure)

    # -- publishing ----------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._status in ("initialized", "closed"):
            raise closed_error(self._status, self._final_error)

    def publish_nowait(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> asyncio.Future[PublishResult]:
        """Start a publish without waiting (emqtt's ``publish_async``).

        Returns:
            A future of the `PublishResult`: resolved when the bytes are written (QoS 0), at
            PUBACK (QoS 1) or PUBCOMP (QoS 2); failed with `AckTimeout`, `PublishFailed` or
            `ConnectionLost`. Cancelling it does not withdraw the message.

        Raises:
            ClientClosed: the client is not connected (nor reconnecting).
            emqtt_core.exceptions.UsageError: a bad topic, payload, QoS or property.
            emqtt_core.exceptions.QueueFullError: ``max_queued`` publishes wait already.
        """
        if self._status != "connected":
            self._check_usable()
        props = None if properties is None else properties_from(properties, "PUBLISH")
        ticket = self._session.publish(topic, payload, qos=qos, retain=retain, properties=props)
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[PublishResult]
        if qos == 0 and self._status == "connected":
            if self._write_paused:
                # The socket buffer is full: done once it drains, so that a producer awaiting
                # its futures waits instead of piling bytes into the transport's buffer.
                future = loop.create_future()
                self._qos0_unwritten.append(future)
            else:
                # Queued for this iteration's write: done already, as for publish() (one
                # shared completed future: no allocation per message).
                done = self._qos0_done
                if done is None:
                    done = self._qos0_done = loop.create_future()
                    done.set_result(QOS0_RESULT)
                future = done
        else:
            future = loop.create_future()
            self._results.add_publish(ticket, future, loop.time())
        self._unflushed += len(payload) + len(topic)
        if self._unflushed >= FLUSH_THRESHOLD:
            self._flush()
        elif not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush)
        return future

    async def publish(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> PublishResult:
        """Publish a message and wait until its QoS flow completes.

        QoS 0 returns once the message is queued for writing on an open connection (it is
        written in the same event-loop iteration); QoS 1 at PUBACK; QoS 2 at PUBCOMP (or a
        refusing PUBREC). When the network cannot take more (full socket buffer, full
        in-flight window and queue) it first waits for room. While reconnecting, the message
        waits for the new connection, within ``ack_timeout``.

        Returns:
            The `PublishResult`: ``reason_code`` (>= 0x80: refused by the server, MQTT 5),
            ``packet_id``, ``properties``.

        Raises:
            AckTimeout: no acknowledgement within ``ack_timeout``.
            PublishFailed: the session gave up on it (see the cause).
            ConnectionLost: the connection ended for good first.
            ClientClosed: the client is not connected.
            emqtt_core.exceptions.UsageError: a bad topic, payload, QoS or property.
        """
        if (
            self._write_paused
            or self._room_waiters
            or self._session.queued_count >= self._max_queued
        ):
            await self._wait_room()
        if qos == 0 and self._status == "connected" and properties is None:
            self._session.publish(topic, payload, qos=0, retain=retain)
            self._unflushed += len(payload) + len(topic)
            if self._unflushed >= FLUSH_THRESHOLD:
                self._flush()
            else:
                self._schedule_flush()
            return QOS0_RESULT
        return await self.publish_nowait(
            topic, payload, qos=qos, retain=retain, properties=properties
        )

    async def _wait_room(self) -> None:
        """Wait until the socket buffer drained and the engine queue has room."""
        loop = self._loop
        assert loop is not None
        waited = False
        while (
            self._write_paused or self._session.queued_count >= self._max_queued
        ) and self._status not in ("closed", "initialized"):
            waited = True
            waiter: asyncio.Future[None] = loop.create_future()
            self._room_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._room_waiters:
                    self._room_waiters.remove(waiter)
        if waited and self._status == "closed" and self._final_error is not None:
            # The connection ended for good while this publish waited: the error its
            # operation documents for that end, as in the threading and anyio clients.
            raise lost_error(self._final_error)
        self._check_usable()

    def _writing_resumed(self) -> None:
        unwritten, self._qos0_unwritten = self._qos0_unwritten, []
        for future in unwritten:
            if not future.done():
                future.set_result(QOS0_RESULT)
        self._wake_room()

    def _wake_room(self) -> None:
        if self._write_paused and self._status in ("connected", "connecting"):
            return
        if self._session.queued_count >= self._max_queued and self._status not in (
            "closed",
            "initialized",
        ):
            return
        waiters, self._room_waiters = self._room_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- subscriptions and other requests -----------------------------------------------------

    async def _wait_connected(self) -> None:
        if self._status == "connected":
            return
        if self._status == "reconnecting":
            loop = self._loop
            assert loop is not None
            if self._reconnected is None:
                self._reconnected = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._reconnected), self.options.ack_timeout)
            except asyncio.TimeoutError:
                raise AckTimeout(
                    "not reconnected within ack_timeout", operation="reconnect"
                ) from None
            return
        self._check_usable()
        raise ClientClosed(f"the client is {self._status}")

    async def subscribe(
        self,
        topic: str | Subscription | list[str | tuple[str, int] | Subscription],
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: int = 0,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> ReasonCodes:
        """Subscribe to one or more topic filters.

        Args:
            topic: A filter, a `Subscription`, or a list of filters, ``(filter, qos)`` pairs
                and `Subscription` values.
            qos: The maximum QoS requested for filters given without one.
            no_local: MQTT 5: do not receive our own publications.
            retain_as_published: MQTT 5: keep the retain flag as published.
            retain_handling: MQTT 5: 0 send retained messages, 1 only for a new
                subscription, 2 never.
            properties: MQTT 5 SUBSCRIBE properties (subscription_identifier, user_property).

        Returns:
            The SUBACK reason codes, one per filter (the granted QoS, or >= 0x80: refused).

        Raises:
            AckTimeout: no SUBACK within ``ack_timeout``.
            ConnectionLost: the connection ended first.
            ClientClosed: the client is not connected.
            InvalidOptions / emqtt_core.exceptions.UsageError: a bad filter or option.
        """
        subs, props = subscribe_arguments(
            topic,
            qos=qos,
            no_local=no_local,
            retain_as_published=retain_as_published,
            retain_handling=retain_handling,
            properties=properties,
        )
        await self._wait_connected()
        packet_id = self._session.subscribe(subs, properties=props)
        return await self._request(self._results.add_subscribe, packet_id)

    async def unsubscribe(
        self,
        topic: str | list[str],
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> ReasonCodes:
        """Unsubscribe from one or more topic filters.

        Returns:
            The UNSUBACK reason codes, one per filter (MQTT 3.x: all SUCCESS).

        Raises:
            AckTimeout, ConnectionLost, ClientClosed: as for `subscribe`.
        """
        filters, props = unsubscribe_arguments(topic, properties)
        await self._wait_connected()
        packet_id = self._session.unsubscribe(filters, properties=props)
        return await self._request(self._results.add_unsubscribe, packet_id)

    async def _request(self, register: Any, packet_id: int) -> ReasonCodes:
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[ReasonCodes] = loop.create_future()
        register(packet_id, future, loop.time())
        self._schedule_flush()
        return await future

    async def ping(self) -> None:
        """Send PINGREQ and wait for PINGRESP.

        Raises:
            AckTimeout: no PINGRESP within ``ack_timeout``.
            ConnectionLost, ClientClosed: as for `subscribe`.
        """
        await self._wait_connected()
        loop = self._loop
        assert loop is not None
        self._session.ping()
        future: asyncio.Future[None] = loop.create_future()
        self._results.add_ping(future, loop.time())
        self._schedule_flush()
        await future

    async def reauthenticate(
        self,
        data: bytes | None = None,
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> Auth:
        """MQTT 5 re-authentication (AUTH 0x19) with the method given at connection.

        Returns:
            The server's final AUTH packet (0x00 Success).

        Raises:
            AckTimeout: the server did not finish within ``ack_timeout``.
            emqtt_core.exceptions.UsageError: not MQTT 5 or no authentication method.
            ConnectionLost, ClientClosed: as for `subscribe`.
        """
        await self._wait_connected()
        loop = self._loop
        assert loop is not None
        props = None if properties is None else properties_from(properties, "AUTH")
        self._session.auth(reason_code=ReasonCode.RE_AUTHENTICATE, data=data, properties=props)
        future: asyncio.Future[Auth] = loop.create_future()
        self._results.add_reauth(future, loop.time())
        self._schedule_flush()
        return await future

    def ack(self, message: _BaseMessage) -> None:
        """Acknowledge a message received with ``auto_ack=False`` (QoS 1: PUBACK; QoS 2:
        PUBREC, then PUBCOMP when the server releases it). Acknowledging twice, or a QoS 0
        message, does nothing. On a connection that has since ended it does nothing either:
        the server sends the message again after reconnection."""
        packet_id = message._take_ack()
        if packet_id is None or self._status != "connected":
            return
        try:
            self._session.ack(packet_id)
        except (InvalidStateError, UsageError):
            # The connection it came on has ended (the session no longer awaits this ack):
            # the server sends the message again, and that copy is the one to acknowledge.
            return
        self._schedule_flush()

    # -- receiving -----------------------------------------------------------------------------

    def messages(self) -> AsyncIterator[Message]:
        """Iterate over received messages, in arrival order, until the client is closed.

        Messages wait in a queue bounded by ``message_queue_size``; while it is full, reading
        from the network pauses (nothing is dropped). Several iterators share the queue: each
        message goes to one of them. While the client reconnects, iteration waits.

        Raises (from the iteration):
            ConnectionLost: the connection ended for good.
        """
        return _MessageIterator(self)

    async def _next_message(self) -> Message:
        queue = self._queue
        while not queue:
            if self._status == "closed":
                if self._final_error is not None:
                    raise lost_error(self._final_error)
                raise StopAsyncIteration
            loop = self._loop
            assert loop is not None
            waiter = self._queue_waiter
            if waiter is None or waiter.done():
                waiter = self._queue_waiter = loop.create_future()
            await waiter
        message = queue.popleft()
        if self._read_paused and len(queue) <= self._queue_resume:
            self._read_paused = False
            transport = self._transport
            if transport is not None:
                transport.resume_reading()  # type: ignore[attr-defined]
        return message

    # -- disconnecting -------------------------------------------------------------------------

    async def abort(self) -> None:
        """Close the network connection without DISCONNECT (emqtt's ``stop``): the server
        treats it as a lost connection and publishes the will message. The client is
        finished; pending operations fail with `ClientClosed`."""
        task = self._reconnect_task
        if task is not None and not task.done():
            task.cancel()
        if self._status in ("closed", "initialized"):
            self._status = "closed"
            return
        self._finish(None)
        self._close_connection()
        await self._wait_drained()

    async def disconnect(
        self,
        reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION,
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> None:
        """Send DISCONNECT, close the connection and finish the client.

        Pending operations fail with `ClientClosed`. Does nothing if already closed.

        Args:
            reason_code: MQTT 5 reason code (0x04 sends the will message anyway).
            properties: MQTT 5 DISCONNECT properties (session_expiry_interval...).
        """
        if self._status in ("closed", "initialized"):
            self._status = "closed"
            return
        loop = self._loop
        assert loop is not None
        task = self._reconnect_task
        if self._status in ("reconnecting", "connecting"):
            if task is not None and not task.done():
                task.cancel()
            self._close_connection()
            self._finish(None)
            return
        props = None if properties is None else properties_from(properties, "DISCONNECT")
        try:
            self._session.disconnect(reason_code=reason_code, properties=props)
        except InvalidStateError:
            self._close_connection()
            self._finish(None)
            return
        # Only once the engine accepted the arguments: a rejected call leaves nothing behind.
        self._closed_waiter = loop.create_future()
        self._flush()
        if not self._closed_waiter.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._closed_waiter), CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                self._finish(None)
        # The usual case: DISCONNECT was written and the engine closed the connection.
        self._close_connection()
        await self._wait_drained()

    async def _wait_drained(self) -> None:
        drained = self._drained
        if drained is not None:
            # Bounded: _close_connection gives up at _drain_until.
            await asyncio.shield(drained)


class _Deadline:
    """Cancels the current task after ``seconds`` unless cancelled first (what
    ``asyncio.timeout`` does on 3.11+, without ``wait_for``'s extra task per call)."""

    __slots__ = ("_expired", "_handle", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self._task = asyncio.current_task()
        self._expired = False
        self._handle = loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        if self._task is not None:
            self._task.cancel()

    def expired(self) -> bool:
        """Whether the deadline passed (and cancelled the task); withdraws that cancellation
        so the task can go on (it raises a timeout instead)."""
        if self._expired and self._task is not None and hasattr(self._task, "uncancel"):
            self._task.uncancel()
        return self._expired

    def cancel(self) -> None:
        """Stop the deadline."""
        self._handle.cancel()


class _MessageIterator:
    """The async iterator returned by `Client.messages` (no generator: cheaper per item)."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def __aiter__(self) -> _MessageIterator:
        return self

    def __anext__(self) -> Any:
        return self._client._next_message()
