"""Reporters: turn metric definitions into handlers that feed a backend.

Every reporter follows the contract of telemetry_metrics' ``writing_reporters.md``: it attaches
one handler per event name when started and detaches them all when closed; for each event it
honours ``keep``, extracts the measurement and the tags, and *skips* an event whose measurement
is missing or not a number, or whose tags are missing. A skip is counted (:attr:`Reporter.skipped`,
:meth:`Reporter.skips`) and logged on the ``"telemetry.reporters"`` logger (a warning the first
time for a metric and reason, debug after that); it never raises, so the reporter's handler is
never detached by telemetry.

Available reporters (each imports its backend only when its module is imported):

- :class:`telemetry.reporters.console.ConsoleReporter`, :class:`~.console.LoggingReporter`
  and :func:`~.console.attach_logger`;
- :class:`telemetry.reporters.prometheus.PrometheusReporter` (``prometheus_client``);
- :class:`telemetry.reporters.statsd.StatsdReporter` (standard library only);
- :class:`telemetry.reporters.opentelemetry.OpenTelemetryReporter` (``opentelemetry-api``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as _Tally
from collections.abc import Iterable, Mapping
from contextlib import suppress
from types import TracebackType
from typing import Any, TypeVar

from telemetry._core import EventName, NotFoundError, attach, detach
from telemetry.metrics import Metric, is_number

__all__ = ["Reporter"]

_logger = logging.getLogger("telemetry.reporters")

_R = TypeVar("_R", bound="Reporter")


class Reporter:
    """Base class of reporters: subclasses implement :meth:`record`.

    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics: tuple[Metric, ...] = tuple(metrics)
        for metric in self.metrics:
            if not isinstance(metric, Metric):
                raise TypeError(f"not a metric definition: {metric!r}")
        by_event: dict[EventName, list[Metric]] = {}
        for metric in self.metrics:
            by_event.setdefault(metric.event_name, []).append(metric)
        self._by_event = {name: tuple(ms) for name, ms in by_event.items()}
        self._handler_ids: list[Any] = []
        self._state_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._skips: _Tally[tuple[str, str]] = _Tally()
        self._skip_lock = threading.Lock()
        self.tag_defaults: Mapping[str, Any] | None = None
        """Values for listed tags that an event's metadata lacks (StatsD's global tags)."""

    # --- lifecycle -------------------------------------------------------------------------

    def start(self: _R) -> _R:
        """Attach the handlers (synchronously: no event is lost after this returns)."""
        with self._state_lock:
            if self._closed:
                raise RuntimeError(f"{type(self).__name__} is closed")
            if self._started:
                return self
            try:
                for event_name, metrics in self._by_event.items():
                    handler_id = (type(self).__qualname__, event_name, id(self))
                    attach(handler_id, event_name, self._handle_event, metrics)
                    self._handler_ids.append(handler_id)
            except BaseException:
                self._detach_all()
                raise
            self._started = True
        return self

    def close(self) -> None:
        """Detach every handler, then release the backend's resources. Idempotent."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._detach_all()
        self._close()

    def _detach_all(self) -> None:
        for handler_id in self._handler_ids:
            with suppress(NotFoundError):  # detached by someone else: nothing left to do
                detach(handler_id)
        self._handler_ids.clear()

    def _close(self) -> None:
        """Release resources after the handlers are detached (for subclasses)."""

    def __enter__(self: _R) -> _R:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the event path --------------------------------------------------------------------

    def record(self, metric: Metric, value: Any, tags: dict[str, Any]) -> None:
        """Feed one value of *metric* with its *tags* to the backend."""
        raise NotImplementedError

    def _handle_event(
        self,
        event_name: EventName,
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        metrics: tuple[Metric, ...],
    ) -> None:
        defaults = self.tag_defaults
        for metric in metrics:
            try:
                keep = metric.keep
                if keep is not None and not keep(metadata, measurements):
                    continue
                value = metric.extract(measurements, metadata)
                if value is None:
                    self._skip(metric, "missing measurement")
                    continue
                if metric.kind != "counter" and not is_number(value):
                    self._skip(metric, "measurement is not a finite number")
                    continue
                tags = metric.tags_of(metadata, defaults)
                if tags is None:
                    self._skip(metric, "missing tag")
                    continue
                self.record(metric, value, tags)
            except Exception as exc:
                self._skip(metric, f"{type(exc).__name__}: {exc}", exc)

    def _skip(self, metric: Metric, reason: str, exc: BaseException | None = None) -> None:
        key = (metric.full_name, reason if exc is None else type(exc).__name__)
        with self._skip_lock:
            self._skips[key] += 1
            first = self._skips[key] == 1
        _logger.log(
            logging.WARNING if first else logging.DEBUG,
            "%s skipped an event for metric %s: %s%s",
            type(self).__name__,
            metric.full_name,
            reason,
            "" if first else " (repeated)",
            exc_info=exc if first else None,
        )

    @property
    def skipped(self) -> int:
        """How many (event, metric) pairs were skipped as invalid."""
        with self._skip_lock:
            return sum(self._skips.values())

    def skips(self) -> dict[tuple[str, str], int]:
        """Skipped counts by ``(metric name, reason)``."""
        with self._skip_lock:
            return dict(self._skips)
