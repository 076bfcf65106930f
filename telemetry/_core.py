"""The handler registry: attach, detach, execute, event handles and the failure path.

Writes (attach/detach) are serialised by one lock and publish a new immutable dispatch table;
reads (`execute`) take no lock and iterate over the tuple they looked up, which is a snapshot.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeAlias

__all__ = [
    "EMPTY",
    "HANDLER_FAILURE_EVENT",
    "WILDCARD",
    "AlreadyExistsError",
    "EventHandle",
    "EventName",
    "Handler",
    "HandlerFunction",
    "NotFoundError",
    "TelemetryError",
    "attach",
    "attach_many",
    "detach",
    "event",
    "execute",
    "list_handlers",
    "validate_event_name",
]

EventName: TypeAlias = tuple[str, ...]
"""An event name: a non-empty tuple of strings, such as ``("emqtt", "socket", "recv_data")``."""

HandlerFunction: TypeAlias = Callable[
    [EventName, Mapping[str, Any], Mapping[str, Any], Any], object
]
"""A handler: ``function(event_name, measurements, metadata, config)``; its result is ignored."""

HANDLER_FAILURE_EVENT: EventName = ("telemetry", "handler", "failure")
"""Emitted after a handler raised and was detached."""

WILDCARD = "_"
"""An attached event name segment that matches any single segment (an extension over Erlang)."""

EMPTY: Mapping[str, Any] = MappingProxyType({})
"""The read-only empty mapping used when no metadata is given."""

_logger = logging.getLogger("telemetry")

# Patterns are resolved into this many executed event names at most; names beyond it are resolved
# on every call instead of being cached, so a program that emits unbounded distinct names while
# a wildcard handler is attached cannot grow the table without bound.
_MAX_RESOLVED_NAMES = 1024


class TelemetryError(Exception):
    """Base class of the errors raised by the telemetry registry."""


class AlreadyExistsError(TelemetryError, ValueError):
    """A handler with this id is already attached (Erlang: ``{error, already_exists}``)."""


class NotFoundError(TelemetryError, LookupError):
    """No handler with this id is attached (Erlang: ``{error, not_found}``)."""


class Handler(NamedTuple):
    """One attached handler on one event name, as returned by :func:`list_handlers`."""

    id: Hashable
    event_name: EventName
    function: HandlerFunction
    config: Any


# What execute iterates over: the function and config first so the loop unpacks without
# attribute lookups; the Handler itself is only needed on the failure path.
_Row: TypeAlias = tuple[HandlerFunction, Any, Handler]


class EventHandle:
    """A pre-resolved event name for emitters on a hot path.

    ``handle.active`` is a plain attribute, true while at least one handler would receive the
    event; test it before building measurements and metadata::

        RECV_DATA = telemetry.event(("emqtt", "socket", "recv_data"))
        if RECV_DATA.active:
            RECV_DATA.execute({"data_size": len(data)}, {...})

    The registry keeps ``active`` and ``handlers`` current on every attach and detach, wildcard
    handlers included. Handles are interned: :func:`event` returns the same object for the same
    name.
    """

    __slots__ = ("active", "handlers", "name")

    name: EventName
    handlers: tuple[_Row, ...]
    active: bool

    def __init__(self, name: EventName) -> None:
        self.name = name
        self.handlers = ()
        self.active = False

    def execute(
        self, measurements: Mapping[str, Any], metadata: Mapping[str, Any] = EMPTY
    ) -> None:
        """Emit this event: same semantics as :func:`execute`, without the table lookup."""
        handlers = self.handlers
        if not handlers:
            return
        name = self.name
        for function, config, handler in handlers:
            try:
                function(name, measurements, metadata, config)
            except Exception as exc:
                _handler_failed(handler, name, exc)

    def __repr__(self) -> str:
        return f"EventHandle({self.name!r}, active={self.active})"


# --- registry state -------------------------------------------------------------------------
# All writes happen under _lock. _table and each handle's slots are replaced, never mutated in a
# way a reader could observe half-done (the only in-place change is adding a resolved key).

_lock = threading.Lock()
_rows: list[Handler] = []  # every attachment, in attach order
_by_id: dict[Hashable, tuple[Handler, ...]] = {}
_handles: dict[EventName, EventHandle] = {}
_resolved: set[EventName] = set()  # executed names resolved against patterns (bounded)
_table: dict[EventName, tuple[_Row, ...]] = {}
_patterns = False  # true while some attached name contains WILDCARD


def validate_event_name(event_name: object, *, allow_empty: bool = False) -> EventName:
    """Return *event_name* as a tuple of strings, or raise :class:`TypeError`/:class:`ValueError`.

    Lists are accepted and converted; a bare string is rejected because it is almost always a
    mistake for a one-segment tuple.
    """
    if isinstance(event_name, (str, bytes)) or not isinstance(event_name, (tuple, list)):
        raise TypeError(f"an event name is a tuple of str, got {event_name!r}")
    name = tuple(event_name)
    for segment in name:
        if not isinstance(segment, str):
            raise TypeError(f"event name segments must be str, got {segment!r} in {name!r}")
    if not name and not allow_empty:
        raise ValueError("an event name must have at least one segment")
    return name


def _validate_function(function: object) -> HandlerFunction:
    if not callable(function):
        raise TypeError(f"a handler must be callable, got {function!r}")
    if inspect.iscoroutinefunction(function):
        raise TypeError("a handler must be a plain function: handlers run synchronously")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature; trust the caller
        return function
    try:
        signature.bind(None, None, None, None)
    except TypeError:
        raise TypeError(
            "a handler must accept 4 positional arguments "
            f"(event_name, measurements, metadata, config): {function!r}{signature}"
        ) from None
    return function


def _is_pattern(name: EventName) -> bool:
    return WILDCARD in name


def _matches(attached: EventName, name: EventName) -> bool:
    if attached == name:
        return True
    if len(attached) != len(name):
        return False
    return all(a in (WILDCARD, n) for a, n in zip(attached, name, strict=True))


def _rows_for(name: EventName) -> tuple[_Row, ...]:
    return tuple((h.function, h.config, h) for h in _rows if _matches(h.event_name, name))


def _publish_locked() -> None:
    """Rebuild the dispatch table and every handle from _rows; caller holds _lock."""
    global _table, _patterns
    _patterns = any(_is_pattern(h.event_name) for h in _rows)
    if not _patterns:
        _resolved.clear()
    names = {h.event_name for h in _rows if not _is_pattern(h.event_name)}
    names.update(_handles)
    names.update(_resolved)
    table: dict[EventName, tuple[_Row, ...]] = {}
    for name in names:
        rows = _rows_for(name)
        if rows or name in _resolved:
            table[name] = rows
    _table = table
    for name, handle in _handles.items():
        rows = table.get(name, ())
        handle.handlers = rows
        handle.active = bool(rows)


def attach(
    handler_id: Hashable, event_name: EventName, function: HandlerFunction, config: Any = None
) -> None:
    """Attach *function* under *handler_id* to one event.

    Raises :class:`AlreadyExistsError` if *handler_id* is attached anywhere, :class:`TypeError`
    or :class:`ValueError` for a malformed event name, id or function.
    """
    attach_many(handler_id, (event_name,), function, config)


def attach_many(
    handler_id: Hashable,
    event_names: Iterable[EventName],
    function: HandlerFunction,
    config: Any = None,
) -> None:
    """Attach *function* under one *handler_id* to several events.

    The handler is called for each of them; if it raises on any, it is detached from all.
    Duplicate names are attached once; an empty list raises :class:`ValueError`. A segment
    ``"_"`` matches any single segment.
    """
    hash(handler_id)  # an unhashable id raises TypeError here, before anything changes
    given: object = event_names  # checked at run time: a str is an iterable of str
    if isinstance(given, (str, bytes)):
        raise TypeError(f"event_names is an iterable of event names, got {event_names!r}")
    names: list[EventName] = []
    for raw in event_names:
        name = validate_event_name(raw)
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("attach_many needs at least one event name")
    function = _validate_function(function)
    with _lock:
        if handler_id in _by_id:
            raise AlreadyExistsError(f"a handler with id {handler_id!r} is already attached")
        handlers = tuple(Handler(handler_id, name, function, config) for name in names)
        _rows.extend(handlers)
        _by_id[handler_id] = handlers
        _publish_locked()


def detach(handler_id: Hashable) -> None:
    """Detach the handler *handler_id* from every event it is attached to.

    Raises :class:`NotFoundError` if no such handler is attached.
    """
    with _lock:
        if _by_id.pop(handler_id, None) is None:
            raise NotFoundError(f"no handler with id {handler_id!r} is attached")
        _rows[:] = [h for h in _rows if h.id != handler_id]
        _publish_locked()


def _detach_failed(handler: Handler) -> None:
    """Detach *handler*'s id if it still names this very registration."""
    with _lock:
        current = _by_id.get(handler.id)
        if current is None or not any(h is handler for h in current):
            return  # already detached, or detached and re-attached under the same id meanwhile
        del _by_id[handler.id]
        _rows[:] = [h for h in _rows if h.id != handler.id]
        _publish_locked()


def list_handlers(event_prefix: EventName = ()) -> list[Handler]:
    """Return the attached handlers whose event name starts with *event_prefix*, in attach order.

    A handler attached to several events appears once per event; ``()`` lists them all.
    """
    prefix = validate_event_name(event_prefix, allow_empty=True)
    size = len(prefix)
    with _lock:
        return [h for h in _rows if h.event_name[:size] == prefix]


def event(event_name: EventName) -> EventHandle:
    """Return the interned :class:`EventHandle` of *event_name*."""
    name = validate_event_name(event_name)
    handle = _handles.get(name)
    if handle is not None:
        return handle
    with _lock:
        handle = _handles.get(name)
        if handle is None:
            handle = EventHandle(name)
            _handles[name] = handle
            rows = _rows_for(name)
            handle.handlers = rows
            handle.active = bool(rows)
        return handle


def _resolve(event_name: EventName) -> tuple[_Row, ...]:
    """Slow path of execute for a name not in the table while wildcard handlers exist."""
    with _lock:
        rows = _table.get(event_name)
        if rows is not None:
            return rows
        rows = _rows_for(event_name)
        if len(_resolved) < _MAX_RESOLVED_NAMES:
            _resolved.add(event_name)
            _table[event_name] = rows
        return rows


def execute(
    event_name: EventName, measurements: Mapping[str, Any], metadata: Mapping[str, Any] = EMPTY
) -> None:
    """Call every handler attached to *event_name*, synchronously, in attach order.

    The handlers are those attached when the call starts. A handler that raises an
    :class:`Exception` is detached, the ``("telemetry", "handler", "failure")`` event is emitted
    and the failure is logged; the caller never sees the exception. *event_name* is not
    validated here (it is the hot path): pass a tuple of strings.
    """
    handlers = _table.get(event_name)
    if handlers is None:
        if not _patterns:
            return
        handlers = _resolve(event_name)
    for function, config, handler in handlers:
        try:
            function(event_name, measurements, metadata, config)
        except Exception as exc:
            _handler_failed(handler, event_name, exc)


def _handler_failed(handler: Handler, event_name: EventName, exc: Exception) -> None:
    """The Erlang order: detach, emit the failure event, log; then execute carries on."""
    _detach_failed(handler)
    stacktrace = traceback.extract_tb(exc.__traceback__)
    execute(
        HANDLER_FAILURE_EVENT,
        {"monotonic_time": time.monotonic_ns(), "system_time": time.time_ns()},
        {
            "event_name": event_name,
            "handler_id": handler.id,
            "handler_config": handler.config,
            "kind": "error",
            "reason": exc,
            "stacktrace": stacktrace,
        },
    )
    _logger.error(
        "Handler %r has failed and has been detached. Event=%r Class=%s Reason=%s",
        handler.id,
        event_name,
        type(exc).__qualname__,
        exc,
        exc_info=exc,
    )
