"""Runners for this project's threading and anyio clients, measured like the asyncio one.

Clients: ``emqtt-threading`` (``adapters.threading.Client``), ``emqtt-anyio`` and
``emqtt-trio`` (``adapters.anyio.Client`` on the asyncio and trio backends). Each scenario does
what ``_emqtt`` does for the asyncio client: the same window, the same fence, the same options
(MQTT 3.1.1, telemetry off).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import _emqtt
import anyio

from adapters import anyio as anyio_adapter
from adapters import threading as threading_adapter

#: Client name -> anyio backend (None: the threading client).
CLIENTS: dict[str, str | None] = {
    "emqtt-threading": None,
    "emqtt-anyio": "asyncio",
    "emqtt-trio": "trio",
}


def _options(client_id: str, **extra: Any) -> dict[str, Any]:
    return {"protocol_version": 4, "client_id": client_id, **extra}


def publish(
    client: str,
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
    backend = CLIENTS[client]
    options = _options(f"{client}-pub{qos}", max_inflight=window)
    if backend is None:
        with threading_adapter.Client(host, port, **options) as mqtt:
            pending: deque[Any] = deque()
            start = time.perf_counter()
            for _ in range(count):
                pending.append(mqtt.publish_nowait(topic, payload, qos=qos))
                if len(pending) >= window:
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
            if qos == 0:
                mqtt.publish("bench/fence", payload, qos=1)
            return time.perf_counter() - start

    async def run() -> float:
        async with anyio_adapter.Client(host, port, **options) as mqtt:
            return await _emqtt.pipelined(
                mqtt, topic, payload, count=count, qos=qos, window=window
            )

    seconds: float = anyio.run(run, backend=backend)
    return seconds


def receive(
    client: str,
    host: str,
    port: int,
    topic: str,
    *,
    count: int,
    idle_timeout: float,
    ready: Callable[[], None],
) -> tuple[int, float]:
    """Subscribe, call ``ready()``, then count messages from ``messages()``."""
    backend = CLIENTS[client]
    options = _options(f"{client}-sub")
    if backend is None:
        with threading_adapter.Client(host, port, **options) as mqtt:
            mqtt.subscribe(topic, qos=0)
            ready()
            received = 0
            first = 0.0
            for _message in mqtt.messages(timeout=idle_timeout):
                received += 1
                if received == 1:
                    first = time.perf_counter()
                if received >= count:
                    break
            return received, time.perf_counter() - first

    async def run() -> tuple[int, float]:
        async with anyio_adapter.Client(host, port, **options) as mqtt:
            await mqtt.subscribe(topic, qos=0)
            ready()
            received = 0
            first = 0.0
            with anyio.CancelScope(deadline=anyio.current_time() + idle_timeout) as idle:
                async for _message in mqtt.messages():
                    received += 1
                    if received == 1:
                        first = time.perf_counter()
                    elif received & 1023 == 0:
                        # Moving the deadline costs little, but not nothing: now and then.
                        idle.deadline = anyio.current_time() + idle_timeout
                    if received >= count:
                        break
            return received, time.perf_counter() - first

    result: tuple[int, float] = anyio.run(run, backend=backend)
    return result


def connect_cycles(client: str, host: str, port: int, count: int) -> float:
    """Sequential connect + CONNACK + disconnect."""
    backend = CLIENTS[client]
    options = _options(f"{client}-conn")
    if backend is None:
        start = time.perf_counter()
        for _ in range(count):
            with threading_adapter.Client(host, port, **options):
                pass
        return time.perf_counter() - start

    async def run() -> float:
        start = time.perf_counter()
        for _ in range(count):
            async with anyio_adapter.Client(host, port, **options):
                pass
        return time.perf_counter() - start

    seconds: float = anyio.run(run, backend=backend)
    return seconds
