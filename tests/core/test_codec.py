"""The codec: encode() and the incremental Decoder, for MQTT 3.1, 3.1.1 and 5.0."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from emqtt_core.codec import MAX_PACKET_SIZE, Decoder, encode
from emqtt_core.enums import ProtocolVersion, QoS, RetainHandling
from emqtt_core.exceptions import MalformedPacket, PacketTooLarge, ProtocolError, UsageError
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
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode

V3, V4, V5 = ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5


def decode_all(data: bytes, version: ProtocolVersion | None) -> list[Packet]:
    decoder = Decoder(version)
    decoder.feed(data)
    packets = []
    while (packet := decoder.next_packet()) is not None:
        packets.append(packet)
    assert decoder.buffered == 0
    return packets


def roundtrip(packet: Packet, version: ProtocolVersion) -> Packet:
    [decoded] = decode_all(encode(packet, version), version)
    return decoded


COMMON: list[Packet] = [
    Connect(client_id="client", keep_alive=0),
    Connect(
        client_id="c",
        clean_start=False,
        username="user",
        password=b"\x00secret",
        will=Will(topic="will/t", payload=b"gone", qos=QoS.EXACTLY_ONCE, retain=True),
    ),
    ConnAck(),
    ConnAck(session_present=True, reason_code=ReasonCode.BAD_USER_NAME_OR_PASSWORD),
    Publish(topic="a/b", payload=b"x" * 300, qos=QoS.AT_LEAST_ONCE, packet_id=65535),
    Publish(topic="t", payload=b"", retain=True),
    Publish(topic="t", qos=QoS.EXACTLY_ONCE, packet_id=1, dup=True),
    PubAck(packet_id=7),
    PubRec(packet_id=8),
    PubRel(packet_id=9),
    PubComp(packet_id=10),
    Subscribe(
        packet_id=11,
        subscriptions=(
            Subscription(topic_filter="a/+"),
            Subscription(topic_filter="#", qos=QoS.EXACTLY_ONCE),
        ),
    ),
    SubAck(
        packet_id=11,
        reason_codes=(
            ReasonCode.GRANTED_QOS_0,
            ReasonCode.GRANTED_QOS_2,
            ReasonCode.UNSPECIFIED_ERROR,
        ),
    ),
    Unsubscribe(packet_id=12, topic_filters=("a/+", "#")),
    PingReq(),
    PingResp(),
    Disconnect(),
]


@pytest.mark.parametrize("version", [V3, V4, V5])
@pytest.mark.parametrize("packet", COMMON, ids=lambda p: type(p).__name__)
def test_common_packets_round_trip(packet: Packet, version: ProtocolVersion) -> None:
    if isinstance(packet, Connect):
        packet = dataclasses.replace(packet, protocol_version=version)
    assert roundtrip(packet, version) == packet


@pytest.mark.parametrize("version", [V3, V4])
def test_unsuback_before_mqtt5_has_no_reason_codes(version: ProtocolVersion) -> None:
    packet = UnsubAck(packet_id=3)
    assert encode(packet, version) == b"\xb0\x02\x00\x03"
    assert roundtrip(packet, version) == packet


V5_ONLY: list[Packet] = [
    Connect(client_id="", properties=Properties(session_expiry_interval=60)),
    Connect(client_id="c", password=b"token-without-user"),
    ConnAck(reason_code=ReasonCode.SERVER_MOVED, properties=Properties(server_reference="b:1883")),
    Publish(topic="", properties=Properties(topic_alias=3)),
    PubAck(packet_id=1, reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS),
    PubRec(
        packet_id=1, reason_code=ReasonCode.QUOTA_EXCEEDED, properties=Properties(reason_string="q")
    ),
    PubRel(packet_id=1, reason_code=ReasonCode.PACKET_IDENTIFIER_NOT_FOUND),
    PubComp(packet_id=1, properties=Properties(user_property=(("a", "b"),))),
    Subscribe(
        packet_id=2,
        subscriptions=(
            Subscription(
                topic_filter="a/#",
                qos=QoS.AT_LEAST_ONCE,
                no_local=True,
                retain_as_published=True,
                retain_handling=RetainHandling.DO_NOT_SEND,
            ),
            Subscription(
                topic_filter="$share/g/b",
                retain_handling=RetainHandling.SEND_IF_NEW_SUBSCRIPTION,
            ),
        ),
        properties=Properties(subscription_identifier=(5,)),
    ),
    SubAck(packet_id=2, reason_codes=(ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,)),
    Unsubscribe(
        packet_id=3, topic_filters=("a",), properties=Properties(user_property=(("k", "v"),))
    ),
    UnsubAck(packet_id=3, reason_codes=(ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED)),
    Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE),
    Disconnect(properties=Properties(reason_string="bye")),
    Auth(),
    Auth(
        reason_code=ReasonCode.CONTINUE_AUTHENTICATION,
        properties=Properties(authentication_method="m"),
    ),
]


@pytest.mark.parametrize("packet", V5_ONLY, ids=lambda p: type(p).__name__)
def test_mqtt5_packets_round_trip(packet: Packet) -> None:
    assert roundtrip(packet, V5) == packet


@pytest.mark.parametrize(
    ("packet", "data"),
    [
        # 3.4.2.1: success without properties omits reason code and property length.
        (PubAck(packet_id=1), "40020001"),
        (PubRel(packet_id=2), "62020002"),
        # 3.4.2.2.1: a reason code without properties omits the property length.
        (PubRec(packet_id=1, reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS), "5003000110"),
        (
            PubAck(packet_id=1, properties=Properties(reason_string="r")),
            "40080001000 41f000172".replace(" ", ""),
        ),
        # 3.14.2.1: DISCONNECT; 3.15.2.1: AUTH.
        (Disconnect(), "e000"),
        (Disconnect(reason_code=ReasonCode.SERVER_SHUTTING_DOWN), "e0028b00"),
        (Auth(), "f000"),
        (Auth(reason_code=ReasonCode.RE_AUTHENTICATE), "f0021900"),
        (ConnAck(), "2003000000"),
    ],
)
def test_mqtt5_short_forms(packet: Packet, data: str) -> None:
    assert encode(packet, V5).hex() == data
    assert decode_all(bytes.fromhex(data), V5) == [packet]


@pytest.mark.parametrize(
    ("data", "packet"),
    [
        ("4004000100 00".replace(" ", ""), PubAck(packet_id=1)),
        (
            "500300011 0".replace(" ", ""),
            PubRec(packet_id=1, reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS),
        ),
        ("e0018b", Disconnect(reason_code=ReasonCode.SERVER_SHUTTING_DOWN)),
        ("f00118", Auth(reason_code=ReasonCode.CONTINUE_AUTHENTICATION)),
        ("e0020000", Disconnect()),
    ],
)
def test_mqtt5_accepts_every_allowed_length(data: str, packet: Packet) -> None:
    assert decode_all(bytes.fromhex(data), V5) == [packet]


def test_mqtt311_empty_client_id_with_clean_session() -> None:
    # [MQTT-3.1.3-6] a server may accept a zero-byte client id with clean session.
    packet = Connect(protocol_version=V4, client_id="", clean_start=True)
    assert roundtrip(packet, V4) == packet


def test_mqtt31_connect_uses_mqisdp() -> None:
    data = encode(Connect(protocol_version=V3, client_id="abc"), V3)
    assert data[2:11] == b"\x00\x06MQIsdp\x03"


@pytest.mark.parametrize("version", [V3, V4])
@pytest.mark.parametrize(
    ("return_code", "reason_code"),
    [
        (0, ReasonCode.SUCCESS),
        (1, ReasonCode.UNSUPPORTED_PROTOCOL_VERSION),
        (2, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID),
        (3, ReasonCode.SERVER_UNAVAILABLE),
        (4, ReasonCode.BAD_USER_NAME_OR_PASSWORD),
        (5, ReasonCode.NOT_AUTHORIZED),
    ],
)
def test_connack_return_codes_before_mqtt5(
    version: ProtocolVersion, return_code: int, reason_code: ReasonCode
) -> None:
    data = bytes([0x20, 2, 0, return_code])
    assert decode_all(data, version) == [ConnAck(reason_code=reason_code)]
    assert encode(ConnAck(reason_code=reason_code), version) == data


def test_large_remaining_lengths() -> None:
    for size in (127 - 5, 16383 - 5, 16384, 2_097_152):
        packet = Publish(topic="t", payload=bytes(size))
        data = encode(packet, V4)
        assert decode_all(data, V4) == [packet]
    # 2 MiB payload plus 3 bytes of topic: the remaining length takes 4 bytes.
    assert data[1:5] == bytes([0x83, 0x80, 0x80, 0x01])


def test_payload_may_be_any_bytes_like() -> None:
    expected = encode(Publish(topic="t", payload=b"abc"), V4)
    assert encode(Publish(topic="t", payload=bytearray(b"abc")), V4) == expected  # type: ignore[arg-type]
    assert encode(Publish(topic="t", payload=memoryview(b"abc")), V4) == expected  # type: ignore[arg-type]
    will = Will(topic="w", payload=bytearray(b"x"))  # type: ignore[arg-type]
    assert roundtrip(Connect(will=will), V5) == Connect(will=Will(topic="w", payload=b"x"))


def test_publish_qos_given_as_int() -> None:
    packet = Publish(topic="t", qos=1, packet_id=1)  # type: ignore[arg-type]
    decoded = roundtrip(packet, V4)
    assert decoded == packet and isinstance(decoded, Publish) and decoded.qos is QoS.AT_LEAST_ONCE


@pytest.mark.parametrize("version", [V3, V4, V5])
@pytest.mark.parametrize(
    "packet",
    [
        PubAck(packet_id=1, properties=Properties()),
        PubRec(packet_id=1, reason_code=0),  # type: ignore[arg-type]
        PubComp(packet_id=1, reason_code=0, properties=Properties()),  # type: ignore[arg-type]
    ],
    ids=["empty Properties", "int reason code", "both"],
)
def test_ack_success_without_properties_is_the_short_form(
    packet: PubAck | PubRec | PubComp, version: ProtocolVersion
) -> None:
    # 3.4.2.1: however success and "no properties" are spelled, the packet
    # identifier alone is sent (the only form before MQTT 5).
    data = encode(packet, version)
    assert data[1:] == b"\x02\x00\x01"
    [decoded] = decode_all(data, version)
    assert decoded == dataclasses.replace(
        packet, reason_code=ReasonCode.SUCCESS, properties=NO_PROPERTIES
    )


# --------------------------------------------------------------------------
# encode() refuses what the protocol cannot carry


def subscribe(*subs: Subscription, **kwargs: Any) -> Subscribe:
    return Subscribe(packet_id=1, subscriptions=subs, **kwargs)


BAD_ENCODE: list[tuple[str, object, object, str]] = [
    ("not a packet", "PUBLISH", V5, "not a packet"),
    ("unknown version", PingReq(), 6, "unknown protocol version"),
    ("version as str", PingReq(), "5", "unknown protocol version"),
    ("connect version mismatch", Connect(protocol_version=V4), V5, "differs"),
    ("keep alive too big", Connect(keep_alive=65536), V5, "keep_alive"),
    ("keep alive negative", Connect(keep_alive=-1), V5, "keep_alive"),
    ("client id not str", Connect(client_id=5), V5, "must be a str"),  # type: ignore[arg-type]
    ("v3 empty client id", Connect(protocol_version=V3), V3, "MQTT 3.1 needs a client_id"),
    ("v4 empty id, no clean", Connect(protocol_version=V4, clean_start=False), V4, "MQTT-3.1.3-7"),
    (
        "v4 password alone",
        Connect(protocol_version=V4, client_id="c", password=b"p"),
        V4,
        "MQTT-3.1.2-22",
    ),
    ("will not a Will", Connect(will="w"), V5, "must be a Will"),  # type: ignore[arg-type]
    ("will topic wildcard", Connect(will=Will(topic="a/#")), V5, "MQTT-3.3.2-2"),
    ("will qos 3", Connect(will=Will(topic="w", qos=3)), V5, "qos must be"),  # type: ignore[arg-type]
    (
        "will props before v5",
        Connect(
            protocol_version=V4,
            client_id="c",
            will=Will(topic="w", properties=Properties(content_type="x")),
        ),
        V4,
        "need MQTT 5",
    ),
    ("password not bytes", Connect(password="p"), V5, "must be bytes"),  # type: ignore[arg-type]
    (
        "connect props before v5",
        Connect(protocol_version=V4, client_id="c", properties=Properties(receive_maximum=1)),
        V4,
        "need MQTT 5",
    ),
    ("publish qos 3", Publish(topic="t", qos=3, packet_id=1), V5, "qos must be"),  # type: ignore[arg-type]
    ("publish qos float", Publish(topic="t", qos=1.0, packet_id=1), V5, "qos must be"),  # type: ignore[arg-type]
    ("qos 0 with packet id", Publish(topic="t", packet_id=1), V5, "no packet_id"),
    ("qos 0 with dup", Publish(topic="t", dup=True), V5, "MQTT-3.3.1-2"),
    ("qos 1 without id", Publish(topic="t", qos=QoS.AT_LEAST_ONCE), V5, "packet_id must be"),
    (
        "packet id 0",
        Publish(topic="t", qos=QoS.AT_LEAST_ONCE, packet_id=0),
        V5,
        "packet_id must be",
    ),
    (
        "packet id 65536",
        Publish(topic="t", qos=QoS.EXACTLY_ONCE, packet_id=65536),
        V5,
        "packet_id must be",
    ),
    ("topic wildcard", Publish(topic="a/+"), V5, "MQTT-3.3.2-2"),
    ("topic null", Publish(topic="a\x00"), V4, "MQTT-4.7.3-2"),
    ("topic surrogate", Publish(topic="\ud800"), V4, "MQTT-1.5.4-1"),
    ("topic not str", Publish(topic=b"t"), V4, "must be a str|must not be empty|UTF-8"),  # type: ignore[arg-type]
    ("topic too long", Publish(topic="t" * 65536), V4, "MQTT-4.7.3-3"),
    ("empty topic v4", Publish(topic=""), V4, "MQTT-4.7.3-1"),
    ("empty topic v5 without alias", Publish(topic=""), V5, "topic_alias"),
    ("payload str", Publish(topic="t", payload="x"), V5, "must be bytes"),  # type: ignore[arg-type]
    (
        "publish props before v5",
        Publish(topic="t", properties=Properties(topic_alias=1)),
        V4,
        "need MQTT 5",
    ),
    (
        "puback reason before v5",
        PubAck(packet_id=1, reason_code=ReasonCode.UNSPECIFIED_ERROR),
        V4,
        "need MQTT 5",
    ),
    (
        "puback props before v5",
        PubAck(packet_id=1, properties=Properties(reason_string="r")),
        V3,
        "need MQTT 5",
    ),
    (
        "puback invalid reason",
        PubAck(packet_id=1, reason_code=ReasonCode.BANNED),
        V5,
        "not valid in PUBACK",
    ),
    (
        "pubrel invalid reason with props",
        PubRel(
            packet_id=1,
            reason_code=ReasonCode.QUOTA_EXCEEDED,
            properties=Properties(reason_string="r"),
        ),
        V5,
        "not valid in PUBREL",
    ),
    ("puback reason as str", PubAck(packet_id=1, reason_code="0"), V5, "not valid"),  # type: ignore[arg-type]
    ("puback id 0", PubAck(packet_id=0), V5, "packet_id must be"),
    (
        "connack unmappable v4",
        ConnAck(reason_code=ReasonCode.BANNED),
        V4,
        "no MQTT_3_1_1 return code",
    ),
    ("connack code as int v4", ConnAck(reason_code=5), V4, "return code"),  # type: ignore[arg-type]
    (
        "connack invalid reason v5",
        ConnAck(reason_code=ReasonCode.NO_MATCHING_SUBSCRIBERS),
        V5,
        "not valid in CONNACK",
    ),
    (
        "connack props before v5",
        ConnAck(properties=Properties(reason_string="r")),
        V4,
        "need MQTT 5",
    ),
    ("subscribe empty", Subscribe(packet_id=1, subscriptions=()), V5, "MQTT-3.8.3-3"),
    ("subscribe not a Subscription", subscribe("a"), V5, "not a Subscription"),  # type: ignore[arg-type]
    ("subscribe bad filter", subscribe(Subscription(topic_filter="a/#/b")), V5, "MQTT-4.7.1-1"),
    ("subscribe qos 3", subscribe(Subscription(topic_filter="a", qos=3)), V5, "qos must be"),  # type: ignore[arg-type]
    (
        "retain handling 3",
        subscribe(Subscription(topic_filter="a", retain_handling=3)),  # type: ignore[arg-type]
        V5,
        "retain_handling",
    ),
    (
        "no_local shared",
        subscribe(Subscription(topic_filter="$share/g/a", no_local=True)),
        V5,
        "shared",
    ),
    (
        "no_local before v5",
        subscribe(Subscription(topic_filter="a", no_local=True)),
        V4,
        "need MQTT 5",
    ),
    (
        "rap before v5",
        subscribe(Subscription(topic_filter="a", retain_as_published=True)),
        V4,
        "need MQTT 5",
    ),
    (
        "retain handling before v5",
        subscribe(Subscription(topic_filter="a", retain_handling=RetainHandling.DO_NOT_SEND)),
        V3,
        "need MQTT 5",
    ),
    (
        "two subscription ids",
        subscribe(
            Subscription(topic_filter="a"), properties=Properties(subscription_identifier=(1, 2))
        ),
        V5,
        "at most one",
    ),
    (
        "subscribe props before v5",
        subscribe(
            Subscription(topic_filter="a"), properties=Properties(user_property=(("a", "b"),))
        ),
        V4,
        "need MQTT 5",
    ),
    (
        "subscribe id 0",
        Subscribe(packet_id=0, subscriptions=(Subscription(topic_filter="a"),)),
        V4,
        "packet_id must be",
    ),
    ("suback empty", SubAck(packet_id=1, reason_codes=()), V5, "at least one"),
    (
        "suback v4 bad code",
        SubAck(packet_id=1, reason_codes=(ReasonCode.NOT_AUTHORIZED,)),
        V4,
        "no MQTT_3_1_1 return code",
    ),
    (
        "suback v5 invalid code",
        SubAck(packet_id=1, reason_codes=(ReasonCode.NO_SUBSCRIPTION_EXISTED,)),
        V5,
        "not valid in SUBACK",
    ),
    (
        "suback props before v5",
        SubAck(
            packet_id=1,
            reason_codes=(ReasonCode.GRANTED_QOS_0,),
            properties=Properties(reason_string="r"),
        ),
        V4,
        "need MQTT 5",
    ),
    ("unsubscribe empty", Unsubscribe(packet_id=1, topic_filters=()), V5, "MQTT-3.10.3-2"),
    ("unsubscribe str", Unsubscribe(packet_id=1, topic_filters="a/b"), V5, "MQTT-3.10.3-2"),  # type: ignore[arg-type]
    ("unsubscribe bad filter", Unsubscribe(packet_id=1, topic_filters=("a+",)), V5, "MQTT-4.7.1-2"),
    (
        "unsubscribe props before v5",
        Unsubscribe(
            packet_id=1, topic_filters=("a",), properties=Properties(user_property=(("a", "b"),))
        ),
        V4,
        "need MQTT 5",
    ),
    ("unsuback v5 without codes", UnsubAck(packet_id=1), V5, "one reason code"),
    (
        "unsuback v4 with codes",
        UnsubAck(packet_id=1, reason_codes=(ReasonCode.SUCCESS,)),
        V4,
        "need MQTT 5",
    ),
    (
        "unsuback invalid code",
        UnsubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_1,)),
        V5,
        "not valid in UNSUBACK",
    ),
    (
        "unsuback props before v5",
        UnsubAck(packet_id=1, properties=Properties(reason_string="r")),
        V4,
        "need MQTT 5",
    ),
    (
        "disconnect reason before v5",
        Disconnect(reason_code=ReasonCode.SERVER_BUSY),
        V4,
        "need MQTT 5",
    ),
    (
        "disconnect props before v5",
        Disconnect(properties=Properties(reason_string="r")),
        V4,
        "need MQTT 5",
    ),
    (
        "disconnect invalid reason",
        Disconnect(reason_code=ReasonCode.GRANTED_QOS_1),
        V5,
        "not valid in DISCONNECT",
    ),
    (
        "disconnect props not allowed",
        Disconnect(properties=Properties(topic_alias=1)),
        V5,
        "not allowed in DISCONNECT",
    ),
    ("auth before v5", Auth(), V4, "AUTH needs MQTT 5"),
    (
        "auth invalid reason",
        Auth(reason_code=ReasonCode.UNSPECIFIED_ERROR),
        V5,
        "not valid in AUTH",
    ),
]


@pytest.mark.parametrize(
    ("packet", "version", "message"),
    [case[1:] for case in BAD_ENCODE],
    ids=[case[0] for case in BAD_ENCODE],
)
def test_encode_refuses(packet: Any, version: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        encode(packet, version)


def test_encode_refuses_a_packet_over_the_mqtt_limit() -> None:
    from emqtt_core.codec import _fixed_header

    with pytest.raises(UsageError, match="too large"):
        _fixed_header(0x30, 268_435_456)
    assert _fixed_header(0x30, 268_435_455) == b"\x30\xff\xff\xff\x7f"


# --------------------------------------------------------------------------
# The Decoder


def test_need_more_data_is_none() -> None:
    decoder = Decoder(V4)
    assert decoder.next_packet() is None
    decoder.feed(b"\x30")
    assert decoder.next_packet() is None
    decoder.feed(b"\x83")  # remaining length continues
    assert decoder.next_packet() is None
    assert decoder.buffered == 2


def test_byte_by_byte_equals_one_chunk() -> None:
    packets = [p for p in COMMON if not isinstance(p, Connect)]
    data = b"".join(encode(p, V4) for p in packets)
    decoder = Decoder(V4)
    got = []
    for index in range(len(data)):
        decoder.feed(data[index : index + 1])
        while (packet := decoder.next_packet()) is not None:
            got.append(packet)
    assert got == packets
    assert decoder.buffered == 0


def test_feed_accepts_bytearray_and_memoryview_and_empty() -> None:
    data = encode(Publish(topic="t", payload=b"abc"), V4)
    decoder = Decoder(V4)
    decoder.feed(bytearray(data[:3]))
    decoder.feed(b"")
    decoder.feed(memoryview(data)[3:])
    assert decoder.next_packet() == Publish(topic="t", payload=b"abc")
    decoder.feed(memoryview(data))
    decoder.feed(b"")
    assert decoder.next_packet() == Publish(topic="t", payload=b"abc")


@pytest.mark.parametrize("data", ["text", 5, None])
def test_feed_refuses_what_is_not_bytes(data: Any) -> None:
    decoder = Decoder(V4)
    with pytest.raises(UsageError, match="must be bytes"):
        decoder.feed(data)
    assert decoder.buffered == 0


def test_fed_bytearray_is_copied() -> None:
    data = bytearray(encode(PingReq(), V4))
    decoder = Decoder(V4)
    decoder.feed(data)
    data[0] = 0xD0  # the caller reuses its buffer
    assert decoder.next_packet() == PingReq()


def test_chunks_that_split_packets_anywhere() -> None:
    packet = Publish(topic="t/t", payload=b"p" * 100, qos=QoS.AT_LEAST_ONCE, packet_id=3)
    data = encode(packet, V5) * 50
    for size in (1, 7, 64, 1000):
        decoder = Decoder(V5)
        got = []
        for index in range(0, len(data), size):
            decoder.feed(data[index : index + size])
            while (decoded := decoder.next_packet()) is not None:
                got.append(decoded)
        assert got == [packet] * 50


def test_large_payload_fed_byte_by_byte_stays_linear() -> None:
    # The buffer is a bytearray with an offset: appending a byte is amortised
    # O(1), and a partial packet is never copied, so 256 KiB byte by byte is fast
    # (a copy per byte would move 32 GiB).
    packet = Publish(topic="big", payload=bytes(range(256)) * 1024)
    data = encode(packet, V4)
    decoder = Decoder(V4)
    for index in range(len(data) - 1):
        decoder.feed(data[index : index + 1])
        assert decoder.next_packet() is None
    decoder.feed(data[-1:])
    assert decoder.next_packet() == packet


def test_decoded_half_is_dropped() -> None:
    small = encode(PingResp(), V4)
    decoder = Decoder(V4)
    decoder.feed(small * 3 + small[:1])  # a bytes buffer, partly decoded
    for _ in range(3):
        assert decoder.next_packet() == PingResp()
    decoder.feed(small[1:] + small * 3 + small[:1])  # becomes a bytearray
    for _ in range(4):
        assert decoder.next_packet() == PingResp()
    decoder.feed(small[1:])  # more than half decoded: compacted
    assert decoder.next_packet() == PingResp()
    assert decoder.next_packet() is None and decoder.buffered == 0


def test_max_packet_size_is_checked_from_the_fixed_header() -> None:
    decoder = Decoder(V4, max_packet_size=100)
    big = encode(Publish(topic="t", payload=bytes(1000)), V4)
    # Only the fixed header has arrived; the body is never buffered.
    decoder.feed(big[:3])
    with pytest.raises(PacketTooLarge) as info:
        decoder.next_packet()
    assert info.value.reason_code is ReasonCode.PACKET_TOO_LARGE


def test_max_packet_size_counts_the_whole_packet() -> None:
    data = encode(Publish(topic="t", payload=bytes(10)), V4)
    exact = Decoder(V4, max_packet_size=len(data))
    exact.feed(data)
    assert exact.next_packet() is not None
    short = Decoder(V4, max_packet_size=len(data) - 1)
    short.feed(data)
    with pytest.raises(PacketTooLarge):
        short.next_packet()


def test_errors_are_sticky() -> None:
    decoder = Decoder(V4)
    decoder.feed(b"\xc1\x00" + encode(PingReq(), V4))
    with pytest.raises(MalformedPacket) as first:
        decoder.next_packet()
    with pytest.raises(MalformedPacket) as again:
        decoder.next_packet()
    assert again.value is first.value
    with pytest.raises(MalformedPacket):
        decoder.feed(b"\xc0\x00")


def test_server_side_learns_the_version_from_connect() -> None:
    assert Decoder().protocol_version is None
    for version in (V3, V4, V5):
        decoder = Decoder()
        connect = Connect(protocol_version=version, client_id="c")
        decoder.feed(encode(connect, version) + encode(PingReq(), version))
        assert decoder.next_packet() == connect
        assert decoder.protocol_version is version
        assert decoder.next_packet() == PingReq()


@pytest.mark.parametrize("first", [PingReq(), Publish(topic="t"), Disconnect()])
def test_server_side_wants_connect_first(first: Packet) -> None:
    decoder = Decoder()
    decoder.feed(encode(first, V4))
    with pytest.raises(ProtocolError, match=r"MQTT-3\.1\.0-1") as info:
        decoder.next_packet()
    assert info.value.reason_code is ReasonCode.PROTOCOL_ERROR


def test_protocol_version_can_be_set_later() -> None:
    decoder = Decoder()
    decoder.protocol_version = 5
    assert decoder.protocol_version is V5
    decoder.feed(encode(PubAck(packet_id=1, reason_code=ReasonCode.QUOTA_EXCEEDED), V5))
    assert decoder.next_packet() == PubAck(packet_id=1, reason_code=ReasonCode.QUOTA_EXCEEDED)
    decoder.protocol_version = None
    assert decoder.protocol_version is None


@pytest.mark.parametrize("value", [2, 6, "5", 5.0, True])
def test_protocol_version_is_validated(value: Any) -> None:
    with pytest.raises(UsageError, match="unknown protocol version"):
        Decoder(value)


@pytest.mark.parametrize("value", [0, 1, MAX_PACKET_SIZE + 1, 10.0])
def test_max_packet_size_is_validated(value: Any) -> None:
    with pytest.raises(UsageError, match="max_packet_size"):
        Decoder(V4, max_packet_size=value)
    decoder = Decoder(V4)
    assert decoder.max_packet_size == MAX_PACKET_SIZE
    decoder.max_packet_size = 2
    assert decoder.max_packet_size == 2


def test_decoded_publish_is_a_real_publish() -> None:
    from emqtt_core.codec import _AckFields, _PublishFields

    # The decoder builds packets through a twin class with the same slots.
    assert set(_PublishFields.__slots__) == set(Publish.__slots__)
    assert set(_AckFields.__slots__) == set(PubAck.__slots__)
    [packet] = decode_all(encode(Publish(topic="t", qos=QoS.AT_LEAST_ONCE, packet_id=1), V4), V4)
    assert type(packet) is Publish
    with pytest.raises(AttributeError):
        packet.topic = "x"  # type: ignore[misc]
    [ack] = decode_all(encode(PubComp(packet_id=4), V4), V4)
    assert type(ack) is PubComp
    # The engine builds the Publish values it sends through the twin's constructor.
    built: Any = _PublishFields("t", b"p", QoS.AT_LEAST_ONCE, True, False, 1, NO_PROPERTIES)
    assert type(built) is Publish
    assert built == Publish(
        topic="t", payload=b"p", qos=QoS.AT_LEAST_ONCE, retain=True, packet_id=1
    )
