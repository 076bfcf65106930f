"""A standalone Python port of Erlang's telemetry, with metrics and reporters.

Libraries emit events; applications attach handlers to them::

    import telemetry

    def on_recv(event_name, measurements, metadata, config):
        print(event_name, measurements["data_size"])

    telemetry.attach("my-handler", ("emqtt", "socket", "recv_data"), on_recv)
    telemetry.execute(("emqtt", "socket", "recv_data"), {"data_size": 42}, {"client_id": "c1"})
    telemetry.detach("my-handler")

An event name is a tuple of strings. Handlers run synchronously in the emitting thread, in attach
order, over the handlers attached when the emission started. A handler that raises is detached,
``("telemetry", "handler", "failure")`` is emitted and the failure is logged on the
``"telemetry"`` logger; the emitter never sees the exception. A ``"_"`` segment in an attached
name matches any single segment (an extension over Erlang).

Emitting on a hot path: resolve the name once into an :class:`EventHandle` and test its
``active`` attribute before building measurements and metadata, so nothing is built while nobody
listens::

    RECV_DATA = telemetry.event(("emqtt", "socket", "recv_data"))   # module constant

    def on_bytes(data: bytes) -> None:
        if RECV_DATA.active:
            RECV_DATA.execute({"data_size": len(data)}, {"client_id": "c1", "data": data})

``telemetry.span`` measures a block (``with`` or ``async with``); ``telemetry.span_call`` is the
Erlang ``span/3`` form. Metric definitions live in :mod:`telemetry.metrics`, reporters in
:mod:`telemetry.reporters`, test helpers in :mod:`telemetry.testing`.
"""

from __future__ import annotations

from telemetry._core import (
    EMPTY,
    HANDLER_FAILURE_EVENT,
    WILDCARD,
    AlreadyExistsError,
    EventHandle,
    EventName,
    Handler,
    HandlerFunction,
    NotFoundError,
    TelemetryError,
    attach,
    attach_many,
    detach,
    event,
    execute,
    list_handlers,
)
from telemetry._span import Span, SpanContext, span, span_call

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
    "Span",
    "SpanContext",
    "TelemetryError",
    "attach",
    "attach_many",
    "detach",
    "event",
    "execute",
    "list_handlers",
    "span",
    "span_call",
]
