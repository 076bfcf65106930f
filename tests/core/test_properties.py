"""MQTT 5 properties: the value, the per-packet tables, and their encoding (section 2.2.2)."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import PacketType, QoS
from emqtt_core.exceptions import UsageError
from emqtt_core.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PubAck,
    Publish,
    Subscribe,
    Subscription,
    Will,
)
from emqtt_core.properties import (
    NO_PROPERTIES,
    PROPERTY_SPECS,
    WILL_PROPERTIES,
    Properties,
    PropertyId,
    PropertyType,
    allowed_for,
)


def roundtrip(packet: Packet) -> Packet:
    decoder = Decoder(5)
    decoder.feed(encode(packet, 5))
    decoded = decoder.next_packet()
    assert decoder.next_packet() is None
    assert decoded is not None
    return decoded


def test_every_field_has_a_spec_and_vice_versa() -> None:
    names = [field.name for field in dataclasses.fields(Properties)]
    assert names == [spec.name for spec in sorted(PROPERTY_SPECS.values(), key=lambda s: s.id)]
    assert len(names) == 27
    for spec in PROPERTY_SPECS.values():
        assert spec.name == PropertyId(spec.id).name.lower()
        assert spec.repeatable is (spec.name in ("user_property", "subscription_identifier"))


def test_empty_properties() -> None:
    assert Properties() == NO_PROPERTIES
    assert repr(NO_PROPERTIES) == "Properties()"
    assert NO_PROPERTIES.present() == {}
    assert NO_PROPERTIES.user_property == () and NO_PROPERTIES.subscription_identifier == ()
    assert NO_PROPERTIES.topic_alias is None


def test_only_present_properties_are_stored_and_shown() -> None:
    props = Properties(
        message_expiry_interval=0,
        topic_alias=None,
        user_property=(("a", "1"), ("a", "2")),
        retain_available=False,
    )
    assert props.present() == {
        "message_expiry_interval": 0,
        "retain_available": False,
        "user_property": (("a", "1"), ("a", "2")),
    }
    assert repr(props) == (
        "Properties(message_expiry_interval=0, retain_available=False, "
        "user_property=(('a', '1'), ('a', '2')))"
    )


def test_properties_are_frozen_hashable_and_replaceable() -> None:
    props = Properties(content_type="text/plain")
    with pytest.raises(dataclasses.FrozenInstanceError):
        props.content_type = "x"  # type: ignore[misc]
    changed = dataclasses.replace(props, content_type=None, topic_alias=4)
    assert changed == Properties(topic_alias=4)
    assert changed.present() == {"topic_alias": 4}
    assert hash(props) == hash(Properties(content_type="text/plain"))
    assert props != Properties(content_type="text/html")
    assert pickle.loads(pickle.dumps(props)) == props


def test_allowed_for_follows_the_specification_table() -> None:
    assert allowed_for(PacketType.PUBLISH) == {
        "payload_format_indicator",
        "message_expiry_interval",
        "content_type",
        "response_topic",
        "correlation_data",
        "subscription_identifier",
        "topic_alias",
        "user_property",
    }
    assert allowed_for(PacketType.PUBACK) == {"reason_string", "user_property"}
    assert allowed_for(PacketType.PUBCOMP) == allowed_for(PacketType.PUBACK)
    assert allowed_for(PacketType.SUBSCRIBE) == {"subscription_identifier", "user_property"}
    assert allowed_for(PacketType.UNSUBSCRIBE) == {"user_property"}
    assert allowed_for(PacketType.PINGREQ) == frozenset()
    assert allowed_for(PacketType.AUTH) == {
        "authentication_method",
        "authentication_data",
        "reason_string",
        "user_property",
    }
    assert "will_delay_interval" not in allowed_for(PacketType.CONNECT)
    assert {
        "payload_format_indicator",
        "message_expiry_interval",
        "content_type",
        "response_topic",
        "correlation_data",
        "will_delay_interval",
        "user_property",
    } == WILL_PROPERTIES
    assert len(allowed_for(PacketType.CONNACK)) == 17
    assert len(allowed_for(PacketType.DISCONNECT)) == 4


FULL_PUBLISH = Properties(
    payload_format_indicator=1,
    message_expiry_interval=2**32 - 1,
    content_type="application/json",
    response_topic="reply/to",
    correlation_data=b"\x00\x01",
    subscription_identifier=(1, 268_435_455, 300),
    topic_alias=65535,
    user_property=(("k", "v"), ("k", "v2"), ("", "")),
)
FULL_CONNACK = Properties(
    session_expiry_interval=3600,
    assigned_client_identifier="auto-1",
    server_keep_alive=0,
    authentication_method="SCRAM",
    authentication_data=b"x" * 300,
    response_information="resp/",
    server_reference="other:1883",
    reason_string="welcome",
    receive_maximum=1,
    topic_alias_maximum=0,
    maximum_qos=QoS.AT_LEAST_ONCE,
    retain_available=True,
    user_property=(("a", "b"),),
    maximum_packet_size=1,
    wildcard_subscription_available=False,
    subscription_identifier_available=True,
    shared_subscription_available=False,
)
FULL_CONNECT = Properties(
    session_expiry_interval=0,
    authentication_method="m",
    authentication_data=b"",
    request_problem_information=False,
    request_response_information=True,
    receive_maximum=65535,
    topic_alias_maximum=10,
    user_property=(("x", "y"),),
    maximum_packet_size=2**32 - 1,
)
FULL_WILL = Properties(
    payload_format_indicator=0,
    message_expiry_interval=10,
    content_type="c",
    response_topic="r",
    correlation_data=b"d",
    will_delay_interval=30,
    user_property=(("w", "1"),),
)


@pytest.mark.parametrize(
    "packet",
    [
        Publish(topic="t", payload=b"p", properties=FULL_PUBLISH),
        ConnAck(properties=FULL_CONNACK),
        Connect(
            client_id="c",
            properties=FULL_CONNECT,
            will=Will(topic="w", properties=FULL_WILL),
        ),
        Subscribe(
            packet_id=1,
            subscriptions=(Subscription(topic_filter="a"),),
            properties=Properties(subscription_identifier=(268_435_455,)),
        ),
        Disconnect(properties=Properties(session_expiry_interval=1, server_reference="s")),
        Auth(properties=Properties(authentication_method="m", authentication_data=b"d")),
        PubAck(packet_id=1, properties=Properties(reason_string="why" * 100)),
    ],
    ids=lambda packet: type(packet).__name__,
)
def test_every_property_round_trips(packet: Packet) -> None:
    decoded = roundtrip(packet)
    assert decoded == packet
    assert decoded.properties.present() == packet.properties.present()  # type: ignore[union-attr]


def test_decoded_byte_properties_have_their_types() -> None:
    decoded = roundtrip(ConnAck(properties=FULL_CONNACK))
    assert isinstance(decoded, ConnAck)
    assert decoded.properties.maximum_qos is QoS.AT_LEAST_ONCE
    assert decoded.properties.retain_available is True
    assert decoded.properties.wildcard_subscription_available is False


def test_user_properties_keep_order_and_duplicates() -> None:
    pairs = (("b", "1"), ("a", "2"), ("b", "3"))
    decoded = roundtrip(Publish(topic="t", properties=Properties(user_property=pairs)))
    assert decoded.properties.user_property == pairs  # type: ignore[union-attr]


def test_properties_are_encoded_in_identifier_order() -> None:
    data = encode(
        Publish(topic="t", properties=Properties(topic_alias=1, message_expiry_interval=2)), 5
    )
    # fixed header (2), topic (3), property length (1), then 0x02 before 0x23.
    assert data[5:] == bytes([8, 0x02, 0, 0, 0, 2, 0x23, 0, 1])


def test_long_property_block_uses_a_multi_byte_length() -> None:
    packet = Publish(topic="t", properties=Properties(content_type="x" * 200))
    data = encode(packet, 5)
    # fixed header (3: the remaining length takes 2 bytes), topic (3), property length.
    assert data[6:8] == bytes([203 & 0x7F | 0x80, 1])  # 203 = 1 + 2 + 200
    assert roundtrip(packet) == packet


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (Properties(session_expiry_interval=1), "not allowed in PUBLISH"),
        (Properties(will_delay_interval=1), "not allowed in PUBLISH"),
        (Properties(payload_format_indicator=2), "0 or 1"),
        (Properties(payload_format_indicator="1"), "0 or 1"),  # type: ignore[arg-type]
        (Properties(message_expiry_interval=-1), "2\\*\\*32-1"),
        (Properties(message_expiry_interval=2**32), "2\\*\\*32-1"),
        (Properties(message_expiry_interval=1.5), "2\\*\\*32-1"),  # type: ignore[arg-type]
        (Properties(topic_alias=0), "from 1 to 65535"),
        (Properties(topic_alias=65536), "from 1 to 65535"),
        (Properties(content_type="a\x00"), "U\\+0000"),
        (Properties(content_type="\ud800"), "UTF-8"),
        (Properties(content_type=b"x"), "must be a str"),  # type: ignore[arg-type]
        (Properties(response_topic="r" * 65536), "65535"),
        (Properties(correlation_data="text"), "must be bytes"),  # type: ignore[arg-type]
        (Properties(correlation_data=b"x" * 65536), "65535"),
        (Properties(subscription_identifier=(0,)), "1 to 268435455"),
        (Properties(subscription_identifier=(268_435_456,)), "1 to 268435455"),
        (Properties(subscription_identifier=5), "tuple of ints"),  # type: ignore[arg-type]
        (Properties(user_property=(("a", "\x00"),)), "U\\+0000"),
        (Properties(user_property=(("\x00", "a"),)), "U\\+0000"),
        (Properties(user_property=(("a", "\udc00"),)), "UTF-8"),
        (Properties(user_property=(("a",),)), "pairs"),  # type: ignore[arg-type]
        (Properties(user_property=(("a", 1),)), "pairs"),  # type: ignore[arg-type]
        (Properties(user_property=(("k" * 65536, "v"),)), "pairs"),
    ],
)
def test_bad_publish_properties_are_refused_on_encode(properties: Properties, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        encode(Publish(topic="t", properties=properties), 5)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        (Properties(receive_maximum=0), "from 1 to 65535"),
        (Properties(maximum_packet_size=0), "from 1 to 2\\*\\*32-1"),
        (Properties(maximum_packet_size=2**32), "from 1 to 2\\*\\*32-1"),
        (Properties(receive_maximum=65536), "from 1 to 65535"),
        (Properties(request_problem_information=1), "must be a bool"),  # type: ignore[arg-type]
        (Properties(topic_alias=1), "not allowed in CONNECT"),
    ],
)
def test_bad_connect_properties_are_refused_on_encode(properties: Properties, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        encode(Connect(properties=properties), 5)


def test_connack_byte_properties_on_encode() -> None:
    with pytest.raises(UsageError, match="0 or 1"):
        encode(ConnAck(properties=Properties(maximum_qos=QoS.EXACTLY_ONCE)), 5)
    with pytest.raises(UsageError, match="from 0 to 65535"):
        encode(ConnAck(properties=Properties(server_keep_alive=-1)), 5)


def test_will_properties_are_checked_against_the_will_table() -> None:
    with pytest.raises(UsageError, match="not allowed in will"):
        encode(Connect(will=Will(topic="w", properties=Properties(topic_alias=1))), 5)


def test_properties_must_be_a_properties_value() -> None:
    bogus: Any = {"topic_alias": 1}
    with pytest.raises(UsageError, match="must be a Properties"):
        encode(Publish(topic="t", properties=bogus), 5)
    with pytest.raises(UsageError, match="must be a Properties"):
        encode(Publish(topic="t", properties=bogus), 4)


@pytest.mark.parametrize("kind", list(PropertyType))
def test_every_wire_type_is_used(kind: PropertyType) -> None:
    assert any(spec.type is kind for spec in PROPERTY_SPECS.values())
