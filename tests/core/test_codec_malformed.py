"""Malformed and hostile input: one case per decoding rule, each with its reason code.

Whatever the bytes, the decoder raises ProtocolError (or a subclass) carrying the
MQTT 5 reason code to send in the closing DISCONNECT, and nothing else.
"""

from __future__ import annotations

import pytest

from emqtt_core.codec import Decoder
from emqtt_core.enums import ProtocolVersion
from emqtt_core.exceptions import MalformedPacket, ProtocolError
from emqtt_core.reason_codes import ReasonCode

V3, V4, V5 = ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5
MALFORMED = ReasonCode.MALFORMED_PACKET
PROTOCOL = ReasonCode.PROTOCOL_ERROR


def vbi(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def packet(first: int, *body: bytes) -> bytes:
    data = b"".join(body)
    return bytes([first]) + vbi(len(data)) + data


def s(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def props(*items: bytes) -> bytes:
    data = b"".join(items)
    return vbi(len(data)) + data


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big")


def publish_v5(*properties: bytes, topic: bytes = s("t")) -> bytes:
    return packet(0x30, topic, props(*properties), b"payload")


def connack_v5(*properties: bytes) -> bytes:
    return packet(0x20, b"\x00\x00", props(*properties))


def connect(
    name: bytes = s("MQTT"),
    level: int = 4,
    flags: int = 0x02,
    rest: bytes = s("c"),
    v5_props: bytes = b"",
) -> bytes:
    return packet(0x10, name, bytes([level, flags]), u16(60), v5_props, rest)


# (id, decoder version, bytes, exception class, reason code)
CASES: list[tuple[str, ProtocolVersion | None, bytes, type[ProtocolError], ReasonCode]] = [
    # Fixed header
    ("MQTT-1.5.5 length over 4 bytes", V4, b"\x30\xff\xff\xff\xff\x7f", MalformedPacket, MALFORMED),
    ("MQTT-1.5.5-1 length not minimal", V4, b"\xc0\x80\x00", MalformedPacket, MALFORMED),
    ("MQTT-1.5.5-1 3-byte length not minimal", V4, b"\x30\x80\x80\x00", MalformedPacket, MALFORMED),
    ("packet type 0 reserved", V4, b"\x00\x00", MalformedPacket, MALFORMED),
    ("AUTH reserved before v5", V4, b"\xf0\x00", MalformedPacket, MALFORMED),
    ("AUTH reserved in v3", V3, b"\xf0\x00", MalformedPacket, MALFORMED),
    ("MQTT-2.2.2-2 PINGREQ flags", V4, b"\xc1\x00", MalformedPacket, MALFORMED),
    ("MQTT-3.6.1-1 PUBREL flags", V4, b"\x60\x02\x00\x01", MalformedPacket, MALFORMED),
    ("MQTT-2.2.2-2 PUBACK flags", V5, b"\x42\x02\x00\x01", MalformedPacket, MALFORMED),
    ("MQTT-2.2.2-2 PUBCOMP flags", V4, b"\x71\x02\x00\x01", MalformedPacket, MALFORMED),
    (
        "MQTT-3.8.1-1 SUBSCRIBE flags",
        V4,
        packet(0x80, u16(1), s("a"), b"\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-3.10.1-1 UNSUBSCRIBE flags",
        V4,
        packet(0xA0, u16(1), s("a")),
        MalformedPacket,
        MALFORMED,
    ),
    ("MQTT-2.2.2-2 CONNECT flags", None, b"\x11" + connect()[1:], MalformedPacket, MALFORMED),
    ("PINGREQ remaining length", V4, b"\xc0\x01\x00", MalformedPacket, MALFORMED),
    ("PINGRESP remaining length", V5, b"\xd0\x01\x00", MalformedPacket, MALFORMED),
    # PUBLISH
    ("MQTT-3.3.1-4 QoS 3", V4, packet(0x36, s("t"), u16(1)), MalformedPacket, MALFORMED),
    ("MQTT-3.3.1-2 DUP on QoS 0", V4, packet(0x38, s("t")), MalformedPacket, MALFORMED),
    (
        "MQTT-2.2.1-3 PUBLISH packet id 0",
        V4,
        packet(0x32, s("t"), u16(0)),
        MalformedPacket,
        MALFORMED,
    ),
    ("PUBLISH truncated packet id", V4, packet(0x32, s("t"), b"\x01"), MalformedPacket, MALFORMED),
    ("PUBLISH truncated topic length", V4, packet(0x30, b"\x00"), MalformedPacket, MALFORMED),
    ("PUBLISH truncated topic", V4, packet(0x30, u16(5), b"ab"), MalformedPacket, MALFORMED),
    (
        "MQTT-3.3.2-2 topic with #",
        V4,
        packet(0x30, s("a/#")),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    (
        "MQTT-3.3.2-2 topic with +",
        V5,
        publish_v5(topic=s("+")),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    ("MQTT-1.5.4-1 topic not UTF-8", V4, packet(0x30, s(b"\xff")), MalformedPacket, MALFORMED),
    (
        "MQTT-1.5.4-1 topic with encoded surrogate",
        V4,
        packet(0x30, s(b"\xed\xa0\x80")),
        MalformedPacket,
        MALFORMED,
    ),
    ("MQTT-1.5.4-1 topic overlong", V4, packet(0x30, s(b"\xc0\xaf")), MalformedPacket, MALFORMED),
    ("MQTT-1.5.4-2 topic with U+0000", V4, packet(0x30, s(b"a\x00")), MalformedPacket, MALFORMED),
    (
        "MQTT-4.7.3-1 empty topic v4",
        V4,
        packet(0x30, s("")),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    ("empty topic without alias v5", V5, publish_v5(topic=s("")), ProtocolError, PROTOCOL),
    ("PUBLISH v5 missing property length", V5, packet(0x30, s("t")), MalformedPacket, MALFORMED),
    # Properties
    ("unknown property id", V5, publish_v5(b"\x7f\x00"), MalformedPacket, MALFORMED),
    ("property id of two bytes", V5, publish_v5(b"\x80\x01\x00"), MalformedPacket, MALFORMED),
    (
        "property not allowed in PUBLISH",
        V5,
        publish_v5(b"\x11" + u32(1)),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "will delay not allowed in PUBLISH",
        V5,
        publish_v5(b"\x18" + u32(1)),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "duplicate message expiry",
        V5,
        publish_v5(b"\x02" + u32(1), b"\x02" + u32(2)),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "duplicate content type",
        V5,
        publish_v5(b"\x03" + s("a"), b"\x03" + s("a")),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "duplicate topic alias",
        V5,
        publish_v5(b"\x23" + u16(1), b"\x23" + u16(1)),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "property length past the packet",
        V5,
        packet(0x30, s("t"), b"\x09\x02"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "property length VBI too long",
        V5,
        packet(0x30, s("t"), b"\xff\xff\xff\xff\x01"),
        MalformedPacket,
        MALFORMED,
    ),
    ("truncated four-byte property", V5, publish_v5(b"\x02\x00\x00"), MalformedPacket, MALFORMED),
    ("truncated two-byte property", V5, publish_v5(b"\x23\x00"), MalformedPacket, MALFORMED),
    ("truncated byte property", V5, publish_v5(b"\x01"), MalformedPacket, MALFORMED),
    ("truncated string property", V5, publish_v5(b"\x03\x00\x05ab"), MalformedPacket, MALFORMED),
    ("truncated binary property", V5, publish_v5(b"\x09\x00\x05ab"), MalformedPacket, MALFORMED),
    (
        "truncated user property name length",
        V5,
        publish_v5(b"\x26\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "user property name length at the end of the buffer",
        V5,
        b"\x40\x06\x00\x01\x00\x02\x26\x00",
        MalformedPacket,
        MALFORMED,
    ),
    ("truncated user property name", V5, publish_v5(b"\x26\x00\x05ab"), MalformedPacket, MALFORMED),
    (
        "truncated user property value",
        V5,
        publish_v5(b"\x26" + s("a") + b"\x00\x05ab"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "user property not UTF-8",
        V5,
        publish_v5(b"\x26" + s("a") + s(b"\xff")),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "user property with U+0000",
        V5,
        publish_v5(b"\x26" + s(b"\x00") + s("a")),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "string property with U+0000",
        V5,
        publish_v5(b"\x03" + s(b"a\x00")),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "string property not UTF-8",
        V5,
        publish_v5(b"\x03" + s(b"\xed\xbf\xbf")),
        MalformedPacket,
        MALFORMED,
    ),
    ("truncated subscription identifier", V5, publish_v5(b"\x0b\x80"), MalformedPacket, MALFORMED),
    ("subscription identifier 0", V5, publish_v5(b"\x0b\x00"), ProtocolError, PROTOCOL),
    (
        "MQTT-3.3.2-8 topic alias 0",
        V5,
        publish_v5(b"\x23" + u16(0)),
        ProtocolError,
        ReasonCode.TOPIC_ALIAS_INVALID,
    ),
    ("payload format indicator 2", V5, publish_v5(b"\x01\x02"), ProtocolError, PROTOCOL),
    ("receive maximum 0", V5, connack_v5(b"\x21" + u16(0)), ProtocolError, PROTOCOL),
    ("maximum packet size 0", V5, connack_v5(b"\x27" + u32(0)), ProtocolError, PROTOCOL),
    ("maximum QoS 2", V5, connack_v5(b"\x24\x02"), ProtocolError, PROTOCOL),
    ("retain available 2", V5, connack_v5(b"\x25\x02"), ProtocolError, PROTOCOL),
    (
        "duplicate retain available",
        V5,
        connack_v5(b"\x25\x01", b"\x25\x01"),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "topic alias not allowed in CONNACK",
        V5,
        connack_v5(b"\x23" + u16(1)),
        MalformedPacket,
        MALFORMED,
    ),
    ("CONNACK trailing bytes", V5, packet(0x20, b"\x00\x00\x00\x00"), MalformedPacket, MALFORMED),
    # Reason codes
    ("PUBACK reason not valid for PUBACK", V5, b"\x40\x03\x00\x01\x92", MalformedPacket, MALFORMED),
    ("PUBACK unknown reason code", V5, b"\x40\x03\x00\x01\x05", MalformedPacket, MALFORMED),
    ("PUBREL reason not valid", V5, b"\x62\x03\x00\x01\x10", MalformedPacket, MALFORMED),
    (
        "CONNACK reason not valid",
        V5,
        connack_v5()[:3] + b"\x10" + connack_v5()[4:],
        MalformedPacket,
        MALFORMED,
    ),
    (
        "SUBACK reason not valid",
        V5,
        packet(0x90, u16(1), b"\x00", b"\x11"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "UNSUBACK reason not valid",
        V5,
        packet(0xB0, u16(1), b"\x00", b"\x01"),
        MalformedPacket,
        MALFORMED,
    ),
    ("DISCONNECT reason not valid", V5, b"\xe0\x01\x18", MalformedPacket, MALFORMED),
    ("AUTH reason not valid", V5, b"\xf0\x01\x04", MalformedPacket, MALFORMED),
    ("DISCONNECT trailing bytes", V5, b"\xe0\x03\x00\x00\x00", MalformedPacket, MALFORMED),
    # Acknowledgements
    ("MQTT-2.2.1-3 PUBACK packet id 0", V4, b"\x40\x02\x00\x00", MalformedPacket, MALFORMED),
    ("PUBACK truncated", V4, b"\x40\x01\x00", MalformedPacket, MALFORMED),
    ("PUBACK v4 too long", V4, b"\x40\x03\x00\x01\x00", MalformedPacket, MALFORMED),
    (
        "PUBCOMP v5 trailing bytes",
        V5,
        b"\x70\x06\x00\x01\x00\x00\x00\x00",
        MalformedPacket,
        MALFORMED,
    ),
    ("CONNACK truncated", V4, b"\x20\x01\x00", MalformedPacket, MALFORMED),
    ("MQTT-3.2.2-1 CONNACK reserved flags", V4, b"\x20\x02\x02\x00", MalformedPacket, MALFORMED),
    ("CONNACK v4 too long", V4, b"\x20\x03\x00\x00\x00", MalformedPacket, MALFORMED),
    ("CONNACK unknown return code", V4, b"\x20\x02\x00\x06", MalformedPacket, MALFORMED),
    (
        "SUBACK v4 unknown return code",
        V4,
        packet(0x90, u16(1), b"\x03"),
        MalformedPacket,
        MALFORMED,
    ),
    ("SUBACK without reason codes", V4, packet(0x90, u16(1)), ProtocolError, PROTOCOL),
    ("SUBACK packet id 0", V5, packet(0x90, u16(0), b"\x00", b"\x00"), MalformedPacket, MALFORMED),
    ("SUBACK truncated packet id", V4, packet(0x90, b"\x01"), MalformedPacket, MALFORMED),
    (
        "UNSUBACK v5 without reason codes",
        V5,
        packet(0xB0, u16(1), b"\x00"),
        ProtocolError,
        PROTOCOL,
    ),
    ("UNSUBACK v4 too long", V4, packet(0xB0, u16(1), b"\x00"), MalformedPacket, MALFORMED),
    ("DISCONNECT v4 remaining length", V4, b"\xe0\x01\x00", MalformedPacket, MALFORMED),
    # SUBSCRIBE / UNSUBSCRIBE (decoded by a server)
    ("MQTT-3.8.3-3 SUBSCRIBE without filters", V4, packet(0x82, u16(1)), ProtocolError, PROTOCOL),
    ("SUBSCRIBE QoS 3", V4, packet(0x82, u16(1), s("a"), b"\x03"), MalformedPacket, MALFORMED),
    (
        "MQTT-3-8.3-4 SUBSCRIBE v4 reserved bits",
        V4,
        packet(0x82, u16(1), s("a"), b"\x04"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-3.8.3-5 SUBSCRIBE v5 reserved bits",
        V5,
        packet(0x82, u16(1), b"\x00", s("a"), b"\x40"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "SUBSCRIBE retain handling 3",
        V5,
        packet(0x82, u16(1), b"\x00", s("a"), b"\x30"),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "MQTT-3.8.3-4 no local on shared",
        V5,
        packet(0x82, u16(1), b"\x00", s("$share/g/a"), b"\x04"),
        ProtocolError,
        PROTOCOL,
    ),
    ("SUBSCRIBE missing options", V4, packet(0x82, u16(1), s("a")), MalformedPacket, MALFORMED),
    (
        "SUBSCRIBE two subscription ids",
        V5,
        packet(0x82, u16(1), props(b"\x0b\x01", b"\x0b\x02"), s("a"), b"\x00"),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "SUBSCRIBE packet id 0",
        V4,
        packet(0x82, u16(0), s("a"), b"\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-1.5.4-2 SUBSCRIBE filter with U+0000",
        V4,
        packet(0x82, u16(1), s("a\x00"), b"\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "SUBSCRIBE filter not UTF-8",
        V4,
        packet(0x82, u16(1), s(b"\xff"), b"\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-3.10.3-2 UNSUBSCRIBE without filters",
        V5,
        packet(0xA2, u16(1), b"\x00"),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "UNSUBSCRIBE truncated filter",
        V4,
        packet(0xA2, u16(1), b"\x00\x09a"),
        MalformedPacket,
        MALFORMED,
    ),
    # CONNECT (decoded by a server)
    (
        "MQTT-3.1.2-1 unknown protocol name",
        None,
        connect(name=s("MQTX")),
        ProtocolError,
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "MQTT-3.1.2-2 unknown protocol level",
        None,
        connect(level=6),
        ProtocolError,
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    (
        "MQIsdp with level 4",
        None,
        connect(name=s("MQIsdp"), level=4),
        ProtocolError,
        ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    ),
    ("MQTT-3.1.2-3 CONNECT reserved flag", None, connect(flags=0x03), MalformedPacket, MALFORMED),
    ("MQTT-3.1.2-11 will QoS without will", None, connect(flags=0x0A), MalformedPacket, MALFORMED),
    (
        "MQTT-3.1.2-13 will retain without will",
        None,
        connect(flags=0x22),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-3.1.2-12 will QoS 3",
        None,
        connect(flags=0x1E, rest=s("c") + s("w") + s("")),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "MQTT-3.1.2-22 password without user name",
        None,
        connect(flags=0x42, rest=s("c") + s("p")),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "will topic with wildcard",
        None,
        connect(flags=0x06, rest=s("c") + s("w/#") + s("")),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    (
        "will topic empty",
        None,
        connect(flags=0x06, rest=s("c") + s("") + s("")),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    ("CONNECT truncated level", None, packet(0x10, s("MQTT")), MalformedPacket, MALFORMED),
    (
        "CONNECT truncated flags",
        None,
        packet(0x10, s("MQTT"), b"\x04\x02"),
        MalformedPacket,
        MALFORMED,
    ),
    ("CONNECT trailing bytes", None, connect(rest=s("c") + b"\x00"), MalformedPacket, MALFORMED),
    ("CONNECT missing client id", None, connect(rest=b""), MalformedPacket, MALFORMED),
    (
        "CONNECT truncated password length",
        None,
        connect(flags=0xC2, rest=s("c") + s("u") + b"\x00"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "CONNECT truncated password",
        None,
        connect(flags=0xC2, rest=s("c") + s("u") + b"\x00\x05"),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "CONNECT auth data without method",
        None,
        connect(level=5, v5_props=props(b"\x16" + s("x"))),
        ProtocolError,
        PROTOCOL,
    ),
    (
        "CONNECT v5 property not allowed",
        None,
        connect(level=5, v5_props=props(b"\x23" + u16(1))),
        MalformedPacket,
        MALFORMED,
    ),
    (
        "will property not allowed",
        None,
        connect(
            level=5,
            flags=0x06,
            v5_props=b"\x00",
            rest=s("c") + props(b"\x11" + u32(1)) + s("w") + s(""),
        ),
        MalformedPacket,
        MALFORMED,
    ),
    ("MQTT-3.1.0-1 first packet not CONNECT", None, b"\xc0\x00", ProtocolError, PROTOCOL),
]


@pytest.mark.parametrize(
    ("version", "data", "error", "reason_code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_input(
    version: ProtocolVersion | None,
    data: bytes,
    error: type[ProtocolError],
    reason_code: ReasonCode,
) -> None:
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        decoder = Decoder(version)
        with pytest.raises(error) as info:
            for chunk in chunks:
                decoder.feed(chunk)
                assert decoder.next_packet() is None
        assert type(info.value) is error
        assert info.value.reason_code is reason_code


def test_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
