"""The client side shared by the ``telemetry_*`` examples: options and a short MQTT session.

Every example attaches its handlers, then calls `run` (or `main_with`), which connects a client
with ``telemetry=True``, subscribes to a topic, publishes ``--count`` QoS 1 messages to it,
waits until they all came back, and disconnects. The broker is chosen by arguments, or by
environment variables when an argument is absent:

====================  ======================  =============================================
argument              variable                meaning
====================  ======================  =============================================
``--host``            ``EMQTT_HOST``          broker host (default ``localhost``)
``--port``            ``EMQTT_PORT``          broker port (default: the transport's)
``--transport``       ``EMQTT_TRANSPORT``     ``tcp``, ``ssl``, ``ws``, ``wss`` or ``quic``
``--cafile``          ``EMQTT_CAFILE``        CA certificate for ``ssl``, ``wss``, ``quic``
``--username``        ``EMQTT_USERNAME``      user name sent in CONNECT
``--password``        ``EMQTT_PASSWORD``      password sent in CONNECT
``--client-id``       ``EMQTT_CLIENT_ID``     client identifier (default: server-assigned)
``--protocol-version``                        3, 4 or 5 (default 5)
``--count``                                   messages to publish (default 10)
====================  ======================  =============================================
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
from collections.abc import Callable, Sequence

from adapters.asyncio import Client

__all__ = ["PAYLOAD", "SessionSummary", "main_with", "parse_args", "run"]

#: The payload of every message the session publishes.
PAYLOAD = b"telemetry example payload"
TRANSPORTS = ("tcp", "ssl", "ws", "wss", "quic")
#: Seconds the whole session may take before the example gives up.
SESSION_TIMEOUT = 30.0


class SessionSummary:
    """What the session did, for the example to print."""

    def __init__(self, client_id: str, published: int, received: int) -> None:
        self.client_id = client_id
        self.published = published
        self.received = received


def parse_args(description: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The broker and session options (arguments first, then environment variables)."""
    env = os.environ.get
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default=env("EMQTT_HOST", "localhost"))
    parser.add_argument("--port", type=int, default=env("EMQTT_PORT"))
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default=env("EMQTT_TRANSPORT", "tcp")
    )
    parser.add_argument("--cafile", default=env("EMQTT_CAFILE"))
    parser.add_argument("--username", default=env("EMQTT_USERNAME"))
    parser.add_argument("--password", default=env("EMQTT_PASSWORD"))
    parser.add_argument("--client-id", default=env("EMQTT_CLIENT_ID"))
    parser.add_argument("--protocol-version", type=int, choices=(3, 4, 5), default=5)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--topic", default=f"examples/telemetry/{os.getpid()}")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must not be negative")
    return args


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.transport not in ("ssl", "wss", "quic") or args.cafile is None:
        return None  # the client's default: the system's CAs, with verification
    return ssl.create_default_context(cafile=args.cafile)


async def run(args: argparse.Namespace) -> SessionSummary:
    """Connect with telemetry on, publish ``args.count`` QoS 1 messages to a topic the
    client subscribed to, receive them all, disconnect."""
    async with Client(
        args.host,
        args.port,
        transport=args.transport,
        ssl_context=_ssl_context(args),
        client_id=args.client_id,
        username=args.username,
        password=args.password,
        protocol_version=args.protocol_version,
        telemetry=True,
    ) as client:
        await client.subscribe(args.topic, qos=1)
        for _ in range(args.count):
            await client.publish(args.topic, PAYLOAD, qos=1)
        received = 0
        messages = client.messages()
        while received < args.count:
            message = await messages.__anext__()
            if message.topic == args.topic:
                received += 1
        client_id = client.client_id
    return SessionSummary(client_id, args.count, received)


def main_with(
    description: str,
    report: Callable[[argparse.Namespace, SessionSummary], None],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse the options, run the session, then call ``report``; the exit status."""
    args = parse_args(description, argv)
    try:
        summary = asyncio.run(asyncio.wait_for(run(args), SESSION_TIMEOUT))
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    report(args, summary)
    return 0
