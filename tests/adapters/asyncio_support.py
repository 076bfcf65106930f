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
    ports = {
        "tcp": broker.tcp_port,
        "ssl": broker.ssl_port,
        "ws": broker.ws_port,
        "wss": broker.wss_port,
    }
    options: dict[str, Any] = {"host": broker.host, "port": ports[transport],
                               "transport": transport}
    if transport in ("ssl", "wss"):
        options["ssl_context"] = broker.client_ssl_context()
    return options


def make_client(options: dict[str, Any], **extra: Any) -> Client:
    """A client for ``options`` (from `endpoint`) with ``extra`` options."""
    merged = dict(options)
    merged.update(extra)
    host = merged.pop("host")
    port = merged.pop("port")
    return Client(host, port, **merged)


async def next_message(messages: AsyncIterator[Message], timeout: float = 10.0) -> Message:
    """The next message of ``messages``, or fail after ``timeout`` seconds."""
    return await asyncio.wait_for(messages.__anext__(), timeout)
