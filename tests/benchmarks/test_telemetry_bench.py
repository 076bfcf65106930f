"""Cost of emitting a telemetry event, beside blinker 1.9's ``Signal.send`` in the same run.

Run (the normal test run ignores tests/benchmarks)::

    .venv/bin/python -m pytest tests/benchmarks/test_telemetry_bench.py --benchmark-only \
        --benchmark-columns=median,iqr,ops --benchmark-sort=name

Each benchmark makes ``LOOPS`` emissions, so its median divided by ``LOOPS`` is the cost of one
emission (including the loop's own few nanoseconds). The ``baseline`` benchmark is a plain
3-argument call of an empty function, the unit the ratios in docs/performance.md are given in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from blinker import Signal

import telemetry

LOOPS = 1000
EVENT = ("emqtt", "socket", "recv_data")
MEASUREMENTS = {"data_size": 64}
METADATA = {"client_id": "bench", "socket_type": "tcp"}


def noop_handler(event: Any, measurements: Any, metadata: Any, config: Any) -> None:
    pass


def plain(a: Any, b: Any, c: Any) -> None:
    pass


@pytest.fixture
def handlers(request: pytest.FixtureRequest) -> Iterator[int]:
    count: int = request.param
    ids = [("bench", i) for i in range(count)]
    for handler_id in ids:
        telemetry.attach(handler_id, EVENT, noop_handler)
    try:
        yield count
    finally:
        for handler_id in ids:
            telemetry.detach(handler_id)


def test_baseline_plain_call(benchmark: Any) -> None:
    m, md = MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            plain(EVENT, m, md)

    benchmark.group = "baseline"
    benchmark(run)


@pytest.mark.parametrize("handlers", [0, 1, 5], indirect=True)
def test_telemetry_execute(benchmark: Any, handlers: int) -> None:
    execute, m, md = telemetry.execute, MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            execute(EVENT, m, md)

    benchmark.group = f"{handlers} handlers"
    benchmark(run)


@pytest.mark.parametrize("handlers", [0, 1, 5], indirect=True)
def test_telemetry_handle_execute(benchmark: Any, handlers: int) -> None:
    handle, m, md = telemetry.event(EVENT), MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            handle.execute(m, md)

    benchmark.group = f"{handlers} handlers"
    benchmark(run)


@pytest.mark.parametrize("handlers", [0], indirect=True)
def test_telemetry_handle_guard(benchmark: Any, handlers: int) -> None:
    handle, m, md = telemetry.event(EVENT), MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            if handle.active:
                handle.execute(m, md)

    benchmark.group = f"{handlers} handlers"
    benchmark(run)


@pytest.mark.parametrize("handlers", [1], indirect=True)
def test_telemetry_execute_with_a_wildcard_elsewhere(benchmark: Any, handlers: int) -> None:
    # Exact-name dispatch must not get slower because a '_' pattern is attached somewhere.
    telemetry.attach("bench-wild", ("other", "_", "_"), noop_handler)
    execute, m, md = telemetry.execute, MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            execute(EVENT, m, md)

    benchmark.group = f"{handlers} handlers"
    try:
        benchmark(run)
    finally:
        telemetry.detach("bench-wild")


@pytest.mark.parametrize("receivers", [0, 1, 5])
def test_blinker_send(benchmark: Any, receivers: int) -> None:
    signal = Signal()
    functions = []
    for _ in range(receivers):
        def receiver(sender: Any, **kwargs: Any) -> None:
            pass

        functions.append(receiver)  # blinker holds receivers weakly: keep them alive
        signal.connect(receiver)
    m, md = MEASUREMENTS, METADATA

    def run() -> None:
        for _ in range(LOOPS):
            signal.send(EVENT, measurements=m, metadata=md)

    benchmark.group = f"{receivers} handlers"
    benchmark(run)
    assert len(signal.receivers) == receivers
