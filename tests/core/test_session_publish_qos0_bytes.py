"""ClientSession: the QoS 0 publish path that encodes from a cached topic writes exactly the
bytes the codec writes for the same PUBLISH, on every protocol version and at every size."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_broker import SessionHarness

from emqtt_core.codec import Decoder, encode
from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import PublishCompleted
from emqtt_core.exceptions import UsageError
from emqtt_core.packets import Publish
from emqtt_core.properties import Properties

VERSIONS = list(ProtocolVersion)


def plain(version: ProtocolVersion, **connack: object) -> SessionHarness:
    """A connected session that records no packets (as with telemetry off)."""
    h = SessionHarness(ClientConfig(client_id="c", protocol_version=version))
    h.connect(properties=Properties(**connack))  # type: ignore[arg-type]
    h.events()
    h.session.record_sent_packets = False
    return h


topics = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="+#\x00"),
    min_size=1,
    max_size=40,
)
payloads = st.one_of(
    st.binary(max_size=200),
    st.integers(min_value=100, max_value=20_000).map(lambda n: b"p" * n),
)


@settings(max_examples=150, deadline=None)
@given(
    version=st.sampled_from(VERSIONS),
    topic=topics,
    payload=payloads,
    retain=st.booleans(),
)
def test_the_bytes_are_the_codecs(
    version: ProtocolVersion, topic: str, payload: bytes, retain: bool
) -> None:
    h = plain(version)
    first = h.session.publish(topic, payload, retain=retain)
    second = h.session.publish(topic, payload, retain=retain)  # the topic is cached now
    expected = encode(Publish(topic=topic, payload=payload, retain=retain), version)
    assert h.session.data_to_send(h.now) == expected + expected
    assert h.events() == [
        PublishCompleted(first, QoS.AT_MOST_ONCE, None),
        PublishCompleted(second, QoS.AT_MOST_ONCE, None),
    ]


@pytest.mark.parametrize("size", [0, 120, 125, 16_370, 16_384, 70_000])
@pytest.mark.parametrize("version", VERSIONS)
def test_remaining_lengths_of_one_two_and_three_bytes(version: ProtocolVersion, size: int) -> None:
    # [MQTT-1.5.5] the Remaining Length is a Variable Byte Integer of one to four bytes.
    h = plain(version)
    h.session.publish("a/b", b"x" * size)
    data = h.session.data_to_send(h.now)
    decoder = Decoder(version)
    decoder.feed(data)
    assert decoder.next_packet() == Publish(topic="a/b", payload=b"x" * size)
    assert decoder.buffered == 0


def test_the_server_maximum_packet_size_still_refuses() -> None:
    # [MQTT-3.2.2-15] nothing over the server's Maximum Packet Size.
    h = plain(ProtocolVersion.MQTT_5, maximum_packet_size=40)
    h.session.publish("a", b"x" * 30)
    with pytest.raises(UsageError):
        h.session.publish("a", b"x" * 40)
    assert h.session.data_to_send(h.now) == encode(
        Publish(topic="a", payload=b"x" * 30), ProtocolVersion.MQTT_5
    )


@pytest.mark.parametrize("record", [False, True])
def test_without_immediate_qos0_events_only_queued_publishes_complete(record: bool) -> None:
    h = SessionHarness(ClientConfig(client_id="c"))
    h.session.immediate_qos0_events = False
    h.session.record_sent_packets = record
    queued = h.session.publish("a", b"waited")  # no connection yet: it waits in the queue
    h.connect()
    h.session.publish("a", b"at once")
    h.session.publish("a", b"with properties", properties=Properties(content_type="t"))
    assert h.session.data_to_send(h.now)
    assert h.events()[1:] == [PublishCompleted(queued, QoS.AT_MOST_ONCE, None)]
