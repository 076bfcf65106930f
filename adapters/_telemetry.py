"""Emission of the four emqtt telemetry events (see docs/telemetry.md), for every adapter.

Only clients created with ``telemetry=True`` own an emitter; the others pay one attribute test
per chunk received or batch sent. An emitter also builds nothing while no handler is attached:
each event is a pre-resolved `telemetry.EventHandle` whose ``active`` flag is tested first.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Final

import telemetry
from adapters.transports.base import SOCKET_RECV_DATA, WEBSOCKET_RECV_DATA, Transport
from emqtt_core.packets import Connect, Packet

__all__ = [
    "EVENT_NAMES",
    "REDACTED_PASSWORD",
    "SEND_DATA",
    "SEND_DATA_FAILED",
    "TelemetryEmitter",
    "redact",
]

SOCKET_RECV: Final = telemetry.event(SOCKET_RECV_DATA)
WEBSOCKET_RECV: Final = telemetry.event(WEBSOCKET_RECV_DATA)
SEND_DATA: Final = telemetry.event(("emqtt", "socket", "send_data"))
SEND_DATA_FAILED: Final = telemetry.event(("emqtt", "socket", "send_data_failed"))
#: Every event a client emits, for ``telemetry.attach_many``.
EVENT_NAMES: Final = (
    SOCKET_RECV.name,
    WEBSOCKET_RECV.name,
    SEND_DATA.name,
    SEND_DATA_FAILED.name,
)
#: What replaces a CONNECT password in telemetry metadata.
REDACTED_PASSWORD: Final = b"******"


def redact(packet: Packet) -> Packet:
    """``packet`` as telemetry may show it: a CONNECT's password is replaced."""
    if isinstance(packet, Connect) and packet.password is not None:
        return dataclasses.replace(packet, password=REDACTED_PASSWORD)
    return packet


class TelemetryEmitter:
    """Emits the events of one client over one transport at a time.

    Args:
        client_id: The client identifier (updated with `set_client_id` once the server
            assigns one).
        protocol_version: 3, 4 or 5.
    """

    def __init__(self, client_id: str, protocol_version: int) -> None:
        self._client_id = client_id
        self._protocol_version = protocol_version
        self._recv = SOCKET_RECV
        self._socket_type = "tcp"
        self._module = ""

    def use_transport(self, transport: Transport) -> None:
        """Describe the transport carrying the bytes from now on."""
        self._recv = (
            WEBSOCKET_RECV if transport.recv_event_name == WEBSOCKET_RECV_DATA else (SOCKET_RECV)
        )
        self._socket_type = transport.socket_type
        self._module = transport.connection_module

    def set_client_id(self, client_id: str) -> None:
        """Use ``client_id`` (the server-assigned one) in later events."""
        self._client_id = client_id

    def _metadata(self, key: str, value: Any) -> dict[str, Any]:
        return {
            "client_id": self._client_id,
            "socket_type": self._socket_type,
            "connection_module": self._module,
            "protocol_version": self._protocol_version,
            "pid": os.getpid(),
            key: value,
        }

    def received(self, data: bytes) -> None:
        """A chunk of MQTT bytes arrived (after TLS, WebSocket or QUIC unwrapping)."""
        handle = self._recv
        if handle.active:
            handle.execute({"data_size": len(data)}, self._metadata("data", data))

    def sent(self, packets: list[tuple[Packet, int]]) -> None:
        """These packets (with their encoded sizes) were handed to the transport."""
        if SEND_DATA.active:
            # One event per packet: the common keys (and the getpid() system call) are
            # computed once per batch, and only a CONNECT needs redacting.
            common = self._metadata("data", None)
            execute = SEND_DATA.execute
            for packet, size in packets:
                shown = redact(packet) if type(packet) is Connect else packet
                execute({"data_size": size}, {**common, "data": shown})

    def send_failed(self, size: int, reason: BaseException) -> None:
        """Handing ``size`` bytes to the transport failed with ``reason``."""
        if SEND_DATA_FAILED.active:
            SEND_DATA_FAILED.execute({"data_size": size}, self._metadata("reason", reason))
