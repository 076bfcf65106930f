"""Cost of the client's telemetry emission per packet and per chunk, without a network.

Run (the normal test run ignores tests/benchmarks)::

    .venv/bin/python -m pytest tests/benchmarks/test_client_telemetry_bench.py --benchmark-only \
        --benchmark-columns=median,iqr,ops --benchmark-sort=name

``sent`` benchmarks hand the emitter one batch of `BATCH` QoS 0 PUBLISH packets (what one flush
of a busy client writes), so the median divided by `BATCH` is the cost per packet. ``received``
benchmarks emit one 64 KiB chunk. Modes: no handler attached, and one handler that counts events
and adds up ``data_size`` (the counter of benchmarks/telemetry_overhead.py). End-to-end numbers,
against a broker, are in docs/performance.md ("Telemetry overhead in the client").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import telemetry
from adapters._telemetry import EVENT_NAMES, TelemetryEmitter
from emqtt_core.enums import QoS
from emqtt_core.packets import Packet, Publish

BATCH = 1000
PUBLISH = Publish(topic="bench/telemetry", payload=bytes(range(64)), qos=QoS.AT_MOST_ONCE)
PACKETS: list[tuple[Packet, int]] = [(PUBLISH, 83)] * BATCH
CHUNK = bytes(65536)


def count_event(
    event: tuple[str, ...], measurements: Mapping[str, Any], metadata: Any, totals: list[int]
) -> None:
    """The counter handler: events and bytes."""
    totals[0] += 1
    totals[1] += measurements["data_size"]


@pytest.fixture(params=["no_handler", "counter"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    totals = [0, 0]
    if request.param == "counter":
        telemetry.attach_many("bench-client-counter", EVENT_NAMES, count_event, totals)
    try:
        yield str(request.param)
    finally:
        if request.param == "counter":
            telemetry.detach("bench-client-counter")
            assert totals[0] > 0  # the handler did run


@pytest.fixture
def emitter() -> TelemetryEmitter:
    return TelemetryEmitter("bench-client", 4)


def test_sent_batch(benchmark: Any, emitter: TelemetryEmitter, mode: str) -> None:
    benchmark.group = f"sent ({BATCH} packets)"
    benchmark(emitter.sent, PACKETS)


def test_received_chunk(benchmark: Any, emitter: TelemetryEmitter, mode: str) -> None:
    benchmark.group = "received (one chunk)"
    benchmark(emitter.received, CHUNK)
