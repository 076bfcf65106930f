"""Transport layers between the network and the engine, written once and shared by all adapters.

Each layer is sans-IO: bytes (or datagrams) and the current time in, bytes out; the adapter owns
the socket and the clock. The contract is `Transport` (see `adapters.transports.base` for the
adapter's pump):

- `StreamTransport`: ``tcp`` and ``ssl`` (TLS is the socket's); a pass-through adapters may
  bypass on the hot path (``passthrough`` is True).
- `WebSocketTransport`: ``ws`` and ``wss`` on websockets' sans-IO client (needs ``websockets``).
- `QuicTransport`: MQTT on one QUIC stream, as EMQX's QUIC listener expects, on aioquic's
  sans-IO connection (needs ``aioquic``); `quic_configuration` builds its TLS settings and
  `open_udp_socket` its socket.
- `create_ssl_context`: the client TLS context for ``ssl`` and ``wss`` (verification on).

`WebSocketTransport` and `QuicTransport` are imported on first use, so a program that needs
neither does not need their libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adapters.transports.base import (
    SOCKET_RECV_DATA,
    WEBSOCKET_RECV_DATA,
    BaseTransport,
    Transport,
)
from adapters.transports.errors import (
    HandshakeFailed,
    TLSVerificationFailed,
    TransportClosed,
    TransportError,
    TransportProtocolError,
    tls_error_from_ssl,
)
from adapters.transports.tcp import StreamTransport
from adapters.transports.tls import create_ssl_context

if TYPE_CHECKING:
    from adapters.transports.quic import QuicTransport, open_udp_socket, quic_configuration
    from adapters.transports.websocket import WebSocketTransport

__all__ = [
    "SOCKET_RECV_DATA",
    "WEBSOCKET_RECV_DATA",
    "BaseTransport",
    "HandshakeFailed",
    "QuicTransport",
    "StreamTransport",
    "TLSVerificationFailed",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportProtocolError",
    "WebSocketTransport",
    "create_ssl_context",
    "open_udp_socket",
    "quic_configuration",
    "tls_error_from_ssl",
]

#: Names provided by optional modules: name -> (module, pip extra that installs its library).
_LAZY = {
    "WebSocketTransport": ("adapters.transports.websocket", "websocket"),
    "QuicTransport": ("adapters.transports.quic", "quic"),
    "quic_configuration": ("adapters.transports.quic", "quic"),
    "open_udp_socket": ("adapters.transports.quic", "quic"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, extra = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"{name} needs an optional dependency: pip install 'emqtt[{extra}]' ({exc})"
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value
