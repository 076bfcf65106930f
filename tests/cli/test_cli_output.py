"""Message formats of ``emqtt sub`` and the ``pub --repeat`` progress bar (pure, no broker)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest

from adapters._cli_output import Progress, format_message, jsonable


@dataclass(frozen=True)
class Props:
    content_type: str | None = None
    correlation_data: bytes | None = None
    user_property: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Props | None = field(default=None)


def test_payload_only() -> None:
    assert format_message(Message("t", b"hi"), "payload") == b"hi\n"
    assert format_message(Message("t", b"hi"), "payload", end_of_line=False) == b"hi"
    assert format_message(Message("t", b"\xff\x00"), "payload") == b"\xff\x00\n"


def test_verbose_is_topic_space_payload_like_mosquitto() -> None:
    assert format_message(Message("a/b", b"x y"), "verbose") == b"a/b x y\n"


def test_verbose_with_properties() -> None:
    message = Message("a", b"p", qos=1, retain=True,
                      properties=Props(content_type="text/plain", user_property=(("k", "v"),)))
    line = format_message(message, "verbose", show_properties=True).decode()
    assert line.startswith("a [qos=1 retain {")
    assert '"content_type":"text/plain"' in line and '"user_property":[["k","v"]]' in line
    assert line.endswith("] p\n")


def test_json_lines() -> None:
    message = Message("t/1", b"caf\xc3\xa9", qos=2, properties=Props(correlation_data=b"\x01"))
    line = format_message(message, "json", received_at=0.25)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    assert record == {
        "tst": "1970-01-01T00:00:00.250Z", "topic": "t/1", "qos": 2, "retain": False,
        "payloadlen": 5, "payload": "café",
        "properties": {"correlation_data": "\x01"},
    }
    binary = json.loads(format_message(Message("t", b"\xff\xfe"), "json"))
    assert binary["payload_base64"] == "//4=" and "payload" not in binary


def test_size() -> None:
    assert format_message(Message("t", b"12345"), "size") == b"Received 5 bytes\n"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        format_message(Message("t", b""), "xml")


def test_jsonable_binary_and_enums() -> None:
    import enum

    class Colour(enum.IntEnum):
        RED = 1

    assert jsonable({"a": Colour.RED, "b": b"\xff", "c": None, "d": []}) == {
        "a": "red", "b": "base64:/w=="}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_bar_redraws_in_place_and_reports_rate() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = Progress(100, stream, clock, interval=0.1)
    clock.now += 0.5
    bar.advance(50)
    assert stream.getvalue().startswith("\r[")
    assert "50/100" in stream.getvalue() and "100 msg/s" in stream.getvalue()
    assert "ETA 0.50s" in stream.getvalue()
    drawn = stream.getvalue()
    bar.advance(1)  # within the redraw interval: nothing drawn
    assert stream.getvalue() == drawn
    clock.now += 0.49
    bar.advance(49)
    bar.finish()
    final = stream.getvalue().rsplit("\r", 1)[1]
    assert "[" + "#" * Progress.WIDTH + "]" in final and "100/100" in final
    assert "in 0.99s" in final and final.endswith("\n")
