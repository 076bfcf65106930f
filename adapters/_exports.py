"""The public names every adapter package exports beside its own client and its errors.

``adapters.asyncio``, ``adapters.threading`` and ``adapters.anyio`` re-export these and
:mod:`adapters.errors` with star imports and extend ``__all__`` with both lists, so the three
packages offer the same options, results, errors and packet types under the same names.
"""

from __future__ import annotations

from adapters._client import ClientOptions
from adapters._lifecycle import Status
from adapters._message import PublishResult, ReasonCodes
from adapters._reconnect import ReconnectPolicy
from adapters._telemetry import EVENT_NAMES as TELEMETRY_EVENTS
from emqtt_core.packets import Subscription, Will
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

__all__ = [
    "TELEMETRY_EVENTS",
    "ClientOptions",
    "Properties",
    "PublishResult",
    "ReasonCode",
    "ReasonCodes",
    "ReconnectPolicy",
    "Status",
    "Subscription",
    "Will",
]
