"""Runners for this project's asyncio client (``adapters.asyncio.Client``)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from adapters.asyncio import Client


async def publish(
    host: str,
    port: int,
    topic: str,
    payload: bytes,
    *,
    count: int,
    qos: int,
    window: int,
) -> float:
    """Pipelined publishes: at most ``window`` unfinished at once (the client's own in-flight
    window is the same size). QoS 0 ends with a QoS 1 fence, as for the other clients."""
    async with Client(
        host, port, protocol_version=4, client_id=f"emqtt-pub{qos}", max_inflight=window
    ) as client:
        return await pipelined(client, topic, payload, count=count, qos=qos, window=window)


class AsyncPublisher(Protocol):
    """What `pipelined` needs of a client: the asyncio and the anyio clients both fit."""

    def publish_nowait(self, topic: str, payload: bytes, *, qos: int) -> Awaitable[Any]: ...

    async def publish(self, topic: str, payload: bytes, *, qos: int) -> Any: ...


async def pipelined(
    client: AsyncPublisher, topic: str, payload: bytes, *, count: int, qos: int, window: int
) -> float:
    """The timed part of `publish` on a connected async client: ``count`` publishes with at
    most ``window`` unfinished, then (QoS 0) a QoS 1 fence; returns the seconds it took."""
    pending: deque[Awaitable[Any]] = deque()
    start = time.perf_counter()
    for _ in range(count):
        pending.append(client.publish_nowait(topic, payload, qos=qos))
        if len(pending) >= window:
            await pending.popleft()
    while pending:
        await pending.popleft()
    if qos == 0:
        await client.publish("bench/fence", payload, qos=1)
    return time.perf_counter() - start


async def receive(
    host: str,
    port: int,
    topic: str,
    *,
    count: int,
    idle_timeout: float,
    ready: Callable[[], None],
) -> tuple[int, float]:
    """Subscribe, call ``ready()``, then count messages from ``messages()``."""
    async with Client(host, port, protocol_version=4, client_id="emqtt-sub") as client:
        await client.subscribe(topic, qos=0)
        ready()
        loop = asyncio.get_running_loop()
        received = 0
        first = last = 0.0
        try:
            async with asyncio.timeout(idle_timeout) as idle:
                async for _message in client.messages():
                    received += 1
                    if received == 1:
                        first = time.perf_counter()
                    elif received & 1023 == 0:
                        # Re-arming the timeout costs a timer handle: do it now and then.
                        idle.reschedule(loop.time() + idle_timeout)
                    if received >= count:
                        break
        except TimeoutError:
            pass
        last = time.perf_counter()
        return received, last - first


async def connect_cycles(host: str, port: int, count: int) -> float:
    """Sequential connect + CONNACK + disconnect."""
    start = time.perf_counter()
    for _ in range(count):
        async with Client(host, port, protocol_version=4, client_id="emqtt-conn"):
            pass
    return time.perf_counter() - start
