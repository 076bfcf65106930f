"""Runners for this project's asyncio client (``adapters.asyncio.Client``)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import telemetry
from adapters.asyncio import TELEMETRY_EVENTS, Client, PublishResult

#: Telemetry variants: off; on with nobody listening; on with a no-op handler attached.
VARIANTS = {"emqtt": (False, False), "emqtt-tm": (True, False), "emqtt-tmh": (True, True)}


def _noop(event_name: object, measurements: object, metadata: object, config: object) -> None:
    pass


def options(variant: str, client_id: str, **extra: object) -> dict[str, object]:
    """Client options of a telemetry variant (MQTT 3.1.1, as for the other clients)."""
    enabled, listen = VARIANTS[variant]
    if listen:
        telemetry.attach_many(f"bench-{client_id}", TELEMETRY_EVENTS, _noop)
    return {"protocol_version": 4, "client_id": client_id, "telemetry": enabled, **extra}


async def publish(
    host: str,
    port: int,
    topic: str,
    payload: bytes,
    *,
    count: int,
    qos: int,
    window: int,
    variant: str = "emqtt",
) -> float:
    """Pipelined publishes: at most ``window`` unfinished at once (the client's own in-flight
    window is the same size). QoS 0 ends with a QoS 1 fence, as for the other clients."""
    async with Client(
        host,
        port,
        **options(variant, f"emqtt-pub{qos}", max_inflight=window),  # type: ignore[arg-type]
    ) as client:
        pending: deque[asyncio.Future[PublishResult]] = deque()
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
    variant: str = "emqtt",
) -> tuple[int, float]:
    """Subscribe, call ``ready()``, then count messages from ``messages()``."""
    async with Client(host, port, **options(variant, "emqtt-sub")) as client:  # type: ignore[arg-type]
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


async def connect_cycles(host: str, port: int, count: int, variant: str = "emqtt") -> float:
    """Sequential connect + CONNACK + disconnect."""
    settings = options(variant, "emqtt-conn")
    start = time.perf_counter()
    for _ in range(count):
        async with Client(host, port, **settings):  # type: ignore[arg-type]
            pass
    return time.perf_counter() - start
