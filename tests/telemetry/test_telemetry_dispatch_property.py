"""Property: whatever the sequence of attach, detach, event() and execute calls, every emission
reaches exactly the handlers a naive scan of the attached names would pick, in attach order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import telemetry

SEGMENTS = st.sampled_from(["a", "b", "_"])
NAMES = st.lists(SEGMENTS, min_size=1, max_size=3).map(tuple)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("attach"), st.integers(0, 5), NAMES),
        st.tuples(st.just("detach"), st.integers(0, 5), st.none()),
        st.tuples(st.just("execute"), st.none(), NAMES),
        st.tuples(st.just("handle"), st.none(), NAMES),
    ),
    max_size=40,
)


def naive(attached: list[tuple[int, tuple[str, ...]]], name: tuple[str, ...]) -> list[int]:
    return [
        handler_id
        for handler_id, pattern in attached
        if len(pattern) == len(name)
        and all(p in ("_", n) for p, n in zip(pattern, name, strict=True))
    ]


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_dispatch_matches_a_naive_scan(operations: list[tuple[str, Any, Any]]) -> None:
    attached: list[tuple[int, tuple[str, ...]]] = []
    calls: list[int] = []
    try:
        for operation, handler_id, name in operations:
            if operation == "attach":
                if any(h == handler_id for h, _ in attached):
                    continue
                telemetry.attach(
                    ("prop", handler_id), name, lambda e, m, md, cfg: calls.append(cfg), handler_id
                )
                attached.append((handler_id, name))
            elif operation == "detach":
                if not any(h == handler_id for h, _ in attached):
                    continue
                telemetry.detach(("prop", handler_id))
                attached = [(h, n) for h, n in attached if h != handler_id]
            elif operation == "execute":
                calls.clear()
                telemetry.execute(name, {})
                assert calls == naive(attached, name)
            else:
                calls.clear()
                handle = telemetry.event(name)
                if handle.active:
                    handle.execute({})
                assert calls == naive(attached, name)
                assert handle.active == bool(naive(attached, name))
    finally:
        for handler_id, _ in attached:
            telemetry.detach(("prop", handler_id))
