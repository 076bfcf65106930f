"""Spans: the upstream span cases, the context-manager form in sync, asyncio and trio code."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import trio

import telemetry
from telemetry.testing import CapturedEvent, capture

PREFIX = ("test", "span")
EVENTS = [(*PREFIX, "start"), (*PREFIX, "stop"), (*PREFIX, "exception")]


def test_invoke_successful_span_handlers() -> None:
    with capture(EVENTS) as seen:
        result = telemetry.span_call(PREFIX, {"some": "start"}, lambda: ("ok", {"some": "stop"}))
    assert result == "ok"
    start, stop = seen
    assert start.event_name == (*PREFIX, "start")
    assert set(start.measurements) == {"monotonic_time", "system_time"}
    assert start.metadata["some"] == "start"
    assert stop.event_name == (*PREFIX, "stop")
    assert set(stop.measurements) == {"duration", "monotonic_time"}
    assert stop.measurements["duration"] >= 0
    assert stop.measurements["monotonic_time"] >= start.measurements["monotonic_time"]
    # Erlang: the stop metadata replaces the start metadata.
    assert set(stop.metadata) == {"some", "telemetry_span_context"}
    assert stop.metadata["some"] == "stop"
    assert stop.metadata["telemetry_span_context"] is start.metadata["telemetry_span_context"]


def test_span_with_extra_measurements() -> None:
    with capture(EVENTS) as seen:
        telemetry.span_call(
            PREFIX, {}, lambda: (1, {"other": 5, "duration": -1}, {"some": "stop"})
        )
    stop = seen[1]
    assert stop.measurements["other"] == 5
    assert stop.measurements["duration"] >= 0  # the standard keys cannot be overridden


def test_invoke_exception_span_handlers() -> None:
    def fails() -> tuple[Any, Any]:
        raise ValueError("span boom")

    with capture(EVENTS) as seen, pytest.raises(ValueError, match="span boom"):
        telemetry.span_call(PREFIX, {"some": "start"}, fails)
    start, exception = seen
    assert exception.event_name == (*PREFIX, "exception")
    assert set(exception.measurements) == {"duration", "monotonic_time"}
    assert sorted(exception.metadata) == [
        "kind", "reason", "some", "stacktrace", "telemetry_span_context",
    ]
    assert exception.metadata["kind"] == "error"
    assert isinstance(exception.metadata["reason"], ValueError)
    assert exception.metadata["stacktrace"][-1].name == "fails"
    assert exception.metadata["telemetry_span_context"] is start.metadata["telemetry_span_context"]


def test_spans_generate_unique_default_contexts() -> None:
    with capture([(*PREFIX, "start")]) as seen:
        for _ in range(3):
            telemetry.span_call(PREFIX, {}, lambda: (None, {}))
    contexts = [e.metadata["telemetry_span_context"] for e in seen]
    assert len({id(c) for c in contexts}) == 3


def test_span_keeps_a_caller_context() -> None:
    with capture(EVENTS) as seen, telemetry.span(PREFIX, {"telemetry_span_context": "mine"}):
        pass
    assert [e.metadata["telemetry_span_context"] for e in seen] == ["mine", "mine"]


def test_span_call_wrong_shape_raises_without_exception_event() -> None:
    with capture(EVENTS) as seen, pytest.raises(TypeError):
        telemetry.span_call(PREFIX, {}, lambda: ("just", "too", "many", "items"))
    assert [e.event_name[-1] for e in seen] == ["start"]


def test_context_manager_stop_defaults_to_start_metadata() -> None:
    with capture(EVENTS) as seen:
        with telemetry.span(PREFIX, {"topic": "t"}) as span:
            assert isinstance(span.context, telemetry.SpanContext)
        with telemetry.span(PREFIX, {"topic": "t"}) as span:
            span.stop_metadata = {"topic": "t", "result": "ok"}
            span.extra_measurements = {"bytes": 10, "monotonic_time": -1}
    first_stop, second_stop = seen[1], seen[3]
    assert first_stop.metadata == {"topic": "t", "telemetry_span_context": seen[0].metadata[
        "telemetry_span_context"]}
    assert second_stop.metadata["result"] == "ok"
    assert second_stop.metadata["telemetry_span_context"] is seen[2].metadata[
        "telemetry_span_context"]
    assert second_stop.measurements["bytes"] == 10
    assert second_stop.measurements["monotonic_time"] > 0


def test_context_manager_exception_reraises() -> None:
    with capture(EVENTS) as seen, pytest.raises(KeyError), telemetry.span(PREFIX, {"a": 1}):
        raise KeyError("k")
    assert [e.event_name[-1] for e in seen] == ["start", "exception"]
    assert seen[1].metadata["kind"] == "error"
    assert seen[1].metadata["a"] == 1


def test_context_manager_reports_base_exceptions_as_exit() -> None:
    with capture(EVENTS) as seen, pytest.raises(KeyboardInterrupt), telemetry.span(PREFIX):
        raise KeyboardInterrupt
    assert seen[1].metadata["kind"] == "exit"


def test_span_cannot_be_entered_twice() -> None:
    span = telemetry.span(PREFIX)
    with span:
        pass
    with pytest.raises(RuntimeError):
        span.__enter__()


def _names(seen: list[CapturedEvent]) -> list[str]:
    return [e.event_name[-1] for e in seen]


def test_span_around_asyncio_code() -> None:
    async def main() -> None:
        async with telemetry.span(PREFIX, {"n": 1}):
            await asyncio.sleep(0)
        with telemetry.span(PREFIX, {"n": 2}):
            await asyncio.sleep(0)

        async def cancelled() -> None:
            async with telemetry.span(PREFIX, {"n": 3}):
                await asyncio.Event().wait()

        task = asyncio.create_task(cancelled())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with capture(EVENTS) as seen:
        asyncio.run(main())
    assert _names(seen) == ["start", "stop", "start", "stop", "start", "exception"]
    assert seen[-1].metadata["kind"] == "exit"
    assert isinstance(seen[-1].metadata["reason"], asyncio.CancelledError)


def test_span_around_trio_code() -> None:
    async def main() -> None:
        async with telemetry.span(PREFIX, {"n": 1}):
            await trio.sleep(0)
        with trio.move_on_after(0.01):
            async with telemetry.span(PREFIX, {"n": 2}):
                await trio.sleep_forever()

    with capture(EVENTS) as seen:
        trio.run(main)
    assert _names(seen) == ["start", "stop", "start", "exception"]
    assert seen[-1].metadata["kind"] == "exit"
    assert isinstance(seen[-1].metadata["reason"], trio.Cancelled)
