"""Servers that push back or push too much: one that stops reading while the client
publishes, and one that floods QoS 0 messages at an application that does not consume.

Memory is measured with tracemalloc (every adapter runs in this process), and bounded against
what an unbounded client would have to hold; no assertion depends on timing. Kernel socket
buffers are kept small on both sides (``SO_RCVBUF``/``SO_SNDBUF``), so that they cannot
absorb the traffic in the client's stead.
"""

from __future__ import annotations

import select
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_facade import accept, engine_error, new_client
from hostile_server import TIMEOUT, ScriptedServer, ServerConnection
from parity_facade import Adapter, SyncClient

from adapters.errors import ConnectionLost
from emqtt_core.codec import encode
from emqtt_core.exceptions import KeepAliveTimeout
from emqtt_core.packets import Publish, PubRel

#: Kernel buffer sizes for the client's socket and the server's.
SMALL_BUFFER = 16 * 1024
MB = 1024 * 1024


@pytest.fixture
def traced() -> Iterator[None]:
    """tracemalloc on for the test (all adapters allocate in this process)."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def pending_messages(client: SyncClient) -> int:
    """Received messages waiting for the application (asyncio says it publicly; the others
    keep the same bounded deque)."""
    count = getattr(client.client, "pending_messages", None)
    if count is None:
        count = len(client.client._queue)
    return int(count)


def test_server_that_stops_reading(
    adapter: Adapter, traced: None, request: pytest.FixtureRequest
) -> None:
    """The server accepts, then never reads again. A publisher of 64 KiB QoS 0 messages must
    be held back (bounded memory), and keepalive must end the connection: its PINGREQ cannot
    even be delivered, so no PINGRESP comes (section 3.1.2.10). The held-back publish fails
    with `ConnectionLost`, as documented for a connection that ends for good first. MQTT 5
    only: the flow does not depend on the version."""
    payload = b"p" * (64 * 1024)
    attempts = 600  # 39 MB: what an unbounded client would end up holding

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.hold()

    published = 0
    outcome: list[BaseException | None] = []

    with (
        ScriptedServer(script, receive_buffer=4096) as server,
        new_client(
            adapter,
            server,
            5,
            keep_alive=1,
            ping_timeout=0.25,
            socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)],
        ) as client,
    ):
        client.connect()
        baseline = tracemalloc.get_traced_memory()[0]

        def publisher() -> None:
            nonlocal published
            try:
                for _ in range(attempts):
                    client.publish("flood/out", payload)
                    published += 1
            except BaseException as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        try:
            thread.join(TIMEOUT)
            assert not thread.is_alive(), f"publish blocked for good after {published} messages"
        finally:
            server.close()  # releases a blocked publisher, whatever happened
            thread.join(TIMEOUT)
        peak = tracemalloc.get_traced_memory()[1] - baseline
        [error] = outcome
        assert error is not None, "every publish was accepted: nothing held the publisher back"
        assert isinstance(error, ConnectionLost), repr(error)
        assert isinstance(engine_error(error), KeepAliveTimeout), repr(error)
        assert published * len(payload) < 8 * MB
        assert peak < 12 * MB, f"{peak / MB:.1f} MB held"
        assert client.status == "closed"


def _send_until_stalled(conn: ServerConnection, data: bytes) -> memoryview:
    """Send ``data`` until the client stops taking it: the socket stays full for half a
    second (the client reads nothing). Returns what was left unsent (empty: all sent)."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    view = memoryview(data)
    conn.sock.setblocking(False)
    try:
        while view:
            if not select.select([], [conn.sock], [], 0.5)[1]:
                break
            try:
                view = view[conn.sock.send(view) :]
            except BlockingIOError:
                continue
    finally:
        conn.sock.setblocking(True)
    return view


def _flood_script(
    count: int, size: int, version: int, stalled: threading.Event, finished: threading.Event
) -> Any:
    # Encoded before the test measures anything: the server's own buffer is not the client's.
    data = b"".join(
        encode(Publish(topic="flood/in", payload=n.to_bytes(4, "big") * (size // 4)), version)
        for n in range(count)
    )

    def script(conn: ServerConnection) -> None:
        accept(conn)
        rest = _send_until_stalled(conn, data)
        if rest:
            stalled.set()
            conn.sock.sendall(rest)  # the rest, as the application catches up
        finished.set()

    return script


def test_qos0_flood_to_a_slow_consumer(adapter: Adapter, version: int, traced: None) -> None:
    """8 MB of QoS 0 messages at an application that takes none: the client stops reading
    once ``message_queue_size`` messages wait (the server's socket stalls), holds a bounded
    amount of memory, and later delivers every message, in order (none dropped)."""
    count, size, queue_size = 1000, 8192, 50
    stalled, finished = threading.Event(), threading.Event()
    script = _flood_script(count, size, version, stalled, finished)
    with (
        ScriptedServer(script) as server,
        new_client(
            adapter,
            server,
            version,
            message_queue_size=queue_size,
            socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)],
        ) as client,
    ):
        baseline = tracemalloc.get_traced_memory()[0]
        client.connect()
        assert stalled.wait(TIMEOUT), "the client read the whole flood: nothing held back"
        held = tracemalloc.get_traced_memory()[0] - baseline
        waiting = pending_messages(client)
        assert waiting <= 2 * queue_size, waiting
        assert held < 4 * MB, f"{held / MB:.1f} MB held"
        tracemalloc.stop()  # measured; the rest runs at full speed
        for n in range(count):
            message = client.next_message()
            assert message.payload[:4] == n.to_bytes(4, "big")
        assert finished.wait(TIMEOUT)


def test_pubrel_flood_at_a_server_that_does_not_read(adapter: Adapter, traced: None) -> None:
    """Every PUBREL, known or not, must be answered with a PUBCOMP (0x92 when unknown): a
    server that sends a million of them and never reads would make the client hold 5 MB
    of answers in a million objects. The client must stop reading once its own output
    backs up (the server's socket stalls), holding a bounded amount of memory. MQTT 5 only:
    the flow does not depend on the version."""
    count = 1_000_000
    data = encode(PubRel(packet_id=1), 5) * count
    stalled, finished = threading.Event(), threading.Event()

    def script(conn: ServerConnection) -> None:
        accept(conn)
        if _send_until_stalled(conn, data):
            stalled.set()
        else:
            finished.set()
        conn.hold()

    with (
        ScriptedServer(script, receive_buffer=4096) as server,
        new_client(
            adapter,
            server,
            5,
            socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)],
        ) as client,
    ):
        baseline = tracemalloc.get_traced_memory()[0]
        client.connect()
        assert stalled.wait(TIMEOUT), "the client read every PUBREL: its answers pile up"
        held, peak = (value - baseline for value in tracemalloc.get_traced_memory())
        # Unbounded: 5 MB of answers in a million bytes objects, over 40 MB (and no stall).
        # Bounded: the adapters' write high-water mark (1 MiB of wire bytes) in 5-byte
        # packets, which costs several times that in Python objects (measured: 0.7 to 9 MB).
        assert held < 24 * MB, f"{held / MB:.1f} MB held"
        assert peak < 48 * MB, f"{peak / MB:.1f} MB at the peak"
        assert client.status == "connected"
        assert not finished.is_set()
        server.close()  # a reset, so that the client's final DISCONNECT does not wait
