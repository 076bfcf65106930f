"""OpenTelemetryReporter, read back through the SDK's InMemoryMetricReader."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import telemetry
from telemetry import metrics as tm
from telemetry.reporters.opentelemetry import OpenTelemetryReporter, otel_unit

RECV = ("emqtt", "socket", "recv_data")


def collect(reader: InMemoryMetricReader) -> dict[str, Any]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, Any] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                found[metric.name] = metric
    return found


def points(metric: Any) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted((p.attributes or {}).items())): p for p in metric.data.data_points}


def test_every_metric_type() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = [
        tm.counter("emqtt.received.packets", event_name=RECV, measurement="data_size",
                   tags=["socket_type"]),
        tm.sum("emqtt.received.bytes", event_name=RECV, measurement="data_size", unit="byte",
               description="Bytes received"),
        tm.sum("emqtt.inflight", event_name=("q",), measurement="d",
               reporter_options={"monotonic": False}),
        tm.last_value("emqtt.queue.length", event_name=("q",), measurement="len"),
        tm.summary("emqtt.size.summary", event_name=RECV, measurement="data_size"),
        tm.distribution("emqtt.latency", event_name=("q",), measurement="t",
                        unit=("native", "millisecond"), reporter_options={"buckets": [1, 10]}),
    ]
    with OpenTelemetryReporter(metrics, meter_provider=provider):
        for size in (10, 20):
            telemetry.execute(RECV, {"data_size": size}, {"socket_type": "tcp"})
        telemetry.execute(RECV, {"data_size": 5}, {"socket_type": b"quic"})
        telemetry.execute(("q",), {"d": 5, "len": 3, "t": 5_000_000})
        telemetry.execute(("q",), {"d": -2, "len": 1, "t": 50_000_000})
    found = collect(reader)
    packets = points(found["emqtt.received.packets"])
    assert packets[(("socket_type", "tcp"),)].value == 2
    assert packets[(("socket_type", "quic"),)].value == 1
    received = found["emqtt.received.bytes"]
    assert received.unit == "By"
    assert received.description == "Bytes received"
    assert received.data.is_monotonic
    assert received.data.data_points[0].value == 35
    inflight = found["emqtt.inflight"]
    assert not inflight.data.is_monotonic
    assert inflight.data.data_points[0].value == 3
    assert found["emqtt.queue.length"].data.data_points[0].value == 1
    summary = found["emqtt.size.summary"].data.data_points[0]
    assert (summary.count, summary.sum) == (3, 35)
    latency = found["emqtt.latency"]
    assert latency.unit == "ms"
    histogram = latency.data.data_points[0]
    assert list(histogram.explicit_bounds) == [1, 10]
    assert list(histogram.bucket_counts) == [0, 1, 1]


def test_bad_values_are_skipped() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metric = tm.sum("s.total", event_name=("s",), measurement="n")
    with OpenTelemetryReporter([metric], meter_provider=provider) as reporter:
        telemetry.execute(("s",), {"n": -1})
        telemetry.execute(("s",), {"n": "x"})
        telemetry.execute(("s",), {"n": 4})
        assert len(telemetry.list_handlers(("s",))) == 1
    assert collect(reader)["s.total"].data.data_points[0].value == 4
    assert reporter.skips() == {
        ("s.total", "ValueError"): 1,
        ("s.total", "measurement is not a finite number"): 1,
    }


def test_units() -> None:
    assert otel_unit("byte") == "By"
    assert otel_unit("second") == "s"
    assert otel_unit("unit") == ""
    assert otel_unit("request") == "request"
