"""Exceptions of emqtt_core.

The hierarchy::

    MQTTError                        root of every error this package raises
    ├── ProtocolError                the peer broke the protocol; carries .reason_code
    │   ├── MalformedPacket          bytes that do not decode (0x81 Malformed Packet)
    │   └── PacketTooLarge           a packet over the maximum packet size (0x95)
    ├── UsageError (also ValueError) the caller passed a bad argument
    ├── InvalidStateError            a command the current state does not allow
    ├── QueueFullError               the bounded outbound queue is full
    ├── ConnectionClosedError        why a connection ended
    │   ├── ConnectRefused           CONNACK with a failure reason code
    │   ├── ServerDisconnected       the server sent DISCONNECT
    │   ├── ConnectTimeout           no CONNACK in time
    │   ├── KeepAliveTimeout         no PINGRESP in time
    │   └── ConnectionLost           the transport ended without DISCONNECT
    └── PublishDropped               a publication that will never complete

The decoder raises :class:`ProtocolError` (or a subclass) and nothing else,
whatever bytes it is given. Caller mistakes raise :class:`UsageError` before
anything is queued or sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reason_codes import ReasonCode

if TYPE_CHECKING:
    from .properties import Properties

__all__ = [
    "ConnectRefused",
    "ConnectTimeout",
    "ConnectionClosedError",
    "ConnectionLost",
    "InvalidStateError",
    "KeepAliveTimeout",
    "MQTTError",
    "MalformedPacket",
    "PacketTooLarge",
    "ProtocolError",
    "PublishDropped",
    "QueueFullError",
    "ServerDisconnected",
    "UsageError",
]


class MQTTError(Exception):
    """Root of every exception raised by emqtt."""


class ProtocolError(MQTTError):
    """The peer violated the protocol.

    Args:
        message: what was wrong, for humans.
        reason_code: the MQTT 5 reason code to send in the DISCONNECT that
            closes the connection.
    """

    default_reason_code: ReasonCode = ReasonCode.PROTOCOL_ERROR

    def __init__(self, message: str, reason_code: ReasonCode | None = None) -> None:
        super().__init__(message)
        self.reason_code: ReasonCode = (
            self.default_reason_code if reason_code is None else reason_code
        )
        """The MQTT 5 reason code that describes the violation."""


class MalformedPacket(ProtocolError):
    """The bytes received do not form a valid packet (reason code 0x81 by default)."""

    default_reason_code = ReasonCode.MALFORMED_PACKET


class PacketTooLarge(ProtocolError):
    """A packet is larger than the maximum packet size (reason code 0x95)."""

    default_reason_code = ReasonCode.PACKET_TOO_LARGE


class UsageError(MQTTError, ValueError):
    """The caller passed a bad argument: a bad topic, QoS 3, a property not allowed...

    Raised before anything is queued or sent.
    """


class InvalidStateError(MQTTError):
    """The command is not allowed in the current state (publishing before CONNACK, ...)."""


class QueueFullError(MQTTError):
    """The bounded outbound queue is full."""


class ConnectionClosedError(MQTTError):
    """Base of the reasons a connection ended."""


class ConnectRefused(ConnectionClosedError):
    """The server answered CONNECT with a failure reason code.

    Args:
        reason_code: the CONNACK reason code (MQTT 3 return codes are mapped to MQTT 5).
        properties: the CONNACK properties (reason string, server reference...).
    """

    def __init__(self, reason_code: ReasonCode, properties: Properties | None = None) -> None:
        super().__init__(f"connection refused: {reason_code.name} (0x{reason_code:02X})")
        self.reason_code = reason_code
        self.properties = properties


class ServerDisconnected(ConnectionClosedError):
    """The server closed the connection with DISCONNECT.

    Args:
        reason_code: the DISCONNECT reason code.
        properties: the DISCONNECT properties (reason string, server reference...).
    """

    def __init__(self, reason_code: ReasonCode, properties: Properties | None = None) -> None:
        super().__init__(f"server disconnected: {reason_code.name} (0x{reason_code:02X})")
        self.reason_code = reason_code
        self.properties = properties


class ConnectTimeout(ConnectionClosedError):
    """No CONNACK arrived in time."""


class KeepAliveTimeout(ConnectionClosedError):
    """No PINGRESP arrived in time: the connection is considered dead."""


class ConnectionLost(ConnectionClosedError):
    """The transport ended (EOF or error) without a DISCONNECT."""


class PublishDropped(MQTTError):
    """A publication that will never complete.

    For example the session was lost while it was in flight and the policy is
    to fail it, or it was cancelled.

    Args:
        reason: why, for humans.
        reason_code: the reason code involved, if any.
    """

    def __init__(self, reason: str, reason_code: ReasonCode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_code = reason_code
