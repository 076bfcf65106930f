"""What the hostile-server scenarios share: a client of any adapter aimed at a
`ScriptedServer`, scripts' common steps, and ways to read an outcome (the engine error behind
an adapter error, the reason code of the client's DISCONNECT)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hostile_server import TIMEOUT, ScriptedServer, ServerConnection, WebSocketRelay
from parity_facade import Adapter, SyncClient, Target

from adapters.errors import ClientError, ConnectionLost
from emqtt_core.exceptions import MQTTError
from emqtt_core.packets import ConnAck
from emqtt_core.properties import Properties

__all__ = [
    "accept",
    "engine_error",
    "new_client",
    "wait_lost",
]


def target(server: ScriptedServer | WebSocketRelay) -> Target:
    """The parity facade's target for a scripted server (TCP) or its WebSocket relay."""
    transport = "ws" if isinstance(server, WebSocketRelay) else "tcp"
    return Target(transport, server.host, server.port, None)


@contextlib.contextmanager
def new_client(
    adapter: Adapter,
    server: ScriptedServer,
    version: int,
    *,
    via: WebSocketRelay | None = None,
    **options: Any,
) -> Iterator[SyncClient]:
    """A client (not connected) of ``adapter`` for ``server`` (or for ``via``, a WebSocket
    relay in front of it); closed after the block, whatever state it is in."""
    options.setdefault("client_id", "hostile")
    client = adapter.new(target(via or server), protocol_version=version, **options)
    try:
        yield client
    finally:
        # The outcome under test was asserted in the block; closing a client that lost its
        # connection may report that loss again.
        with contextlib.suppress(ClientError):
            client.disconnect()
        adapter.settle()


def accept(conn: ServerConnection, **connack: Any) -> None:
    """Read CONNECT and accept it (CONNACK with ``connack``'s fields)."""
    conn.expect_connect()
    properties = connack.pop("properties", None)
    if properties is not None and not isinstance(properties, Properties):
        properties = Properties(**properties)
    if properties is not None:
        connack["properties"] = properties
    conn.send(ConnAck(**connack))


def engine_error(exc: BaseException) -> MQTTError | None:
    """The engine's error (`emqtt_core.exceptions`) an adapter error was caused by."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MQTTError):
            return seen
        seen = seen.__cause__
    return None


def wait_lost(client: SyncClient, timeout: float = TIMEOUT) -> ConnectionLost:
    """Wait for the client to report the loss of its connection to a consumer of
    ``messages()`` (the way an application learns it), and return the error."""
    try:
        message = client.next_message(timeout)
    except ConnectionLost as exc:
        return exc
    raise AssertionError(f"expected ConnectionLost, got a message {message!r}")
