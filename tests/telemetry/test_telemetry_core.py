"""The beam telemetry conformance checklist (test/telemetry_SUITE.erl) and Python-specific cases."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

import pytest

import telemetry
from telemetry import AlreadyExistsError, EventName, Handler, NotFoundError
from telemetry.testing import attach_event_handlers, capture

Calls = list[tuple[EventName, Mapping[str, Any], Mapping[str, Any], Any]]


def recorder(calls: Calls) -> telemetry.HandlerFunction:
    def handler(
        event: EventName, measurements: Mapping[str, Any], metadata: Mapping[str, Any], cfg: Any
    ) -> None:
        calls.append((event, measurements, metadata, cfg))

    return handler


def raising(
    event: EventName, measurements: Mapping[str, Any], metadata: Mapping[str, Any], cfg: Any
) -> None:
    raise RuntimeError("handler boom")


# --- the upstream suite, one test per case ---------------------------------------------------


@pytest.mark.parametrize("bad", [["some", 1], "hello", [], (), ("a", b"b"), 42, None])
def test_bad_event_names(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        telemetry.attach("h", bad, recorder([]))
    with pytest.raises((TypeError, ValueError)):
        telemetry.attach_many("h", [bad], recorder([]))
    assert telemetry.list_handlers() == []


def test_duplicate_attach() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test", "event"), recorder(calls), 1)
    with pytest.raises(AlreadyExistsError):
        telemetry.attach("h", ("a", "test", "event"), recorder([]), 2)
    # Globally unique ids: another event does not make the id free again.
    with pytest.raises(AlreadyExistsError):
        telemetry.attach("h", ("other", "event"), recorder([]), 3)
    [handler] = telemetry.list_handlers()
    assert handler.config == 1
    telemetry.execute(("a", "test", "event"), {"x": 1})
    assert len(calls) == 1


def test_invoke_handler() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test", "event"), recorder(calls), {"cfg": True})
    telemetry.execute(("a", "test", "event"), {"latency": 100}, {"status": 200})
    assert calls == [(("a", "test", "event"), {"latency": 100}, {"status": 200}, {"cfg": True})]


def test_list_handlers() -> None:
    function = recorder([])
    telemetry.attach("h1", ("a", "b", "c"), function, 1)
    telemetry.attach("h2", ("a", "b", "d"), function, 2)
    assert telemetry.list_handlers(()) == [
        Handler("h1", ("a", "b", "c"), function, 1),
        Handler("h2", ("a", "b", "d"), function, 2),
    ]


def test_list_for_prefix() -> None:
    function = recorder([])
    telemetry.attach("h1", ("a", "b", "c"), function)
    telemetry.attach("h2", ("a", "b", "d"), function)
    telemetry.attach("h3", ("a", "x"), function)
    assert [h.id for h in telemetry.list_handlers(("a",))] == ["h1", "h2", "h3"]
    assert [h.id for h in telemetry.list_handlers(("a", "b"))] == ["h1", "h2"]
    assert [h.id for h in telemetry.list_handlers(("a", "b", "c"))] == ["h1"]
    assert telemetry.list_handlers(("a", "b", "c", "d")) == []
    assert telemetry.list_handlers(("z",)) == []
    with pytest.raises(TypeError):
        telemetry.list_handlers("a")  # type: ignore[arg-type]


def test_detach_on_exception(caplog: pytest.LogCaptureFixture) -> None:
    event = ("a", "test", "event")
    telemetry.attach("failing", event, raising, {"some": "config"})
    with capture([telemetry.HANDLER_FAILURE_EVENT]) as failures, caplog.at_level(logging.ERROR):
        telemetry.execute(event, {"x": 1}, {"y": 2})  # the caller never sees the exception
    assert telemetry.list_handlers(event) == []
    [failure] = failures
    assert failure.event_name == ("telemetry", "handler", "failure")
    assert set(failure.measurements) == {"monotonic_time", "system_time"}
    assert failure.metadata["event_name"] == event
    assert failure.metadata["handler_id"] == "failing"
    assert failure.metadata["handler_config"] == {"some": "config"}
    assert failure.metadata["kind"] == "error"
    assert isinstance(failure.metadata["reason"], RuntimeError)
    assert isinstance(failure.metadata["stacktrace"], traceback.StackSummary)
    assert failure.metadata["stacktrace"][-1].name == "raising"
    [record] = [r for r in caplog.records if r.name == "telemetry"]
    assert "'failing' has failed and has been detached" in record.getMessage()
    assert record.exc_info is not None
    with pytest.raises(NotFoundError):
        telemetry.detach("failing")


def test_no_execute_detached() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test", "event"), recorder(calls))
    telemetry.detach("h")
    telemetry.execute(("a", "test", "event"), {})
    assert calls == []


def test_no_execute_on_prefix() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test", "event"), recorder(calls))
    telemetry.execute(("a", "test"), {})
    assert calls == []


def test_no_execute_on_specific() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test"), recorder(calls))
    telemetry.execute(("a", "test", "event", "specific"), {})
    assert calls == []


def test_handler_on_multiple_events() -> None:
    calls: Calls = []
    events = [("a", "first"), ("a", "second"), ("b", "third")]
    telemetry.attach_many("h", events, recorder(calls), "cfg")
    for event in events:
        telemetry.execute(event, {"n": 1}, {"e": event})
    assert [c[0] for c in calls] == events
    assert all(c[3] == "cfg" for c in calls)


def test_remove_all_handler_on_failure() -> None:
    events = [("a", "first"), ("a", "second")]
    telemetry.attach_many("h", events, raising)
    telemetry.execute(events[0], {})
    assert telemetry.list_handlers(("a",)) == []


def test_list_handler_on_many() -> None:
    function = recorder([])
    events = [("a", "first"), ("a", "second"), ("b", "third")]
    telemetry.attach_many("h", events, function, 7)
    assert telemetry.list_handlers(()) == [Handler("h", e, function, 7) for e in events]


def test_detach_from_all() -> None:
    calls: Calls = []
    events = [("a", "first"), ("a", "second")]
    telemetry.attach_many("h", events, recorder(calls))
    telemetry.detach("h")
    for event in events:
        telemetry.execute(event, {})
    assert calls == []
    assert telemetry.list_handlers(()) == []


def test_default_metadata() -> None:
    calls: Calls = []
    telemetry.attach("h", ("a", "test"), recorder(calls))
    telemetry.execute(("a", "test"), {"n": 1})
    assert calls[0][2] == {}
    with pytest.raises(TypeError):  # the shared default cannot be mutated by a handler
        calls[0][2]["x"] = 1  # type: ignore[index]


def test_off_execute() -> None:
    # Nothing attached anywhere for this name: a no-op that never raises.
    telemetry.execute(("never", "attached", "event"), {"n": 1}, {"m": 2})
    assert telemetry.event(("never", "attached", "event")).active is False


# --- Python-specific cases -------------------------------------------------------------------


def test_handlers_run_in_attach_order() -> None:
    order: list[str] = []
    for name in ("c", "a", "b"):
        telemetry.attach(name, ("ordered",), lambda e, m, md, cfg: order.append(cfg), name)
    telemetry.execute(("ordered",), {})
    assert order == ["c", "a", "b"]


def test_handlers_are_snapshotted_during_execute() -> None:
    calls: list[str] = []

    def first(e: EventName, m: Any, md: Any, cfg: Any) -> None:
        calls.append("first")
        telemetry.detach("second")
        telemetry.attach("third", ("snap",), lambda *_: calls.append("third"))

    telemetry.attach("first", ("snap",), first)
    telemetry.attach("second", ("snap",), lambda *_: calls.append("second"))
    telemetry.execute(("snap",), {})
    # Detached during the execute but still called; attached during it but not called.
    assert calls == ["first", "second"]
    calls.clear()
    telemetry.detach("first")
    telemetry.execute(("snap",), {})
    assert calls == ["third"]


def test_remaining_handlers_still_run_after_a_failure() -> None:
    calls: Calls = []
    telemetry.attach("bad", ("ev",), raising)
    telemetry.attach("good", ("ev",), recorder(calls))
    telemetry.execute(("ev",), {"n": 1})
    telemetry.execute(("ev",), {"n": 2})
    assert [c[1]["n"] for c in calls] == [1, 2]


def test_raising_failure_handler_is_detached_and_does_not_recurse() -> None:
    seen: list[Any] = []

    def bad_failure_handler(e: EventName, m: Any, md: Mapping[str, Any], cfg: Any) -> None:
        seen.append(md["handler_id"])
        raise ValueError("failure handler boom")

    telemetry.attach("on-failure", telemetry.HANDLER_FAILURE_EVENT, bad_failure_handler)
    telemetry.attach("failing", ("ev",), raising)
    telemetry.execute(("ev",), {})
    # Called once for "failing"; its own failure detached it before its failure event ran.
    assert seen == ["failing"]
    assert telemetry.list_handlers() == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_propagate_and_do_not_detach(exc: type[BaseException]) -> None:
    def handler(*_: Any) -> None:
        raise exc()

    telemetry.attach("h", ("ev",), handler)
    with pytest.raises(exc):
        telemetry.execute(("ev",), {})
    assert [h.id for h in telemetry.list_handlers()] == ["h"]


def test_detach_unknown_id_raises_not_found() -> None:
    with pytest.raises(NotFoundError):
        telemetry.detach("nobody")
    assert issubclass(NotFoundError, LookupError)
    assert issubclass(AlreadyExistsError, ValueError)


def test_attach_many_deduplicates_and_rejects_empty() -> None:
    calls: Calls = []
    telemetry.attach_many("h", [("a",), ["a"], ("b",)], recorder(calls))  # type: ignore[list-item]
    assert [h.event_name for h in telemetry.list_handlers()] == [("a",), ("b",)]
    telemetry.execute(("a",), {})
    assert len(calls) == 1
    with pytest.raises(ValueError):
        telemetry.attach_many("empty", [], recorder(calls))
    with pytest.raises(TypeError):
        telemetry.attach_many("str", "a.b", recorder(calls))  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        telemetry.detach("empty")  # nothing was registered


def test_attach_rejects_bad_functions_and_ids() -> None:
    async def coroutine(e: Any, m: Any, md: Any, cfg: Any) -> None:
        pass

    def three(e: Any, m: Any, md: Any) -> None:
        pass

    for bad in (coroutine, three, "not callable"):
        with pytest.raises(TypeError):
            telemetry.attach("h", ("ev",), bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        telemetry.attach(["unhashable"], ("ev",), recorder([]))  # type: ignore[arg-type]
    assert telemetry.list_handlers() == []


def test_bound_methods_and_varargs_are_accepted() -> None:
    class Sink:
        def __init__(self) -> None:
            self.n = 0

        def handle(self, *args: Any) -> None:
            self.n += 1

    sink = Sink()
    telemetry.attach("h", ("ev",), sink.handle)
    telemetry.execute(("ev",), {})
    assert sink.n == 1


def test_failure_of_a_handler_reattached_meanwhile_keeps_the_new_one() -> None:
    # The failing registration is the old one; the same id now names a new handler.
    calls: Calls = []
    state: dict[str, Any] = {}

    def old(e: EventName, m: Any, md: Any, cfg: Any) -> None:
        telemetry.detach("h")
        telemetry.attach("h", ("ev",), recorder(calls))
        state["reattached"] = True
        raise RuntimeError("old fails after re-attach")

    telemetry.attach("h", ("ev",), old)
    telemetry.execute(("ev",), {})
    assert state == {"reattached": True}
    telemetry.execute(("ev",), {"n": 1})
    assert len(calls) == 1


def test_event_handle_tracks_attach_and_detach() -> None:
    handle = telemetry.event(("emqtt", "socket", "recv_data"))
    assert handle is telemetry.event(["emqtt", "socket", "recv_data"])  # type: ignore[arg-type]
    assert not handle.active
    calls: Calls = []
    telemetry.attach("h", ("emqtt", "socket", "recv_data"), recorder(calls))
    assert telemetry.event(("emqtt", "socket", "recv_data")).active
    handle.execute({"data_size": 3}, {"client_id": "c"})
    assert calls == [(("emqtt", "socket", "recv_data"), {"data_size": 3}, {"client_id": "c"}, None)]
    telemetry.detach("h")
    assert handle.active is False
    assert handle.handlers == ()


def test_event_handle_failure_path() -> None:
    handle = telemetry.event(("handle", "fails"))
    telemetry.attach("h", ("handle", "fails"), raising)
    with capture([telemetry.HANDLER_FAILURE_EVENT]) as failures:
        handle.execute({})
    assert failures[0].metadata["event_name"] == ("handle", "fails")
    assert handle.active is False


def test_attach_event_handlers_queues_erlang_shaped_messages() -> None:
    ref, messages = attach_event_handlers([("q", "one"), ("q", "two")])
    telemetry.execute(("q", "two"), {"n": 2}, {"m": 1})
    assert messages.get(timeout=1) == (("q", "two"), ref, {"n": 2}, {"m": 1})
    telemetry.detach(ref)
    assert telemetry.list_handlers(("q",)) == []


def test_capture_detaches_on_exit_even_if_already_detached() -> None:
    with capture([("c", "ev")]) as seen:
        telemetry.execute(("c", "ev"), {"n": 1})
        [h] = telemetry.list_handlers(("c",))
        telemetry.detach(h.id)
    assert [e.measurements for e in seen] == [{"n": 1}]
    assert telemetry.list_handlers(("c",)) == []
