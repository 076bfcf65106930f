"""The blocking MQTT client, for threads.

::

    from adapters.threading import Client

    with Client.from_url("mqtt://localhost") as client:
        client.subscribe("a/#", qos=1)
        result = client.publish("a/b", b"hello", qos=1)
        for message in client.messages(timeout=5):
            ...

Every method may be called from any thread. See `Client` for the API and docs/adapters.md
for the options.
"""

from __future__ import annotations

from adapters._client import ClientOptions
from adapters._lifecycle import Status
from adapters._message import PublishResult, ReasonCodes
from adapters._reconnect import ReconnectPolicy
from adapters._telemetry import EVENT_NAMES as TELEMETRY_EVENTS
from adapters.errors import (
    AckTimeout,
    ClientClosed,
    ClientError,
    ConnackRefused,
    ConnectError,
    ConnectionFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    InvalidOptions,
    PublishFailed,
    TLSHostnameMismatch,
    TLSVerificationFailed,
)
from adapters.threading._client import Client, Message, Pending
from emqtt_core.packets import Subscription, Will
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

__all__ = [
    "TELEMETRY_EVENTS",
    "AckTimeout",
    "Client",
    "ClientClosed",
    "ClientError",
    "ClientOptions",
    "ConnackRefused",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionRefused",
    "InvalidOptions",
    "Message",
    "Pending",
    "Properties",
    "PublishFailed",
    "PublishResult",
    "ReasonCode",
    "ReasonCodes",
    "ReconnectPolicy",
    "Status",
    "Subscription",
    "TLSHostnameMismatch",
    "TLSVerificationFailed",
    "Will",
]
