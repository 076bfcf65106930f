"""Spans: a start event, then a stop or an exception event, around a piece of work."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from telemetry._core import EMPTY, EventName, execute, validate_event_name

__all__ = ["Span", "SpanContext", "span", "span_call"]

SPAN_CONTEXT_KEY = "telemetry_span_context"


class SpanContext:
    """An opaque value unique to one span (Erlang: the ``make_ref()`` of ``span/3``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<SpanContext {id(self):#x}>"


def _kind(exc: BaseException) -> str:
    # Erlang classes: `error` for ordinary exceptions; `exit` for what ends the task or process
    # (cancellation, KeyboardInterrupt, SystemExit). Python has no `throw`.
    return "error" if isinstance(exc, Exception) else "exit"


def _context_of(metadata: Mapping[str, Any]) -> object:
    # The caller's own context wins, as in Erlang's merge_ctx/2.
    if SPAN_CONTEXT_KEY in metadata:
        return metadata[SPAN_CONTEXT_KEY]
    return SpanContext()


def _with_context(metadata: Mapping[str, Any], context: object) -> dict[str, Any]:
    merged = dict(metadata)
    merged.setdefault(SPAN_CONTEXT_KEY, context)
    return merged


class Span:
    """A context manager (``with`` and ``async with``) that emits span events.

    On entry: ``prefix + ("start",)`` with ``monotonic_time`` and ``system_time`` (ns) and the
    start metadata plus ``telemetry_span_context``. On a normal exit: ``prefix + ("stop",)``
    with ``duration`` and ``monotonic_time`` merged over :attr:`extra_measurements`, and
    :attr:`stop_metadata` (default: the start metadata) plus the same context. When the block
    raises: ``prefix + ("exception",)`` with ``duration`` and ``monotonic_time`` and the start
    metadata plus ``kind``, ``reason`` and ``stacktrace``; the exception then propagates.
    """

    __slots__ = ("_metadata", "_prefix", "_start", "context", "extra_measurements", "stop_metadata")

    def __init__(self, event_prefix: EventName, start_metadata: Mapping[str, Any] | None = None):
        self._prefix = validate_event_name(event_prefix)
        self._metadata: Mapping[str, Any] = EMPTY if start_metadata is None else start_metadata
        self._start: int | None = None
        self.context: object = _context_of(self._metadata)
        self.stop_metadata: Mapping[str, Any] | None = None
        """Metadata of the stop event; ``None`` means the start metadata."""
        self.extra_measurements: Mapping[str, Any] = EMPTY
        """Measurements added to the stop event (``duration`` and ``monotonic_time`` win)."""

    def __enter__(self) -> Span:
        if self._start is not None:
            raise RuntimeError("a Span can be entered only once")
        self._start = start = time.monotonic_ns()
        execute(
            (*self._prefix, "start"),
            {"monotonic_time": start, "system_time": time.time_ns()},
            _with_context(self._metadata, self.context),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._start is not None, "__exit__ without __enter__"
        if exc is None:
            stop = time.monotonic_ns()
            duration = stop - self._start
            stop_metadata = self._metadata if self.stop_metadata is None else self.stop_metadata
            execute(
                (*self._prefix, "stop"),
                {**self.extra_measurements, "duration": duration, "monotonic_time": stop},
                _with_context(stop_metadata, self.context),
            )
            return
        _emit_exception(self._prefix, self._metadata, self.context, self._start, exc)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _emit_exception(
    prefix: EventName,
    metadata: Mapping[str, Any],
    context: object,
    start: int,
    exc: BaseException,
) -> None:
    stop = time.monotonic_ns()
    duration = stop - start
    exception_metadata = _with_context(metadata, context)
    exception_metadata.update(
        kind=_kind(exc), reason=exc, stacktrace=traceback.extract_tb(exc.__traceback__)
    )
    execute(
        (*prefix, "exception"),
        {"duration": duration, "monotonic_time": stop},
        exception_metadata,
    )


def span(event_prefix: EventName, start_metadata: Mapping[str, Any] | None = None) -> Span:
    """Return a :class:`Span` context manager for *event_prefix*."""
    return Span(event_prefix, start_metadata)


def span_call(
    event_prefix: EventName,
    start_metadata: Mapping[str, Any],
    function: Callable[[], tuple[Any, ...]],
) -> Any:
    """Run *function* inside a span, Erlang style, and return its result.

    *function* returns ``(result, stop_metadata)`` or ``(result, extra_measurements,
    stop_metadata)``. The stop event carries *stop_metadata* only (plus the context), as in
    Erlang. Another shape raises :class:`TypeError` and, as in Erlang, emits no exception event.
    """
    prefix = validate_event_name(event_prefix)
    start = time.monotonic_ns()
    context = _context_of(start_metadata)
    execute(
        (*prefix, "start"),
        {"monotonic_time": start, "system_time": time.time_ns()},
        _with_context(start_metadata, context),
    )
    try:
        returned = function()
    except BaseException as exc:
        _emit_exception(prefix, start_metadata, context, start, exc)
        raise
    stop = time.monotonic_ns()
    if isinstance(returned, tuple) and len(returned) == 2:
        result, stop_metadata = returned
        extra: Mapping[str, Any] = EMPTY
    elif isinstance(returned, tuple) and len(returned) == 3:
        result, extra, stop_metadata = returned
    else:
        raise TypeError(
            "a span function returns (result, stop_metadata) or "
            f"(result, extra_measurements, stop_metadata), got {returned!r}"
        )
    execute(
        (*prefix, "stop"),
        {**extra, "duration": stop - start, "monotonic_time": stop},
        _with_context(stop_metadata, context),
    )
    return result
