"""Helpers for the asyncio client tests: endpoints of the private broker per transport."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import pytest

from adapters.asyncio import Client, Message

T = TypeVar("T")

#: Every transport the client speaks, each tested against the private mosquitto.
TRANSPORTS = ("tcp", "ssl", "ws", "wss", "quic")
#: MQTT 3.1.1 and 5.
VERSIONS = (4, 5)


def run(coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run ``coro`` on a fresh event loop, failing after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def unique_topic(prefix: str = "test") -> str:
    """A topic no other test uses (the broker is shared by the whole session)."""
    return f"{prefix}/{uuid.uuid4().hex}"


def endpoint(request: pytest.FixtureRequest, transport: str) -> dict[str, Any]:
    """Client options reaching the session's broker over ``transport``.

    The QUIC relay is only started for QUIC tests.
    """
    broker = request.getfixturevalue("mosquitto")
    if transport == "quic":
        relay = request.getfixturevalue("quic_relay")
        return {
            "host": relay.host,
            "port": relay.port,
            "transport": "quic",
            "ssl_context": broker.client_ssl_context(),
        }
    options: dict[str, Any] = {"host": broker.host, "port": broker.port_for(transport),
                               "transport": transport}
    if transport in ("ssl", "wss"):
        options["ssl_context"] = broker.client_ssl_context()
    return options


class WatchedClient(Client):
    """A client that also sets events when its driver reports changes, so tests wait on
    events instead of polling."""

    def _setup(self) -> None:
        super()._setup()
        #: Set whenever reading pauses because the message queue is full.
        self.read_paused = asyncio.Event()
        #: Set whenever a connection ends (lost, refused or closed).
        self.connection_ended_event = asyncio.Event()

    def message_received(self, event: Any) -> None:
        super().message_received(event)
        if self.reading_paused:
            self.read_paused.set()

    def connection_ended(self, event: Any, error: Any) -> None:
        super().connection_ended(event, error)
        self.connection_ended_event.set()


def make_client(options: dict[str, Any], **extra: Any) -> WatchedClient:
    """A client for ``options`` (from `endpoint`) with ``extra`` options."""
    merged = dict(options)
    merged.update(extra)
    host = merged.pop("host")
    port = merged.pop("port")
    return WatchedClient(host, port, **merged)


async def next_message(messages: AsyncIterator[Message], timeout: float = 10.0) -> Message:
    """The next message of ``messages``, or fail after ``timeout`` seconds."""
    return await asyncio.wait_for(messages.__anext__(), timeout)


class TcpRelay:
    """A loopback TCP relay in front of a broker whose connections the test can cut at once,
    like a network failure: the broker keeps the sessions (it sees a lost connection)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        #: Connections relayed so far.
        self.connections = 0

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def sever(self) -> None:
        """Reset every relayed connection (both sides), as a network failure would."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        """Stop listening and cut what is left."""
        self.sever()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
