"""A Prometheus reporter on ``prometheus_client``.

========================  =========================================================
metric definition         Prometheus type
========================  =========================================================
``counter``               Counter, +1 per event (exported as ``<name>_total``)
``sum``                   Counter, +value (a negative value is skipped); a Gauge
                          moved by the value with ``reporter_options={"prometheus_type": "gauge"}``
``last_value``            Gauge, set to the value
``summary``               Summary: ``_count`` and ``_sum`` (prometheus_client has no quantiles)
``distribution``          Histogram with ``reporter_options["buckets"]`` (prometheus_client's
                          default buckets, with a warning, when absent)
========================  =========================================================

Names are the metric's segments joined by ``_`` (characters Prometheus does not allow become
``_``); name the metric the way Prometheus wants it, e.g. ``"emqtt.socket.received.bytes"``,
and set ``event_name`` and ``measurement`` explicitly. Tags become labels; a ``tags`` function
fixes the label names from the first event it sees. The reporter owns a fresh
``CollectorRegistry`` unless one is passed in. Series of a client that went away are removed
with :meth:`PrometheusReporter.remove_series`; at most ``max_series`` label sets are kept per
metric (events that would add more are skipped and counted).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
    start_http_server,
)
from prometheus_client.metrics import MetricWrapperBase

from telemetry.metrics import Metric
from telemetry.reporters import Reporter

__all__ = ["PrometheusReporter", "prometheus_name"]

_logger = logging.getLogger("telemetry.reporters")

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def prometheus_name(segments: Sequence[str]) -> str:
    """The Prometheus name of a metric: segments joined by ``_``, invalid characters replaced."""
    name = _INVALID.sub("_", "_".join(segments))
    return f"_{name}" if name[:1].isdigit() else name


def _label_name(key: str) -> str:
    name = _INVALID_LABEL.sub("_", key)
    return f"_{name}" if name[:1].isdigit() or not name else name


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


class _Series:
    """The prometheus_client metric of one definition and its children, cached by label values."""

    __slots__ = ("children", "collector", "keys", "operation")

    def __init__(self) -> None:
        self.collector: MetricWrapperBase | None = None
        self.keys: tuple[str, ...] = ()
        self.children: dict[tuple[str, ...], Any] = {}
        self.operation = ""


class PrometheusReporter(Reporter):
    """Feeds metric definitions into ``prometheus_client`` metrics in :attr:`registry`."""

    def __init__(
        self,
        metrics: Iterable[Metric],
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "",
        max_series: int = 10_000,
    ) -> None:
        super().__init__(metrics)
        if max_series < 1:
            raise ValueError(f"max_series must be at least 1, got {max_series}")
        self.max_series = max_series
        """Label sets kept per metric; events that would add more are skipped and counted."""
        self.registry = registry if registry is not None else CollectorRegistry()
        self.namespace = namespace
        self._lock = threading.Lock()
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._series: dict[Metric, _Series] = {}
        for metric in self.metrics:
            series = _Series()
            self._series[metric] = series
            if metric.tag_function is None:
                self._create(metric, series, metric.tags)

    def _create(self, metric: Metric, series: _Series, keys: tuple[str, ...]) -> None:
        name = prometheus_name(metric.name)
        labels = [_label_name(k) for k in keys]
        if len(set(labels)) != len(labels):
            raise ValueError(f"tags {keys!r} of {metric.full_name} map to duplicate labels")
        documentation = metric.description or (
            f"{metric.kind} of {'.'.join(metric.event_name)} {metric.measurement!r}"
            if isinstance(metric.measurement, str)
            else f"{metric.kind} of {'.'.join(metric.event_name)}"
        )
        common: dict[str, Any] = {
            "labelnames": labels,
            "namespace": self.namespace,
            "registry": self.registry,
        }
        options = metric.reporter_options
        collector: MetricWrapperBase
        try:
            if metric.kind == "counter":
                collector, operation = Counter(name, documentation, **common), "count"
            elif metric.kind == "sum":
                if options.get("prometheus_type", "counter") == "gauge":
                    collector, operation = Gauge(name, documentation, **common), "gauge_inc"
                else:
                    collector, operation = Counter(name, documentation, **common), "inc"
            elif metric.kind == "last_value":
                collector, operation = Gauge(name, documentation, **common), "set"
            elif metric.kind == "summary":
                collector, operation = Summary(name, documentation, **common), "observe"
            elif metric.kind == "distribution":
                buckets = options.get("buckets")
                if buckets is None:
                    _logger.warning(
                        "distribution %s has no reporter_options['buckets']: "
                        "using prometheus_client's default buckets",
                        metric.full_name,
                    )
                    collector = Histogram(name, documentation, **common)
                else:
                    collector = Histogram(name, documentation, buckets=list(buckets), **common)
                operation = "observe"
            else:
                raise TypeError(f"unsupported metric type {metric.kind!r}")
        except ValueError as exc:  # duplicate name in the registry, bad buckets, bad name
            raise ValueError(f"cannot register {metric.full_name} as {name!r}: {exc}") from exc
        series.keys = keys
        series.operation = operation
        series.children = {} if keys else {(): collector}
        series.collector = collector

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        series = self._series[metric]
        if series.collector is None:
            with self._lock:
                if series.collector is None:
                    self._create(metric, series, tuple(tags))
        if len(tags) != len(series.keys):
            raise ValueError(f"tags {sorted(tags)} differ from labels {sorted(series.keys)}")
        values = tuple(_label_value(tags[k]) for k in series.keys)
        child: Any = series.children.get(values)
        if child is None:
            assert series.collector is not None
            if len(series.children) >= self.max_series:
                # Tag values can come from a peer (a server-assigned client id): bound memory.
                raise OverflowError(f"{metric.full_name} has {self.max_series} series already")
            child = series.children[values] = series.collector.labels(*values)
        operation = series.operation
        if operation == "count":
            child.inc()
        elif operation == "inc":
            if value < 0:
                raise ValueError("a sum reported as a Prometheus counter cannot decrease")
            child.inc(value)
        elif operation == "set":
            child.set(value)
        elif operation == "gauge_inc":
            child.inc(value)
        else:
            child.observe(value)

    def remove_series(self, **labels: Any) -> int:
        """Remove every series whose tags include *labels* (e.g. ``client_id="c1"``).

        Metrics without all of these tags are left alone. Returns how many series were removed.
        """
        wanted = {k: _label_value(v) for k, v in labels.items()}
        removed = 0
        with self._lock:
            for series in self._series.values():
                collector = series.collector
                if collector is None or not wanted or not set(wanted) <= set(series.keys):
                    continue
                positions = [(series.keys.index(k), v) for k, v in wanted.items()]
                for values in list(series.children):
                    if all(values[i] == v for i, v in positions):
                        collector.remove(*values)
                        del series.children[values]
                        removed += 1
        return removed

    def generate_latest(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def start_http_server(self, port: int = 0, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` over HTTP on *addr*:*port* in a thread; returns the bound port.

        Port 0 picks a free port. The server stops when the reporter is closed.
        """
        with self._lock:
            if self._server is not None:
                raise RuntimeError("the HTTP server is already running")
            server, thread = start_http_server(port, addr=addr, registry=self.registry)
            self._server, self._server_thread = server, thread
            return int(server.server_port)

    def _close(self) -> None:
        with self._lock:
            server, thread = self._server, self._server_thread
            self._server = self._server_thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
