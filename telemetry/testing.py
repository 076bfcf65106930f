"""Helpers to observe telemetry events in tests (a port of Erlang's ``telemetry_test``)."""

from __future__ import annotations

import queue
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, NamedTuple

from telemetry._core import EventName, NotFoundError, attach_many, detach

__all__ = ["CapturedEvent", "HandlerRef", "attach_event_handlers", "capture"]


class HandlerRef:
    """A unique handler id (Erlang: the ``Ref`` returned by ``attach_event_handlers/2``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<HandlerRef {id(self):#x}>"


class CapturedEvent(NamedTuple):
    """One event seen by :func:`capture`."""

    event_name: EventName
    measurements: Mapping[str, Any]
    metadata: Mapping[str, Any]


def attach_event_handlers(
    events: Iterable[EventName],
) -> tuple[HandlerRef, queue.SimpleQueue[tuple[EventName, HandlerRef, Any, Any]]]:
    """Attach a handler to *events* that queues ``(event_name, ref, measurements, metadata)``.

    Returns ``(ref, queue)``; ``ref`` is the handler id, for :func:`telemetry.detach`. The queue
    is thread-safe: wait on it with ``queue.get(timeout=...)``.
    """
    ref = HandlerRef()
    messages: queue.SimpleQueue[tuple[EventName, HandlerRef, Any, Any]] = queue.SimpleQueue()

    def handler(
        event_name: EventName, measurements: Mapping[str, Any], metadata: Mapping[str, Any], _: Any
    ) -> None:
        messages.put((event_name, ref, measurements, metadata))

    attach_many(ref, events, handler)
    return ref, messages


@contextmanager
def capture(events: Iterable[EventName]) -> Iterator[list[CapturedEvent]]:
    """Collect the given events into a list while the ``with`` block runs.

    The list grows as events arrive (from any thread); the handler is detached on exit.
    """
    ref = HandlerRef()
    seen: list[CapturedEvent] = []

    def handler(
        event_name: EventName, measurements: Mapping[str, Any], metadata: Mapping[str, Any], _: Any
    ) -> None:
        seen.append(CapturedEvent(event_name, measurements, metadata))

    attach_many(ref, events, handler)
    try:
        yield seen
    finally:
        # The test may have detached it, or it failed and was detached.
        with suppress(NotFoundError):
            detach(ref)
