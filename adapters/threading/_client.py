"""The blocking client: the shared connection driver pumped by one I/O thread per client.

Threads and the engine: every engine call happens under one lock (``Client._lock``). User
threads only queue work (a PUBLISH, a SUBSCRIBE...) and wake the I/O thread; the I/O thread
does every socket read and write, runs the timers and drains the engine's events. No
application code ever runs under the lock: messages go to a bounded queue (read by
`Client.messages` or by the ``on_message`` dispatcher thread), and futures handed to the
application (`Client.publish_nowait`) are completed after the lock is released, so their done
callbacks may call the client.

Batching: a command wakes the I/O thread only if it is not already awake (one byte on a
socketpair), so the publishes of many threads made while it works leave in one write.
Backpressure: a publisher waits while the bytes waiting for the socket or the engine's queue
are over their bounds; reading from the network pauses while the message queue is full.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
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
    ConnectionLost,
)
from adapters.transports.errors import TransportClosed
from emqtt_core.events import Connected, ConnectionClosed, MessageReceived
from emqtt_core.exceptions import InvalidStateError
from emqtt_core.packets import Auth, Subscription
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

__all__ = ["Client", "Message", "Pending"]

logger = logging.getLogger("adapters.threading")

#: Bytes asked of the socket per read.
_READ_SIZE = 256 * 1024
#: Reads (or datagrams) taken per wake-up before the other work gets its turn.
_MAX_READS = 64
_WAKE, _SOCKET = 0, 1
#: Extra seconds a blocking call waits beyond the timeout enforced by the I/O thread, so that
#: a stuck I/O thread still cannot hang a caller forever.
_GRACE = 5.0


class Message(_BaseMessage):
    """An application message received by the threading client (see `adapters._message`)."""

    __slots__ = ()

    def ack(self) -> None:
        """Acknowledge this message (with ``auto_ack=False``); see `Client.ack`."""
        client = self._client
        assert isinstance(client, Client)
        client.ack(self)


class Pending:
    """The outcome of an operation still under way (like a `concurrent.futures.Future`).

    ``result(timeout)`` waits for it; ``add_done_callback(fn)`` calls ``fn(pending)`` once it
    is done, outside the client's lock (in the client's I/O thread when the operation finishes
    there: keep it short, and do not wait on the client from it). Cancelling the operation is
    not possible: the message may be on its way already.

    All pending operations of a client share one condition variable, notified once per batch
    of completions, so a publish costs no lock or condition of its own.
    """

    __slots__ = ("_callbacks", "_client", "_done", "_error", "_result")

    def __init__(self, client: Client) -> None:
        self._client = client
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[Pending], object]] | None = None

    def done(self) -> bool:
        """Whether the operation finished (with a result or an error)."""
        return self._done

    def cancelled(self) -> bool:
        """Always False: a started MQTT operation cannot be withdrawn."""
        return False

    def cancel(self) -> bool:
        """Refuse to cancel (returns False), as `concurrent.futures.Future` does once running."""
        return False

    def set_result(self, result: Any) -> None:
        """Finish with ``result`` (for the driver, under the client's lock)."""
        if not self._done:
            self._result = result
            self._done = True
            if self._callbacks:
                self._client._completions.append(self)

    def set_exception(self, exception: BaseException) -> None:
        """Finish with ``exception`` (for the driver, under the client's lock)."""
        if not self._done:
            self._error = exception
            self._done = True
            if self._callbacks:
                self._client._completions.append(self)

    def _wait(self, timeout: float | None) -> None:
        if self._done:
            return
        client = self._client
        with client._finished_ops:
            client._op_waiters += 1
            try:
                if not client._finished_ops.wait_for(self.done, timeout):
                    raise TimeoutError(f"the operation did not finish within {timeout:g} s")
            finally:
                client._op_waiters -= 1

    def result(self, timeout: float | None = None) -> Any:
        """The result, waiting at most ``timeout`` seconds (None: until done).

        Raises:
            The operation's error (`AckTimeout`, `PublishFailed`, `ConnectionLost`...);
            `TimeoutError` if it did not finish in time.
        """
        self._wait(timeout)
        if self._error is not None:
            raise self._error
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The operation's error (None if it succeeded), waiting as `result` does."""
        self._wait(timeout)
        return self._error

    def add_done_callback(self, callback: Callable[[Pending], object]) -> None:
        """Call ``callback(self)`` once done (at once, here, if it is done already)."""
        client = self._client
        with client._lock:
            if not self._done:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(callback)
                return
        _run_callback(callback, self)

    def _run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks or [], None
        for callback in callbacks:
            _run_callback(callback, self)


def _run_callback(callback: Callable[[Pending], object], pending: Pending) -> None:
    try:
        callback(pending)
    except Exception:
        logger.exception("a done callback raised")


class Client(ClientBase, CallChecks, StateViews):
    """A blocking MQTT client, safe to use from any number of threads at once.

    Use it as a context manager, which connects and disconnects::

        with Client("broker.example", transport="ssl") as client:
            client.subscribe("sensors/#", qos=1)
            client.publish("sensors/t1", b"21.5", qos=1)
            for message in client.messages(timeout=10):
                print(message.topic, message.payload)

    or with a callback, in the style of paho-mqtt::

        client.on_message = lambda message: print(message.topic)

    The constructor takes the options documented in `adapters._client.ClientBase`;
    ``Client.from_url("mqtts://user:pw@host")`` is the URL form. The client owns one I/O
    thread (and a dispatcher thread while ``on_message`` is set); both end with
    ``disconnect()``. A client connects once: after ``disconnect()`` (or a final connection
    loss), create a new one.
    """

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._driver = ConnectionDriver(self.options, self)
        self._session = self._driver.session
        self._results = self._driver.results
        self._status: Status = "initialized"
        self._plan = ConnectPlan(
            self.options.endpoints, self.options.reconnect, self.options.default_port
        )
        self._max_queued = self.options.config.max_queued
        # Finished operations with done callbacks, run once the lock is released.
        self._completions: list[Pending] = []
        # Threads waiting in Pending.result, and what they wait on (not the engine lock: the
        # I/O thread notifies after releasing it, once per batch).
        self._finished_ops = threading.Condition(threading.Lock())
        self._op_waiters = 0
        # Waits on the engine lock: messages, room to publish, (re)connection.
        self._message_ready = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._state_changed = threading.Condition(self._lock)
        self._room_waiters = 0
        self._queue: deque[Message] = deque()
        self._queue_limit = self.options.message_queue_size
        self._queue_resume = resume_level(self._queue_limit)
        self._read_paused = False
        self._final_error: ClientError | None = None
        self._closing = False
        self._close_deadline: float | None = None
        # The connection's end, as reported by the driver (event, error); the I/O thread acts.
        self._ended: tuple[ConnectionClosed, ClientError | None] | None = None
        # I/O thread state: touched by the I/O thread only (the writer runs in its flushes).
        self._sock: socket.socket | None = None
        self._datagram = False
        self._out: deque[bytes] = deque()
        self._out_size = 0
        self._write_error: BaseException | None = None
        self._unflushed = 0
        self._interest = 0
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._wake_pending = False
        self._thread: threading.Thread | None = None
        self._connect_result: concurrent.futures.Future[Connected] = concurrent.futures.Future()
        self._on_message: Callable[[Message], object] | None = None
        self._dispatcher: threading.Thread | None = None

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
        """The engine's `ClientSession` (read its state under no guarantee; do not drive it)."""
        return self._session

    @property
    def on_message(self) -> Callable[[Message], object] | None:
        """A function called with each received message, in a dispatcher thread.

        While it is set, messages go to it instead of `messages`; it is never called under
        the client's lock, so it may publish, subscribe or acknowledge. Exceptions it raises
        are logged (logger ``adapters.threading``) and delivery goes on. Set it to None to
        stop (the dispatcher ends after the message in hand).
        """
        return self._on_message

    @on_message.setter
    def on_message(self, callback: Callable[[Message], object] | None) -> None:
        with self._lock:
            self._on_message = callback
            start = callback is not None and self._dispatcher is None
            if start and self._status in ("connecting", "connected", "reconnecting"):
                self._start_dispatcher()
            self._message_ready.notify_all()

    # -- connecting ----------------------------------------------------------------------------

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.disconnect()

    def connect(self) -> Connected:
        """Connect to the first server that accepts, trying ``hosts`` in order.

        Each attempt is bounded by ``connect_timeout``.

        Returns:
            The `Connected` event: ``session_present``, ``client_id`` and the CONNACK.

        Raises:
            ConnectError: no server accepted; the error of the last attempt (a
                `ConnectionRefused`, `TLSVerificationFailed`, `ConnackRefused`,
                `ConnectTimeout`...).
            ClientClosed: the client was already connected once.
        """
        with self._lock:
            if self._status != "initialized":
                raise ClientClosed(f"connect() on a client that is {self._status}")
            self._status = "connecting"
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
            if self._on_message is not None:
                self._start_dispatcher()
        thread = threading.Thread(target=self._run, name="emqtt-io", daemon=True)
        self._thread = thread
        thread.start()
        try:
            return self._connect_result.result()
        except BaseException:
            thread.join()
            self._join_dispatcher()
            raise

    def _open(self, endpoint: Endpoint) -> tuple[socket.socket, Any]:
        """Open the socket of one attempt (TCP, TLS or UDP), blocking at most connect_timeout."""
        options = self.options
        if options.transport == "quic":
            # Imported when used: aioquic is an optional dependency (extra "quic").
            from adapters.transports.quic import open_udp_socket  # noqa: PLC0415

            infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
            if not infos:
                raise OSError(f"cannot resolve {endpoint.host}")
            family, _, _, _, address = infos[0]
            return open_udp_socket(address, family), address
        sock = socket.create_connection(
            (endpoint.host, endpoint.port),
            timeout=options.connect_timeout,
            source_address=options.local_address,
        )
        try:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # MQTT packets are small and latency matters: no Nagle delay.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for level, name, value in options.socket_options:
                sock.setsockopt(level, name, value)
            if options.transport in ("ssl", "wss"):
                context = options.ssl_context
                assert context is not None
                # The handshake runs here, under the socket's connect_timeout.
                sock = context.wrap_socket(
                    sock, server_hostname=options.server_hostname or endpoint.host
                )
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock, None

    # -- the I/O thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._lifecycle()
        except BaseException as exc:  # a bug: never leave a caller waiting for ever
            logger.exception("the MQTT I/O thread failed")
            failure = ConnectionLost(f"the client's I/O thread failed: {exc!r}")
            failure.__cause__ = exc
            self._drop_socket()
            with self._lock:
                self._finish(failure)
            self._complete()
            if not self._connect_result.done():
                self._connect_result.set_exception(failure)
        finally:
            with self._lock:
                self._close_wake()

    def _lifecycle(self) -> None:
        plan = self._plan
        plan.start_round()
        try:
            event = self._connect_round()
        except (ConnectError, ClientClosed) as exc:
            with self._lock:
                self._finish(None, "the client could not connect")
            self._complete()
            self._connect_result.set_exception(exc)
            return
        self._connect_result.set_result(event)
        while True:
            self._pump_until(self._connection_over)
            with self._lock:
                ended, self._ended = self._ended, None
                if ended is None:  # closing, and the server never closed: we did
                    reconnect, redirected, error = False, False, None
                else:
                    closed_event, error = ended
                    reconnect, redirected = next_step(
                        plan, closed_event, error, closing=self._closing
                    )
                if not reconnect:
                    # Waiters learn of the end at once: closing the socket may take up to
                    # CLOSE_TIMEOUT (the last bytes wait for a server that stopped reading).
                    self._finish(None if self._closing else error)
            if not reconnect:
                self._complete()
                self._close_connection()
                break
            self._close_connection()
            with self._lock:
                self._status = "reconnecting"
            self._complete()
            if not self._reconnect(error, redirected):
                break
        self._complete()

    def _connection_over(self) -> bool:
        if self._ended is not None:
            return True
        deadline = self._close_deadline
        if deadline is not None and time.monotonic() >= deadline:
            # The server did not answer our DISCONNECT by closing: close anyway.
            with self._lock:
                self._driver.receive_wire_eof(time.monotonic())
            return True
        return False

    def _reconnect(self, error: ClientError | None, redirected: bool) -> bool:
        """Backoff and rounds of attempts until connected (True) or finished (False)."""
        plan = self._plan
        while True:
            if not redirected:
                delay = plan.next_delay()
                if delay is None:
                    with self._lock:
                        self._finish(error)
                    return False
                self._pump_until(lambda: self._closing, time.monotonic() + delay)
            if self._closing:
                with self._lock:
                    self._finish(None)
                return False
            redirected = False
            plan.start_round()
            try:
                self._connect_round()
            except ClientClosed:
                with self._lock:
                    self._finish(None)
                return False
            except ConnectError as exc:
                error = exc
                continue
            return True

    def _connect_round(self) -> Connected:
        plan = self._plan
        while (endpoint := plan.next_endpoint()) is not None:
            if self._closing:
                raise ClientClosed("the client was closed while connecting")
            try:
                event = self._attempt(endpoint)
            except ConnectError as exc:
                plan.failed(exc)
                follow_connack_redirect(plan, exc)
                continue
            plan.succeeded()
            return event
        error = plan.last_error
        assert isinstance(error, ConnectError)
        raise error

    def _attempt(self, endpoint: Endpoint) -> Connected:
        """One connection attempt: socket, transport layer, CONNECT, CONNACK."""
        try:
            sock, address = self._open(endpoint)
        except (OSError, ValueError) as exc:
            raise connect_error_from(exc, endpoint) from exc
        layer = make_transport(self.options, endpoint, address)
        waiter: concurrent.futures.Future[Connected] = concurrent.futures.Future()
        self._sock = sock
        self._datagram = layer.datagram
        self._out.clear()
        self._out_size = 0
        self._write_error = None
        self._interest = 0
        driver = self._driver
        with self._lock:
            self._read_paused = len(self._queue) >= self._queue_limit
            driver.writer = self._queue_write
            now = time.monotonic()
            driver.start(layer, endpoint, now, waiter)
            driver.flush(now)
        self._write_out()
        self._pump_until(lambda: waiter.done() or self._ended is not None or self._closing)
        if waiter.done() and waiter.exception() is None:
            return waiter.result()
        self._close_connection()
        self._ended = None
        if self._closing and not waiter.done():
            raise ClientClosed("the client was closed while connecting")
        return waiter.result()  # raises the ConnectError

    def _queue_write(self, data: bytes) -> None:
        """The driver's writer: queue wire bytes for the socket (the I/O thread writes)."""
        if self._write_error is not None:
            raise TransportClosed("the connection failed") from self._write_error
        self._out.append(data)
        self._out_size += len(data)

    def _pump_until(self, done: Callable[[], bool], deadline: float | None = None) -> None:
        """Run the pump (socket, timers, flushes) until ``done()`` or ``deadline``."""
        while not done():
            if deadline is not None and time.monotonic() >= deadline:
                return
            self._step(deadline)

    def _step(self, deadline: float | None) -> None:
        """Wait for the socket, a wake-up or a timer, then do what is due and flush."""
        selector = self._selector
        assert selector is not None
        driver = self._driver
        with self._lock:
            timer = driver.timer()
        if deadline is not None and (timer is None or deadline < timer):
            timer = deadline
        if self._closing and self._sock is not None and self._close_deadline is None:
            self._close_deadline = time.monotonic() + CLOSE_TIMEOUT
        if self._close_deadline is not None and (timer is None or self._close_deadline < timer):
            timer = self._close_deadline
        self._update_interest()
        timeout = None if timer is None else max(0.0, timer - time.monotonic())
        for key, mask in selector.select(timeout):
            if key.data == _WAKE:
                self._drain_wake()
                continue
            if mask & selectors.EVENT_WRITE:
                self._write_out()
            if mask & selectors.EVENT_READ:
                self._read()
        with self._lock:
            self._wake_pending = False
            now = time.monotonic()
            due = driver.timer()
            if due is not None and now >= due:
                driver.handle_timer(max(now, due))
            if driver.layer is not None:
                driver.flush(now)
            self._unflushed = 0
        if self._out:
            self._write_out()
        if self._room_waiters:
            self._notify_room()
        self._complete()

    def _update_interest(self) -> None:
        sock = self._sock
        selector = self._selector
        if sock is None or selector is None:
            return
        mask = 0 if self._read_paused else selectors.EVENT_READ
        if self._out:
            mask |= selectors.EVENT_WRITE
        if mask == self._interest:
            return
        if self._interest == 0:
            selector.register(sock, mask, _SOCKET)
        elif mask == 0:
            selector.unregister(sock)
        else:
            selector.modify(sock, mask, _SOCKET)
        self._interest = mask

    def _drain_wake(self) -> None:
        wake = self._wake_r
        assert wake is not None
        try:
            while wake.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _wake(self) -> None:
        """Wake the I/O thread (call under the lock); one byte however many commands."""
        if not self._wake_pending:
            self._wake_pending = True
            wake = self._wake_w
            if wake is not None:
                try:
                    wake.send(b"\0")
                except (BlockingIOError, InterruptedError):
                    pass  # bytes are waiting already: the thread will wake
                except OSError:
                    pass  # closed: the I/O thread is gone

    def _read(self) -> None:
        sock = self._sock
        if sock is None:
            return
        datagram = self._datagram
        chunks: list[bytes] = []
        eof = False
        error: BaseException | None = None
        for _ in range(_MAX_READS):
            try:
                data = sock.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except ssl.SSLZeroReturnError:
                eof = True  # the server closed TLS cleanly (close_notify): an orderly end
                break
            except OSError as exc:
                if datagram:
                    continue  # ICMP errors on UDP: QUIC's own timers decide
                eof, error = True, exc
                break
            if not data:
                if datagram:
                    continue
                eof = True
                break
            chunks.append(data)
            if not datagram and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                break
        if not chunks and not eof:
            return
        with self._lock:
            now = time.monotonic()
            driver = self._driver
            for data in chunks:
                driver.receive_wire(data, now)
            if eof:
                driver.receive_wire_eof(now, error)

    def _write_out(self) -> None:
        sock = self._sock
        out = self._out
        if sock is None:
            out.clear()
            self._out_size = 0
            return
        if self._datagram:
            while out:
                try:
                    sock.send(out[0])
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    pass  # UDP: a lost datagram is QUIC's to recover
                self._out_size -= len(out.popleft())
            return
        while out:
            if len(out) > 1:
                # One system call (and one TLS record run) for everything that is waiting.
                joined = b"".join(out)
                out.clear()
                out.append(joined)
            chunk = out[0]
            try:
                sent = sock.send(chunk)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return
            except OSError as exc:
                self._write_failed(exc)
                return
            self._out_size -= sent
            if sent < len(chunk):
                out[0] = chunk[sent:]
                return
            out.popleft()

    def _write_failed(self, exc: BaseException) -> None:
        self._out.clear()
        self._out_size = 0
        self._write_error = exc
        with self._lock:
            self._driver.receive_wire_eof(time.monotonic(), exc)

    def _close_connection(self) -> None:
        """Write what is left (DISCONNECT, close frames), then close the socket."""
        sock = self._sock
        if sock is None:
            return
        driver = self._driver
        with self._lock:
            now = time.monotonic()
            if driver.layer is not None and not driver.layer_closed:
                driver.flush(now)
                driver.close_layer(now)
                driver.flush(now)
            driver.detach()
        deadline = time.monotonic() + CLOSE_TIMEOUT
        if self._out and self._write_error is None:
            self._write_out()
        if self._out and self._write_error is None:
            # The last bytes wait for room in the socket, within CLOSE_TIMEOUT. Only
            # writability wakes this wait: what the server still sends is not read any more.
            with selectors.DefaultSelector() as writable:
                writable.register(sock, selectors.EVENT_WRITE)
                while self._out and self._write_error is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    writable.select(remaining)
                    self._write_out()
        self._drop_socket()
        self._close_deadline = None
        self._complete()

    def _drop_socket(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._interest and self._selector is not None:
            self._selector.unregister(sock)
        self._interest = 0
        self._sock = None
        self._out.clear()
        self._out_size = 0
        sock.close()

    def _complete(self) -> None:
        """After the lock is released: wake the threads waiting for results, run the done
        callbacks of the operations that finished."""
        if self._op_waiters:
            with self._finished_ops:
                self._finished_ops.notify_all()
        if self._completions:
            with self._lock:
                completions, self._completions[:] = list(self._completions), []
            for pending in completions:
                pending._run_callbacks()

    def _notify_room(self) -> None:
        with self._lock:
            if self._has_room() or self._status == "closed":
                self._room.notify_all()

    def _close_wake(self) -> None:
        selector, self._selector = self._selector, None
        if selector is not None:
            selector.close()
        for name in ("_wake_r", "_wake_w"):
            sock = getattr(self, name)
            if sock is not None:
                setattr(self, name, None)
                sock.close()

    # -- hooks of the driver (called under the lock) ------------------------------------------

    def connection_made(self, event: Connected) -> None:
        """CONNACK accepted (driver hook)."""
        self._status = "connected"
        self._state_changed.notify_all()

    def connection_ended(self, event: ConnectionClosed, error: ClientError | None) -> None:
        """The engine ended the connection (driver hook): the I/O thread closes it."""
        self._ended = (event, error)

    def message_received(self, event: MessageReceived) -> None:
        """An application message arrived (driver hook): queue it, pause reading if full."""
        queue = self._queue
        queue.append(Message(event.message, event.needs_ack, self))
        self._message_ready.notify()
        if len(queue) >= self._queue_limit:
            self._read_paused = True

    def _finish(self, error: ClientError | None, reason: str = "the client disconnected") -> None:
        """The client is done (under the lock): fail what waits, wake every waiting thread."""
        self._status = "closed"
        self._final_error = error
        fail_pending(self._results, error, reason)
        self._message_ready.notify_all()
        self._room.notify_all()
        self._state_changed.notify_all()

    # -- calls from application threads -------------------------------------------------------

    def _wait_room(self) -> None:
        """Wait (under the lock) until the socket and the engine queue can take more.

        Raises:
            ConnectionLost: the connection ended for good meanwhile.
        """
        waited = False
        self._room_waiters += 1
        try:
            while not self._has_room() and self._status not in ("closed", "initialized"):
                waited = True
                self._wake()
                self._room.wait(self.options.ack_timeout)
        finally:
            self._room_waiters -= 1
        if waited:
            self._check_not_lost()

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

        Waits only while the network cannot take more (see `publish`).

        Returns:
            A `Pending` of the `PublishResult` (``.result(timeout)``, like a
            `concurrent.futures.Future`): resolved when the bytes leave (QoS 0), at PUBACK
            (QoS 1) or PUBCOMP (QoS 2); failed with `AckTimeout`, `PublishFailed` or
            `ConnectionLost`. Its done callbacks run outside the client's lock.

        Raises:
            ConnectionLost: the connection ended for good while it waited for room.
            ClientClosed: the client is not connected (nor reconnecting).
            emqtt_core.exceptions.UsageError: a bad topic, payload, QoS or property.
            emqtt_core.exceptions.QueueFullError: ``max_queued`` publishes wait already.
        """
        props = None if properties is None else properties_from(properties, "PUBLISH")
        future = Pending(self)
        with self._lock:
            if not self._has_room():
                self._wait_room()
            self._check_usable()
            ticket = self._session.publish(
                topic, payload, qos=qos, retain=retain, properties=props
            )
            self._results.add_publish(ticket, future, time.monotonic())
            self._unflushed += len(payload)
            self._wake()
        return future

    def publish(
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
        (bytes waiting for the socket, full in-flight window and queue) it first waits for
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
        props = None if properties is None else properties_from(properties, "PUBLISH")
        waiter = Pending(self)
        with self._lock:
            if not self._has_room():
                self._wait_room()
            self._check_usable()
            ticket = self._session.publish(
                topic, payload, qos=qos, retain=retain, properties=props
            )
            self._unflushed += len(payload)
            self._wake()
            if qos == 0 and self._status == "connected":
                return QOS0_RESULT
            self._results.add_publish(ticket, waiter, time.monotonic())
        result: PublishResult = self._wait(waiter, "publish")
        return result

    def _wait(self, waiter: Pending, operation: str) -> Any:
        """The result of ``waiter``, resolved by the I/O thread within ``ack_timeout``."""
        try:
            return waiter.result(self.options.ack_timeout + _GRACE)
        except TimeoutError:
            if waiter.done():
                raise  # the operation's own AckTimeout
            raise AckTimeout(
                f"no answer to {operation} from the I/O thread", operation=operation
            ) from None

    def _wait_connected(self) -> None:
        """Under the lock: return once connected; wait while reconnecting."""
        if self._status == "connected":
            return
        if self._status == "reconnecting":
            if not self._state_changed.wait_for(
                lambda: self._status != "reconnecting", self.options.ack_timeout
            ):
                raise AckTimeout("not reconnected within ack_timeout", operation="reconnect")
            if self.status == "connected":  # the property: mypy narrowed the attribute
                return
        self._check_usable()
        raise ClientClosed(f"the client is {self._status}")

    def subscribe(
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
        waiter = Pending(self)
        with self._lock:
            self._wait_connected()
            packet_id = self._session.subscribe(subs, properties=props)
            self._results.add_subscribe(packet_id, waiter, time.monotonic())
            self._wake()
        result: ReasonCodes = self._wait(waiter, "subscribe")
        return result

    def unsubscribe(
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
        waiter = Pending(self)
        with self._lock:
            self._wait_connected()
            packet_id = self._session.unsubscribe(filters, properties=props)
            self._results.add_unsubscribe(packet_id, waiter, time.monotonic())
            self._wake()
        result: ReasonCodes = self._wait(waiter, "unsubscribe")
        return result

    def ping(self) -> None:
        """Send PINGREQ and wait for PINGRESP.

        Raises:
            AckTimeout: no PINGRESP within ``ack_timeout``.
            ConnectionLost, ClientClosed: as for `subscribe`.
        """
        waiter = Pending(self)
        with self._lock:
            self._wait_connected()
            self._session.ping()
            self._results.add_ping(waiter, time.monotonic())
            self._wake()
        self._wait(waiter, "ping")

    def reauthenticate(
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
        props = None if properties is None else properties_from(properties, "AUTH")
        waiter = Pending(self)
        with self._lock:
            self._wait_connected()
            self._session.auth(
                reason_code=ReasonCode.RE_AUTHENTICATE, data=data, properties=props
            )
            self._results.add_reauth(waiter, time.monotonic())
            self._wake()
        result: Auth = self._wait(waiter, "reauthenticate")
        return result

    def ack(self, message: _BaseMessage) -> None:
        """Acknowledge a message received with ``auto_ack=False`` (QoS 1: PUBACK; QoS 2:
        PUBREC, then PUBCOMP when the server releases it). Acknowledging twice, or a QoS 0
        message, does nothing. On a connection that has since ended it does nothing either:
        the server sends the message again after reconnection."""
        with self._lock:
            packet_id = message._take_ack()
            if packet_id is None or self._status != "connected":
                return
            try:
                self._session.ack(packet_id)
            except InvalidStateError:
                return
            self._wake()

    # -- receiving -----------------------------------------------------------------------------

    def messages(self, timeout: float | None = None) -> Iterator[Message]:
        """Iterate over received messages, in arrival order.

        Messages wait in a queue bounded by ``message_queue_size``; while it is full, reading
        from the network pauses (nothing is dropped). Several iterators (in several threads)
        share the queue: each message goes to one of them. While the client reconnects,
        iteration waits.

        Args:
            timeout: Iteration ends when no message arrives for this many seconds (None:
                only when the client is closed).

        Raises (from the iteration):
            ConnectionLost: the connection ended for good.
        """
        while True:
            try:
                yield self.next_message(timeout)
            except TimeoutError:
                return
            except ClientClosed:
                return

    def next_message(self, timeout: float | None = None) -> Message:
        """The next received message, waiting at most ``timeout`` seconds (None: no limit).

        Raises:
            TimeoutError: none arrived in time.
            ConnectionLost: the connection ended for good (and no message is left).
            ClientClosed: the client was disconnected (and no message is left).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            queue = self._queue
            while not queue:
                if self._status in ("closed", "initialized"):
                    if self._final_error is not None:
                        raise lost_error(self._final_error)
                    raise ClientClosed(f"the client is {self._status}")
                if deadline is None:
                    self._message_ready.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"no message within {timeout:g} s")
                    self._message_ready.wait(remaining)
            message = queue.popleft()
            if self._read_paused and len(queue) <= self._queue_resume:
                self._read_paused = False
                self._wake()
            return message

    def _start_dispatcher(self) -> None:
        thread = threading.Thread(target=self._dispatch, name="emqtt-dispatch", daemon=True)
        self._dispatcher = thread
        thread.start()

    def _dispatch(self) -> None:
        """The dispatcher thread: hand each message to ``on_message``, outside the lock."""
        while True:
            with self._lock:
                while not self._queue and self._on_message is not None:
                    if self._status in ("closed", "initialized"):
                        self._dispatcher = None
                        return
                    self._message_ready.wait()
                callback = self._on_message
                if callback is None:
                    self._dispatcher = None
                    self._message_ready.notify()  # a message may wait for messages()
                    return
                message = self._queue.popleft()
                if self._read_paused and len(self._queue) <= self._queue_resume:
                    self._read_paused = False
                    self._wake()
            try:
                callback(message)
            except Exception:
                logger.exception("on_message raised; delivery goes on")

    def _join_dispatcher(self) -> None:
        thread = self._dispatcher
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT)

    # -- disconnecting -------------------------------------------------------------------------

    def abort(self) -> None:
        """Close the network connection without DISCONNECT (emqtt's ``stop``): the server
        treats it as a lost connection and publishes the will message. The client is
        finished and its threads end; pending operations fail with `ClientClosed`."""
        with self._lock:
            if self._status == "initialized":
                self._status = "closed"
                return
            self._closing = True
            driver = self._driver
            if driver.layer is not None:
                # The engine sees the end of the stream: it sends nothing more (no DISCONNECT)
                # and the I/O thread closes the socket.
                driver.session.receive_eof(time.monotonic())
                driver.process_events()
            self._wake()
        self._complete()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
            self._join_dispatcher()

    def disconnect(
        self,
        reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION,
        *,
        properties: Properties | Mapping[str, Any] | None = None,
    ) -> None:
        """Send DISCONNECT, close the connection, end the client's threads.

        Pending operations fail with `ClientClosed`. Does nothing if already closed. Messages
        still queued can be read with `next_message` afterwards. Returns within about
        ``CLOSE_TIMEOUT`` seconds (``connect_timeout`` while an attempt is under way).

        Args:
            reason_code: MQTT 5 reason code (0x04 sends the will message anyway).
            properties: MQTT 5 DISCONNECT properties (session_expiry_interval...).
        """
        props = None if properties is None else properties_from(properties, "DISCONNECT")
        with self._lock:
            if self._status == "initialized":
                self._status = "closed"
                return
            if not self._closing and self._status == "connected":
                # InvalidStateError: the connection ended meanwhile; the I/O thread closes it.
                with contextlib.suppress(InvalidStateError):
                    self._session.disconnect(reason_code=reason_code, properties=props)
            self._closing = True
            self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
            self._join_dispatcher()
