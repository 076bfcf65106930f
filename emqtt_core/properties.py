"""MQTT 5 properties: the :class:`Properties` value and the per-packet rules.

Every property of section 2.2.2.2 of MQTT 5.0 is one optional field of
:class:`Properties`, named in snake_case after the specification. A field left
at its default (``None``, or an empty tuple for the two repeatable properties)
is absent from the packet. The two repeatable properties keep their order:
``user_property`` is a tuple of ``(name, value)`` pairs and may hold the same
name more than once; ``subscription_identifier`` is a tuple of integers.

Which properties a packet may carry is fixed by the specification; the table
lives here (:func:`allowed_for`, :data:`WILL_PROPERTIES`) and the codec enforces
it in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Final, final

from .enums import PacketType, QoS

_set_attribute = object.__setattr__

__all__ = [
    "NO_PROPERTIES",
    "WILL_PROPERTIES",
    "Properties",
    "PropertyId",
    "PropertyType",
    "PROPERTY_SPECS",
    "PropertySpec",
    "allowed_for",
]


@final
@dataclass(frozen=True, init=False)
class Properties:
    """The MQTT 5 properties of one packet (or of a will message).

    Fields are declared in the order of their property identifiers, which is
    also the order in which they are encoded.

    Properties are sparse: of 27 possible, a packet carries a few. An instance
    therefore stores only the properties that are present, and an absent one
    reads as its class default at the same speed as a stored one. This is why
    the class has no ``__slots__``: filling 27 slots on every decoded packet
    would cost more than the rest of decoding it. The codec relies on this:
    ``vars(properties)`` holds exactly the properties that are present.
    """

    payload_format_indicator: int | None = None
    """0x01: 0 = unspecified bytes, 1 = UTF-8 encoded character data."""
    message_expiry_interval: int | None = None
    """0x02: lifetime of the application message in seconds."""
    content_type: str | None = None
    """0x03: MIME-like description of the payload."""
    response_topic: str | None = None
    """0x08: topic name for a response message."""
    correlation_data: bytes | None = None
    """0x09: lets a requester match a response to its request."""
    subscription_identifier: tuple[int, ...] = ()
    """0x0B: identifiers of the subscriptions that matched (repeatable)."""
    session_expiry_interval: int | None = None
    """0x11: seconds the session outlives the network connection."""
    assigned_client_identifier: str | None = None
    """0x12: client identifier the server assigned."""
    server_keep_alive: int | None = None
    """0x13: keep alive the server imposes, in seconds."""
    authentication_method: str | None = None
    """0x15: name of the extended authentication method."""
    authentication_data: bytes | None = None
    """0x16: data of the extended authentication exchange."""
    request_problem_information: bool | None = None
    """0x17: whether the server may send a reason string or user properties on failures."""
    will_delay_interval: int | None = None
    """0x18: seconds the server waits before publishing the will message."""
    request_response_information: bool | None = None
    """0x19: whether the client asks for response information in CONNACK."""
    response_information: str | None = None
    """0x1A: basis for creating response topics."""
    server_reference: str | None = None
    """0x1C: another server the client may use."""
    reason_string: str | None = None
    """0x1F: human readable diagnostic."""
    receive_maximum: int | None = None
    """0x21: how many QoS 1 and 2 publications the sender accepts at once."""
    topic_alias_maximum: int | None = None
    """0x22: highest topic alias the sender accepts."""
    topic_alias: int | None = None
    """0x23: number that stands for the topic name."""
    maximum_qos: QoS | None = None
    """0x24: highest QoS the server supports."""
    retain_available: bool | None = None
    """0x25: whether the server supports retained messages."""
    user_property: tuple[tuple[str, str], ...] = ()
    """0x26: ordered name/value pairs; names may repeat."""
    maximum_packet_size: int | None = None
    """0x27: largest packet, in bytes, the sender accepts."""
    wildcard_subscription_available: bool | None = None
    """0x28: whether the server supports wildcard subscriptions."""
    subscription_identifier_available: bool | None = None
    """0x29: whether the server supports subscription identifiers."""
    shared_subscription_available: bool | None = None
    """0x2A: whether the server supports shared subscriptions."""

    def __init__(
        self,
        *,
        payload_format_indicator: int | None = None,
        message_expiry_interval: int | None = None,
        content_type: str | None = None,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
        subscription_identifier: tuple[int, ...] = (),
        session_expiry_interval: int | None = None,
        assigned_client_identifier: str | None = None,
        server_keep_alive: int | None = None,
        authentication_method: str | None = None,
        authentication_data: bytes | None = None,
        request_problem_information: bool | None = None,
        will_delay_interval: int | None = None,
        request_response_information: bool | None = None,
        response_information: str | None = None,
        server_reference: str | None = None,
        reason_string: str | None = None,
        receive_maximum: int | None = None,
        topic_alias_maximum: int | None = None,
        topic_alias: int | None = None,
        maximum_qos: QoS | None = None,
        retain_available: bool | None = None,
        user_property: tuple[tuple[str, str], ...] = (),
        maximum_packet_size: int | None = None,
        wildcard_subscription_available: bool | None = None,
        subscription_identifier_available: bool | None = None,
        shared_subscription_available: bool | None = None,
    ) -> None:
        # Store only the properties that are present: absent ones are read from the
        # class defaults, so a decoded or user-built value costs one small dict.
        values: dict[str, object] = {}
        if payload_format_indicator is not None:
            values["payload_format_indicator"] = payload_format_indicator
        if message_expiry_interval is not None:
            values["message_expiry_interval"] = message_expiry_interval
        if content_type is not None:
            values["content_type"] = content_type
        if response_topic is not None:
            values["response_topic"] = response_topic
        if correlation_data is not None:
            values["correlation_data"] = correlation_data
        if subscription_identifier:
            values["subscription_identifier"] = subscription_identifier
        if session_expiry_interval is not None:
            values["session_expiry_interval"] = session_expiry_interval
        if assigned_client_identifier is not None:
            values["assigned_client_identifier"] = assigned_client_identifier
        if server_keep_alive is not None:
            values["server_keep_alive"] = server_keep_alive
        if authentication_method is not None:
            values["authentication_method"] = authentication_method
        if authentication_data is not None:
            values["authentication_data"] = authentication_data
        if request_problem_information is not None:
            values["request_problem_information"] = request_problem_information
        if will_delay_interval is not None:
            values["will_delay_interval"] = will_delay_interval
        if request_response_information is not None:
            values["request_response_information"] = request_response_information
        if response_information is not None:
            values["response_information"] = response_information
        if server_reference is not None:
            values["server_reference"] = server_reference
        if reason_string is not None:
            values["reason_string"] = reason_string
        if receive_maximum is not None:
            values["receive_maximum"] = receive_maximum
        if topic_alias_maximum is not None:
            values["topic_alias_maximum"] = topic_alias_maximum
        if topic_alias is not None:
            values["topic_alias"] = topic_alias
        if maximum_qos is not None:
            values["maximum_qos"] = maximum_qos
        if retain_available is not None:
            values["retain_available"] = retain_available
        if user_property:
            values["user_property"] = user_property
        if maximum_packet_size is not None:
            values["maximum_packet_size"] = maximum_packet_size
        if wildcard_subscription_available is not None:
            values["wildcard_subscription_available"] = wildcard_subscription_available
        if subscription_identifier_available is not None:
            values["subscription_identifier_available"] = subscription_identifier_available
        if shared_subscription_available is not None:
            values["shared_subscription_available"] = shared_subscription_available
        _set_attribute(self, "__dict__", values)

    def __repr__(self) -> str:
        # Only the properties that are present: a full listing of 27 fields
        # would drown every packet repr.
        present = ", ".join(
            f"{name}={value!r}"
            for name in _FIELD_NAMES
            if (value := getattr(self, name)) is not None and value != ()
        )
        return f"Properties({present})"

    def present(self) -> dict[str, object]:
        """Return the properties that are present, by field name, in encoding order."""
        return dict(self.__dict__)


_FIELD_NAMES: Final = tuple(f.name for f in fields(Properties))

NO_PROPERTIES: Final = Properties()
"""The empty property set, shared by every packet that carries no properties."""


class PropertyId(IntEnum):
    """Property identifiers of MQTT 5.0, section 2.2.2.2."""

    PAYLOAD_FORMAT_INDICATOR = 0x01
    MESSAGE_EXPIRY_INTERVAL = 0x02
    CONTENT_TYPE = 0x03
    RESPONSE_TOPIC = 0x08
    CORRELATION_DATA = 0x09
    SUBSCRIPTION_IDENTIFIER = 0x0B
    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    AUTHENTICATION_METHOD = 0x15
    AUTHENTICATION_DATA = 0x16
    REQUEST_PROBLEM_INFORMATION = 0x17
    WILL_DELAY_INTERVAL = 0x18
    REQUEST_RESPONSE_INFORMATION = 0x19
    RESPONSE_INFORMATION = 0x1A
    SERVER_REFERENCE = 0x1C
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    TOPIC_ALIAS_MAXIMUM = 0x22
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    RETAIN_AVAILABLE = 0x25
    USER_PROPERTY = 0x26
    MAXIMUM_PACKET_SIZE = 0x27
    WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
    SHARED_SUBSCRIPTION_AVAILABLE = 0x2A


class PropertyType(IntEnum):
    """Wire data types of property values (section 1.5)."""

    BYTE = 1
    """One byte integer."""
    FLAG = 2
    """One byte that must be 0 or 1, exposed as ``bool``."""
    TWO_BYTE_INTEGER = 3
    FOUR_BYTE_INTEGER = 4
    VARIABLE_BYTE_INTEGER = 5
    UTF8_STRING = 6
    BINARY_DATA = 7
    UTF8_STRING_PAIR = 8


@final
@dataclass(frozen=True, slots=True)
class PropertySpec:
    """What the specification says about one property."""

    id: PropertyId
    name: str
    """The :class:`Properties` field name."""
    type: PropertyType
    repeatable: bool
    """True for the two properties that may appear more than once."""
    packets: frozenset[PacketType]
    """Packets that may carry it (the will properties are listed apart)."""
    in_will: bool
    """Whether it may appear in the will properties of CONNECT."""


_T = PropertyType
_P = PacketType
_ACKS = (_P.PUBACK, _P.PUBREC, _P.PUBREL, _P.PUBCOMP)


def _spec(
    pid: PropertyId,
    ptype: PropertyType,
    packets: tuple[PacketType, ...],
    *,
    in_will: bool = False,
    repeatable: bool = False,
) -> PropertySpec:
    return PropertySpec(pid, pid.name.lower(), ptype, repeatable, frozenset(packets), in_will)


_I = PropertyId

PROPERTY_SPECS: Final[dict[int, PropertySpec]] = {
    spec.id: spec
    for spec in (
        _spec(_I.PAYLOAD_FORMAT_INDICATOR, _T.BYTE, (_P.PUBLISH,), in_will=True),
        _spec(_I.MESSAGE_EXPIRY_INTERVAL, _T.FOUR_BYTE_INTEGER, (_P.PUBLISH,), in_will=True),
        _spec(_I.CONTENT_TYPE, _T.UTF8_STRING, (_P.PUBLISH,), in_will=True),
        _spec(_I.RESPONSE_TOPIC, _T.UTF8_STRING, (_P.PUBLISH,), in_will=True),
        _spec(_I.CORRELATION_DATA, _T.BINARY_DATA, (_P.PUBLISH,), in_will=True),
        _spec(
            _I.SUBSCRIPTION_IDENTIFIER,
            _T.VARIABLE_BYTE_INTEGER,
            (_P.PUBLISH, _P.SUBSCRIBE),
            repeatable=True,
        ),
        _spec(
            _I.SESSION_EXPIRY_INTERVAL,
            _T.FOUR_BYTE_INTEGER,
            (_P.CONNECT, _P.CONNACK, _P.DISCONNECT),
        ),
        _spec(_I.ASSIGNED_CLIENT_IDENTIFIER, _T.UTF8_STRING, (_P.CONNACK,)),
        _spec(_I.SERVER_KEEP_ALIVE, _T.TWO_BYTE_INTEGER, (_P.CONNACK,)),
        _spec(_I.AUTHENTICATION_METHOD, _T.UTF8_STRING, (_P.CONNECT, _P.CONNACK, _P.AUTH)),
        _spec(_I.AUTHENTICATION_DATA, _T.BINARY_DATA, (_P.CONNECT, _P.CONNACK, _P.AUTH)),
        _spec(_I.REQUEST_PROBLEM_INFORMATION, _T.FLAG, (_P.CONNECT,)),
        _spec(_I.WILL_DELAY_INTERVAL, _T.FOUR_BYTE_INTEGER, (), in_will=True),
        _spec(_I.REQUEST_RESPONSE_INFORMATION, _T.FLAG, (_P.CONNECT,)),
        _spec(_I.RESPONSE_INFORMATION, _T.UTF8_STRING, (_P.CONNACK,)),
        _spec(_I.SERVER_REFERENCE, _T.UTF8_STRING, (_P.CONNACK, _P.DISCONNECT)),
        _spec(
            _I.REASON_STRING,
            _T.UTF8_STRING,
            (_P.CONNACK, *_ACKS, _P.SUBACK, _P.UNSUBACK, _P.DISCONNECT, _P.AUTH),
        ),
        _spec(_I.RECEIVE_MAXIMUM, _T.TWO_BYTE_INTEGER, (_P.CONNECT, _P.CONNACK)),
        _spec(_I.TOPIC_ALIAS_MAXIMUM, _T.TWO_BYTE_INTEGER, (_P.CONNECT, _P.CONNACK)),
        _spec(_I.TOPIC_ALIAS, _T.TWO_BYTE_INTEGER, (_P.PUBLISH,)),
        _spec(_I.MAXIMUM_QOS, _T.BYTE, (_P.CONNACK,)),
        _spec(_I.RETAIN_AVAILABLE, _T.FLAG, (_P.CONNACK,)),
        _spec(
            _I.USER_PROPERTY,
            _T.UTF8_STRING_PAIR,
            tuple(p for p in PacketType if p not in (_P.PINGREQ, _P.PINGRESP)),
            in_will=True,
            repeatable=True,
        ),
        _spec(_I.MAXIMUM_PACKET_SIZE, _T.FOUR_BYTE_INTEGER, (_P.CONNECT, _P.CONNACK)),
        _spec(_I.WILDCARD_SUBSCRIPTION_AVAILABLE, _T.FLAG, (_P.CONNACK,)),
        _spec(_I.SUBSCRIPTION_IDENTIFIER_AVAILABLE, _T.FLAG, (_P.CONNACK,)),
        _spec(_I.SHARED_SUBSCRIPTION_AVAILABLE, _T.FLAG, (_P.CONNACK,)),
    )
}
"""Every property, by identifier."""

_ALLOWED: dict[PacketType, frozenset[str]] = {
    ptype: frozenset(s.name for s in PROPERTY_SPECS.values() if ptype in s.packets)
    for ptype in PacketType
}

WILL_PROPERTIES: Final[frozenset[str]] = frozenset(
    s.name for s in PROPERTY_SPECS.values() if s.in_will
)
"""Names of the properties a will message may carry (section 3.1.3.2)."""


def allowed_for(packet_type: PacketType) -> frozenset[str]:
    """Return the names of the :class:`Properties` fields a packet type may carry."""
    return _ALLOWED[packet_type]
