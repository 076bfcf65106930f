"""What the clients report of each transport in telemetry metadata (telemetry-events.md)."""

from __future__ import annotations

#: Transport name -> the ``socket_type`` of its events.
SOCKET_TYPES = {"tcp": "tcp", "ssl": "ssl", "ws": "websocket", "wss": "websocket", "quic": "quic"}
#: Transport name -> the ``connection_module`` of its events.
MODULES = {
    "tcp": "adapters.transports.tcp",
    "ssl": "adapters.transports.tcp",
    "ws": "adapters.transports.websocket",
    "wss": "adapters.transports.websocket",
    "quic": "adapters.transports.quic",
}
