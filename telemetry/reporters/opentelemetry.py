"""An OpenTelemetry reporter on the OpenTelemetry metrics API (``opentelemetry-api``).

========================  =========================================================
metric definition         OpenTelemetry instrument
========================  =========================================================
``counter``               Counter, ``add(1)``
``sum``                   Counter, ``add(value)`` (a negative value is skipped); an
                          UpDownCounter with ``reporter_options={"monotonic": False}``
``last_value``            Gauge (synchronous), ``set(value)``
``summary``               Histogram, ``record(value)`` (OpenTelemetry has no summary)
``distribution``          Histogram, ``record(value)``, with ``reporter_options["buckets"]``
                          as the explicit bucket boundaries advice
========================  =========================================================

Instrument names are the metric's dotted name; tags become attributes (values that are not
``str``, ``bool``, ``int`` or ``float`` are converted to ``str``); the metric's unit becomes the
instrument's UCUM unit (``byte`` -> ``By``, ``millisecond`` -> ``ms``...). The reporter takes the
``MeterProvider`` to use, so an application keeps control of readers and exporters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import MeterProvider

from telemetry.metrics import Metric
from telemetry.reporters import Reporter

__all__ = ["OpenTelemetryReporter", "otel_unit"]

_UCUM = {
    "native": "ns",
    "nanosecond": "ns",
    "microsecond": "us",
    "millisecond": "ms",
    "second": "s",
    "byte": "By",
    "kilobyte": "kBy",
    "megabyte": "MBy",
    "unit": "",
}


def otel_unit(unit: str) -> str:
    """The UCUM unit OpenTelemetry expects for a telemetry unit name (others pass through)."""
    return _UCUM.get(unit, unit)


def _attribute(value: Any) -> str | bool | int | float:
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


class OpenTelemetryReporter(Reporter):
    """Feeds metric definitions into instruments of a meter from *meter_provider*."""

    def __init__(
        self,
        metrics: Iterable[Metric],
        *,
        meter_provider: MeterProvider,
        meter_name: str = "telemetry",
    ) -> None:
        super().__init__(metrics)
        self.meter = meter_provider.get_meter(meter_name)
        self._instruments: dict[Metric, tuple[Any, str]] = {}
        for metric in self.metrics:
            self._instruments[metric] = self._create(metric)

    def _create(self, metric: Metric) -> tuple[Any, str]:
        meter = self.meter
        name = metric.full_name
        unit = otel_unit(metric.unit)
        description = metric.description
        if metric.kind == "counter":
            return meter.create_counter(name, unit, description), "count"
        if metric.kind == "sum":
            if metric.reporter_options.get("monotonic", True):
                return meter.create_counter(name, unit, description), "add"
            return meter.create_up_down_counter(name, unit, description), "add_any"
        if metric.kind == "last_value":
            return meter.create_gauge(name, unit, description), "set"
        if metric.kind in ("summary", "distribution"):
            buckets = metric.reporter_options.get("buckets")
            histogram = meter.create_histogram(
                name,
                unit,
                description,
                explicit_bucket_boundaries_advisory=None if buckets is None else list(buckets),
            )
            return histogram, "record"
        raise TypeError(f"unsupported metric type {metric.kind!r}")

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        instrument, operation = self._instruments[metric]
        attributes = {str(k): _attribute(v) for k, v in tags.items()} if tags else None
        if operation == "count":
            instrument.add(1, attributes)
        elif operation == "add":
            if value < 0:
                raise ValueError("a monotonic sum cannot decrease")
            instrument.add(value, attributes)
        elif operation == "add_any":
            instrument.add(value, attributes)
        elif operation == "set":
            instrument.set(value, attributes)
        else:
            instrument.record(value, attributes)
