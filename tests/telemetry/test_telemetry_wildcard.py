"""The "_" extension: an attached segment "_" matches any single segment."""

from __future__ import annotations

from typing import Any

import telemetry
from telemetry.testing import capture


def test_debug_handler_on_emqtt_underscore_underscore_fires() -> None:
    seen: list[tuple[str, ...]] = []
    telemetry.attach("debug-handler", ("emqtt", "_", "_"), lambda e, m, md, c: seen.append(e))
    for name in [
        ("emqtt", "websocket", "recv_data"),
        ("emqtt", "socket", "recv_data"),
        ("emqtt", "socket", "send_data"),
        ("emqtt", "socket", "send_data_failed"),
    ]:
        telemetry.execute(name, {"data_size": 1})
    telemetry.execute(("emqtt", "socket"), {})  # wrong length: no match
    telemetry.execute(("other", "socket", "recv_data"), {})
    assert seen == [
        ("emqtt", "websocket", "recv_data"),
        ("emqtt", "socket", "recv_data"),
        ("emqtt", "socket", "send_data"),
        ("emqtt", "socket", "send_data_failed"),
    ]


def test_wildcard_and_exact_handlers_run_in_attach_order() -> None:
    order: list[str] = []
    telemetry.attach("exact1", ("a", "b"), lambda *_: order.append("exact1"))
    telemetry.attach("wild", ("a", "_"), lambda *_: order.append("wild"))
    telemetry.attach("exact2", ("a", "b"), lambda *_: order.append("exact2"))
    telemetry.execute(("a", "b"), {})
    assert order == ["exact1", "wild", "exact2"]


def test_handles_see_wildcard_handlers_attached_later_and_lose_them_on_detach() -> None:
    def active() -> bool:
        return telemetry.event(("w", "x", "y")).active

    assert not active()
    telemetry.attach("wild", ("w", "_", "y"), lambda *_: None)
    assert active()
    telemetry.detach("wild")
    assert not active()


def test_names_resolved_before_attach_pick_up_new_patterns() -> None:
    seen: list[Any] = []
    telemetry.attach("unrelated-wild", ("zz", "_"), lambda *_: None)
    telemetry.execute(("p", "q"), {})  # resolved (no match) and cached while a pattern exists
    telemetry.attach("wild", ("p", "_"), lambda e, *_: seen.append(e))
    telemetry.execute(("p", "q"), {})
    telemetry.detach("wild")
    telemetry.execute(("p", "q"), {})
    assert seen == [("p", "q")]


def test_wildcard_failure_reports_the_executed_name() -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("x")

    telemetry.attach("wild", ("f", "_"), boom)
    with capture([telemetry.HANDLER_FAILURE_EVENT]) as failures:
        telemetry.execute(("f", "g"), {})
    assert failures[0].metadata["event_name"] == ("f", "g")
    assert telemetry.list_handlers(("f",)) == []


def test_many_distinct_names_with_a_pattern_stay_correct_beyond_the_cache_bound() -> None:
    seen: list[Any] = []
    telemetry.attach("wild", ("n", "_"), lambda e, *_: seen.append(e))
    for i in range(3000):
        telemetry.execute(("n", str(i)), {})
    assert len(seen) == 3000
    from telemetry import _core

    assert len(_core._resolved) <= _core._MAX_RESOLVED_NAMES


def test_list_handlers_shows_the_pattern_as_attached() -> None:
    telemetry.attach("wild", ("emqtt", "_", "_"), lambda *_: None)
    assert [h.event_name for h in telemetry.list_handlers(("emqtt",))] == [("emqtt", "_", "_")]
