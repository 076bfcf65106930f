"""Configuration of a :class:`~emqtt_core.session.ClientSession`.

One frozen dataclass, validated when it is created: a configuration that
exists is one the engine can use.  Times are seconds (floats allowed where the
protocol does not fix an integer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .enums import ProtocolVersion
from .exceptions import UsageError
from .packets import Will
from .properties import NO_PROPERTIES
from .topics import validate_topic_name

__all__ = ["ClientConfig", "SessionLostPolicy"]

#: What happens to outgoing QoS 1/2 messages the server no longer knows about
#: after it reported ``session_present=False``: send them again as new
#: messages ("requeue"), or report them failed ("fail").
SessionLostPolicy = Literal["requeue", "fail"]

# Limits fixed by the protocol.
_TWO_BYTE_MAX = 0xFFFF  # Keep Alive, Receive Maximum, Topic Alias Maximum
_FOUR_BYTE_MAX = 0xFFFFFFFF  # Session Expiry Interval
_VARINT_MAX = 268_435_455  # largest Variable Byte Integer
_PACKET_MAX = _VARINT_MAX + 5  # fixed header (1 + 4 bytes) + largest remaining length
# MQTT 3.1 allows client identifiers of 1 to 23 characters.
_V31_CLIENT_ID_MAX = 23


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Everything a client session needs to know before its first connection.

    Raises:
        UsageError: when a field is out of range or the fields contradict each
            other (for example an MQTT 5 feature with ``protocol_version=4``).
    """

    client_id: str = ""
    """Client Identifier.  Empty: on MQTT 5 the server assigns one; on 3.1.1
    with ``clean_start=True`` the server uses an unnamed session; otherwise one
    is generated from :attr:`random_bytes`."""

    protocol_version: ProtocolVersion = ProtocolVersion.MQTT_5
    """3 (MQTT 3.1), 4 (3.1.1) or 5."""

    clean_start: bool = True
    """Clean Start (Clean Session on 3.x) of the first connection.  Later
    connections resume the session when it can still exist on the server
    (see :meth:`ClientSession.connect`)."""

    keep_alive: int = 60
    """Keep Alive in seconds (0 disables keepalive); a Server Keep Alive in
    CONNACK replaces it."""

    ping_timeout: float | None = None
    """Seconds to wait for PINGRESP before the connection is declared dead.
    None: the effective keepalive interval."""

    force_ping: bool = False
    """Send PINGREQ every keepalive interval even when other packets were sent
    (a server that stopped answering is noticed even while only QoS 0 flows)."""

    connect_timeout: float = 30.0
    """Seconds from ``connect()`` to CONNACK (including any AUTH exchange)."""

    username: str | None = None
    """User Name sent in CONNECT."""

    password: bytes | None = field(default=None, repr=False)
    """Password sent in CONNECT; never shown in the repr."""

    will: Will | None = None
    """Will Message published by the server if the connection ends without a
    normal DISCONNECT."""

    session_expiry_interval: int = 0
    """MQTT 5 Session Expiry Interval in seconds (0xFFFFFFFF: never)."""

    receive_maximum: int = 65535
    """MQTT 5: how many unacknowledged QoS 1/2 messages the server may send us.
    A server that exceeds it is disconnected with 0x93."""

    maximum_packet_size: int | None = None
    """Largest packet we accept, in bytes (None: the protocol's maximum).
    Announced to the server on MQTT 5 and enforced on every version."""

    topic_alias_maximum: int = 16
    """MQTT 5: how many topic aliases the server may define towards us
    (ignored on 3.x, which has no aliases)."""

    request_response_information: bool = False
    request_problem_information: bool = True
    user_properties: tuple[tuple[str, str], ...] = ()
    """MQTT 5 User Properties sent with CONNECT."""

    authentication_method: str | None = None
    """MQTT 5 enhanced authentication method; enables the AUTH exchange."""
    authentication_data: bytes | None = None

    max_inflight: int | None = None
    """Outgoing QoS 1/2 messages awaiting acknowledgement at once; the window
    is the smaller of this and the server's Receive Maximum.  None: the
    server's Receive Maximum on MQTT 5, 20 on 3.x (the broker default that
    3.x clients cannot learn)."""

    max_queued: int = 10_000
    """Messages waiting for the in-flight window (or for a connection) at
    once; beyond it ``publish()`` raises QueueFullError."""

    auto_ack: bool = True
    """Acknowledge received QoS 1/2 messages automatically.  False: the
    application calls ``ack(packet_id)`` for each one."""

    session_lost_policy: SessionLostPolicy = "requeue"
    """Outgoing messages in flight when the server lost the session."""

    resubscribe: bool = True
    """Subscribe again to every known subscription when the server lost the
    session."""

    auto_topic_alias: bool = True
    """MQTT 5: replace repeated topics by aliases within the server's Topic
    Alias Maximum."""

    random_bytes: Callable[[int], bytes] | None = field(default=None, repr=False)
    """Source of randomness (for example ``os.urandom``), used to generate a
    client identifier when one is needed and none was given."""

    def __post_init__(self) -> None:
        try:
            version = ProtocolVersion(self.protocol_version)
        except ValueError:
            raise UsageError(
                f"protocol_version must be 3, 4 or 5, not {self.protocol_version!r}"
            ) from None
        object.__setattr__(self, "protocol_version", version)
        v5 = version is ProtocolVersion.MQTT_5
        _check_range("keep_alive", self.keep_alive, 0, _TWO_BYTE_MAX)
        if self.ping_timeout is not None and not self.ping_timeout > 0:
            raise UsageError("ping_timeout must be positive")
        if not self.connect_timeout > 0:
            raise UsageError("connect_timeout must be positive")
        _check_range("session_expiry_interval", self.session_expiry_interval, 0, _FOUR_BYTE_MAX)
        _check_range("receive_maximum", self.receive_maximum, 1, _TWO_BYTE_MAX)
        _check_range("topic_alias_maximum", self.topic_alias_maximum, 0, _TWO_BYTE_MAX)
        if self.maximum_packet_size is not None:
            _check_range("maximum_packet_size", self.maximum_packet_size, 2, _PACKET_MAX)
        if self.max_inflight is not None:
            _check_range("max_inflight", self.max_inflight, 1, _TWO_BYTE_MAX)
        _check_range("max_queued", self.max_queued, 0, _VARINT_MAX)
        if self.session_lost_policy not in ("requeue", "fail"):
            raise UsageError("session_lost_policy must be 'requeue' or 'fail'")
        if len(self.client_id.encode("utf-8")) > _TWO_BYTE_MAX:
            raise UsageError("client_id is longer than 65535 bytes")
        if version is ProtocolVersion.MQTT_3_1 and len(self.client_id) > _V31_CLIENT_ID_MAX:
            raise UsageError("MQTT 3.1 allows client identifiers of at most 23 characters")
        if self.password is not None and self.username is None and not v5:
            # [MQTT-3.1.2-22] (3.1.1): a password requires a user name.
            raise UsageError("MQTT 3.x sends a password only with a username")
        if self.will is not None:
            validate_topic_name(self.will.topic)
            if not _is_qos(self.will.qos):
                raise UsageError(f"will qos must be 0, 1 or 2, not {self.will.qos!r}")
        if not v5:
            self._check_v5_only()
        elif self.authentication_data is not None and self.authentication_method is None:
            # [MQTT-3.1.2-28]: Authentication Data needs an Authentication Method.
            raise UsageError("authentication_data needs an authentication_method")
        if self.client_id == "" and self.random_bytes is None and self.needs_generated_client_id():
            raise UsageError(
                "an empty client_id needs random_bytes on MQTT 3.1, and on 3.1.1 "
                "without clean_start"
            )

    def needs_generated_client_id(self) -> bool:
        """Whether an empty :attr:`client_id` must be replaced by a generated one
        (the protocol version or Clean Start does not allow sending it empty)."""
        if self.protocol_version is ProtocolVersion.MQTT_3_1:
            return True
        # [MQTT-3.1.3-7] (3.1.1): an empty ClientId requires CleanSession=1.
        return self.protocol_version is ProtocolVersion.MQTT_3_1_1 and not self.clean_start

    def _check_v5_only(self) -> None:
        defaults = {
            "session_expiry_interval": 0,
            "receive_maximum": 65535,
            "request_response_information": False,
            "request_problem_information": True,
            "user_properties": (),
            "authentication_method": None,
            "authentication_data": None,
        }
        for name, default in defaults.items():
            if getattr(self, name) != default:
                raise UsageError(f"{name} is an MQTT 5 feature (protocol_version is 5 only)")
        if self.will is not None and self.will.properties != NO_PROPERTIES:
            raise UsageError("will properties are an MQTT 5 feature")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be an integer from {low} to {high}, not {value!r}")


def _is_qos(value: object) -> bool:
    return not isinstance(value, bool) and value in (0, 1, 2)
