"""Events: immutable values; the hot-path constructors build exactly the same values."""

from __future__ import annotations

import dataclasses

import pytest

from emqtt_core.enums import QoS
from emqtt_core.events import (
    MessageReceived,
    PublishCompleted,
    message_received,
    publish_completed,
)
from emqtt_core.packets import Publish
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode


def test_publish_completed_fast_constructor_matches_the_dataclass() -> None:
    props = Properties(reason_string="r")
    fast = publish_completed(7, QoS.AT_LEAST_ONCE, 3, ReasonCode.NO_MATCHING_SUBSCRIBERS, props)
    slow = PublishCompleted(7, QoS.AT_LEAST_ONCE, 3, ReasonCode.NO_MATCHING_SUBSCRIBERS, props)
    assert type(fast) is PublishCompleted
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert publish_completed(1, QoS.AT_MOST_ONCE, None) == PublishCompleted(
        1, QoS.AT_MOST_ONCE, None
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.ticket = 8  # type: ignore[misc]


def test_message_received_fast_constructor_matches_the_dataclass() -> None:
    message = Publish(topic="t", payload=b"x", qos=QoS.EXACTLY_ONCE, packet_id=9)
    fast = message_received(message, True)
    assert type(fast) is MessageReceived
    assert fast == MessageReceived(message, True)
    assert (fast.packet_id, fast.qos, fast.needs_ack) == (9, QoS.EXACTLY_ONCE, True)
    assert message_received(message) == MessageReceived(message)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.needs_ack = False  # type: ignore[misc]
