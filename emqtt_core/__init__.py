"""emqtt_core: a dependency-free, sans-IO MQTT 3.1, 3.1.1 and 5.0 client engine.

The package consumes bytes and time and produces bytes and events. It has two layers:

- the wire codec (`encode`, `Decoder`, the packet values, `Properties`, `ReasonCode`, topic
  validation and matching), usable on its own and symmetric, so a broker-side peer can use it;
- the client session engine (`ClientSession`, configured by a frozen `ClientConfig`), the whole
  client side of an MQTT session as a state machine: QoS 0/1/2 both ways, flow control, topic
  aliases, enhanced authentication, keepalive and session resume.

Nothing here performs I/O, reads a clock or draws randomness: time arrives as `now` arguments and
randomness is injected through `ClientConfig`.
"""

from __future__ import annotations

from emqtt_core.codec import MAX_PACKET_SIZE, Decoder, encode
from emqtt_core.config import ClientConfig, SessionLostPolicy
from emqtt_core.enums import PacketType, ProtocolVersion, QoS, RetainHandling
from emqtt_core.events import (
    AuthReceived,
    Connected,
    ConnectionClosed,
    Event,
    MessageReceived,
    PongReceived,
    PublishCompleted,
    PublishFailed,
    Reauthenticated,
    Subscribed,
    Unsubscribed,
)
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
from emqtt_core.session import ClientSession, SubscriptionInfo
from emqtt_core.state import SessionState
from emqtt_core.topics import matches, validate_topic_filter, validate_topic_name

__all__ = [
    "MAX_PACKET_SIZE",
    "NO_PROPERTIES",
    "Auth",
    "AuthReceived",
    "ClientConfig",
    "ClientSession",
    "ConnAck",
    "Connect",
    "ConnectRefused",
    "ConnectTimeout",
    "Connected",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionLost",
    "Decoder",
    "Disconnect",
    "Event",
    "InvalidStateError",
    "KeepAliveTimeout",
    "MQTTError",
    "MalformedPacket",
    "MessageReceived",
    "Packet",
    "PacketTooLarge",
    "PacketType",
    "PingReq",
    "PingResp",
    "PongReceived",
    "Properties",
    "ProtocolError",
    "ProtocolVersion",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "PublishCompleted",
    "PublishDropped",
    "PublishFailed",
    "QoS",
    "QueueFullError",
    "Reauthenticated",
    "ReasonCode",
    "RetainHandling",
    "ServerDisconnected",
    "SessionLostPolicy",
    "SessionState",
    "SubAck",
    "Subscribe",
    "Subscribed",
    "Subscription",
    "SubscriptionInfo",
    "UnsubAck",
    "Unsubscribe",
    "Unsubscribed",
    "UsageError",
    "Will",
    "encode",
    "matches",
    "validate_topic_filter",
    "validate_topic_name",
]
