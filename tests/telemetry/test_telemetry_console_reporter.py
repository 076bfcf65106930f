"""The reporter contract on the console and logging reporters; attach_logger."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

import telemetry
from telemetry import metrics as tm
from telemetry.reporters import Reporter
from telemetry.reporters.console import ConsoleReporter, LoggingReporter, attach_logger

RECV = ("emqtt", "socket", "recv_data")


def test_console_reporter_writes_one_line_per_metric_value() -> None:
    out = io.StringIO()
    metrics = [
        tm.counter("emqtt.socket.received.packets", event_name=RECV, measurement="data_size"),
        tm.sum("emqtt.socket.received.bytes", event_name=RECV, measurement="data_size",
               tags=["socket_type"], unit="byte"),
    ]
    with ConsoleReporter(metrics, file=out):
        telemetry.execute(RECV, {"data_size": 5}, {"socket_type": "tcp", "data": b"secret"})
    assert out.getvalue().splitlines() == [
        "emqtt.socket.received.packets (counter) = 1 [event emqtt.socket.recv_data]",
        "emqtt.socket.received.bytes (sum) = 5 byte socket_type='tcp' "
        "[event emqtt.socket.recv_data]",
    ]
    assert "secret" not in out.getvalue()


def test_logging_reporter_logs_at_the_given_level(caplog: pytest.LogCaptureFixture) -> None:
    metric = tm.last_value("queue.length", event_name=("q",), measurement="len")
    with caplog.at_level(logging.INFO, logger="telemetry.metrics"), LoggingReporter([metric]):
        telemetry.execute(("q",), {"len": 3})
    assert [r.getMessage() for r in caplog.records if r.name == "telemetry.metrics"] == [
        "queue.length (last_value) = 3 [event q]",
    ]


def test_close_detaches_every_handler_and_is_idempotent() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter([tm.counter("a.b.c"), tm.counter("x.y.z")], file=out).start()
    assert reporter.start() is reporter
    assert {h.event_name for h in telemetry.list_handlers()} == {("a", "b"), ("x", "y")}
    reporter.close()
    reporter.close()
    assert telemetry.list_handlers() == []
    telemetry.execute(("a", "b"), {"c": 1})
    assert out.getvalue() == ""
    with pytest.raises(RuntimeError):
        reporter.start()


def test_one_handler_per_event_name_for_all_its_metrics() -> None:
    metrics = [tm.counter("a.b.c"), tm.sum("a.b.c"), tm.counter("a.x.y")]
    with ConsoleReporter(metrics, file=io.StringIO()):
        assert len(telemetry.list_handlers(("a", "b"))) == 1
        assert len(telemetry.list_handlers(("a", "x"))) == 1


class Recording(Reporter):
    def __init__(self, metrics: Any) -> None:
        super().__init__(metrics)
        self.values: list[tuple[str, Any, dict[str, Any]]] = []

    def record(self, metric: tm.Metric, value: Any, tags: dict[str, Any]) -> None:
        self.values.append((metric.full_name, value, tags))


def test_bad_measurements_are_skipped_counted_and_never_detach(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def exploding_tags(metadata: Any) -> dict[str, Any]:
        raise KeyError("no such tag")

    metrics = [
        tm.sum("ev.size", event_name=("ev",), measurement="size"),
        tm.counter("ev.count", event_name=("ev",), measurement="size"),
        tm.last_value("ev.tagged", event_name=("ev",), measurement="size", tags=["who"]),
        tm.summary("ev.exploding", event_name=("ev",), measurement="size", tags=exploding_tags),
    ]
    with caplog.at_level(logging.DEBUG, logger="telemetry.reporters"), Recording(metrics) as r:
        telemetry.execute(("ev",), {"size": "big"}, {"who": "me"})  # not a number
        telemetry.execute(("ev",), {}, {"who": "me"})  # missing measurement
        telemetry.execute(("ev",), {"size": float("nan")}, {"who": "me"})
        telemetry.execute(("ev",), {"size": 2}, {})  # missing tag
        telemetry.execute(("ev",), {"size": 3}, {"who": "me"})
        assert len(telemetry.list_handlers(("ev",))) == 1
    # The counter only needs the measurement to be present.
    assert r.values[1][0] == "ev.count"  # nan: present, so counted
    assert r.values[:1] + r.values[2:] == [
        ("ev.count", "big", {}),
        ("ev.size", 2, {}),
        ("ev.count", 2, {}),
        ("ev.size", 3, {}),
        ("ev.count", 3, {}),
        ("ev.tagged", 3, {"who": "me"}),
    ]
    skips = r.skips()
    assert skips[("ev.size", "measurement is not a finite number")] == 2
    assert skips[("ev.size", "missing measurement")] == 1
    assert skips[("ev.count", "missing measurement")] == 1
    assert skips[("ev.tagged", "missing tag")] == 1
    assert skips[("ev.exploding", "KeyError")] == 2  # events 4 and 5 reach the tags
    assert r.skipped == sum(skips.values())
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == len(skips)  # a warning the first time, debug after


def test_keep_filters_per_metric() -> None:
    metrics = [
        tm.counter("ev.ok", event_name=("ev",), measurement="n", keep=lambda md: md["ok"]),
        tm.counter("ev.all", event_name=("ev",), measurement="n"),
    ]
    with Recording(metrics) as r:
        telemetry.execute(("ev",), {"n": 1}, {"ok": False})
        telemetry.execute(("ev",), {"n": 1}, {"ok": True})
    assert [name for name, _, _ in r.values] == ["ev.all", "ev.ok", "ev.all"]


def test_reporter_rejects_non_metrics() -> None:
    with pytest.raises(TypeError):
        Recording(["not a metric"])


def test_attach_logger_redacts_data(caplog: pytest.LogCaptureFixture) -> None:
    failed = ("emqtt", "socket", "send_data_failed")
    attach_logger("log", [RECV, failed], levels={failed: logging.WARNING})
    with caplog.at_level(logging.DEBUG, logger="telemetry"):
        telemetry.execute(RECV, {"data_size": 6}, {"client_id": "c1", "data": b"hunter"})
        telemetry.execute(failed, {"data_size": 6}, {"client_id": "c1", "reason": "closed"})
    first, second = [r for r in caplog.records if r.name == "telemetry"]
    assert first.levelno == logging.DEBUG
    assert "hunter" not in first.getMessage()
    assert "'data': '<redacted 6>'" in first.getMessage()
    assert first.getMessage().startswith("emqtt.socket.recv_data measurements={'data_size': 6}")
    assert second.levelno == logging.WARNING
    assert "'reason': 'closed'" in second.getMessage()
    telemetry.detach("log")
