"""Flow control of the asyncio client: backpressure, bounded memory, manual acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncio_support import endpoint, make_client, next_message, run, unique_topic

from adapters.asyncio import Client
from emqtt_core.codec import encode
from emqtt_core.enums import ProtocolVersion
from emqtt_core.packets import ConnAck

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


@pytest.mark.parametrize("qos", [0, 1])
def test_a_slow_consumer_pauses_reading_instead_of_buffering(
    request: pytest.FixtureRequest, qos: int
) -> None:
    """While the application does not read, the message queue stays within its bound (plus
    at most one network read) and reading from the socket pauses; once the application reads,
    every message arrives, in order, none dropped.

    800 messages of 1 KiB: more than one read can hold (asyncio reads at most 256 KiB), and
    within the 1000 QoS 1 messages mosquitto queues for a client by default.
    """
    target = endpoint(request, "tcp")
    topic = unique_topic("slow")
    bound = 50
    count = 800
    filler = bytes(1000)

    async def scenario() -> tuple[int, bool, list[int]]:
        async with make_client(target, message_queue_size=bound) as consumer, make_client(
            target
        ) as producer:
            messages = consumer.messages()
            await consumer.subscribe(topic, qos=qos)
            sent = [
                producer.publish_nowait(topic, b"%d " % n + filler, qos=1) for n in range(count)
            ]
            await asyncio.gather(*sent)
            # The broker has all of them; they cannot all be in the consumer's queue.
            await asyncio.wait_for(consumer.read_paused.wait(), 10)
            high_water = consumer.pending_messages
            got = [int((await next_message(messages)).payload.split()[0]) for _ in range(count)]
            return high_water, consumer.reading_paused, got

    high_water, still_paused, got = run(scenario())
    # One read (at most 256 KiB, about 256 of these messages) can overshoot the bound.
    assert bound <= high_water <= bound + 256 * 1024 // len(filler)
    assert not still_paused
    assert got == list(range(count))


def test_publishers_wait_when_the_engine_queue_is_full(request: pytest.FixtureRequest) -> None:
    """With a window of 5 and a queue of 10, concurrent publishers wait for room instead of
    failing, and every message completes."""
    target = endpoint(request, "tcp")
    topic = unique_topic("queue")

    async def scenario() -> int:
        async with make_client(target, max_inflight=5, max_queued=10) as client:

            async def worker(n: int) -> int:
                done = 0
                for i in range(40):
                    result = await client.publish(topic, b"%d-%d" % (n, i), qos=1)
                    done += result.reason_code < 0x80
                return done

            return sum(await asyncio.gather(*(worker(n) for n in range(25))))

    assert run(scenario()) == 1000


@pytest.mark.parametrize("qos", [1, 2])
def test_manual_acknowledgement(request: pytest.FixtureRequest, qos: int) -> None:
    """With auto_ack=False a message stays unacknowledged until the application acks it; the
    server redelivers unacknowledged messages to a resumed session [MQTT-4.4.0-1]."""
    target = endpoint(request, "tcp")
    topic = unique_topic("manual")

    async def scenario() -> tuple[bool, bool, bytes, bool]:
        options: dict[str, Any] = {
            "client_id": f"manual-{qos}-{topic[-6:]}",
            "auto_ack": False,
            "protocol_version": 5,
            "session_expiry_interval": 60,
        }
        async with make_client(target, **options) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=qos)
            await client.publish(topic, b"first", qos=qos)
            first = await next_message(messages)
            needed = first.needs_ack
            await client.publish(topic, b"second", qos=qos)
            second = await next_message(messages)
            await second.ack()
            acked = not second.needs_ack
            await client.abort()  # "first" is still unacknowledged
        async with make_client(target, **options, clean_start=False) as again:
            redelivered = await next_message(again.messages())
            again.ack(redelivered)
            return needed, acked, redelivered.payload, redelivered.dup

    needed, acked, payload, dup = run(scenario())
    assert needed and acked
    assert payload == b"first"
    if qos == 1:
        assert dup


def test_messages_of_a_client_are_shared_by_several_consumers(
    request: pytest.FixtureRequest,
) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("shared")

    async def scenario() -> list[int]:
        async with make_client(target) as client:
            await client.subscribe(topic, qos=1)
            got: list[int] = []

            async def consume() -> None:
                async for message in client.messages():
                    got.append(int(message.payload))
                    if len(got) == 100:
                        return

            consumers = [asyncio.create_task(consume()) for _ in range(3)]
            for n in range(100):
                await client.publish(topic, b"%d" % n, qos=1)
            await asyncio.wait(consumers, return_when=asyncio.FIRST_COMPLETED)
            for task in consumers:
                task.cancel()
            return sorted(got)

    assert run(scenario()) == list(range(100))


def test_publish_nowait_pipelines_and_resolves_in_bulk(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("pipeline")

    async def scenario() -> list[int]:
        async with make_client(target, max_inflight=100) as client:
            futures = [client.publish_nowait(topic, b"x", qos=1) for _ in range(2000)]
            results = await asyncio.gather(*futures)
            return sorted({r.reason_code for r in results})

    # MQTT 5: mosquitto reports 0x10 No matching subscribers (a success code) on PUBACK.
    assert run(scenario()) == [0x10]


def test_a_client_can_be_used_without_the_context_manager(
    request: pytest.FixtureRequest,
) -> None:
    target = endpoint(request, "tcp")

    async def scenario() -> bool:
        client: Client = make_client(target, protocol_version=5)
        connected = await client.connect()
        await client.disconnect()
        return connected.session_present

    assert run(scenario()) is False


def test_publishing_waits_while_the_socket_cannot_take_more() -> None:
    """A server that stops reading: the kernel buffers fill, asyncio's write buffer passes its
    high-water mark and QoS 0 publishes stop completing at once; the bytes waiting in the
    client stay bounded, and everything completes once the server reads again."""
    async def scenario() -> tuple[int, int]:
        reading = asyncio.Event()
        server_transports: list[asyncio.BaseTransport] = []

        async def stalled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            writer.write(encode(ConnAck(), ProtocolVersion.MQTT_5))
            writer.transport.pause_reading()
            server_transports.append(writer.transport)
            await reading.wait()
            writer.transport.resume_reading()
            while await reader.read(1 << 20):
                pass

        server = await asyncio.start_server(stalled, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            client = Client("127.0.0.1", port, client_id="stalled", keep_alive=0)
            await client.connect()
            payload = bytes(1024)
            published = 0
            waiting = None
            while waiting is None and published < 200_000:
                future = client.publish_nowait("t", payload)
                published += 1
                if not future.done():
                    # Writes happen inside publish_nowait every 64 KiB, and asyncio reports a
                    # full buffer (pause_writing) from inside write(): no need to yield.
                    waiting = future
            assert waiting is not None, "the socket never filled"
            transport = client._transport
            assert isinstance(transport, asyncio.WriteTransport)
            buffered = transport.get_write_buffer_size()
            reading.set()
            await asyncio.wait_for(waiting, 30)
            await client.disconnect()
            return buffered, published

    buffered, published = run(scenario(), timeout=60)
    # asyncio pauses above its high-water mark (64 KiB); at most one more flush (64 KiB of
    # publishes) can be added before the producer sees the pause.
    assert buffered <= 64 * 1024 + 2 * 64 * 1024
    assert published > 100


def test_introspection_of_subscriptions_and_windows(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("info")

    async def scenario() -> tuple[list[str], int, int]:
        async with make_client(target, max_inflight=2) as client:
            await client.subscribe(topic, qos=1)
            futures = [client.publish_nowait(f"{topic}/x", b"x", qos=1) for _ in range(5)]
            counts = (client.inflight_count, client.queued_count)
            await asyncio.gather(*futures)
            return list(client.subscriptions), *counts

    filters, inflight, queued = run(scenario())
    assert filters == [topic]
    assert (inflight, queued) == (2, 3)
