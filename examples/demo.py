"""The demo: a private mosquitto (and a QUIC relay in front of it), then publish and subscribe at
QoS 0, 1 and 2 over every transport with every adapter, counting bytes and packets with telemetry.

Run it with ``bash scripts/demo.sh`` (which sets up the machine first); it prints one line per
adapter and transport, a summary, and exits 0 when every round trip succeeded.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio

import telemetry
from adapters.anyio import Client as AnyioClient
from adapters.asyncio import Client as AsyncioClient
from adapters.threading import Client as ThreadingClient

# The broker and relay launchers are the test suite's own (tests/support).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import Mosquitto, QuicRelay, TLSMaterial

TRANSPORTS = ("tcp", "ssl", "ws", "wss", "quic")
ADAPTERS = ("asyncio", "threading", "anyio+asyncio", "anyio+trio")
EVENTS = [
    ("emqtt", "socket", "recv_data"),
    ("emqtt", "websocket", "recv_data"),
    ("emqtt", "socket", "send_data"),
    ("emqtt", "socket", "send_data_failed"),
]


class TrafficCounters:
    """Bytes and packets per client id, fed by the four emqtt telemetry events."""

    def __init__(self) -> None:
        self.bytes_in: Counter[str] = Counter()
        self.bytes_out: Counter[str] = Counter()
        self.packets_out: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()

    def handle(
        self,
        event: tuple[str, ...],
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        _: Any,
    ) -> None:
        client = metadata["client_id"]
        if event[-1] == "recv_data":
            self.bytes_in[client] += measurements["data_size"]
        elif event[-1] == "send_data":
            self.bytes_out[client] += measurements["data_size"]
            self.packets_out[client] += 1
        else:
            self.failures[client] += 1


def endpoint(transport: str, broker: Mosquitto, relay: QuicRelay) -> dict[str, Any]:
    """Client keyword arguments that reach the private broker over ``transport``."""
    ports = {"tcp": broker.tcp_port, "ssl": broker.ssl_port, "ws": broker.ws_port,
             "wss": broker.wss_port, "quic": relay.port}
    options: dict[str, Any] = {"host": "localhost", "port": ports[transport]}
    options["transport"] = transport
    if transport in ("ssl", "wss", "quic"):
        options["ssl_context"] = broker.client_ssl_context()
    return options


MESSAGES = [(f"demo/{qos}", f"hello at QoS {qos}".encode(), qos) for qos in (0, 1, 2)]


async def round_trip_async(client_class: Any, options: dict[str, Any], topic_root: str) -> int:
    """Subscribe, publish one message per QoS to ourselves, receive them all; returns the count."""
    async with client_class(**options) as client:
        await client.subscribe(f"{topic_root}/#", qos=2)
        for topic, payload, qos in MESSAGES:
            await client.publish(f"{topic_root}/{topic}", payload, qos=qos)
        received = 0
        async for message in client.messages():
            assert message.payload in {p for _, p, _ in MESSAGES}
            received += 1
            if received == len(MESSAGES):
                break
        return received


def round_trip_threading(options: dict[str, Any], topic_root: str) -> int:
    with ThreadingClient(**options) as client:
        client.subscribe(f"{topic_root}/#", qos=2)
        for topic, payload, qos in MESSAGES:
            client.publish(f"{topic_root}/{topic}", payload, qos=qos)
        received = 0
        for _ in client.messages(timeout=10):
            received += 1
            if received == len(MESSAGES):
                break
        return received


def runner(adapter: str) -> Callable[[dict[str, Any], str], int]:
    if adapter == "asyncio":
        return lambda options, root: asyncio.run(round_trip_async(AsyncioClient, options, root))
    if adapter == "threading":
        return round_trip_threading
    backend = adapter.split("+")[1]
    return lambda options, root: anyio.run(
        round_trip_async, AnyioClient, options, root, backend=backend
    )


def main() -> int:
    counters = TrafficCounters()
    telemetry.attach_many("demo-traffic", EVENTS, counters.handle, None)
    failures = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch).chmod(0o711)  # mosquitto drops root and must reach its certificates
        tls = TLSMaterial.create(Path(scratch) / "tls")
        with Mosquitto(Path(scratch) / "broker", tls) as broker, QuicRelay(
            broker.host, broker.tcp_port, tls
        ) as relay:
            print(f"mosquitto on 127.0.0.1: tcp {broker.tcp_port}, ssl {broker.ssl_port}, "
                  f"ws {broker.ws_port}, wss {broker.wss_port}; QUIC relay on udp {relay.port}\n")
            print(f"{'adapter':<15}{'transport':<11}{'messages':>9}{'bytes out':>11}"
                  f"{'bytes in':>10}{'packets out':>13}  time")
            for adapter in ADAPTERS:
                run = runner(adapter)
                for transport in TRANSPORTS:
                    client_id = f"demo-{adapter.replace('+', '-')}-{transport}"
                    options = endpoint(transport, broker, relay)
                    options.update(client_id=client_id, telemetry=True)
                    t0 = time.perf_counter()
                    try:
                        received = run(options, client_id)
                    except Exception as exc:  # report every failure, keep going
                        failures += 1
                        print(f"{adapter:<15}{transport:<11} FAILED: {exc!r}")
                        continue
                    if received != len(MESSAGES):
                        failures += 1
                    print(f"{adapter:<15}{transport:<11}{received:>9}"
                          f"{counters.bytes_out[client_id]:>11}{counters.bytes_in[client_id]:>10}"
                          f"{counters.packets_out[client_id]:>13}  "
                          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    telemetry.detach("demo-traffic")
    total = len(ADAPTERS) * len(TRANSPORTS)
    print(f"\n{total - failures}/{total} adapter x transport round trips succeeded in "
          f"{time.perf_counter() - started:.1f} s; "
          f"{sum(counters.bytes_out.values())} bytes sent, "
          f"{sum(counters.bytes_in.values())} bytes received, "
          f"{sum(counters.failures.values())} failed sends.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
