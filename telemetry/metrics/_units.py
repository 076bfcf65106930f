"""Unit conversion for metric definitions: time units ("native" is ns) and decimal bytes."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

__all__ = ["TIME_UNITS", "BYTE_UNITS", "converter"]

# Nanoseconds per unit: Python's clocks (monotonic_ns, time_ns) make "native" the nanosecond.
TIME_UNITS: dict[str, int] = {
    "native": 1,
    "nanosecond": 1,
    "microsecond": 1_000,
    "millisecond": 1_000_000,
    "second": 1_000_000_000,
}

# Decimal, as in telemetry_metrics: 1 kilobyte is 1000 bytes.
BYTE_UNITS: dict[str, int] = {"byte": 1, "kilobyte": 1_000, "megabyte": 1_000_000}


def converter(source: str, target: str) -> Callable[[float], float] | None:
    """Return a function converting a value from *source* to *target* units.

    Returns ``None`` when no conversion is needed; raises :class:`ValueError` for unknown units
    or a conversion between a time and a byte unit. A conversion to a coarser unit yields floats.
    """
    for table in (TIME_UNITS, BYTE_UNITS):
        if source in table and target in table:
            ratio = Fraction(table[source], table[target])
            break
    else:
        known = sorted(TIME_UNITS) + sorted(BYTE_UNITS)
        raise ValueError(
            f"cannot convert {source!r} to {target!r}: both must be time units or byte units "
            f"among {known}"
        )
    if ratio == 1:
        return None
    if ratio.denominator == 1:
        factor = ratio.numerator
        return lambda value: value * factor
    inverse = float(ratio)
    return lambda value: value * inverse
