"""Drive the sans-IO engine over a plain socket with ``selectors``: no adapter.

Connects, subscribes to a topic, publishes one message of each QoS to it,
waits until all three came back and all three publishes completed, then
disconnects.  Run it against any broker (default: localhost 1883)::

    python examples/engine_selectors.py 127.0.0.1 1883

The loop is the whole contract of an adapter: after every call into the
engine, write ``data_to_send()``, re-arm the timer from ``get_timer()`` and
handle ``next_event()``.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import time

from emqtt_core.config import ClientConfig
from emqtt_core.enums import QoS
from emqtt_core.events import (
    Connected,
    ConnectionClosed,
    Event,
    MessageReceived,
    PublishCompleted,
    PublishFailed,
    Subscribed,
)
from emqtt_core.packets import Subscription
from emqtt_core.session import ClientSession
from emqtt_core.state import SessionState

TOPIC = "emqtt/examples/engine"


def run(host: str, port: int, *, timeout: float = 10.0) -> int:
    """Run the exchange; return a process exit status (0 on success)."""
    clock = time.monotonic
    session = ClientSession(ClientConfig(client_id=f"engine-{os.getpid()}", keep_alive=30))
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    pending = bytearray()  # engine output the socket has not taken yet
    received: list[bytes] = []
    completed: list[int] = []
    deadline = clock() + timeout
    session.connect()

    def on_event(event: Event) -> None:
        if isinstance(event, Connected):
            print(f"connected as {event.client_id!r}")
            session.subscribe([Subscription(topic_filter=TOPIC, qos=QoS.EXACTLY_ONCE)])
        elif isinstance(event, Subscribed):
            print(f"subscribed: {[code.name for code in event.reason_codes]}")
            for qos in (0, 1, 2):
                session.publish(TOPIC, f"hello qos {qos}".encode(), qos=qos)
        elif isinstance(event, MessageReceived):
            print(f"received {event.message.payload!r} (QoS {int(event.message.qos)})")
            received.append(event.message.payload)
        elif isinstance(event, PublishCompleted):
            completed.append(event.ticket)
        elif isinstance(event, PublishFailed):
            raise SystemExit(f"publish {event.ticket} failed: {event.error}")
        elif isinstance(event, ConnectionClosed) and event.error is not None:
            raise SystemExit(f"connection closed: {event.error!r}")
        if len(received) == 3 and len(completed) == 3 and session.state is SessionState.CONNECTED:
            session.disconnect()

    try:
        while True:
            # 1. Write what the engine queued (keep what the socket does not take).
            pending += session.data_to_send(clock())
            if pending:
                try:
                    sent = sock.send(pending)
                except BlockingIOError:
                    sent = 0
                del pending[:sent]
            # 2. Handle events; they may queue more output, so loop back to 1.
            handled = False
            while (event := session.next_event()) is not None:
                on_event(event)
                handled = True
            if handled:
                continue
            if session.state is SessionState.DISCONNECTED and not pending:
                break
            # 3. Wait for the socket or the engine's timer, whichever comes first.
            now = clock()
            if now > deadline:
                print("timed out", file=sys.stderr)
                return 1
            timer = session.get_timer()
            wait = deadline - now if timer is None else min(timer, deadline) - now
            mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0)
            selector.modify(sock, mask)
            if selector.select(max(wait, 0.0)):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    data = None
                if data:
                    session.receive_data(data, clock())
                elif data == b"":
                    session.receive_eof(clock())
            timer = session.get_timer()
            if timer is not None and clock() >= timer:
                session.handle_timer(clock())
    finally:
        selector.close()
        sock.close()
    print("disconnected")
    return 0 if sorted(received) == [b"hello qos 0", b"hello qos 1", b"hello qos 2"] else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="localhost")
    parser.add_argument("port", nargs="?", type=int, default=1883)
    args = parser.parse_args()
    sys.exit(run(args.host, args.port))


if __name__ == "__main__":
    main()
