"""One blocking facade over the three clients, so each parity scenario is written once.

`Adapter.client(...)` returns a `SyncClient` whatever the adapter:

- ``threading``: the client's own blocking calls;
- ``asyncio``, ``anyio-asyncio``, ``anyio-trio``: the async client runs in the event loop of a
  blocking portal (``anyio.from_thread``) in another thread, and each call waits for the
  coroutine it submits there. The anyio client's ``async with`` is entered and left in one
  task of the portal, as structured concurrency requires.

Nothing is simulated: every call is a real call of the client under test, against the real
broker. `SyncClient.drop_connection` is the only reach into a client's internals: it ends the
connection as a network failure would, without a DISCONNECT.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from anyio.from_thread import BlockingPortal
from support.broker import Mosquitto
from support.quic_relay import QuicRelay

import adapters.anyio
import adapters.asyncio
import adapters.threading
from adapters._message import Message, PublishResult, ReasonCodes

#: The clients under test: the asyncio client, the threading client, and the anyio client on
#: each of its backends.
ADAPTERS = ("asyncio", "threading", "anyio-asyncio", "anyio-trio")
#: Every transport; QUIC goes through the relay in front of mosquitto.
TRANSPORTS = ("tcp", "ssl", "ws", "wss", "quic")
#: MQTT 3.1.1 and 5.
VERSIONS = (4, 5)
#: Default bound of every wait in the scenarios, in seconds.
TIMEOUT = 10.0


def unique(prefix: str = "parity") -> str:
    """A topic (or client id) no other test uses: the broker is shared by the session."""
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Target:
    """Where the clients of one transport connect: the keyword arguments of ``Client``."""

    transport: str
    host: str
    port: int
    ssl_context: ssl.SSLContext | None
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self, **overrides: Any) -> dict[str, Any]:
        """``Client`` keyword arguments for this target, with ``overrides``."""
        merged: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "transport": self.transport,
            **self.extra,
        }
        if self.ssl_context is not None:
            merged["ssl_context"] = self.ssl_context
        merged.update(overrides)
        return merged


def target_for(
    request: pytest.FixtureRequest,
    broker: Mosquitto,
    transport: str,
    relay_fixture: str = "quic_relay",
) -> Target:
    """``broker`` over one transport; QUIC through the relay fixture named ``relay_fixture``."""
    if transport == "quic":
        relay: QuicRelay = request.getfixturevalue(relay_fixture)
        return Target("quic", relay.host, relay.port, broker.client_ssl_context())
    context = broker.client_ssl_context() if transport in ("ssl", "wss") else None
    return Target(transport, broker.host, broker.port_for(transport), context)


async def _next_message(iterator: Any, timeout: float) -> Message:
    with anyio.fail_after(timeout):
        message: Message = await iterator.__anext__()
        return message


async def _await(awaitable: Any) -> Any:
    return await awaitable


class SyncClient:
    """A client of any adapter, driven by blocking calls (see the module doc)."""

    def __init__(self, adapter: Adapter, client: Any) -> None:
        self.adapter = adapter
        self.client = client
        self._portal = adapter.portal
        self._context: contextlib.AbstractContextManager[Any] | None = None
        self._iterator: Any = None

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a client method: directly (threading) or in the portal's event loop."""
        if self._portal is None:
            return function(*args, **kwargs)
        return self._portal.call(lambda: function(*args, **kwargs))

    def _in_context(self, function: Callable[[], Any]) -> Any:
        """Run a plain function where the client lives (its I/O thread's lock or its loop)."""
        if self._portal is None:
            with self.client._lock:
                result = function()
                self.client._wake()
            self.client._complete()
            return result

        async def run() -> Any:
            return function()

        return self._portal.call(run)

    # -- the client API ------------------------------------------------------------------------

    def connect(self) -> SyncClient:
        """Connect (``async with`` for anyio, ``connect()`` for the others)."""
        if self.adapter.name.startswith("anyio"):
            assert self._portal is not None
            context = self._portal.wrap_async_context_manager(self.client)
            context.__enter__()
            self._context = context
        else:
            self._call(self.client.connect)
        return self

    def disconnect(self, **kwargs: Any) -> None:
        """Disconnect (and, for anyio, leave ``async with``)."""
        try:
            self._call(self.client.disconnect, **kwargs)
        finally:
            context, self._context = self._context, None
            if context is not None:
                context.__exit__(None, None, None)

    def abort(self) -> None:
        """Close without DISCONNECT (and, for anyio, leave ``async with``)."""
        try:
            self._call(self.client.abort)
        finally:
            context, self._context = self._context, None
            if context is not None:
                context.__exit__(None, None, None)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    def publish(self, topic: str, payload: bytes = b"", **kwargs: Any) -> PublishResult:
        """Publish and wait for the QoS flow to complete."""
        result: PublishResult = self._call(self.client.publish, topic, payload, **kwargs)
        return result

    def publish_many(
        self, topic: str, payloads: list[bytes], *, qos: int
    ) -> list[PublishResult]:
        """Start every publish without waiting, then wait for all of them, in order."""
        if self._portal is None:
            futures = [self.client.publish_nowait(topic, p, qos=qos) for p in payloads]
            return [future.result(TIMEOUT) for future in futures]
        client = self.client

        async def run() -> list[PublishResult]:
            pending = [client.publish_nowait(topic, p, qos=qos) for p in payloads]
            return [await _await(item) for item in pending]

        result: list[PublishResult] = self._portal.call(run)
        return result

    def start_publishes(self, topic: str, payloads: list[bytes], *, qos: int) -> list[Any]:
        """Start publishes without waiting; returns the adapter's handles (for `wait_all`)."""
        client = self.client

        def start() -> list[Any]:
            return [client.publish_nowait(topic, p, qos=qos) for p in payloads]

        if self._portal is None:
            return start()

        async def run() -> list[Any]:
            return start()

        handles: list[Any] = self._portal.call(run)
        return handles

    def wait_all(self, handles: list[Any]) -> list[Any]:
        """The outcome of each handle of `start_publishes`: its result, or its exception."""
        outcomes: list[Any] = []
        if self._portal is None:
            for handle in handles:
                error = handle.exception(TIMEOUT)
                outcomes.append(error if error is not None else handle.result())
            return outcomes

        async def run() -> list[Any]:
            with anyio.fail_after(TIMEOUT):
                for handle in handles:
                    try:
                        outcomes.append(await _await(handle))
                    except Exception as exc:
                        outcomes.append(exc)
            return outcomes

        result: list[Any] = self._portal.call(run)
        return result

    def subscribe(self, topic: Any, qos: int = 0, **kwargs: Any) -> ReasonCodes:
        """Subscribe and wait for the SUBACK."""
        result: ReasonCodes = self._call(self.client.subscribe, topic, qos, **kwargs)
        return result

    def unsubscribe(self, topic: Any, **kwargs: Any) -> ReasonCodes:
        """Unsubscribe and wait for the UNSUBACK."""
        result: ReasonCodes = self._call(self.client.unsubscribe, topic, **kwargs)
        return result

    def ping(self) -> None:
        """PINGREQ, and wait for PINGRESP (waits for a reconnection first, if one runs)."""
        self._call(self.client.ping)

    def ack(self, message: Message) -> None:
        """Acknowledge a message received with ``auto_ack=False``."""
        self._in_context(lambda: self.client.ack(message))

    def next_message(self, timeout: float = TIMEOUT) -> Message:
        """The next received message.

        Raises:
            TimeoutError: none within ``timeout``.
        """
        if self._portal is None:
            message: Message = self.client.next_message(timeout)
            return message
        if self._iterator is None:
            self._iterator = self.client.messages()
        result: Message = self._portal.call(_next_message, self._iterator, timeout)
        return result

    def messages(self, count: int, timeout: float = TIMEOUT) -> list[Message]:
        """The next ``count`` messages (each within ``timeout``)."""
        return [self.next_message(timeout) for _ in range(count)]

    def drop_connection(self) -> None:
        """End the current connection as a network failure would: the engine sees the end of
        the stream; the adapter closes its socket without sending DISCONNECT (the broker
        sees an abnormal close: the will is published, and the client may reconnect)."""
        client = self.client
        clock = time.monotonic if self._portal is None else anyio.current_time

        def drop() -> None:
            driver = client._driver
            driver.session.receive_eof(clock())
            driver.process_events()
            if self.adapter.name == "asyncio":
                client._flush()

        self._in_context(drop)

    def close_layer(self) -> None:
        """Close the client's WebSocket or QUIC layer under it (its socket stays open): the
        next write fails as a send on a closed transport."""
        client = self.client
        clock = time.monotonic if self._portal is None else anyio.current_time

        def close() -> None:
            layer = client._driver.layer
            assert layer is not None and not layer.passthrough
            layer.close(clock())

        if self._portal is None:
            with client._lock:
                close()
        else:
            self._in_context(close)

    def socket_links(self) -> set[str]:
        """``/proc`` links (``socket:[inode]``) of the sockets the client has open now: its
        connection's socket and, for the threading client, its wake-up socketpair."""
        client = self.client
        socks: list[Any] = []
        if self.adapter.name == "threading":
            socks = [client._sock, client._wake_r, client._wake_w]
        elif self.adapter.name == "asyncio":
            transport = client._transport
            socks = [None if transport is None else transport.get_extra_info("socket")]
        else:
            stream = client._stream
            if stream is not None:
                socks = [stream.extra(anyio.abc.SocketAttribute.raw_socket)]
        links = set()
        for sock in socks:
            if sock is not None and sock.fileno() >= 0:
                links.add(os.readlink(f"/proc/self/fd/{sock.fileno()}"))
        return links

    @property
    def status(self) -> str:
        """The client's status."""
        status: str = self.client.status
        return status

    @property
    def session(self) -> Any:
        """The engine session (for reading its counters)."""
        return self.client.session

    @property
    def connack(self) -> Any:
        """The latest `Connected` event."""
        return self.client.connack


@dataclass
class Adapter:
    """One client implementation and, for the async ones, the portal running its loop."""

    name: str
    portal: BlockingPortal | None

    @property
    def module(self) -> Any:
        """The adapter's package (``adapters.asyncio``, ``adapters.threading``...)."""
        if self.name == "threading":
            return adapters.threading
        if self.name == "asyncio":
            return adapters.asyncio
        return adapters.anyio

    def settle(self) -> None:
        """Let the event loop run the callbacks already scheduled (asyncio closes a socket
        in the loop iteration after ``close()``); nothing to do for threads."""
        if self.portal is not None:
            for _ in range(3):
                self.portal.call(anyio.lowlevel.checkpoint)

    def new(self, target: Target, **options: Any) -> SyncClient:
        """A client for ``target``, not connected."""
        merged = target.options(**options)
        merged.setdefault("connect_timeout", TIMEOUT)
        merged.setdefault("ack_timeout", TIMEOUT)
        host = merged.pop("host")
        port = merged.pop("port")
        cls = self.module.Client
        if self.portal is None:
            return SyncClient(self, cls(host, port, **merged))

        async def build() -> Any:
            # Created in the loop it will run in (asyncio primitives bind to their loop).
            return cls(host, port, **merged)

        return SyncClient(self, self.portal.call(build))

    def client(self, target: Target, **options: Any) -> SyncClient:
        """A connected client for ``target`` (use it as a context manager)."""
        return self.new(target, **options).connect()


@contextlib.contextmanager
def portals() -> Iterator[dict[str, BlockingPortal]]:
    """Event loops in threads for the async adapters: ``{"asyncio": ..., "trio": ...}``."""
    with (
        anyio.from_thread.start_blocking_portal("asyncio") as asyncio_portal,
        anyio.from_thread.start_blocking_portal("trio") as trio_portal,
    ):
        yield {"asyncio": asyncio_portal, "trio": trio_portal}


def open_fds() -> dict[int, str]:
    """The file descriptors open in this process now, and what each one is."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the one listdir used is gone already
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return found


def client_threads() -> set[str]:
    """Names of the threads the threading client starts that are alive now."""
    return {t.name for t in threading.enumerate() if t.name.startswith("emqtt-")}
