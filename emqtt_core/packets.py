"""The fifteen MQTT control packets as immutable values.

Each class is named as in the specification and its fields are the
specification's, in snake_case. Instances are frozen: bookkeeping (setting DUP
on a resend, assigning a packet identifier) makes a new value with
:func:`dataclasses.replace`. Construction does no validation, so it stays
cheap; :func:`emqtt_core.codec.encode` checks a packet against the protocol
version it is encoded for and raises :class:`~emqtt_core.exceptions.UsageError`
for anything the protocol does not allow, and the decoder only ever produces
valid packets.

Fields that a protocol version does not have (properties and reason codes
before MQTT 5, for instance) keep their defaults on decode and must keep them
on encode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, final

from .enums import PacketType, ProtocolVersion, QoS, RetainHandling
from .properties import NO_PROPERTIES, Properties
from .reason_codes import ReasonCode

__all__ = [
    "Auth",
    "ConnAck",
    "Connect",
    "Disconnect",
    "PACKET_CLASSES",
    "Packet",
    "PingReq",
    "PingResp",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "SubAck",
    "Subscribe",
    "Subscription",
    "UnsubAck",
    "Unsubscribe",
    "Will",
]


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    """The will message of a CONNECT, published by the server if the connection is lost."""

    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    properties: Properties = NO_PROPERTIES
    """Will properties (MQTT 5 only); see :data:`emqtt_core.properties.WILL_PROPERTIES`."""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    """CONNECT: the first packet a client sends on a network connection."""

    packet_type: ClassVar[PacketType] = PacketType.CONNECT

    protocol_version: ProtocolVersion = ProtocolVersion.MQTT_5
    client_id: str = ""
    clean_start: bool = True
    """Clean Start (MQTT 5) or Clean Session (MQTT 3.1/3.1.1)."""
    keep_alive: int = 60
    """Seconds; 0 turns keep alive off."""
    username: str | None = None
    password: bytes | None = None
    """Never shown by ``repr``."""
    will: Will | None = None
    properties: Properties = NO_PROPERTIES

    def __repr__(self) -> str:
        # The password must never reach logs or tracebacks.
        password = "None" if self.password is None else "<redacted>"
        return (
            f"Connect(protocol_version={self.protocol_version!r}, client_id={self.client_id!r}, "
            f"clean_start={self.clean_start!r}, keep_alive={self.keep_alive!r}, "
            f"username={self.username!r}, password={password}, will={self.will!r}, "
            f"properties={self.properties!r})"
        )


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class ConnAck:
    """CONNACK: the server's answer to CONNECT.

    On MQTT 3.1/3.1.1 the return code is translated to its MQTT 5 equivalent
    (see :mod:`emqtt_core.reason_codes`).
    """

    packet_type: ClassVar[PacketType] = PacketType.CONNACK

    session_present: bool = False
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Publish:
    """PUBLISH: an application message.

    ``packet_id`` is ``None`` for QoS 0 and a number from 1 to 65535 otherwise.
    On MQTT 5 ``topic`` may be empty when ``properties.topic_alias`` stands for it.
    """

    packet_type: ClassVar[PacketType] = PacketType.PUBLISH

    topic: str
    payload: bytes = b""
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PubAck:
    """PUBACK: the answer to a QoS 1 PUBLISH."""

    packet_type: ClassVar[PacketType] = PacketType.PUBACK

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PubRec:
    """PUBREC: first answer to a QoS 2 PUBLISH."""

    packet_type: ClassVar[PacketType] = PacketType.PUBREC

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PubRel:
    """PUBREL: the answer to PUBREC."""

    packet_type: ClassVar[PacketType] = PacketType.PUBREL

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PubComp:
    """PUBCOMP: the answer to PUBREL, last packet of the QoS 2 exchange."""

    packet_type: ClassVar[PacketType] = PacketType.PUBCOMP

    packet_id: int
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """One topic filter of a SUBSCRIBE and its subscription options."""

    topic_filter: str
    qos: QoS = QoS.AT_MOST_ONCE
    """Maximum QoS the server may use to forward matching messages."""
    no_local: bool = False
    """MQTT 5: do not receive one's own publications."""
    retain_as_published: bool = False
    """MQTT 5: keep the RETAIN flag the publisher set."""
    retain_handling: RetainHandling = RetainHandling.SEND_ON_SUBSCRIBE
    """MQTT 5: when to send retained messages."""


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    """SUBSCRIBE: one or more subscriptions."""

    packet_type: ClassVar[PacketType] = PacketType.SUBSCRIBE

    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class SubAck:
    """SUBACK: one reason code per subscription of the SUBSCRIBE, in order.

    On MQTT 3.1/3.1.1 the return codes 0, 1, 2 and 0x80 become
    ``GRANTED_QOS_0``, ``GRANTED_QOS_1``, ``GRANTED_QOS_2`` and ``UNSPECIFIED_ERROR``.
    """

    packet_type: ClassVar[PacketType] = PacketType.SUBACK

    packet_id: int
    reason_codes: tuple[ReasonCode, ...]
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    """UNSUBSCRIBE: removes one or more subscriptions."""

    packet_type: ClassVar[PacketType] = PacketType.UNSUBSCRIBE

    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubAck:
    """UNSUBACK: one reason code per topic filter on MQTT 5, none before."""

    packet_type: ClassVar[PacketType] = PacketType.UNSUBACK

    packet_id: int
    reason_codes: tuple[ReasonCode, ...] = ()
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PingReq:
    """PINGREQ: keep-alive probe from the client."""

    packet_type: ClassVar[PacketType] = PacketType.PINGREQ


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class PingResp:
    """PINGRESP: the server's answer to PINGREQ."""

    packet_type: ClassVar[PacketType] = PacketType.PINGRESP


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnect:
    """DISCONNECT: the last packet of a connection (either direction on MQTT 5)."""

    packet_type: ClassVar[PacketType] = PacketType.DISCONNECT

    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Auth:
    """AUTH: a step of the extended authentication exchange (MQTT 5 only)."""

    packet_type: ClassVar[PacketType] = PacketType.AUTH

    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)
"""Any MQTT control packet."""

PACKET_CLASSES: Final[dict[PacketType, type[Packet]]] = {
    cls.packet_type: cls
    for cls in (
        Connect,
        ConnAck,
        Publish,
        PubAck,
        PubRec,
        PubRel,
        PubComp,
        Subscribe,
        SubAck,
        Unsubscribe,
        UnsubAck,
        PingReq,
        PingResp,
        Disconnect,
        Auth,
    )
}
"""The packet class of each packet type."""
