"""Runners for the peer clients the throughput benchmark compares with: paho-mqtt and gmqtt.

Each runner uses the library the way its documentation suggests (paho with ``loop_start``,
gmqtt's synchronous ``publish``), MQTT 3.1.1, default in-flight behaviour. Every function
returns (messages handled, seconds).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import gmqtt
import paho.mqtt.client as paho
from gmqtt.mqtt.constants import MQTTv311

#: Longest wait for a scenario to finish before it is reported as stalled.
STALL_TIMEOUT = 60.0


class _Counting:
    """Counts messages in ``on_message`` and times the first and the last; sets ``done`` once
    ``target`` arrived. The subscribers below set these attributes when they start."""

    received: int
    first: float
    last: float
    target: int
    done: threading.Event | asyncio.Event

    def _on_message(self, *args: Any) -> None:
        # Both subscribe with QoS 0, where gmqtt reads no reason code from the result.
        now = time.perf_counter()
        if not self.received:
            self.first = now
        self.received += 1
        self.last = now
        if self.received >= self.target:
            self.done.set()


# -- paho-mqtt ---------------------------------------------------------------------------------


def _paho_client(client_id: str) -> paho.Client:
    return paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
    )


def _paho_connect(client: paho.Client, host: str, port: int) -> None:
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(STALL_TIMEOUT):
        raise TimeoutError("paho did not connect")


def paho_publish(
    host: str, port: int, topic: str, payload: bytes, *, count: int, qos: int
) -> float:
    """QoS 0: ``count`` messages and a QoS 1 fence; QoS 1/2: until every ack."""
    client = _paho_client(f"paho-pub{qos}")
    _paho_connect(client, host, port)
    done = threading.Event()
    target = 1 if qos == 0 else count
    acked = 0

    def on_publish(*args: Any) -> None:
        nonlocal acked
        acked += 1
        if acked >= target:
            done.set()

    start = time.perf_counter()
    if qos == 0:
        for _ in range(count):
            client.publish(topic, payload, 0)
        client.on_publish = on_publish
        client.publish(topic, payload, 1)
    else:
        client.on_publish = on_publish
        for _ in range(count):
            client.publish(topic, payload, qos)
    if not done.wait(STALL_TIMEOUT):
        raise TimeoutError(f"paho: {acked} of {target} acknowledged")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return elapsed


class PahoSubscriber(_Counting):
    """A paho subscriber counting messages in ``on_message``."""

    done: threading.Event

    def __init__(self, host: str, port: int, topic: str) -> None:
        self.client = _paho_client("paho-sub")
        _paho_connect(self.client, host, port)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.received = 0
        self.first = self.last = 0.0
        self.target = 0
        self.done = threading.Event()
        self.client.on_message = self._on_message
        self.client.subscribe(topic, 0)
        if not subscribed.wait(STALL_TIMEOUT):
            raise TimeoutError("paho did not subscribe")

    def receive(self, count: int, idle_timeout: float) -> tuple[int, float]:
        """Wait for ``count`` messages (or the flow to stop for ``idle_timeout`` s)."""
        self.target = count
        seen = -1
        while not self.done.wait(idle_timeout):
            if self.received == seen:
                break
            seen = self.received
        return self.received, self.last - self.first

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def paho_connect_cycles(host: str, port: int, count: int) -> float:
    """Sequential connect + CONNACK + disconnect, driving paho's loop by hand (no thread)."""
    start = time.perf_counter()
    for _ in range(count):
        client = _paho_client("paho-conn")
        connected = False

        def on_connect(*args: Any) -> None:
            nonlocal connected
            connected = True

        client.on_connect = on_connect
        client.connect(host, port)
        while not connected:
            client.loop(timeout=1.0)
        client.disconnect()
        client.loop(timeout=0.01)
    return time.perf_counter() - start


# -- gmqtt -------------------------------------------------------------------------------------


async def _gmqtt_client(client_id: str, host: str, port: int) -> gmqtt.Client:
    client = gmqtt.Client(client_id)
    await client.connect(host, port, version=MQTTv311)
    return client


async def gmqtt_publish(
    host: str, port: int, topic: str, payload: bytes, *, count: int, qos: int
) -> float:
    """QoS 0: ``count`` messages and a QoS 1 fence; QoS 1/2: until the store is empty."""
    client = await _gmqtt_client(f"gmqtt-pub{qos}", host, port)
    start = time.perf_counter()
    for _ in range(count):
        client.publish(topic, payload, qos=qos)
    if qos == 0:
        client.publish(topic, payload, qos=1)
    await asyncio.wait_for(client._persistent_storage.wait_empty(), STALL_TIMEOUT)
    elapsed = time.perf_counter() - start
    await client.disconnect()
    return elapsed


class GmqttSubscriber(_Counting):
    """A gmqtt subscriber counting messages in ``on_message``."""

    done: asyncio.Event

    async def start(self, host: str, port: int, topic: str) -> None:
        """Connect and subscribe."""
        self.received = 0
        self.first = self.last = 0.0
        self.target = 0
        self.done = asyncio.Event()
        subscribed = asyncio.Event()
        self.client = gmqtt.Client("gmqtt-sub")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        await self.client.connect(host, port, version=MQTTv311)
        self.client.subscribe(topic, qos=0)
        await asyncio.wait_for(subscribed.wait(), STALL_TIMEOUT)

    async def receive(self, count: int, idle_timeout: float) -> tuple[int, float]:
        """Wait for ``count`` messages (or the flow to stop for ``idle_timeout`` s)."""
        self.target = count
        seen = -1
        while True:
            try:
                await asyncio.wait_for(self.done.wait(), idle_timeout)
                break
            except TimeoutError:
                if self.received == seen:
                    break
                seen = self.received
        return self.received, self.last - self.first

    async def close(self) -> None:
        """Disconnect."""
        await self.client.disconnect()


async def gmqtt_connect_cycles(host: str, port: int, count: int) -> float:
    """Sequential connect + CONNACK + disconnect."""
    start = time.perf_counter()
    for _ in range(count):
        client = await _gmqtt_client("gmqtt-conn", host, port)
        await client.disconnect()
    return time.perf_counter() - start


Runner = Callable[..., Any]
