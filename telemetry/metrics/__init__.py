"""Metric definitions, as Elixir's ``Telemetry.Metrics`` defines them.

A definition only *describes* a metric: which event feeds it, which measurement it reads, which
metadata become tags, which events it keeps. Reporters (:mod:`telemetry.reporters`) aggregate::

    from telemetry import metrics as tm

    RECV = ("emqtt", "socket", "recv_data")
    METRICS = [
        tm.counter("emqtt.socket.received.packets", event_name=RECV, measurement="data_size"),
        tm.sum("emqtt.socket.received.bytes", event_name=RECV, measurement="data_size",
               tags=["socket_type"], unit="byte"),
        tm.distribution("http.request.duration", event_name=("http", "request", "stop"),
                        measurement="duration", unit=("native", "millisecond"),
                        reporter_options={"buckets": [10, 100, 1000]}),
    ]

By default the event name is the metric name without its last segment and the measurement is
that last segment. Everything user-supplied is normalised once, here, into
:meth:`Metric.extract`, :attr:`Metric.keep` and :meth:`Metric.tags_of`, so reporters do no
inspection per event.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypedDict, TypeVar

from telemetry._core import EventName, validate_event_name
from telemetry.metrics._units import BYTE_UNITS, TIME_UNITS, converter

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "BYTE_UNITS",
    "TIME_UNITS",
    "Counter",
    "Distribution",
    "LastValue",
    "Metric",
    "MetricOptions",
    "Sum",
    "Summary",
    "counter",
    "distribution",
    "is_number",
    "last_value",
    "sum",
    "summary",
]

Measurements: TypeAlias = Mapping[str, Any]
Metadata: TypeAlias = Mapping[str, Any]
MeasurementSpec: TypeAlias = (
    "str | Callable[[Measurements], Any] | Callable[[Measurements, Metadata], Any]"
)
TagsSpec: TypeAlias = "Sequence[str] | Callable[[Metadata], Mapping[str, Any]]"
Predicate: TypeAlias = "Callable[[Metadata], bool] | Callable[[Metadata, Measurements], bool]"
Unit: TypeAlias = "str | tuple[str, str]"

_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


def is_number(value: object) -> bool:
    """True for a finite ``int`` or ``float`` (``bool`` is not a measurement)."""
    if type(value) is int:
        return True
    if type(value) is float:
        return value - value == 0.0  # false for inf and nan
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value - value == 0.0


@dataclass(frozen=True, eq=False, repr=False)
class Metric:
    """A metric definition; build one with :func:`counter`, :func:`sum`, :func:`last_value`,
    :func:`summary` or :func:`distribution`."""

    kind: ClassVar[str] = "metric"

    name: tuple[str, ...]
    """The metric name segments, e.g. ``("emqtt", "socket", "received", "bytes")``."""
    event_name: EventName
    measurement: MeasurementSpec
    tags: tuple[str, ...]
    """Tag keys; ``()`` when :attr:`tag_function` gives the whole tag set."""
    tag_function: Callable[[Metadata], Mapping[str, Any]] | None
    description: str
    unit: str
    """The unit the reported values are in (the target of a ``(from, to)`` conversion)."""
    reporter_options: Mapping[str, Any]
    keep: Callable[[Metadata, Measurements], bool] | None
    """``keep(metadata, measurements)``: false drops the event for this metric; None keeps all."""
    _extract: Callable[[Measurements, Metadata], Any] = field(repr=False)
    _tag_values: Callable[[Metadata], Mapping[str, Any]] | None = field(repr=False)

    @property
    def full_name(self) -> str:
        """The name with its segments joined by dots."""
        return ".".join(self.name)

    def extract(self, measurements: Measurements, metadata: Metadata) -> Any:
        """Return the (unit-converted) measurement, or ``None`` if it is missing."""
        return self._extract(measurements, metadata)

    def tags_of(
        self, metadata: Metadata, defaults: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Return the tag set of one event, or ``None`` if a listed tag is missing.

        *defaults* (a reporter's global tags) fill listed keys that the metadata lacks.
        """
        if self.tag_function is not None:
            tags = self.tag_function(metadata)
            if not isinstance(tags, Mapping):
                raise TypeError(f"the tags function of {self.full_name} returned {tags!r}")
            return dict(tags)
        source = metadata if self._tag_values is None else self._tag_values(metadata)
        result: dict[str, Any] = {}
        for key in self.tags:
            if key in source:
                result[key] = source[key]
            elif defaults is not None and key in defaults:
                result[key] = defaults[key]
            else:
                return None
        return result

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.full_name!r}, event_name={self.event_name!r}, "
            f"measurement={self.measurement!r}, tags={self.tags or self.tag_function!r}, "
            f"unit={self.unit!r})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class Counter(Metric):
    """The number of events (the measurement only has to be present)."""

    kind: ClassVar[str] = "counter"


@dataclass(frozen=True, eq=False, repr=False)
class Sum(Metric):
    """The running sum of the measurement."""

    kind: ClassVar[str] = "sum"


@dataclass(frozen=True, eq=False, repr=False)
class LastValue(Metric):
    """The measurement of the most recent event."""

    kind: ClassVar[str] = "last_value"


@dataclass(frozen=True, eq=False, repr=False)
class Summary(Metric):
    """Statistics of the measurement; the reporter chooses which."""

    kind: ClassVar[str] = "summary"


@dataclass(frozen=True, eq=False, repr=False)
class Distribution(Metric):
    """A histogram of the measurement; buckets go in ``reporter_options["buckets"]``."""

    kind: ClassVar[str] = "distribution"


# --- normalisation ---------------------------------------------------------------------------


def _arity(function: Callable[..., Any], what: str) -> int:
    """1 or 2: how many positional arguments *function* takes (2 wins when both fit)."""
    if not callable(function):
        raise TypeError(f"{what} must be callable, got {function!r}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: the 1-argument form
        return 1
    for count in (2, 1):
        try:
            signature.bind(*([None] * count))
        except TypeError:
            continue
        return count
    raise TypeError(f"{what} must take 1 or 2 positional arguments: {function!r}{signature}")


def _parse_name(name: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(name, str):
        segments = tuple(name.split("."))
    elif isinstance(name, Sequence) and all(isinstance(s, str) for s in name):
        segments = tuple(name)
    else:
        raise TypeError(f"a metric name is a dotted str or a sequence of str, got {name!r}")
    if not segments or any(not s for s in segments):
        raise ValueError(
            f"metric name {name!r} is empty or contains leading, trailing or consecutive dots"
        )
    return segments


def _extractor(
    measurement: MeasurementSpec, convert: Callable[[float], float] | None
) -> Callable[[Measurements, Metadata], Any]:
    if isinstance(measurement, str):
        key = measurement
        if convert is None:
            return lambda measurements, _metadata: measurements.get(key)

        def by_key(measurements: Measurements, _metadata: Metadata) -> Any:
            value: Any = measurements.get(key)
            return convert(value) if is_number(value) else value

        return by_key
    function: Any = measurement
    if _arity(function, "measurement") == 1:
        def one(measurements: Measurements, _metadata: Metadata) -> Any:
            return function(measurements)

        raw: Callable[[Measurements, Metadata], Any] = one
    else:
        raw = function
    if convert is None:
        return raw

    def converted(measurements: Measurements, metadata: Metadata) -> Any:
        value = raw(measurements, metadata)
        return convert(value) if is_number(value) else value

    return converted


def _predicate(
    keep: Predicate | None, drop: Predicate | None
) -> Callable[[Metadata, Measurements], bool] | None:
    if keep is not None and drop is not None:
        raise ValueError("a metric takes keep or drop, not both")
    given = keep if keep is not None else drop
    if given is None:
        return None
    function: Any = given
    two = _arity(function, "keep" if keep is not None else "drop") == 2
    if keep is not None:
        if two:
            return lambda metadata, measurements: bool(function(metadata, measurements))
        return lambda metadata, _measurements: bool(function(metadata))
    if two:
        return lambda metadata, measurements: not function(metadata, measurements)
    return lambda metadata, _measurements: not function(metadata)


class MetricOptions(TypedDict, total=False):
    """The keyword options of every metric constructor (:func:`counter`, :func:`sum`,
    :func:`last_value`, :func:`summary`, :func:`distribution`); all are optional."""

    event_name: EventName | None
    """The event that feeds the metric; by default the metric name without its last segment."""
    measurement: MeasurementSpec | None
    """A measurement key, or a function of the measurements (or of the measurements and the
    metadata); by default the last segment of the metric name."""
    tags: TagsSpec
    """Metadata keys that become tags, or a function of the metadata that returns the tags."""
    tag_values: Callable[[Metadata], Mapping[str, Any]] | None
    """With tag keys: a function of the metadata whose result the keys are read from."""
    keep: Predicate | None
    """Only events it is true for count (a function of the metadata, or of the metadata and
    the measurements)."""
    drop: Predicate | None
    """Events it is true for do not count; not together with ``keep``."""
    description: str | None
    unit: Unit
    """The unit (``"unit"`` by default), or a ``(from, to)`` conversion such as
    ``("native", "millisecond")``."""
    reporter_options: Mapping[str, Any] | None
    """Options for reporters, such as ``{"buckets": [...]}`` for a distribution."""


_M = TypeVar("_M", bound=Metric)


def _define(cls: type[_M], name: str | Sequence[str], options: MetricOptions) -> _M:
    unknown = options.keys() - MetricOptions.__optional_keys__
    if unknown:
        raise TypeError(f"{cls.kind}() got an unexpected keyword argument {min(unknown)!r}")
    event_name = options.get("event_name")
    measurement = options.get("measurement")
    tags = options.get("tags", ())
    tag_values = options.get("tag_values")
    unit = options.get("unit", "unit")
    reporter_options = options.get("reporter_options")
    segments = _parse_name(name)
    if event_name is None:
        if len(segments) < 2:
            raise ValueError(
                f"metric name {name!r} has one segment: give event_name and measurement"
            )
        event = segments[:-1]
    else:
        event = validate_event_name(event_name)
    if measurement is None:
        measurement = segments[-1]
    elif not isinstance(measurement, str):
        _arity(measurement, "measurement")
    if isinstance(unit, tuple):
        if len(unit) != 2 or not all(isinstance(u, str) for u in unit):
            raise TypeError(f"a unit conversion is a (from, to) pair of str, got {unit!r}")
        convert = converter(unit[0], unit[1])
        target = unit[1]
    elif isinstance(unit, str):
        convert, target = None, unit
    else:
        raise TypeError(f"unit is a str or a (from, to) pair, got {unit!r}")
    if callable(tags):
        if tag_values is not None:
            raise ValueError("tag_values only applies to a list of tag keys, not a tags function")
        if _arity(tags, "tags") != 1:
            raise TypeError("a tags function takes the metadata only")
        tag_keys: tuple[str, ...] = ()
        tag_function: Callable[[Metadata], Mapping[str, Any]] | None = tags
    else:
        if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
            raise TypeError(f"tags is a sequence of metadata keys or a function, got {tags!r}")
        tag_keys = tuple(dict.fromkeys(tags))
        tag_function = None
        if tag_values is not None:
            _arity(tag_values, "tag_values")
    if reporter_options is not None and not isinstance(reporter_options, Mapping):
        raise TypeError(f"reporter_options is a mapping, got {reporter_options!r}")
    return cls(
        name=segments,
        event_name=event,
        measurement=measurement,
        tags=tag_keys,
        tag_function=tag_function,
        description=options.get("description") or "",
        unit=target,
        reporter_options=MappingProxyType(dict(reporter_options or _NO_OPTIONS)),
        keep=_predicate(options.get("keep"), options.get("drop")),
        _extract=_extractor(measurement, convert),
        _tag_values=tag_values,
    )


def counter(name: str | Sequence[str], **options: Unpack[MetricOptions]) -> Counter:
    """Define a counter: the number of events whose measurement is present."""
    return _define(Counter, name, options)


# The telemetry_metrics name: use it qualified, as metrics.sum.
def sum(name: str | Sequence[str], **options: Unpack[MetricOptions]) -> Sum:
    """Define a sum: the running total of the measurement."""
    return _define(Sum, name, options)


def last_value(name: str | Sequence[str], **options: Unpack[MetricOptions]) -> LastValue:
    """Define a last value (a gauge): the measurement of the latest event."""
    return _define(LastValue, name, options)


def summary(name: str | Sequence[str], **options: Unpack[MetricOptions]) -> Summary:
    """Define a summary: statistics of the measurement, as the reporter computes them."""
    return _define(Summary, name, options)


def distribution(name: str | Sequence[str], **options: Unpack[MetricOptions]) -> Distribution:
    """Define a distribution (histogram); buckets go in ``reporter_options["buckets"]``."""
    return _define(Distribution, name, options)
