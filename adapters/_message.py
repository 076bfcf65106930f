"""What the clients hand to applications: received messages and operation results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emqtt_core.enums import QoS
from emqtt_core.events import PublishCompleted
from emqtt_core.packets import Publish
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Message", "PublishResult", "ReasonCodes"]

#: The outcome of a publish: the engine's `PublishCompleted` event as it is (no copy).
#: ``reason_code >= 0x80`` means the server refused the message (MQTT 5); ``qos``,
#: ``packet_id`` (None for QoS 0) and ``properties`` (of the PUBACK/PUBREC) are also there.
PublishResult = PublishCompleted


class ReasonCodes(tuple[ReasonCode, ...]):
    """The reason codes of a SUBACK or UNSUBACK, one per topic filter in request order,
    with the acknowledgement's MQTT 5 ``properties`` (reason string, user properties)."""

    properties: Properties

    def __new__(
        cls, codes: Iterable[ReasonCode], properties: Properties = NO_PROPERTIES
    ) -> ReasonCodes:
        self = super().__new__(cls, codes)
        self.properties = properties
        return self

    @property
    def failed(self) -> bool:
        """Whether any code is a failure (>= 0x80): that filter was refused."""
        return any(code >= 0x80 for code in self)


class Message:
    """An application message received from the server.

    The fields are those of the PUBLISH packet. On MQTT 5 ``topic`` is the real topic even when
    the server sent a topic alias. With ``auto_ack=False``, a QoS 1 or 2 message must be
    acknowledged with the adapter's ``ack`` once the application has taken it: the server
    counts unacknowledged messages against its in-flight window.
    """

    __slots__ = ("_client", "_needs_ack", "packet")

    def __init__(self, packet: Publish, needs_ack: bool, client: object) -> None:
        self.packet = packet
        """The PUBLISH packet as received (immutable)."""
        self._needs_ack = needs_ack
        self._client = client

    @property
    def topic(self) -> str:
        """The topic name the message was published to."""
        return self.packet.topic

    @property
    def payload(self) -> bytes:
        """The application payload."""
        return self.packet.payload

    @property
    def qos(self) -> QoS:
        """The QoS the server delivered the message with."""
        return self.packet.qos

    @property
    def retain(self) -> bool:
        """Whether this is a retained message sent because of a new subscription."""
        return self.packet.retain

    @property
    def dup(self) -> bool:
        """Whether the server says it may have delivered this message before."""
        return self.packet.dup

    @property
    def packet_id(self) -> int | None:
        """The server's packet identifier (None for QoS 0)."""
        return self.packet.packet_id

    @property
    def properties(self) -> Properties:
        """The MQTT 5 publish properties (empty on MQTT 3.x)."""
        return self.packet.properties

    @property
    def needs_ack(self) -> bool:
        """Whether the application still has to acknowledge it (``auto_ack=False``, QoS >= 1)."""
        return self._needs_ack

    def _take_ack(self) -> int | None:
        """The packet id to acknowledge, once: None if nothing (more) is to be acknowledged."""
        if not self._needs_ack:
            return None
        self._needs_ack = False
        return self.packet.packet_id

    def __repr__(self) -> str:
        size = len(self.packet.payload)
        return (
            f"<Message topic={self.topic!r} qos={int(self.qos)} retain={self.retain} "
            f"payload={size} bytes>"
        )
