"""attach/detach from several threads while others execute: unique ids, no crash, no loss."""

from __future__ import annotations

import threading
from typing import Any

import telemetry
from telemetry import AlreadyExistsError

EVENT = ("threads", "event")


def test_attach_and_detach_during_execute() -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    stable_calls = [0]

    def stable(*_: Any) -> None:
        stable_calls[0] += 1

    telemetry.attach("stable", EVENT, stable)

    def executor() -> None:
        try:
            while not stop.is_set():
                telemetry.execute(EVENT, {"n": 1})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def churner(worker: int) -> None:
        try:
            for i in range(300):
                handler_id = ("churn", worker, i % 5)
                telemetry.attach(handler_id, EVENT, lambda *_: None)
                telemetry.detach(handler_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    executors = [threading.Thread(target=executor) for _ in range(2)]
    churners = [threading.Thread(target=churner, args=(w,)) for w in range(4)]
    for thread in executors + churners:
        thread.start()
    for thread in churners:
        thread.join(timeout=60)
    stop.set()
    for thread in executors:
        thread.join(timeout=60)
    assert errors == []
    assert [h.id for h in telemetry.list_handlers(EVENT)] == ["stable"]
    assert stable_calls[0] > 0


def test_concurrent_attach_of_one_id_succeeds_exactly_once() -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait(timeout=10)
        try:
            telemetry.attach("contended", EVENT, lambda *_: None)
            result = "ok"
        except AlreadyExistsError:
            result = "exists"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["exists"] * 7 + ["ok"]
    assert len(telemetry.list_handlers(EVENT)) == 1
