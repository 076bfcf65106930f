"""Small enumerations of the MQTT wire protocol.

Every enumeration is an :class:`enum.IntEnum` whose values are the numbers that
travel on the wire, so a member can be compared with, and packed as, a plain
``int``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["PacketType", "ProtocolVersion", "QoS", "RetainHandling"]


class ProtocolVersion(IntEnum):
    """The protocol level byte of CONNECT, one per supported MQTT version."""

    MQTT_3_1 = 3
    """MQTT 3.1 (protocol name ``MQIsdp``)."""
    MQTT_3_1_1 = 4
    """MQTT 3.1.1 (protocol name ``MQTT``)."""
    MQTT_5 = 5
    """MQTT 5.0 (protocol name ``MQTT``)."""


class QoS(IntEnum):
    """Quality of service of an application message."""

    AT_MOST_ONCE = 0
    AT_LEAST_ONCE = 1
    EXACTLY_ONCE = 2


class RetainHandling(IntEnum):
    """When the server sends retained messages for a new subscription (MQTT 5)."""

    SEND_ON_SUBSCRIBE = 0
    """Send retained messages whenever the subscription is made."""
    SEND_IF_NEW_SUBSCRIPTION = 1
    """Send retained messages only if the subscription did not exist before."""
    DO_NOT_SEND = 2
    """Never send retained messages for this subscription."""


class PacketType(IntEnum):
    """MQTT control packet types, the high nibble of the first byte of a packet."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15
    """Authentication exchange; MQTT 5 only."""
