"""What a :class:`~emqtt_core.session.ClientSession` reports, one event at a time.

Events are immutable values named in the past tense; ``next_event()`` returns
them in the order they happened.  An adapter turns them into resolved futures,
queued messages and callbacks, and makes no protocol decision of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from .enums import QoS
from .exceptions import ConnectionClosedError, MQTTError, ProtocolError
from .packets import Auth, ConnAck, Publish
from .properties import NO_PROPERTIES, Properties
from .reason_codes import ReasonCode

__all__ = [
    "AuthReceived",
    "ConnectionClosed",
    "Connected",
    "Event",
    "MessageReceived",
    "PongReceived",
    "PublishCompleted",
    "PublishFailed",
    "Reauthenticated",
    "Subscribed",
    "Unsubscribed",
]


@final
@dataclass(frozen=True, slots=True)
class Connected:
    """The server accepted the connection (CONNACK with a success code)."""

    session_present: bool
    """The server resumed an existing session."""
    client_id: str
    """The client identifier in use (the server-assigned one on MQTT 5)."""
    connack: ConnAck
    """The CONNACK packet, with the server's limits and capabilities."""


@final
@dataclass(frozen=True, slots=True)
class AuthReceived:
    """The server sent AUTH 0x18 (Continue authentication): answer with ``auth()``."""

    packet: Auth


@final
@dataclass(frozen=True, slots=True)
class Reauthenticated:
    """A re-authentication finished: the server sent AUTH 0x00 (Success)."""

    packet: Auth


@final
@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The server delivered an application message.

    On MQTT 5 the topic is the real topic even when the server used a topic
    alias.  When ``needs_ack`` is True (``auto_ack=False`` and QoS 1 or 2) the
    application calls ``ack(packet_id)`` once it has taken the message.
    """

    message: Publish
    needs_ack: bool = False

    @property
    def packet_id(self) -> int | None:
        """The server's packet identifier (None for QoS 0)."""
        return self.message.packet_id

    @property
    def qos(self) -> QoS:
        """The QoS the message was delivered with."""
        return self.message.qos


@final
@dataclass(frozen=True, slots=True)
class PublishCompleted:
    """A publish finished.

    QoS 0: its bytes left through ``data_to_send()``.  QoS 1: PUBACK arrived.
    QoS 2: PUBCOMP arrived, or PUBREC with a failure reason code (then no
    PUBREL follows).  A failure code from the server is reported here too:
    ``reason_code >= 0x80`` means the server refused the message.
    """

    ticket: int
    qos: QoS
    packet_id: int | None
    reason_code: ReasonCode = ReasonCode.SUCCESS
    properties: Properties = NO_PROPERTIES


class _PublishCompletedFields:
    """PublishCompleted's slots, writable: filled with plain stores, then given
    the frozen class, which yields exactly the value ``PublishCompleted(...)``
    would have built.  A frozen dataclass sets each field through
    ``object.__setattr__``, which costs as much as the rest of completing a
    publish; the codec builds decoded packets the same way."""

    __slots__ = ("packet_id", "properties", "qos", "reason_code", "ticket")

    def __init__(
        self,
        ticket: int,
        qos: QoS,
        packet_id: int | None,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        self.ticket = ticket
        self.qos = qos
        self.packet_id = packet_id
        self.reason_code = reason_code
        self.properties = properties
        self.__class__ = PublishCompleted  # type: ignore[assignment]  # noqa: PLE0237


def publish_completed(
    ticket: int,
    qos: QoS,
    packet_id: int | None,
    reason_code: ReasonCode = ReasonCode.SUCCESS,
    properties: Properties = NO_PROPERTIES,
) -> PublishCompleted:
    """Build a :class:`PublishCompleted` on the engine's hot path."""
    return _PublishCompletedFields(ticket, qos, packet_id, reason_code, properties)  # type: ignore[return-value]


class _MessageReceivedFields:
    """MessageReceived's slots, writable (see :class:`_PublishCompletedFields`)."""

    __slots__ = ("message", "needs_ack")

    def __init__(self, message: Publish, needs_ack: bool) -> None:
        self.message = message
        self.needs_ack = needs_ack
        self.__class__ = MessageReceived  # type: ignore[assignment]  # noqa: PLE0237


def message_received(message: Publish, needs_ack: bool = False) -> MessageReceived:
    """Build a :class:`MessageReceived` on the engine's hot path."""
    return _MessageReceivedFields(message, needs_ack)  # type: ignore[return-value]


@final
@dataclass(frozen=True, slots=True)
class PublishFailed:
    """A publish can no longer complete (session lost, a limit it now breaks,
    or a QoS 0 message whose connection ended before its bytes left)."""

    ticket: int
    error: MQTTError


@final
@dataclass(frozen=True, slots=True)
class Subscribed:
    """SUBACK arrived: one reason code per subscription, in order."""

    packet_id: int
    reason_codes: tuple[ReasonCode, ...]
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """UNSUBACK arrived: one reason code per topic filter (MQTT 5), in order.

    On MQTT 3.x UNSUBACK carries no codes; every filter reports SUCCESS.
    """

    packet_id: int
    reason_codes: tuple[ReasonCode, ...]
    properties: Properties = NO_PROPERTIES


@final
@dataclass(frozen=True, slots=True)
class PongReceived:
    """PINGRESP arrived."""


@final
@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The network connection ended; the adapter closes the transport.

    ``data_to_send()`` may still hold a final DISCONNECT to write first.  The
    session survives: ``connect()`` starts a new connection.
    """

    error: ConnectionClosedError | ProtocolError | None
    """Why it ended; None for our own clean ``disconnect()``."""
    reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION
    """Why, as a reason code: the one of the DISCONNECT or refusing CONNACK that
    ended it (sent or received); KEEP_ALIVE_TIMEOUT when no PINGRESP came;
    UNSPECIFIED_ERROR when the transport ended or no CONNACK came."""
    properties: Properties = NO_PROPERTIES
    """The properties of that DISCONNECT or CONNACK."""
    server_reference: str | None = None
    """Another server to use (MQTT 5 Server Reference), when one was given."""
    by_server: bool = False
    """The server ended the connection (DISCONNECT or refusing CONNACK)."""


#: Everything ``next_event()`` may return.
Event = (
    Connected
    | AuthReceived
    | Reauthenticated
    | MessageReceived
    | PublishCompleted
    | PublishFailed
    | Subscribed
    | Unsubscribed
    | PongReceived
    | ConnectionClosed
)
