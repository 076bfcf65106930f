"""Reconnection of the asyncio client: the broker stops and restarts under load."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from asyncio_support import TcpRelay, WatchedClient, run, unique_topic

from adapters.asyncio import Client, ConnectionLost, PublishResult, ReconnectPolicy

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

#: Quick, deterministic reconnection for tests (no jitter).
FAST = ReconnectPolicy(initial_delay=0.05, max_delay=0.5, jitter=0.0)
MESSAGES = 600
WINDOW = 40


def persistent(version: int, client_id: str, **extra: Any) -> dict[str, Any]:
    """Options of a client whose session survives its connections (and a broker restart)."""
    options: dict[str, Any] = {
        "protocol_version": version,
        "client_id": client_id,
        "reconnect": FAST,
        "keep_alive": 5,
    }
    if version == 5:
        options["session_expiry_interval"] = 600
    else:
        options["clean_start"] = False
    options.update(extra)
    return options


async def exchange_under_load(
    subscriber: Client, publisher: Client, topic: str, qos: int, interrupt: Any
) -> tuple[list[int], list[PublishResult]]:
    """Publish `MESSAGES` messages through a window while ``interrupt()`` (a coroutine
    function) breaks the connections a third of the way in; return what the subscriber got
    and the publish results."""
    await subscriber.connect()
    await subscriber.subscribe(topic, qos=qos)
    await publisher.connect()
    received: list[int] = []
    all_received = asyncio.Event()

    async def consume() -> None:
        async for message in subscriber.messages():
            received.append(int(message.payload))
            if len(set(received)) == MESSAGES:
                all_received.set()

    consumer = asyncio.create_task(consume())
    interruption: asyncio.Task[None] | None = None
    pending: list[asyncio.Future[PublishResult]] = []
    results: list[PublishResult] = []
    for n in range(MESSAGES):
        pending.append(publisher.publish_nowait(topic, b"%d" % n, qos=qos))
        if len(pending) >= WINDOW:
            results.append(await pending.pop(0))
        if n == MESSAGES // 3:
            interruption = asyncio.create_task(interrupt())
    assert interruption is not None
    await interruption
    results.extend(await asyncio.gather(*pending))
    await asyncio.wait_for(all_received.wait(), 30)
    consumer.cancel()
    assert publisher.status == subscriber.status == "connected"
    await publisher.disconnect()
    await subscriber.disconnect()
    return received, results


def check_delivery(received: list[int], results: list[PublishResult], qos: int) -> None:
    """Every message acknowledged and received; at QoS 2 exactly once."""
    assert len(results) == MESSAGES
    assert all(result.reason_code < 0x80 for result in results)
    assert set(received) == set(range(MESSAGES))
    if qos == 2:
        duplicates = [n for n, count in Counter(received).items() if count > 1]
        assert duplicates == []


@pytest.mark.parametrize("qos", [1, 2])
def test_no_message_lost_across_a_broker_restart(mosquitto_factory: Any, qos: int) -> None:
    """Publishing and consuming go on while mosquitto stops (SIGTERM, which saves its
    persistence) and starts again: every message arrives, at QoS 2 exactly once; the sessions
    resume and the engines replay what was in flight [MQTT-4.4.0-1].

    MQTT 3.1.1 only: mosquitto 2.0.11 does not restore MQTT 5 sessions from its persistence
    file (a resumed MQTT 5 session reports session_present=False after a restart), so MQTT 5
    is covered by `test_no_message_lost_when_the_network_fails`.
    """
    broker = mosquitto_factory()
    subscriber = Client(broker.host, broker.tcp_port, **persistent(4, f"sub-{qos}"))
    publisher = Client(broker.host, broker.tcp_port, **persistent(4, f"pub-{qos}"))

    async def restart() -> None:
        await asyncio.get_running_loop().run_in_executor(None, broker.restart)

    received, results = run(
        exchange_under_load(subscriber, publisher, unique_topic("restart"), qos, restart),
        timeout=80,
    )
    check_delivery(received, results, qos)


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("qos", [1, 2])
def test_no_message_lost_when_the_network_fails(
    mosquitto_factory: Any, qos: int, version: int
) -> None:
    """Every connection is reset mid-flow (a relay in front of the broker drops them): both
    clients reconnect, resume their sessions and replay what was in flight."""
    broker = mosquitto_factory()

    async def scenario() -> tuple[list[int], list[PublishResult]]:
        relay = TcpRelay(broker.host, broker.tcp_port)
        await relay.start()
        subscriber = Client("127.0.0.1", relay.port, **persistent(version, f"s{qos}{version}"))
        publisher = Client("127.0.0.1", relay.port, **persistent(version, f"p{qos}{version}"))

        async def cut() -> None:
            relay.sever()

        try:
            return await exchange_under_load(
                subscriber, publisher, unique_topic("cut"), qos, cut
            )
        finally:
            assert relay.connections >= 4  # both clients connected twice at least
            await relay.close()

    received, results = run(scenario(), timeout=80)
    check_delivery(received, results, qos)


def test_without_reconnect_pending_publishes_fail_with_connection_lost(
    mosquitto_factory: Any,
) -> None:
    broker = mosquitto_factory()

    async def scenario() -> BaseException | None:
        client = Client(broker.host, broker.tcp_port, max_inflight=1, keep_alive=5)
        await client.connect()
        # The window of 1 keeps the second message queued in the session.
        first = client.publish_nowait("a", b"1", qos=1)
        second = client.publish_nowait("a", b"2", qos=1)
        await first
        await asyncio.get_running_loop().run_in_executor(None, lambda: broker.stop(kill=True))
        try:
            await asyncio.wait_for(second, 10)
        except ConnectionLost as exc:
            return exc
        return None

    error = run(scenario())
    # The second publish either completed before the kill or failed with ConnectionLost.
    assert error is None or isinstance(error, ConnectionLost)


def test_requests_wait_for_the_reconnection(mosquitto_factory: Any) -> None:
    """A subscribe issued while the client reconnects is sent on the new connection."""
    broker = mosquitto_factory()
    topic = unique_topic("wait")

    async def scenario() -> list[int]:
        client = WatchedClient(broker.host, broker.tcp_port, reconnect=FAST, keep_alive=5)
        await client.connect()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: broker.stop(kill=True))
        await asyncio.wait_for(client.connection_ended_event.wait(), 10)
        assert client.status == "reconnecting"
        restart = loop.run_in_executor(None, broker.start)
        codes = await client.subscribe(topic, qos=1)
        await restart
        await client.disconnect()
        return [int(code) for code in codes]

    assert run(scenario()) == [1]


def test_reconnect_gives_up_after_max_attempts(mosquitto_factory: Any) -> None:
    broker = mosquitto_factory()

    async def scenario() -> BaseException:
        policy = ReconnectPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02)
        client = Client(broker.host, broker.tcp_port, reconnect=policy, keep_alive=5)
        await client.connect()
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: broker.stop(kill=True)
        )
        with pytest.raises(ConnectionLost) as info:
            async for _ in client.messages():
                pass
        assert client.status == "closed"
        return info.value

    assert isinstance(run(scenario()), ConnectionLost)


def test_attempts_that_fail_before_connack_count_as_failed_rounds(
    mosquitto_factory: Any,
) -> None:
    """Reconnection attempts that reach a socket but end before CONNACK (a relay whose broker
    is gone) are failed rounds of the one reconnect loop: exactly ``max_attempts`` of them."""
    broker = mosquitto_factory()

    async def scenario() -> int:
        relay = TcpRelay(broker.host, broker.tcp_port)
        await relay.start()
        policy = ReconnectPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
        client = Client("127.0.0.1", relay.port, reconnect=policy, keep_alive=5)
        try:
            await client.connect()
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: broker.stop(kill=True)
            )
            with pytest.raises(ConnectionLost):
                async for _ in client.messages():
                    pass
            return relay.connections
        finally:
            await relay.close()

    # The first connection, then one per round.
    assert run(scenario()) == 1 + 3
