"""Property tests of the codec: round trips, chunking, prefixes, and hostile bytes.

Every packet type is generated for every protocol version that has it, with
every property its type may carry. The invariants:

- ``decode(encode(p)) == p``;
- feeding the bytes in any chunks (one byte at a time included) gives the same
  packets as one chunk;
- every strict prefix of a valid packet is "need more data" (``None``);
- any bytes at all either decode or raise ``ProtocolError``, never anything else;
- MQTT 5 PUBLISH agrees with an independent codec (the Rust ``mqtt5`` package).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import PacketType, ProtocolVersion, QoS, RetainHandling
from emqtt_core.exceptions import ProtocolError
from emqtt_core.packets import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from emqtt_core.properties import (
    NO_PROPERTIES,
    PROPERTY_SPECS,
    WILL_PROPERTIES,
    Properties,
    PropertyType,
    allowed_for,
)
from emqtt_core.reason_codes import ReasonCode, valid_for

V3, V4, V5 = ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5
VERSIONS = st.sampled_from([V3, V4, V5])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Well-formed UTF-8 strings: no surrogates [MQTT-1.5.4-1], no U+0000 [MQTT-1.5.4-2].
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)
LEVEL = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00+#/"), max_size=6
)
TOPIC = st.lists(LEVEL, min_size=1, max_size=4).map("/".join).filter(bool)
FILTER_LEVEL = st.one_of(LEVEL, st.just("+"))
TOPIC_FILTER = st.builds(
    lambda levels, tail, share: share + "/".join(levels + tail),
    st.lists(FILTER_LEVEL, min_size=1, max_size=4),
    st.sampled_from([[], ["#"]]),
    st.sampled_from(["", "$share/group/"]),
).filter(lambda f: bool(f) and f != "$share/group/")
BINARY = st.binary(max_size=16)
PACKET_ID = st.integers(1, 65535)
QOS = st.sampled_from(list(QoS))

_NONZERO = {"receive_maximum", "maximum_packet_size", "topic_alias"}


def _value(name: str, kind: PropertyType, *, one_identifier: bool) -> st.SearchStrategy[Any]:
    low = 1 if name in _NONZERO else 0
    if kind is PropertyType.FLAG:
        return st.booleans()
    if kind is PropertyType.BYTE:
        if name == "maximum_qos":
            return st.sampled_from([QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE])
        return st.integers(0, 1)
    if kind is PropertyType.TWO_BYTE_INTEGER:
        return st.integers(low, 65535)
    if kind is PropertyType.FOUR_BYTE_INTEGER:
        return st.integers(low, 2**32 - 1)
    if kind is PropertyType.VARIABLE_BYTE_INTEGER:
        return st.lists(
            st.integers(1, 268_435_455), min_size=1, max_size=1 if one_identifier else 3
        ).map(tuple)
    if kind is PropertyType.UTF8_STRING:
        return TEXT
    if kind is PropertyType.BINARY_DATA:
        return BINARY
    return st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=3).map(tuple)


def properties(
    allowed: frozenset[str], *, one_identifier: bool = False
) -> st.SearchStrategy[Properties]:
    """Any subset of the allowed properties, with values in range."""
    specs = [spec for spec in PROPERTY_SPECS.values() if spec.name in allowed]
    if not specs:
        return st.just(NO_PROPERTIES)
    return st.fixed_dictionaries(
        {},
        optional={
            spec.name: _value(spec.name, spec.type, one_identifier=one_identifier) for spec in specs
        },
    ).map(lambda values: Properties(**values))


def props_for(ptype: PacketType, version: ProtocolVersion) -> st.SearchStrategy[Properties]:
    if version is not V5:
        return st.just(NO_PROPERTIES)
    return properties(allowed_for(ptype), one_identifier=ptype is PacketType.SUBSCRIBE)


def reason(ptype: PacketType) -> st.SearchStrategy[ReasonCode]:
    return st.sampled_from(sorted(valid_for(ptype)))


@st.composite
def connects(draw: st.DrawFn, version: ProtocolVersion) -> Connect:
    v5 = version is V5
    client_id = draw(TEXT.filter(bool) if version is V3 else TEXT)
    clean_start = draw(st.booleans()) if client_id or v5 else True
    username = draw(st.none() | TEXT)
    password = draw(st.none() | BINARY) if username is not None or v5 else None
    will = draw(
        st.none()
        | st.builds(
            Will,
            topic=TOPIC,
            payload=BINARY,
            qos=QOS,
            retain=st.booleans(),
            properties=properties(WILL_PROPERTIES) if v5 else st.just(NO_PROPERTIES),
        )
    )
    props = draw(props_for(PacketType.CONNECT, version))
    # 3.1.2.11.10: authentication data goes with an authentication method.
    if props.authentication_data is not None and props.authentication_method is None:
        props = Properties(**{**props.present(), "authentication_method": "m"})
    return Connect(
        protocol_version=version,
        client_id=client_id,
        clean_start=clean_start,
        keep_alive=draw(st.integers(0, 65535)),
        username=username,
        password=password,
        will=will,
        properties=props,
    )


@st.composite
def publishes(draw: st.DrawFn, version: ProtocolVersion) -> Publish:
    qos = draw(QOS)
    props = draw(props_for(PacketType.PUBLISH, version))
    topic = draw(TOPIC)
    if props.topic_alias is not None and draw(st.booleans()):
        topic = ""  # the alias stands for the topic [MQTT-3.3.2-1]
    return Publish(
        topic=topic,
        payload=draw(st.binary(max_size=300)),
        qos=qos,
        retain=draw(st.booleans()),
        dup=draw(st.booleans()) if qos else False,
        packet_id=draw(PACKET_ID) if qos else None,
        properties=props,
    )


@st.composite
def subscriptions(draw: st.DrawFn, version: ProtocolVersion) -> Subscription:
    topic_filter = draw(TOPIC_FILTER)
    if version is not V5:
        return Subscription(topic_filter=topic_filter, qos=draw(QOS))
    return Subscription(
        topic_filter=topic_filter,
        qos=draw(QOS),
        # [MQTT-3.8.3-4] no_local is a protocol error on a shared subscription.
        no_local=draw(st.booleans()) and not topic_filter.startswith("$share/"),
        retain_as_published=draw(st.booleans()),
        retain_handling=draw(st.sampled_from(list(RetainHandling))),
    )


def acks(
    cls: type[PubAck | PubRec | PubRel | PubComp], version: ProtocolVersion
) -> st.SearchStrategy[Packet]:
    if version is not V5:
        return st.builds(cls, packet_id=PACKET_ID)
    return st.builds(
        cls,
        packet_id=PACKET_ID,
        reason_code=reason(cls.packet_type),
        properties=props_for(cls.packet_type, version),
    )


V3_SUBACK = st.sampled_from(
    [
        ReasonCode.GRANTED_QOS_0,
        ReasonCode.GRANTED_QOS_1,
        ReasonCode.GRANTED_QOS_2,
        ReasonCode.UNSPECIFIED_ERROR,
    ]
)
V3_CONNACK = st.sampled_from(
    [
        ReasonCode.SUCCESS,
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
        ReasonCode.SERVER_UNAVAILABLE,
        ReasonCode.BAD_USER_NAME_OR_PASSWORD,
        ReasonCode.NOT_AUTHORIZED,
    ]
)


def packets(version: ProtocolVersion) -> st.SearchStrategy[Packet]:
    """Any packet valid for ``version``, either direction."""
    v5 = version is V5
    options: list[st.SearchStrategy[Packet]] = [
        connects(version),
        st.builds(
            ConnAck,
            session_present=st.booleans(),
            reason_code=reason(PacketType.CONNACK) if v5 else V3_CONNACK,
            properties=props_for(PacketType.CONNACK, version),
        ),
        publishes(version),
        acks(PubAck, version),
        acks(PubRec, version),
        acks(PubRel, version),
        acks(PubComp, version),
        st.builds(
            Subscribe,
            packet_id=PACKET_ID,
            subscriptions=st.lists(subscriptions(version), min_size=1, max_size=3).map(tuple),
            properties=props_for(PacketType.SUBSCRIBE, version),
        ),
        st.builds(
            SubAck,
            packet_id=PACKET_ID,
            reason_codes=st.lists(
                reason(PacketType.SUBACK) if v5 else V3_SUBACK, min_size=1, max_size=3
            ).map(tuple),
            properties=props_for(PacketType.SUBACK, version),
        ),
        st.builds(
            Unsubscribe,
            packet_id=PACKET_ID,
            topic_filters=st.lists(TOPIC_FILTER, min_size=1, max_size=3).map(tuple),
            properties=props_for(PacketType.UNSUBSCRIBE, version),
        ),
        st.builds(
            UnsubAck,
            packet_id=PACKET_ID,
            reason_codes=(
                st.lists(reason(PacketType.UNSUBACK), min_size=1, max_size=3).map(tuple)
                if v5
                else st.just(())
            ),
            properties=props_for(PacketType.UNSUBACK, version),
        ),
        st.just(PingReq()),
        st.just(PingResp()),
        st.builds(
            Disconnect,
            reason_code=reason(PacketType.DISCONNECT) if v5 else st.just(ReasonCode.SUCCESS),
            properties=props_for(PacketType.DISCONNECT, version),
        ),
    ]
    if v5:
        options.append(
            st.builds(
                Auth,
                reason_code=reason(PacketType.AUTH),
                properties=props_for(PacketType.AUTH, version),
            )
        )
    return st.one_of(options)


def versioned_packets(max_size: int = 1) -> st.SearchStrategy[tuple[ProtocolVersion, list[Packet]]]:
    return VERSIONS.flatmap(
        lambda version: st.tuples(
            st.just(version), st.lists(packets(version), min_size=1, max_size=max_size)
        )
    )


def decode_chunks(chunks: list[bytes], version: ProtocolVersion | None) -> list[Packet]:
    decoder = Decoder(version)
    out: list[Packet] = []
    for chunk in chunks:
        decoder.feed(chunk)
        while (packet := decoder.next_packet()) is not None:
            out.append(packet)
    assert decoder.buffered == 0
    return out


@SETTINGS
@given(versioned_packets())
def test_round_trip(case: tuple[ProtocolVersion, list[Packet]]) -> None:
    version, [packet] = case
    data = encode(packet, version)
    assert decode_chunks([data], version) == [packet]
    # The decoded value encodes to bytes of the same length that decode the same
    # (properties may come out in another order: their order carries no meaning,
    # except among user properties, which keep theirs).
    again = encode(decode_chunks([data], version)[0], version)
    assert len(again) == len(data)
    assert decode_chunks([again], version) == [packet]


@SETTINGS
@given(versioned_packets(max_size=6), st.data())
def test_any_chunking_gives_the_same_packets(
    case: tuple[ProtocolVersion, list[Packet]], data: st.DataObject
) -> None:
    version, packet_list = case
    stream = b"".join(encode(packet, version) for packet in packet_list)
    one_chunk = decode_chunks([stream], version)
    assert one_chunk == packet_list
    byte_by_byte = decode_chunks([stream[i : i + 1] for i in range(len(stream))], version)
    assert byte_by_byte == packet_list
    cuts = sorted(data.draw(st.sets(st.integers(0, len(stream)), max_size=8)))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert decode_chunks(chunks, version) == packet_list


@SETTINGS
@given(versioned_packets())
def test_every_strict_prefix_needs_more_data(case: tuple[ProtocolVersion, list[Packet]]) -> None:
    version, [packet] = case
    data = encode(packet, version)
    for size in range(len(data)):
        decoder = Decoder(version)
        decoder.feed(data[:size])
        assert decoder.next_packet() is None
        assert decoder.buffered == size


@SETTINGS
@given(versioned_packets())
def test_server_side_decoder_learns_the_version(case: tuple[ProtocolVersion, list[Packet]]) -> None:
    version, [packet] = case
    connect = Connect(protocol_version=version, client_id="c")
    assert decode_chunks([encode(connect, version) + encode(packet, version)], None) == [
        connect,
        packet,
    ]


def decode_or_protocol_error(data: bytes, version: ProtocolVersion | None, max_size: int) -> None:
    decoder = Decoder(version, max_packet_size=max_size)
    try:
        decoder.feed(data)
        # Each packet consumes at least two bytes: this loop always ends.
        while decoder.next_packet() is not None:
            pass
    except ProtocolError as error:
        assert isinstance(error.reason_code, ReasonCode)
        assert error.reason_code.is_failure


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=200),
    st.sampled_from([None, V3, V4, V5]),
    st.sampled_from([2, 64, 268_435_460]),
)
def test_random_bytes_decode_or_raise_protocol_error(
    data: bytes, version: ProtocolVersion | None, max_size: int
) -> None:
    decode_or_protocol_error(data, version, max_size)


@SETTINGS
@given(versioned_packets(max_size=3), st.data())
def test_mutated_packets_decode_or_raise_protocol_error(
    case: tuple[ProtocolVersion, list[Packet]], data: st.DataObject
) -> None:
    version, packet_list = case
    stream = bytearray(b"".join(encode(packet, version) for packet in packet_list))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(stream) - 1))
        stream[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(stream)))
    decode_or_protocol_error(bytes(stream[:cut]), version, 268_435_460)
    decode_or_protocol_error(bytes(stream), data.draw(st.sampled_from([None, version])), 1000)


# --------------------------------------------------------------------------
# Differential test against an independent codec (MQTT 5 PUBLISH)

mqtt5 = pytest.importorskip("mqtt5")


@SETTINGS
@given(publishes(V5))
def test_publish_agrees_with_mqtt5(packet: Publish) -> None:
    assume(packet.topic)  # mqtt5 resolves topic aliases itself
    props = packet.properties
    data = encode(packet, V5)
    theirs, consumed = mqtt5.read(memoryview(data))
    assert consumed == len(data)
    assert theirs.topic == packet.topic
    assert theirs.payload == packet.payload
    assert int(theirs.qos) == packet.qos
    assert theirs.retain == packet.retain
    assert theirs.duplicate == packet.dup
    assert theirs.packet_id == packet.packet_id
    assert theirs.message_expiry_interval == props.message_expiry_interval
    assert theirs.content_type == props.content_type
    assert theirs.response_topic == props.response_topic
    assert theirs.correlation_data == props.correlation_data
    assert theirs.topic_alias == props.topic_alias
    assert list(theirs.subscription_ids) == list(props.subscription_identifier)
    assert [tuple(p) for p in theirs.user_properties] == list(props.user_property)
    assert theirs.payload_format_indicator == (props.payload_format_indicator or 0)
    # What mqtt5 writes for the same message decodes to the same value (mqtt5
    # leaves out a payload format indicator of 0, which is the default).
    present = {
        k: v for k, v in props.present().items() if (k, v) != ("payload_format_indicator", 0)
    }
    expected = dataclasses.replace(packet, properties=Properties(**present))
    assert decode_chunks([theirs.write()], V5) == [expected]
