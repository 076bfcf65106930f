"""Topic names and topic filters: validation and matching (section 4.7 of MQTT 5.0).

A *topic name* is where a message is published (``sensors/1/temp``); a *topic
filter* is what a subscription asks for and may hold the wildcards ``+`` (one
level) and ``#`` (this level and every level below). A filter of the form
``$share/{group}/{filter}`` is a shared subscription (section 4.8.2).

The validators raise :class:`~emqtt_core.exceptions.UsageError`; they are pure
functions with no state.
"""

from __future__ import annotations

from typing import Final

from .exceptions import UsageError

__all__ = [
    "MAX_TOPIC_LENGTH",
    "SHARED_PREFIX",
    "is_shared",
    "matches",
    "split_shared",
    "validate_topic_filter",
    "validate_topic_name",
]

MAX_TOPIC_LENGTH: Final = 65535
"""Longest topic name or filter, in bytes of UTF-8 [MQTT-4.7.3-3]."""

SHARED_PREFIX: Final = "$share/"
"""Prefix of a shared subscription's topic filter."""


def _check_string(value: str, what: str) -> None:
    # [MQTT-4.7.3-1] at least one character; [MQTT-4.7.3-2] no U+0000;
    # [MQTT-4.7.3-3] at most 65535 bytes; [MQTT-1.5.4-1] well formed UTF-8 (no
    # surrogate code points, which the encoder refuses).
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise UsageError(f"{what} must not be empty [MQTT-4.7.3-1]")
    if "\x00" in value:
        raise UsageError(f"{what} must not contain U+0000 [MQTT-4.7.3-2]")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not well formed UTF-8 [MQTT-1.5.4-1]") from None
    if size > MAX_TOPIC_LENGTH:
        raise UsageError(f"{what} is {size} bytes long, the maximum is 65535 [MQTT-4.7.3-3]")


def validate_topic_name(topic: str) -> None:
    """Check that ``topic`` can be published to.

    Raises:
        UsageError: the name is empty, too long, not valid UTF-8, contains
            U+0000 or a wildcard character.
    """
    _check_string(topic, "topic name")
    if "+" in topic or "#" in topic:
        # [MQTT-3.3.2-2] the topic name of a PUBLISH must not contain wildcards.
        raise UsageError(f"topic name {topic!r} must not contain '+' or '#' [MQTT-3.3.2-2]")


def is_shared(topic_filter: str) -> bool:
    """Return whether ``topic_filter`` is a shared subscription (``$share/...``)."""
    return topic_filter.startswith(SHARED_PREFIX)


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """Split a filter into its share name and the filter it subscribes to.

    ``"$share/g/a/+"`` gives ``("g", "a/+")``; a filter that is not shared
    gives ``(None, topic_filter)``. The result is only meaningful for a filter
    that :func:`validate_topic_filter` accepts.
    """
    if not topic_filter.startswith(SHARED_PREFIX):
        return None, topic_filter
    group, _, inner = topic_filter[len(SHARED_PREFIX) :].partition("/")
    return group, inner


def validate_topic_filter(topic_filter: str) -> None:
    """Check that ``topic_filter`` can be subscribed to.

    Empty levels are allowed (``a//b``, ``/a``), as the specification says.

    Raises:
        UsageError: the filter is empty, too long, not valid UTF-8, contains
            U+0000, misplaces a wildcard, or is a malformed shared subscription.
    """
    _check_string(topic_filter, "topic filter")
    group, inner = split_shared(topic_filter)
    if group is not None:
        # [MQTT-4.8.2-1] the share name is at least one character and holds no
        # '/', '+' or '#'; [MQTT-4.8.2-2] a topic filter follows it.
        if not group or "+" in group or "#" in group:
            raise UsageError(f"bad share name in {topic_filter!r} [MQTT-4.8.2-1]")
        if not inner:
            raise UsageError(f"{topic_filter!r} has no topic filter after the share name")
    if "+" not in inner and "#" not in inner:
        return
    levels = inner.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            # [MQTT-4.7.1-1] '#' is alone in its level and is the last level.
            raise UsageError(f"'#' must be the whole last level of {topic_filter!r} [MQTT-4.7.1-1]")
        if "+" in level and level != "+":
            # [MQTT-4.7.1-2] '+' occupies a whole level.
            raise UsageError(f"'+' must occupy a whole level of {topic_filter!r} [MQTT-4.7.1-2]")


def matches(topic_filter: str, topic: str) -> bool:
    """Return whether a message published to ``topic`` matches ``topic_filter``.

    A shared subscription matches by its inner filter. Filters starting with a
    wildcard do not match topic names starting with ``$`` [MQTT-4.7.2-1].
    Both arguments are assumed valid (see the validators).
    """
    if topic_filter.startswith(SHARED_PREFIX):
        topic_filter = split_shared(topic_filter)[1]
    if topic_filter == topic:
        return True
    first = topic_filter[:1]
    if first not in ("+", "#"):
        if "+" not in topic_filter and "#" not in topic_filter:
            return False
    elif topic.startswith("$"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    count = len(topic_levels)
    for index, level in enumerate(filter_levels):
        if level == "#":
            # '#' also matches the parent level: "a/#" matches "a".
            return True
        if index >= count or (level != "+" and level != topic_levels[index]):
            return False
    return len(filter_levels) == count
