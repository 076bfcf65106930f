"""Metric definitions: names, measurements, units, keep/drop, tags (telemetry_metrics semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry import metrics as tm


def test_name_gives_default_event_name_and_measurement() -> None:
    metric = tm.sum("http.request.stop.duration")
    assert metric.name == ("http", "request", "stop", "duration")
    assert metric.event_name == ("http", "request", "stop")
    assert metric.measurement == "duration"
    assert metric.full_name == "http.request.stop.duration"
    assert metric.kind == "sum"
    assert tm.counter(["a", "b"]).event_name == ("a",)


@pytest.mark.parametrize("bad", ["", ".a.b", "a.b.", "a..b", []])
def test_names_with_empty_segments_are_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="empty or contains"):
        tm.counter(bad)


def test_one_segment_name_needs_an_event_name() -> None:
    with pytest.raises(ValueError, match="event_name"):
        tm.counter("packets")
    metric = tm.counter("packets", event_name=("emqtt", "socket", "recv_data"), measurement="x")
    assert metric.event_name == ("emqtt", "socket", "recv_data")


def test_bad_definitions_raise_clear_errors() -> None:
    with pytest.raises(TypeError):
        tm.counter(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tm.counter("a.b", event_name="a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tm.counter("a.b", tags="client_id")
    with pytest.raises(TypeError):
        tm.counter("a.b", unit=("native",))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tm.counter("a.b", measurement=lambda a, b, c: 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tm.counter("a.b", reporter_options=[("buckets", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tm.counter("a.b", tags=lambda md: md, tag_values=lambda md: md)


def test_measurement_as_key_or_function_of_one_or_two_arguments() -> None:
    by_key = tm.last_value("a.b.size")
    one = tm.last_value("a.b.c", measurement=lambda m: m["x"] * 2)
    two = tm.last_value("a.b.c", measurement=lambda m, md: m["x"] + md["y"])
    assert by_key.extract({"size": 3}, {}) == 3
    assert by_key.extract({}, {}) is None
    assert one.extract({"x": 4}, {}) == 8
    assert two.extract({"x": 4}, {"y": 1}) == 5


def test_unit_conversion_native_to_millisecond() -> None:
    metric = tm.distribution("a.b.duration", unit=("native", "millisecond"))
    assert metric.unit == "millisecond"
    assert metric.extract({"duration": 2_500_000}, {}) == pytest.approx(2.5)
    assert metric.extract({}, {}) is None
    assert metric.extract({"duration": "oops"}, {}) == "oops"  # left for the reporter to skip


def test_unit_conversion_bytes_are_decimal_and_finer_units_stay_integers() -> None:
    to_kb = tm.sum("a.b.size", unit=("byte", "kilobyte"))
    assert to_kb.extract({"size": 1500}, {}) == pytest.approx(1.5)
    to_ns = tm.sum("a.b.t", unit=("millisecond", "native"))
    assert to_ns.extract({"t": 3}, {}) == 3_000_000
    assert isinstance(to_ns.extract({"t": 3}, {}), int)
    function = tm.sum("a.b.t", measurement=lambda m: m["t"], unit=("second", "millisecond"))
    assert function.extract({"t": 2}, {}) == 2000
    same = tm.sum("a.b.t", unit=("byte", "byte"))
    assert same.extract({"t": 7}, {}) == 7


def test_unit_conversion_across_kinds_or_unknown_units_is_rejected() -> None:
    with pytest.raises(ValueError, match="cannot convert"):
        tm.sum("a.b.c", unit=("byte", "second"))
    with pytest.raises(ValueError, match="cannot convert"):
        tm.sum("a.b.c", unit=("parsec", "byte"))


def test_keep_and_drop_take_metadata_or_metadata_and_measurements() -> None:
    keep1 = tm.counter("a.b.c", keep=lambda md: md["ok"])
    keep2 = tm.counter("a.b.c", keep=lambda md, m: m["n"] > 1)
    drop1 = tm.counter("a.b.c", drop=lambda md: md["ok"])
    drop2 = tm.counter("a.b.c", drop=lambda md, m: m["n"] > 1)
    assert keep1.keep is not None and keep1.keep({"ok": True}, {}) is True
    assert keep2.keep is not None and keep2.keep({}, {"n": 1}) is False
    assert drop1.keep is not None and drop1.keep({"ok": True}, {}) is False
    assert drop2.keep is not None and drop2.keep({}, {"n": 1}) is True
    assert tm.counter("a.b.c").keep is None
    with pytest.raises(ValueError, match="not both"):
        tm.counter("a.b.c", keep=lambda md: True, drop=lambda md: False)


def test_tags_as_keys_function_tag_values_and_defaults() -> None:
    keys = tm.counter("a.b.c", tags=["socket_type", "client_id", "socket_type"])
    assert keys.tags == ("socket_type", "client_id")
    assert keys.tags_of({"socket_type": "tcp", "client_id": "c", "x": 1}) == {
        "socket_type": "tcp", "client_id": "c",
    }
    assert keys.tags_of({"socket_type": "tcp"}) is None
    assert keys.tags_of({"socket_type": "tcp"}, {"client_id": "global"}) == {
        "socket_type": "tcp", "client_id": "global",
    }
    assert keys.tags_of({"socket_type": "tcp", "client_id": "md"}, {"client_id": "g"}) == {
        "socket_type": "tcp", "client_id": "md",
    }
    function = tm.counter("a.b.c", tags=lambda md: {"reason": type(md["reason"]).__name__})
    assert function.tags == ()
    assert function.tags_of({"reason": OSError()}) == {"reason": "OSError"}
    values = tm.counter("a.b.c", tags=["kind"], tag_values=lambda md: {"kind": md["k"].upper()})
    assert values.tags_of({"k": "x"}) == {"kind": "X"}
    broken = tm.counter("a.b.c", tags=lambda md: ["not", "a", "mapping"])  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError):
        broken.tags_of({})


def test_every_metric_type_has_its_class() -> None:
    kinds = [
        (tm.counter("a.b.c"), tm.Counter, "counter"),
        (tm.sum("a.b.c"), tm.Sum, "sum"),
        (tm.last_value("a.b.c"), tm.LastValue, "last_value"),
        (tm.summary("a.b.c"), tm.Summary, "summary"),
        (tm.distribution("a.b.c", reporter_options={"buckets": [1]}), tm.Distribution,
         "distribution"),
    ]
    for metric, cls, kind in kinds:
        assert isinstance(metric, cls)
        assert metric.kind == kind
        assert kind in repr(metric) or cls.__name__ in repr(metric)
    with pytest.raises(TypeError):
        kinds[4][0].reporter_options["buckets"] = [2]  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (1.5, True), (-3, True), (True, False), (float("nan"), False),
     (float("inf"), False), ("1", False), (None, False), (b"1", False)],
)
def test_is_number(value: Any, expected: bool) -> None:
    assert tm.is_number(value) is expected
