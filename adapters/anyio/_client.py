"""The anyio client: the shared connection driver pumped by tasks, on asyncio or trio.

Structured concurrency: ``async with Client(...)`` opens a task group that holds the client's
tasks, and leaving the block ends them all. The tasks:

- the *pump* (the client's lifetime): waits for the driver's timer and runs the timers; it
  also flushes the engine when no idle writer can (between connections, or while the writer
  waits for the stream);
- the *lifecycle* (the client's lifetime): connection attempts, the wait for the end of each
  connection, reconnection with backoff;
- a *reader* per connection: reads the stream into the driver;
- a *writer* per connection: woken by commands, flushes the engine and writes the output to
  the stream. A stream that takes nothing (a server that stops reading) holds up only the
  writer: timers (keepalive) and deadlines (``ack_timeout``) keep running in the pump.

Everything runs in one thread, and engine calls never await, so no lock is needed. Commands
queue work in the engine and wake the writer, so many publishes leave in one write.
Backpressure: a publisher waits while the bytes waiting for the stream or the engine's queue
are over their bounds; reading pauses while the message queue is full, and while the output
is over its bound (the answers to what is read, PUBACKs, PUBCOMPs, must not pile up).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from types import TracebackType
from typing import Any, cast

import anyio
import anyio.abc
import sniffio
from anyio.streams.tls import TLSStream

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
    WRITE_HIGH_WATER,
    CallChecks,
    StateViews,
    Status,
    fail_pending,
    follow_connack_redirect,
    lost_error,
    next_step,
    resume_level,
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
    ConnectTimeout,
)
from adapters.transports.errors import TransportClosed
from emqtt_core.events import Connected, ConnectionClosed, MessageReceived
from emqtt_core.exceptions import InvalidStateError
from emqtt_core.packets import Auth, Subscription
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

__all__ = ["Client", "Message", "Pending"]

#: Bytes asked of the stream per read.
_READ_SIZE = 256 * 1024
#: What a failing stream raises (anyio wraps most socket and TLS errors).
_STREAM_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)

Stream = anyio.abc.ByteStream | anyio.abc.ConnectedUDPSocket


class Message(_BaseMessage):
    """An application message received by the anyio client (see `adapters._message`)."""

    __slots__ = ()

    async def ack(self) -> None:
        """Acknowledge this message (with ``auto_ack=False``); see `Client.ack`."""
        client = self._client
        assert isinstance(client, Client)
        client.ack(self)


class Pending:
    """The outcome of an operation still under way; ``await`` it for the result.

    ``await pending`` returns the result or raises the operation's error (`AckTimeout`,
    `PublishFailed`, `ConnectionLost`...). Cancelling the awaiting task does not cancel the
    operation.
    """

    __slots__ = ("_done", "_error", "_event", "_result")

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None
        self._event: anyio.Event | None = None

    def done(self) -> bool:
        """Whether the operation finished (with a result or an error)."""
        return self._done

    def result(self) -> Any:
        """The result of a finished operation.

        Raises:
            The operation's error; `RuntimeError` if it has not finished.
        """
        if not self._done:
            raise RuntimeError("the operation has not finished")
        if self._error is not None:
            raise self._error
        return self._result

    def set_result(self, result: Any) -> None:
        """Finish with ``result`` (for the driver)."""
        if not self._done:
            self._done = True
            self._result = result
            if self._event is not None:
                self._event.set()

    def set_exception(self, exception: BaseException) -> None:
        """Finish with ``exception`` (for the driver)."""
        if not self._done:
            self._done = True
            self._error = exception
            if self._event is not None:
                self._event.set()

    async def wait(self) -> Any:
        """Wait until the operation finishes; return its result or raise its error."""
        if not self._done:
            if self._event is None:
                self._event = anyio.Event()
            await self._event.wait()
        return self.result()

    def __await__(self) -> Generator[Any, None, Any]:
        return self.wait().__await__()


def _clock() -> Callable[[], float]:
    """The running backend's clock, the one ``anyio.current_time`` reads (without anyio's
    per-call backend lookup: the client reads it once per operation)."""
    if sniffio.current_async_library() == "trio":
        import trio  # noqa: PLC0415 - only where trio runs

        return trio.current_time
    return asyncio.get_running_loop().time


def _cause(exc: BaseException) -> BaseException:
    """The error behind anyio's wrapper exceptions (for classifying connect failures)."""
    cause = exc.__cause__
    if cause is None:
        return exc
    if isinstance(exc, anyio.BrokenResourceError):
        return cause
    if type(exc) is OSError:
        # anyio.connect_tcp's "All connection attempts failed", from the attempts' errors
        # (one, or a group of them).
        inner = getattr(cause, "exceptions", None)
        if inner:
            cause = inner[0]
        if isinstance(cause, OSError):
            return cause
    return exc


class Client(ClientBase, CallChecks, StateViews):
    """An MQTT client for anyio (asyncio or trio).

    ``async with`` connects and runs the client's tasks; leaving the block disconnects and
    ends them::

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
        self._results = self._driver.results
        self._status: Status = "initialized"
        self._plan = ConnectPlan(
            self.options.endpoints, self.options.reconnect, self.options.default_port
        )
        self._max_queued = self.options.config.max_queued
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stream: Stream | None = None
        self._datagram = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._unflushed = 0
        self._write_error: BaseException | None = None
        self._send_lock = anyio.Lock()
        self._wake_flag = False
        self._wake_event: anyio.Event | None = None
        self._pump_kicked = False
        self._pump_deadline = math.inf
        self._writer_event: anyio.Event | None = None
        self._drain_event: anyio.Event | None = None
        self._room_event: anyio.Event | None = None
        self._queue: deque[Message] = deque()
        self._queue_limit = self.options.message_queue_size
        self._queue_resume = resume_level(self._queue_limit)
        self._message_event: anyio.Event | None = None
        self._read_paused = False
        self._resume_event: anyio.Event | None = None
        self._reader_scope: anyio.CancelScope | None = None
        self._attempt_scope: anyio.CancelScope | None = None
        self._ended: tuple[ConnectionClosed, ClientError | None] | None = None
        self._ended_event = anyio.Event()
        self._reconnected: anyio.Event | None = None
        self._finished = anyio.Event()
        self._final_error: ClientError | None = None
        self._closing = False
        self._now: Callable[[], float] = anyio.current_time

    # -- properties ----------------------------------------------------------------------------

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
    def session(self) -> Any:
        """The engine's `ClientSession` (read its state; do not drive it)."""
        return self._session

    # -- connecting ----------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        """Start the client's tasks and connect (see `connect` for the errors)."""
        if self._status != "initialized":
            raise ClientClosed(f"cannot enter a client that is {self._status}")
        self._status = "connecting"
        self._now = _clock()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        try:
            task_group.start_soon(self._pump, name="emqtt-pump")
            await task_group.start(self._lifecycle, name="emqtt-lifecycle")
        except BaseException:
            self._finish(None, "the client could not connect")
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Disconnect and end the client's tasks."""
        task_group = self._task_group
        try:
            with anyio.CancelScope(shield=True):
                await self.disconnect()
        finally:
            if task_group is not None:
                self._task_group = None
                # Finished: whatever is left of the client's tasks has nothing more to do.
                task_group.cancel_scope.cancel()
                await task_group.__aexit__(None, None, None)

    async def _open(self, endpoint: Endpoint) -> tuple[Stream, Any]:
        """Open the stream of one attempt (TCP, TLS or UDP)."""
        options = self.options
        if options.transport == "quic":
            # Imported when used: aioquic is an optional dependency (extra "quic").
            from adapters.transports.quic import open_udp_socket  # noqa: PLC0415

            infos = await anyio.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
            if not infos:
                raise OSError(f"cannot resolve {endpoint.host}")
            family, _, _, _, address = infos[0]
            sock = open_udp_socket(address, family)
            try:
                udp = await anyio.abc.ConnectedUDPSocket.from_socket(sock)
            except BaseException:
                sock.close()
                raise
            return udp, address
        local = options.local_address
        stream: anyio.abc.ByteStream = await anyio.connect_tcp(
            endpoint.host,
            endpoint.port,
            local_host=local[0] if local else None,
            local_port=local[1] if local else None,
        )
        try:
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            if raw.family in (socket.AF_INET, socket.AF_INET6):
                # MQTT packets are small and latency matters: no Nagle delay.
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for level, name, value in options.socket_options:
                raw.setsockopt(level, name, value)
            if options.transport in ("ssl", "wss"):
                stream = await TLSStream.wrap(
                    stream,
                    hostname=options.server_hostname or endpoint.host,
                    ssl_context=options.ssl_context,
                    # MQTT ends with DISCONNECT: no need to wait for the peer's close_notify.
                    standard_compatible=False,
                )
        except BaseException:
            await anyio.aclose_forcefully(stream)
            raise
        return stream, None

    # -- the lifecycle task --------------------------------------------------------------------

    async def _lifecycle(self, *, task_status: anyio.abc.TaskStatus[Connected]) -> None:
        plan = self._plan
        plan.start_round()
        try:
            event = await self._connect_round()
        except BaseException:
            self._finish(None, "the client could not connect")
            self._wake()
            raise
        task_status.started(event)
        while True:
            await self._ended_event.wait()
            ended, self._ended = self._ended, None
            assert ended is not None
            closed_event, error = ended
            reconnect, redirected = next_step(plan, closed_event, error, closing=self._closing)
            if not reconnect:
                # Waiters learn of the end at once: closing the stream may take up to
                # CLOSE_TIMEOUT (the last bytes wait for a server that stopped reading).
                self._finish(None if self._closing else error)
                await self._close_connection()
                self._wake_pump()  # it ends once the stream is gone
                return
            await self._close_connection()
            self._status = "reconnecting"
            if not await self._reconnect(error, redirected):
                return

    async def _reconnect(self, error: ClientError | None, redirected: bool) -> bool:
        """Backoff and rounds of attempts until connected (True) or finished (False)."""
        plan = self._plan
        while True:
            if not redirected:
                delay = plan.next_delay()
                if delay is None:
                    self._finish(error)
                    return False
                with anyio.CancelScope() as scope:
                    self._attempt_scope = scope
                    await anyio.sleep(delay)
                self._attempt_scope = None
            if self._closing:
                self._finish(None)
                return False
            redirected = False
            plan.start_round()
            try:
                await self._connect_round()
            except ClientClosed:
                self._finish(None)
                return False
            except ConnectError as exc:
                error = exc
                continue
            return True

    async def _connect_round(self) -> Connected:
        plan = self._plan
        while (endpoint := plan.next_endpoint()) is not None:
            if self._closing:
                raise ClientClosed("the client was closed while connecting")
            try:
                with anyio.CancelScope() as scope:
                    self._attempt_scope = scope
                    event = await self._attempt(endpoint)
            except ConnectError as exc:
                plan.failed(exc)
                follow_connack_redirect(plan, exc)
                continue
            finally:
                self._attempt_scope = None
            if scope.cancelled_caught:
                await self._close_connection()
                raise ClientClosed("the client was closed while connecting")
            plan.succeeded()
            return event
        error = plan.last_error
        assert isinstance(error, ConnectError)
        raise error

    async def _attempt(self, endpoint: Endpoint) -> Connected:
        """One connection attempt: stream, transport layer, CONNECT, CONNACK."""
        options = self.options
        try:
            with anyio.fail_after(options.connect_timeout):
                stream, address = await self._open(endpoint)
        except TimeoutError as exc:
            raise ConnectTimeout(
                f"opening the connection to {endpoint} took more than "
                f"{options.connect_timeout:g} s",
                host=endpoint.host,
                port=endpoint.port,
            ) from exc
        except (*_STREAM_ERRORS, ValueError) as exc:
            raise connect_error_from(_cause(exc), endpoint) from exc
        layer = make_transport(options, endpoint, address)
        waiter = Pending()
        self._stream = stream
        self._datagram = layer.datagram
        self._out = []
        self._out_size = 0
        self._write_error = None
        self._ended = None
        self._ended_event = anyio.Event()
        self._read_paused = len(self._queue) >= self._queue_limit
        driver = self._driver
        driver.writer = self._queue_write
        driver.start(layer, endpoint, self._now(), waiter)
        scope = anyio.CancelScope()
        self._reader_scope = scope
        task_group = self._task_group
        assert task_group is not None
        task_group.start_soon(self._read, stream, scope, name="emqtt-reader")
        task_group.start_soon(self._write, stream, name="emqtt-writer")
        self._wake()
        try:
            result: Connected = await waiter.wait()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._close_connection()
            self._ended = None
            raise
        return result

    def _queue_write(self, data: bytes) -> None:
        """The driver's writer: queue wire bytes for the stream (the writer sends them)."""
        if self._write_error is not None:
            raise TransportClosed("the connection failed") from self._write_error
        self._out.append(data)
        self._out_size += len(data)

    async def _read(self, stream: Stream, scope: anyio.CancelScope) -> None:
        """The reader task of one connection."""
        driver = self._driver
        datagram = self._datagram
        with scope:
            while True:
                while self._read_paused or self._out_size >= WRITE_HIGH_WATER:
                    if self._read_paused:
                        event = self._resume_event = anyio.Event()
                    else:
                        # What is read may need answers (PUBACK, PUBCOMP...): with the output
                        # backed up, reading on would pile them up without bound.
                        event = self._drain_event = anyio.Event()
                    await event.wait()
                try:
                    if datagram:
                        data = await cast(anyio.abc.ConnectedUDPSocket, stream).receive()
                    else:
                        data = await cast(anyio.abc.ByteStream, stream).receive(_READ_SIZE)
                except anyio.EndOfStream:
                    if stream is self._stream:
                        driver.receive_wire_eof(self._now())
                        self._wake()
                    return
                except _STREAM_ERRORS as exc:
                    if datagram and not isinstance(exc, anyio.ClosedResourceError):
                        continue  # ICMP errors on UDP: QUIC's own timers decide
                    if stream is self._stream:
                        driver.receive_wire_eof(self._now(), _cause(exc))
                        self._wake()
                    return
                if stream is not self._stream:
                    return
                driver.receive_wire(data, self._now())
                self._wake()

    async def _close_connection(self) -> None:
        """Write what is left (DISCONNECT, close frames), then close the stream."""
        stream = self._stream
        if stream is None:
            return
        driver = self._driver
        now = self._now()
        if driver.layer is not None:
            # Even a finished layer may hold its last frames: a WebSocket layer that failed
            # (a text frame) holds the close frame 1003 until flushed, and neither the writer
            # nor the pump may have run since the reader fed it.
            driver.flush(now)
            if not driver.layer_closed:
                driver.close_layer(now)
                driver.flush(now)
        driver.detach()
        self._stream = None
        scope = self._reader_scope
        if scope is not None:
            scope.cancel()
        self._wake_writer()  # it sees the stream gone and ends
        if self._wake_flag:
            self._wake_pump()  # what the writer was woken for is the pump's now
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT):
            async with self._send_lock:
                await self._send(stream)
        with anyio.CancelScope(shield=True):
            await anyio.aclose_forcefully(stream)
        self._out = []
        self._out_size = 0

    # -- the pump and writer tasks -------------------------------------------------------------

    def _wake(self) -> None:
        """Make the engine's output flushed (and the timer re-armed) soon; one wake-up per
        batch. The connection's writer does it when it is idle (one task switch from a
        command to the stream); else the pump."""
        if not self._wake_flag:
            self._wake_flag = True
            event = self._writer_event
            if event is not None:
                self._writer_event = None
                event.set()
            else:
                self._wake_pump()

    def _wake_pump(self) -> None:
        self._pump_kicked = True
        event = self._wake_event
        if event is not None:
            event.set()

    def _wake_writer(self) -> None:
        event, self._writer_event = self._writer_event, None
        if event is not None:
            event.set()

    def _flush_now(self) -> None:
        """Run the timers that are due, flush the engine into the output, wake whoever
        waits for the output or for room."""
        self._wake_flag = False
        driver = self._driver
        now = self._now()
        due = driver.timer()
        if due is not None and now >= due:
            driver.handle_timer(max(now, due))
        if driver.layer is not None:
            driver.flush(now)
        self._unflushed = 0
        if self._out:
            self._wake_writer()
        if self._room_event is not None and self._has_room():
            self._room_event.set()
            self._room_event = None

    async def _pump(self) -> None:
        """The timer task: runs the timers when they are due, and flushes when no idle
        writer can (no connection, or its writer is busy with a stream that takes
        nothing)."""
        driver = self._driver
        while True:
            if not self._pump_kicked:
                if self._status == "closed" and self._stream is None:
                    return
                timer = driver.timer()
                deadline = math.inf if timer is None else timer
                self._pump_deadline = deadline
                event = self._wake_event = anyio.Event()
                with anyio.CancelScope(deadline=deadline):
                    await event.wait()
                self._wake_event = None
            self._pump_kicked = False
            self._flush_now()

    async def _write(self, stream: Stream) -> None:
        """The writer task of one connection: flushes the engine when woken and sends the
        output to the stream."""
        driver = self._driver
        while stream is self._stream:
            if not self._out and not self._wake_flag:
                event = self._writer_event = anyio.Event()
                await event.wait()
                continue
            if self._wake_flag:
                self._flush_now()
                if self._wake_event is not None:
                    # The pump waits for the timer it armed: re-arm it if the flush brought
                    # an earlier one (a new operation's deadline, the next keepalive).
                    timer = driver.timer()
                    if timer is not None and timer < self._pump_deadline:
                        self._wake_pump()
            if self._out:
                async with self._send_lock:
                    if stream is self._stream:
                        await self._send(stream)
            if self._out_size < WRITE_HIGH_WATER:
                drain, self._drain_event = self._drain_event, None
                if drain is not None:
                    drain.set()
            if self._room_event is not None and self._has_room():
                self._room_event.set()
                self._room_event = None

    async def _send(self, stream: Stream) -> None:
        """Write the queued wire bytes to ``stream`` (call with the send lock held)."""
        while self._out:
            out, self._out = self._out, []
            try:
                if self._datagram:
                    for datagram in out:
                        await stream.send(datagram)
                        self._out_size -= len(datagram)
                else:
                    data = out[0] if len(out) == 1 else b"".join(out)
                    await stream.send(data)
                    self._out_size -= len(data)
            except _STREAM_ERRORS as exc:
                self._out_size = 0
                if stream is self._stream:
                    self._write_error = exc
                    self._out = []
                    self._driver.receive_wire_eof(self._now(), _cause(exc))
                    self._wake()
                return

    async def _wait_room(self) -> None:
        """Wait until the stream and the engine queue can take more.

        Raises:
            ConnectionLost: the connection ended for good meanwhile.
        """
        waited = False
        while not self._has_room() and self._status not in ("closed", "initialized"):
            waited = True
            event = self._room_event
            if event is None:
                event = self._room_event = anyio.Event()
            self._wake()
            await event.wait()
        if waited:
            self._check_not_lost()

    # -- hooks of the driver -------------------------------------------------------------------

    def connection_made(self, event: Connected) -> None:
        """CONNACK accepted (driver hook)."""
        self._status = "connected"
        reconnected, self._reconnected = self._reconnected, None
        if reconnected is not None:
            reconnected.set()

    def connection_ended(self, event: ConnectionClosed, error: ClientError | None) -> None:
        """The engine ended the connection (driver hook): the lifecycle task closes it."""
        self._ended = (event, error)
        self._ended_event.set()

    def message_received(self, event: MessageReceived) -> None:
        """An application message arrived (driver hook): queue it, pause reading if full."""
        queue = self._queue
        queue.append(Message(event.message, event.needs_ack, self))
        waiter = self._message_event
        if waiter is not None:
            self._message_event = None
            waiter.set()
        if len(queue) >= self._queue_limit:
            self._read_paused = True

    def _finish(self, error: ClientError | None, reason: str = "the client disconnected") -> None:
        """The client is done: fail what waits, wake every waiting task."""
        if self._status == "closed" and self._finished.is_set():
            return
        self._status = "closed"
        self._final_error = error
        fail_pending(self._results, error, reason)
        for name in (
            "_message_event",
            "_room_event",
            "_reconnected",
            "_resume_event",
            "_drain_event",
        ):
            event = getattr(self, name)
            if event is not None:
                setattr(self, name, None)
                event.set()
        self._finished.set()
        self._wake_pump()

    # -- calls from the application ------------------------------------------------------------

    def publish_nowait(
        self,
        topic: str,
        payload: bytes = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> Pending:
        """Start a publish without waiting (emqtt's ``publish_async``).

        Returns:
            A `Pending` to ``await`` for the `PublishResult`: resolved when the bytes leave
            (QoS 0), at PUBACK (QoS 1) or PUBCOMP (QoS 2); failed with `AckTimeout`,
            `PublishFailed` or `ConnectionLost`.

        Raises:
            ClientClosed: the client is not connected (nor reconnecting).
            emqtt_core.exceptions.UsageError: a bad topic, payload, QoS or property.
            emqtt_core.exceptions.QueueFullError: ``max_queued`` publishes wait already.
        """
        self._check_usable()
        props = None if properties is None else properties_from(properties, "PUBLISH")
        ticket = self._session.publish(topic, payload, qos=qos, retain=retain, properties=props)
        pending = Pending()
        self._results.add_publish(ticket, pending, self._now())
        self._unflushed += len(payload)
        self._wake()
        return pending

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

        QoS 0 returns once the message is queued for writing on an open connection; QoS 1 at
        PUBACK; QoS 2 at PUBCOMP (or a refusing PUBREC). When the network cannot take more
        (bytes waiting for the stream, full in-flight window and queue) it first waits for
        room. While reconnecting, the message waits for the new connection, within
        ``ack_timeout``.

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
        if not self._has_room():
            await self._wait_room()
        if qos == 0 and self._status == "connected" and properties is None:
            self._session.publish(topic, payload, qos=0, retain=retain)
            self._unflushed += len(payload)
            self._wake()
            return QOS0_RESULT
        result: PublishResult = await self.publish_nowait(
            topic, payload, qos=qos, retain=retain, properties=properties
        )
        return result

    async def _wait_connected(self) -> None:
        if self._status == "connected":
            return
        if self._status == "reconnecting":
            event = self._reconnected
            if event is None:
                event = self._reconnected = anyio.Event()
            with anyio.move_on_after(self.options.ack_timeout) as scope:
                await event.wait()
            if scope.cancelled_caught:
                raise AckTimeout("not reconnected within ack_timeout", operation="reconnect")
            if self.status == "connected":  # the property: mypy narrowed the attribute
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
        """Subscribe to one or more topic filters and wait for the SUBACK.

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
        pending = Pending()
        self._results.add_subscribe(packet_id, pending, self._now())
        self._wake()
        result: ReasonCodes = await pending
        return result

    async def unsubscribe(
        self,
        topic: str | list[str],
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> ReasonCodes:
        """Unsubscribe from one or more topic filters and wait for the UNSUBACK.

        Returns:
            The UNSUBACK reason codes, one per filter (MQTT 3.x: all SUCCESS).

        Raises:
            AckTimeout, ConnectionLost, ClientClosed: as for `subscribe`.
        """
        filters, props = unsubscribe_arguments(topic, properties)
        await self._wait_connected()
        packet_id = self._session.unsubscribe(filters, properties=props)
        pending = Pending()
        self._results.add_unsubscribe(packet_id, pending, self._now())
        self._wake()
        result: ReasonCodes = await pending
        return result

    async def ping(self) -> None:
        """Send PINGREQ and wait for PINGRESP.

        Raises:
            AckTimeout: no PINGRESP within ``ack_timeout``.
            ConnectionLost, ClientClosed: as for `subscribe`.
        """
        await self._wait_connected()
        self._session.ping()
        pending = Pending()
        self._results.add_ping(pending, self._now())
        self._wake()
        await pending

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
        props = None if properties is None else properties_from(properties, "AUTH")
        self._session.auth(reason_code=ReasonCode.RE_AUTHENTICATE, data=data, properties=props)
        pending = Pending()
        self._results.add_reauth(pending, self._now())
        self._wake()
        result: Auth = await pending
        return result

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
        except InvalidStateError:
            return
        self._wake()

    # -- receiving -----------------------------------------------------------------------------

    def messages(self) -> AsyncIterator[Message]:
        """Iterate over received messages, in arrival order, until the client is closed.

        Messages wait in a queue bounded by ``message_queue_size``; while it is full, reading
        from the network pauses (nothing is dropped). Several iterators share the queue: each
        message goes to one of them. While the client reconnects, iteration waits. Bound a
        wait with ``anyio.fail_after`` / ``move_on_after``.

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
            event = self._message_event
            if event is None:
                event = self._message_event = anyio.Event()
            await event.wait()
        message = queue.popleft()
        if self._read_paused and len(queue) <= self._queue_resume:
            self._read_paused = False
            resume, self._resume_event = self._resume_event, None
            if resume is not None:
                resume.set()
        return message

    # -- disconnecting -------------------------------------------------------------------------

    async def abort(self) -> None:
        """Close the network connection without DISCONNECT (emqtt's ``stop``): the server
        treats it as a lost connection and publishes the will message. The client is
        finished; pending operations fail with `ClientClosed`."""
        if self._status == "initialized":
            self._status = "closed"
            return
        self._closing = True
        driver = self._driver
        if driver.layer is not None:
            # The engine sees the end of the stream: it sends nothing more (no DISCONNECT).
            driver.session.receive_eof(self._now())
            driver.process_events()
            await self._close_connection()
            self._finish(None)
            return
        await self.disconnect()

    async def disconnect(
        self,
        reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION,
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> None:
        """Send DISCONNECT, close the connection and finish the client.

        Pending operations fail with `ClientClosed`. Does nothing if already closed. The
        client's tasks end; leaving ``async with`` then returns.

        Args:
            reason_code: MQTT 5 reason code (0x04 sends the will message anyway).
            properties: MQTT 5 DISCONNECT properties (session_expiry_interval...).
        """
        props = None if properties is None else properties_from(properties, "DISCONNECT")
        if self._status == "initialized":
            self._status = "closed"
            return
        if self._status == "closed" and self._finished.is_set():
            return
        connected = not self._closing and self._status == "connected"
        if connected:
            # The engine validates the reason code and properties before anything changes:
            # after a UsageError the client is still connected and may disconnect again.
            # InvalidStateError: the connection ended meanwhile; it is closed below.
            with contextlib.suppress(InvalidStateError):
                self._session.disconnect(reason_code=reason_code, properties=props)
        self._closing = True
        if connected:
            # Written and closed from this task, not left to the pump: the client's tasks
            # may be cancelled already (a cancelled scope around ``async with``), and the
            # DISCONNECT must still go out, or the server publishes the will.
            # [MQTT-3.14.4-1] nothing follows DISCONNECT; [MQTT-3.14.4-2] the client closes.
            await self._close_connection()
            self._finish(None)
            return
        scope = self._attempt_scope
        if scope is not None:
            scope.cancel()
        self._wake()
        with anyio.move_on_after(CLOSE_TIMEOUT):
            await self._finished.wait()
        if not self._finished.is_set():
            # The lifecycle task is gone (cancelled): close from here.
            await self._close_connection()
            self._finish(None)


class _MessageIterator:
    """The async iterator returned by `Client.messages` (no generator: cheaper per item)."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def __aiter__(self) -> _MessageIterator:
        return self

    def __anext__(self) -> Any:
        return self._client._next_message()
