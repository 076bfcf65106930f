"""The data model under the codec: enums, reason codes, exceptions, packet values."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from emqtt_core.enums import PacketType, ProtocolVersion, QoS, RetainHandling
from emqtt_core.exceptions import (
    ConnectionClosedError,
    ConnectionLost,
    ConnectRefused,
    ConnectTimeout,
    InvalidStateError,
    KeepAliveTimeout,
    MalformedPacket,
    MQTTError,
    PacketTooLarge,
    ProtocolError,
    PublishDropped,
    QueueFullError,
    ServerDisconnected,
    UsageError,
)
from emqtt_core.packets import (
    PACKET_CLASSES,
    ConnAck,
    Connect,
    Publish,
    Subscription,
    UnsubAck,
    Will,
)
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import (
    ReasonCode,
    connack_return_code,
    from_connack_return_code,
    is_failure,
    valid_for,
)


def test_enum_values_are_the_wire_values() -> None:
    assert [int(v) for v in ProtocolVersion] == [3, 4, 5]
    assert [int(q) for q in QoS] == [0, 1, 2]
    assert [int(r) for r in RetainHandling] == [0, 1, 2]
    assert [int(t) for t in PacketType] == list(range(1, 16))


def test_reason_code_aliases() -> None:
    assert ReasonCode["NORMAL_DISCONNECTION"] is ReasonCode.SUCCESS
    assert ReasonCode["GRANTED_QOS_0"] is ReasonCode.SUCCESS
    assert ReasonCode(0x9D) is ReasonCode.SERVER_MOVED
    assert ReasonCode(0xA2) is ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED
    assert len({int(code) for code in ReasonCode}) == 43


@pytest.mark.parametrize("code", list(ReasonCode))
def test_is_failure(code: ReasonCode) -> None:
    assert is_failure(code) is (code >= 0x80)
    assert code.is_failure is (code >= 0x80)


@pytest.mark.parametrize(
    ("ptype", "inside", "outside"),
    [
        (PacketType.CONNACK, ReasonCode.BANNED, ReasonCode.NO_MATCHING_SUBSCRIBERS),
        (PacketType.PUBACK, ReasonCode.NO_MATCHING_SUBSCRIBERS, ReasonCode.BANNED),
        (PacketType.PUBREC, ReasonCode.QUOTA_EXCEEDED, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND),
        (PacketType.PUBREL, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND, ReasonCode.QUOTA_EXCEEDED),
        (PacketType.PUBCOMP, ReasonCode.SUCCESS, ReasonCode.UNSPECIFIED_ERROR),
        (PacketType.SUBACK, ReasonCode.GRANTED_QOS_2, ReasonCode.NO_SUBSCRIPTION_EXISTED),
        (PacketType.UNSUBACK, ReasonCode.NO_SUBSCRIPTION_EXISTED, ReasonCode.GRANTED_QOS_1),
        (PacketType.DISCONNECT, ReasonCode.DISCONNECT_WITH_WILL_MESSAGE, ReasonCode.BANNED),
        (PacketType.AUTH, ReasonCode.RE_AUTHENTICATE, ReasonCode.UNSPECIFIED_ERROR),
    ],
)
def test_valid_for(ptype: PacketType, inside: ReasonCode, outside: ReasonCode) -> None:
    assert inside in valid_for(ptype)
    assert outside not in valid_for(ptype)


@pytest.mark.parametrize(
    "ptype",
    [PacketType.CONNECT, PacketType.PUBLISH, PacketType.SUBSCRIBE, PacketType.PINGREQ],
)
def test_valid_for_packets_without_reason_codes(ptype: PacketType) -> None:
    assert valid_for(ptype) == frozenset()


def test_connack_return_codes_map_both_ways() -> None:
    expected = {
        0: ReasonCode.SUCCESS,
        1: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        2: ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
        3: ReasonCode.SERVER_UNAVAILABLE,
        4: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
        5: ReasonCode.NOT_AUTHORIZED,
    }
    for return_code, reason_code in expected.items():
        assert from_connack_return_code(return_code) is reason_code
        assert connack_return_code(reason_code) == return_code
    assert from_connack_return_code(6) is None
    assert connack_return_code(ReasonCode.BANNED) is None


def test_exception_hierarchy() -> None:
    assert issubclass(ProtocolError, MQTTError)
    assert issubclass(MalformedPacket, ProtocolError)
    assert issubclass(PacketTooLarge, ProtocolError)
    assert issubclass(UsageError, MQTTError) and issubclass(UsageError, ValueError)
    for cls in (InvalidStateError, QueueFullError, ConnectionClosedError, PublishDropped):
        assert issubclass(cls, MQTTError)
    for closed in (
        ConnectRefused,
        ServerDisconnected,
        ConnectTimeout,
        KeepAliveTimeout,
        ConnectionLost,
    ):
        assert issubclass(closed, ConnectionClosedError)


def test_protocol_error_reason_codes() -> None:
    assert ProtocolError("x").reason_code is ReasonCode.PROTOCOL_ERROR
    assert MalformedPacket("x").reason_code is ReasonCode.MALFORMED_PACKET
    assert PacketTooLarge("x").reason_code is ReasonCode.PACKET_TOO_LARGE
    error = ProtocolError("bad alias", ReasonCode.TOPIC_ALIAS_INVALID)
    assert error.reason_code is ReasonCode.TOPIC_ALIAS_INVALID
    assert str(error) == "bad alias"


def test_connection_closed_errors_carry_the_reason() -> None:
    props = Properties(reason_string="go away")
    refused = ConnectRefused(ReasonCode.BANNED, props)
    assert refused.reason_code is ReasonCode.BANNED and refused.properties is props
    assert "BANNED" in str(refused) and "0x8A" in str(refused)
    gone = ServerDisconnected(ReasonCode.SERVER_SHUTTING_DOWN)
    assert gone.reason_code is ReasonCode.SERVER_SHUTTING_DOWN and gone.properties is None
    assert "0x8B" in str(gone)
    dropped = PublishDropped("session lost", ReasonCode.UNSPECIFIED_ERROR)
    assert dropped.reason == "session lost" == str(dropped)
    assert dropped.reason_code is ReasonCode.UNSPECIFIED_ERROR
    assert PublishDropped("cancelled").reason_code is None


def test_packet_classes_cover_every_type() -> None:
    assert set(PACKET_CLASSES) == set(PacketType)
    for ptype, cls in PACKET_CLASSES.items():
        assert cls.packet_type is ptype
        assert cls.__name__.upper() == ptype.name


def test_packets_are_frozen_values() -> None:
    packet = Publish(topic="a", payload=b"x")
    assert packet.qos is QoS.AT_MOST_ONCE and packet.packet_id is None
    assert packet.properties is NO_PROPERTIES
    with pytest.raises(dataclasses.FrozenInstanceError):
        packet.dup = True  # type: ignore[misc]
    resent = dataclasses.replace(packet, qos=QoS.AT_LEAST_ONCE, packet_id=1, dup=True)
    assert resent.dup and not packet.dup
    assert pickle.loads(pickle.dumps(resent)) == resent
    assert hash(resent) == hash(dataclasses.replace(resent))


def test_connect_repr_never_shows_the_password() -> None:
    packet = Connect(client_id="c", username="u", password=b"hunter2")
    assert "hunter2" not in repr(packet)
    assert "password=<redacted>" in repr(packet)
    assert "password=None" in repr(Connect())
    assert repr(packet).startswith("Connect(protocol_version=")


def test_defaults() -> None:
    connect = Connect()
    assert connect.protocol_version is ProtocolVersion.MQTT_5 and connect.clean_start
    assert connect.keep_alive == 60 and connect.will is None
    assert ConnAck().reason_code is ReasonCode.SUCCESS
    assert UnsubAck(packet_id=1).reason_codes == ()
    sub = Subscription(topic_filter="a")
    assert sub.qos is QoS.AT_MOST_ONCE
    assert sub.retain_handling is RetainHandling.SEND_ON_SUBSCRIBE
    assert Will(topic="w").payload == b""
