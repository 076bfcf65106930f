"""Topic names and filters: validation and matching (MQTT 5.0 section 4.7, 4.8.2)."""

from __future__ import annotations

import pytest

from emqtt_core.exceptions import UsageError
from emqtt_core.topics import (
    MAX_TOPIC_LENGTH,
    is_shared,
    matches,
    split_shared,
    validate_topic_filter,
    validate_topic_name,
)


@pytest.mark.parametrize(
    "topic", ["a", "a/b", "/", "a//b", "/a", "a/", "$SYS/x", " ", "𪛔/ü", "a" * MAX_TOPIC_LENGTH]
)
def test_valid_topic_names(topic: str) -> None:
    validate_topic_name(topic)


@pytest.mark.parametrize(
    ("topic", "rule"),
    [
        ("", "MQTT-4.7.3-1"),
        ("a\x00b", "MQTT-4.7.3-2"),
        ("a" * (MAX_TOPIC_LENGTH + 1), "MQTT-4.7.3-3"),
        ("é" * 40000, "MQTT-4.7.3-3"),  # 80000 bytes in UTF-8
        ("a/\ud800", "MQTT-1.5.4-1"),
        ("a/+", "MQTT-3.3.2-2"),
        ("a/#", "MQTT-3.3.2-2"),
        ("a+b", "MQTT-3.3.2-2"),
    ],
)
def test_invalid_topic_names(topic: str, rule: str) -> None:
    with pytest.raises(UsageError, match=rule):
        validate_topic_name(topic)


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "+",
        "a/#",
        "a/+/b",
        "+/+",
        "/+",
        "a//+",
        "sport/tennis/#",
        "$share/group/a/b",
        "$share/g/#",
        "$share/g//",
        "$SYS/#",
        "ab",
    ],
)
def test_valid_topic_filters(topic_filter: str) -> None:
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic_filter", "message"),
    [
        ("", "MQTT-4.7.3-1"),
        ("a\x00", "MQTT-4.7.3-2"),
        ("a" * (MAX_TOPIC_LENGTH + 1), "MQTT-4.7.3-3"),
        ("\udfff", "MQTT-1.5.4-1"),
        ("a/#/b", "MQTT-4.7.1-1"),
        ("a#", "MQTT-4.7.1-1"),
        ("#/", "MQTT-4.7.1-1"),
        ("a+", "MQTT-4.7.1-2"),
        ("a/+b/c", "MQTT-4.7.1-2"),
        ("$share//a", "MQTT-4.8.2-1"),
        ("$share/g+/a", "MQTT-4.8.2-1"),
        ("$share/#/a", "MQTT-4.8.2-1"),
        ("$share/g", "no topic filter"),
        ("$share/g/", "no topic filter"),
        ("$share/g/a/#/b", "MQTT-4.7.1-1"),
    ],
)
def test_invalid_topic_filters(topic_filter: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        validate_topic_filter(topic_filter)


def test_usage_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_topic_name("")


@pytest.mark.parametrize(
    ("topic_filter", "expected"),
    [("$share/g/a/b", ("g", "a/b")), ("a/b", (None, "a/b")), ("$shared/a", (None, "$shared/a"))],
)
def test_split_shared(topic_filter: str, expected: tuple[str | None, str]) -> None:
    assert split_shared(topic_filter) == expected
    assert is_shared(topic_filter) is (expected[0] is not None)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        # The examples of section 4.7.1.
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("#", "a/b/c", True),
        ("#", "/", True),
        ("+/#", "a", True),
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/b/d", False),
        ("a/+/c", "a/b", False),
        ("a//b", "a//b", True),
        ("a/+/b", "a//b", True),
        # [MQTT-4.7.2-1] wildcards at the first level do not match $ topics.
        ("#", "$SYS/broker", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        ("$SYS", "$SYS", True),
        # A shared subscription matches by its inner filter.
        ("$share/g/sport/#", "sport/tennis", True),
        ("$share/g/a", "b", False),
        ("$share/g/#", "$SYS/x", False),
    ],
)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected
