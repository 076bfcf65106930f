"""The threading client's own guarantees, against the real broker: thread safety, callbacks
that call the client, timeouts of the blocking calls, and a shutdown that leaks nothing.

(What every adapter shares, over every transport, is in tests/adapters/parity.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from support.broker import Mosquitto

from adapters.threading import Client as ThreadingClient
from adapters.threading import ClientClosed, Message, Pending, PublishResult

#: Bound of every wait, in seconds.
TIMEOUT = 20.0


def topic() -> str:
    return f"threading/{uuid.uuid4().hex[:12]}"


def client(broker: Mosquitto, **options: Any) -> ThreadingClient:
    options.setdefault("ack_timeout", TIMEOUT)
    return ThreadingClient(broker.host, broker.tcp_port, **options)


def emqtt_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("emqtt-")]


def fds() -> set[str]:
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir used is gone already
            found.add(f"{name}:{os.readlink(f'/proc/self/fd/{name}')}")
    return found


def test_eight_threads_publishing_qos1_get_every_message_acknowledged_once(
    mosquitto: Mosquitto,
) -> None:
    name = topic()
    threads_before = emqtt_threads()
    fds_before = fds()
    per_thread, thread_count = 150, 8
    total = per_thread * thread_count
    results: list[PublishResult] = []
    results_lock = threading.Lock()
    errors: list[BaseException] = []
    with (
        client(mosquitto, message_queue_size=total) as subscriber,
        client(mosquitto) as shared,
    ):
        subscriber.subscribe(name, qos=1)
        start = threading.Barrier(thread_count)

        def publisher(index: int) -> None:
            try:
                start.wait(TIMEOUT)
                mine = [
                    shared.publish(name, b"%d-%d" % (index, n), qos=1) for n in range(per_thread)
                ]
            except BaseException as exc:  # reported below: a thread cannot fail the test
                errors.append(exc)
                return
            with results_lock:
                results.extend(mine)

        workers = [threading.Thread(target=publisher, args=(i,)) for i in range(thread_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(TIMEOUT)
        assert not any(worker.is_alive() for worker in workers), "a publisher is stuck"
        assert errors == []
        # One acknowledgement per publish: every ticket once, every reason code a success.
        assert len(results) == total
        assert len({result.ticket for result in results}) == total
        assert all(result.packet_id is not None and result.reason_code < 0x80 for result in results)
        assert shared.session.inflight_count == 0
        payloads = Counter(subscriber.next_message(TIMEOUT).payload for _ in range(total))
        assert payloads == Counter(
            b"%d-%d" % (i, n) for i in range(thread_count) for n in range(per_thread)
        )
    assert emqtt_threads() == threads_before == []
    assert fds() <= fds_before


def test_on_message_callback_may_publish_and_wait(mosquitto: Mosquitto) -> None:
    name = topic()
    answers: queue.Queue[Message] = queue.Queue()
    with client(mosquitto) as responder:
        responder.subscribe(f"{name}/#", qos=1)

        def on_message(message: Message) -> None:
            if message.topic.endswith("/request"):
                # A blocking QoS 1 publish from inside the callback: the callback runs outside
                # the client's lock, in its dispatcher thread, so the I/O thread goes on.
                responder.publish(f"{name}/answer", message.payload.upper(), qos=1)
            else:
                answers.put(message)

        responder.on_message = on_message
        for word in (b"one", b"two", b"three"):
            responder.publish(f"{name}/request", word, qos=1)
        got = sorted(answers.get(timeout=TIMEOUT).payload for _ in range(3))
        assert got == [b"ONE", b"THREE", b"TWO"]
    assert emqtt_threads() == []


def test_a_failing_callback_does_not_stop_delivery(mosquitto: Mosquitto) -> None:
    name = topic()
    seen: queue.Queue[bytes] = queue.Queue()
    with client(mosquitto) as subscriber:
        subscriber.subscribe(name, qos=1)

        def on_message(message: Message) -> None:
            seen.put(message.payload)
            if message.payload == b"bad":
                raise RuntimeError("the application failed")

        subscriber.on_message = on_message
        subscriber.publish(name, b"bad", qos=1)
        subscriber.publish(name, b"good", qos=1)
        assert [seen.get(timeout=TIMEOUT), seen.get(timeout=TIMEOUT)] == [b"bad", b"good"]


def test_switching_from_callback_back_to_messages(mosquitto: Mosquitto) -> None:
    name = topic()
    seen: queue.Queue[bytes] = queue.Queue()
    with client(mosquitto) as subscriber:
        subscriber.subscribe(name, qos=1)
        subscriber.on_message = lambda message: seen.put(message.payload)
        subscriber.publish(name, b"to-callback", qos=1)
        assert seen.get(timeout=TIMEOUT) == b"to-callback"
        subscriber.on_message = None
        subscriber.publish(name, b"to-iterator", qos=1)
        assert subscriber.next_message(TIMEOUT).payload == b"to-iterator"
        assert seen.empty()


def test_disconnect_from_inside_the_callback(mosquitto: Mosquitto) -> None:
    name = topic()
    done = threading.Event()
    subscriber = client(mosquitto)
    subscriber.connect()
    subscriber.subscribe(name, qos=1)

    def on_message(message: Message) -> None:
        subscriber.disconnect()
        done.set()

    subscriber.on_message = on_message
    with client(mosquitto) as peer:
        peer.publish(name, b"stop", qos=1)
    assert done.wait(TIMEOUT)
    assert subscriber.status == "closed"
    for thread in emqtt_threads():
        thread.join(TIMEOUT)
    assert emqtt_threads() == []


def test_done_callbacks_of_publish_nowait_run_outside_the_lock(mosquitto: Mosquitto) -> None:
    name = topic()
    chained: concurrent.futures.Future[Pending] = concurrent.futures.Future()
    with client(mosquitto) as publisher:
        first = publisher.publish_nowait(name, b"first", qos=1)
        # Under the engine lock this callback would deadlock: it calls the client.
        first.add_done_callback(
            lambda _: chained.set_result(publisher.publish_nowait(name, b"second", qos=1))
        )
        assert first.result(TIMEOUT).reason_code < 0x80
        second = chained.result(TIMEOUT)
        assert second.result(TIMEOUT).reason_code < 0x80


def test_many_threads_share_the_queue_of_messages(mosquitto: Mosquitto) -> None:
    name = topic()
    count, readers = 200, 4
    taken: queue.Queue[bytes] = queue.Queue()
    with client(mosquitto) as subscriber, client(mosquitto) as peer:
        subscriber.subscribe(name, qos=1)

        def reader() -> None:
            for message in subscriber.messages(timeout=0.5):
                taken.put(message.payload)

        threads = [threading.Thread(target=reader) for _ in range(readers)]
        for thread in threads:
            thread.start()
        futures = [peer.publish_nowait(name, b"%d" % i, qos=1) for i in range(count)]
        for future in futures:
            future.result(TIMEOUT)
        payloads = sorted(int(taken.get(timeout=TIMEOUT)) for _ in range(count))
        assert payloads == list(range(count))  # each message to exactly one reader
        for thread in threads:
            thread.join(TIMEOUT)
        assert taken.empty()


def test_blocking_calls_have_timeouts(mosquitto: Mosquitto) -> None:
    with client(mosquitto) as subscriber:
        with pytest.raises(TimeoutError):
            subscriber.next_message(0.05)
        assert list(subscriber.messages(timeout=0.05)) == []
    with pytest.raises(ClientClosed):
        subscriber.next_message(0.05)
    with pytest.raises(ClientClosed):
        subscriber.ping()


def test_publishes_made_while_the_io_thread_works_leave_in_few_writes(
    mosquitto: Mosquitto,
) -> None:
    name = topic()
    count = 2000
    with client(mosquitto) as publisher:
        writes: list[int] = []
        writer = publisher._driver.writer

        def counting_writer(data: bytes) -> object:
            # The real writer, counted: each call is one batch for the socket.
            writes.append(len(data))
            return writer(data)

        with publisher._lock:
            publisher._driver.writer = counting_writer
        pending = [publisher.publish_nowait(name, b"x" * 16, qos=0) for _ in range(count)]
        assert all(p.result(TIMEOUT).reason_code == 0 for p in pending)
        # One wake-up per batch, not per publish: the I/O thread flushed far fewer times than
        # there were publishes, and every byte went out.
        # (Without batching there would be one write per publish; how many publishes share a
        # write depends on the scheduler, so the bound is loose enough for a loaded machine.)
        assert len(writes) < count / 2
        assert sum(writes) >= count * 16
