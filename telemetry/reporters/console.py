"""Reporters that write metric values as text, and a logger for raw events.

- :class:`LoggingReporter` logs one line per metric value on a :mod:`logging` logger;
- :class:`ConsoleReporter` writes the same lines to a text stream (standard output by default),
  like Elixir's ``Telemetry.Metrics.ConsoleReporter``;
- :func:`attach_logger` logs the events themselves (measurements and metadata), with chosen
  metadata keys (by default ``data``, the bytes or packet carried) redacted.

Only the metric's tags are printed, never the whole metadata, so payloads and credentials that
an event may carry stay out of the logs.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TextIO

from telemetry._core import EventName, attach_many
from telemetry.metrics import Metric
from telemetry.reporters import Reporter

__all__ = ["ConsoleReporter", "LoggingReporter", "attach_logger", "format_value"]


def format_value(metric: Metric, value: Any, tags: Mapping[str, Any]) -> str:
    """One line describing a metric value: ``name (kind) = value unit {tags}``."""
    unit = "" if metric.unit == "unit" else f" {metric.unit}"
    shown = "1" if metric.kind == "counter" else repr(value)
    line = f"{metric.full_name} ({metric.kind}) = {shown}{unit}"
    if tags:
        line += " " + " ".join(f"{k}={v!r}" for k, v in tags.items())
    return f"{line} [event {'.'.join(metric.event_name)}]"


class LoggingReporter(Reporter):
    """Logs every metric value at *level* on *logger* (``"telemetry.metrics"`` by default)."""

    def __init__(
        self,
        metrics: Iterable[Metric],
        *,
        logger: logging.Logger | None = None,
        level: int = logging.INFO,
    ) -> None:
        super().__init__(metrics)
        self.logger = logger if logger is not None else logging.getLogger("telemetry.metrics")
        self.level = level

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(self.level):
            self.logger.log(self.level, "%s", format_value(metric, value, tags))


class ConsoleReporter(Reporter):
    """Writes every metric value as one line to *file* (standard output by default)."""

    def __init__(self, metrics: Iterable[Metric], *, file: TextIO | None = None) -> None:
        super().__init__(metrics)
        self._file = file
        self._write_lock = threading.Lock()  # whole lines from concurrent emitters

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        line = format_value(metric, value, tags) + "\n"
        file = sys.stdout if self._file is None else self._file
        with self._write_lock:
            file.write(line)


def _redacted(value: Any) -> str:
    size = len(value) if isinstance(value, (bytes, bytearray, memoryview, str)) else None
    return "<redacted>" if size is None else f"<redacted {size}>"


def attach_logger(
    handler_id: Hashable,
    events: Iterable[EventName],
    *,
    logger: logging.Logger | None = None,
    level: int = logging.DEBUG,
    levels: Mapping[EventName, int] | None = None,
    redact: Iterable[str] = ("data",),
) -> None:
    """Attach a handler under *handler_id* that logs each of *events*.

    Each event is logged at *level* (or ``levels[event_name]``) on *logger* (``"telemetry"``
    by default) as ``event.name measurements={...} metadata={...}``; the metadata keys in
    *redact* are replaced by ``<redacted N>``. Detach with :func:`telemetry.detach`.
    """
    target = logger if logger is not None else logging.getLogger("telemetry")
    per_event = dict(levels or {})
    hidden = frozenset(redact)

    def log_event(
        event_name: EventName,
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        _config: Any,
    ) -> None:
        event_level = per_event.get(event_name, level)
        if not target.isEnabledFor(event_level):
            return
        shown = {k: (_redacted(v) if k in hidden else v) for k, v in metadata.items()}
        target.log(
            event_level,
            "%s measurements=%r metadata=%r",
            ".".join(event_name),
            dict(measurements),
            shown,
        )

    attach_many(handler_id, events, log_event)
