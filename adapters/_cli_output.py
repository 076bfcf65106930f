"""What ``emqtt`` prints: received messages in four formats, and the ``pub --repeat`` progress bar.

Formatting is separate from I/O so each format is a pure function of one message: `format_message`
returns the bytes to write, and `Progress` draws on whatever text stream it is given with a clock
it is given.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, TextIO

__all__ = [
    "Progress",
    "ReceivedMessage",
    "format_message",
    "jsonable",
]


class ReceivedMessage(Protocol):
    """The parts of a received PUBLISH that the formats use."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def qos(self) -> int: ...
    @property
    def retain(self) -> bool: ...


def jsonable(value: object) -> Any:
    """``value`` as plain JSON data: dataclasses and mappings become objects, enums their names,
    bytes text when they are UTF-8 and ``base64:...`` otherwise, other sequences lists.

    Used for MQTT 5 properties, whose values mix strings, integers, bytes (correlation data)
    and lists of pairs (user properties).
    """
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if _present(getattr(value, f.name))
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if _present(v)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


def _present(value: object) -> bool:
    """Whether a property is set: None and empty collections are 'absent' in MQTT 5 terms."""
    if value is None:
        return False
    return not (isinstance(value, (list, tuple, dict, set, frozenset)) and not value)


def _properties(message: ReceivedMessage) -> dict[str, Any]:
    props = getattr(message, "properties", None)
    if props is None:
        return {}
    data = jsonable(props)
    return data if isinstance(data, dict) else {"properties": data}


def _timestamp(now: float) -> str:
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_message(
    message: ReceivedMessage,
    output: str,
    *,
    show_properties: bool = False,
    end_of_line: bool = True,
    received_at: float | None = None,
) -> bytes:
    """The bytes ``emqtt sub`` writes to stdout for one message.

    Args:
        message: The received message.
        output: ``payload`` (the payload as is), ``verbose`` (``topic payload``, as
            ``mosquitto_sub -v``), ``json`` (one JSON object a line) or ``size``
            (``Received N bytes``, as emqtt's ``--print size``).
        show_properties: In ``verbose``, also print QoS, retain flag and MQTT 5 properties.
        end_of_line: End ``payload`` and ``verbose`` output with a newline (``-N`` turns it off).
        received_at: POSIX time of arrival, for the ``json`` format's ``tst`` field.
    """
    eol = b"\n" if end_of_line else b""
    if output == "payload":
        return message.payload + eol
    if output == "verbose":
        head = message.topic
        if show_properties:
            details = [f"qos={message.qos}"]
            if message.retain:
                details.append("retain")
            props = _properties(message)
            if props:
                details.append(json.dumps(props, ensure_ascii=False, separators=(",", ":")))
            head = f"{head} [{' '.join(details)}]"
        return head.encode("utf-8", "surrogateescape") + b" " + message.payload + eol
    if output == "size":
        return f"Received {len(message.payload)} bytes\n".encode()
    if output == "json":
        record: dict[str, Any] = {}
        if received_at is not None:
            record["tst"] = _timestamp(received_at)
        record["topic"] = message.topic
        record["qos"] = message.qos
        record["retain"] = message.retain
        record["payloadlen"] = len(message.payload)
        try:
            record["payload"] = message.payload.decode("utf-8")
        except UnicodeDecodeError:
            record["payload_base64"] = base64.b64encode(message.payload).decode("ascii")
        props = _properties(message)
        if props:
            record["properties"] = props
        return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
    raise ValueError(f"unknown output format {output!r}")


class Progress:
    """A one-line progress bar with the publish rate, redrawn in place on a terminal.

    Redraws at most every ``interval`` seconds so that drawing never costs more than the
    publishing it reports; `finish` draws the final state and ends the line.
    """

    WIDTH = 30

    def __init__(
        self,
        total: int,
        stream: TextIO,
        clock: Callable[[], float],
        *,
        interval: float = 0.1,
        label: str = "published",
    ) -> None:
        self.total = total
        self.done = 0
        self._stream = stream
        self._clock = clock
        self._interval = interval
        self._label = label
        self._started = clock()
        self._drawn_at = -math.inf
        self._last_width = 0

    def advance(self, count: int = 1) -> None:
        """Record ``count`` more messages; redraw if the last drawing is old enough."""
        self.done += count
        now = self._clock()
        if now - self._drawn_at >= self._interval:
            self._draw(now)

    def finish(self) -> None:
        """Draw the final line and move to the next line."""
        self._draw(self._clock())
        self._stream.write("\n")
        self._stream.flush()

    def rate(self, now: float | None = None) -> float:
        """Messages per second since the bar was created."""
        elapsed = (self._clock() if now is None else now) - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def render(self, now: float) -> str:
        """The text of the bar at time ``now`` (without the carriage return)."""
        fraction = self.done / self.total if self.total else 1.0
        filled = min(self.WIDTH, int(fraction * self.WIDTH))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        rate = self.rate(now)
        text = (
            f"[{bar}] {self.done}/{self.total} {self._label} {fraction * 100:5.1f}% "
            f"{rate:,.0f} msg/s"
        )
        remaining = self.total - self.done
        if remaining > 0 and rate > 0:
            text += f" ETA {_duration(remaining / rate)}"
        elif remaining <= 0:
            text += f" in {_duration(now - self._started)}"
        return text

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        text = self.render(now)
        padding = " " * max(0, self._last_width - len(text))
        self._last_width = len(text)
        self._stream.write("\r" + text + padding)
        self._stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
