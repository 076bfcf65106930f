"""The client session's connection state machine, as data.

Everything that moves :class:`ClientSession` from one :class:`SessionState` to
another is listed in :data:`TRANSITIONS`: one entry per ``(state, input)`` pair
that is allowed.  A pair that is missing is not allowed: when the input came
from the server (a packet, say) it is a protocol violation and the connection
is closed with reason code 0x82 (Protocol Error); when it came from the caller
(a command) the command raises :class:`~emqtt_core.exceptions.InvalidStateError`
and changes nothing.

The session itself (in-flight messages, subscriptions, the queue) outlives a
network connection.  These states describe only the *current* network
connection:

* ``DISCONNECTED``: no connection.  The initial state, and the state after a
  connection ended.  ``connect()`` starts a new one.
* ``CONNECTING``: CONNECT was queued; waiting for CONNACK (or for an AUTH
  packet when enhanced authentication is in use).
* ``AUTHENTICATING``: the server answered CONNECT with AUTH (0x18 Continue
  authentication); the caller answers with ``auth()`` until CONNACK arrives.
* ``CONNECTED``: CONNACK accepted the connection.  Re-authentication
  (MQTT 5 section 4.12.1) happens in this state: it does not stop the flow of
  other packets.
* ``DISCONNECTING``: the connection has ended (a ``ConnectionClosed`` event was
  emitted) and a final DISCONNECT packet waits to be taken by
  ``data_to_send()``.  Taking it, or the transport closing, leads to
  ``DISCONNECTED``.

``tools/make_state_diagram.py`` renders this table for ``docs/engine.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["TRANSITIONS", "Input", "SessionState"]


class SessionState(enum.Enum):
    """The state of the session's current network connection."""

    # Members are singletons compared by identity; hashing them by identity
    # (in C) instead of by name (Enum's Python-level __hash__) takes a lookup
    # in the table off the per-packet cost.
    __hash__ = object.__hash__

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"


class Input(enum.Enum):
    """What can happen to the session: commands, packets, timers, transport."""

    __hash__ = object.__hash__  # as SessionState's

    # Commands from the caller.
    SEND_CONNECT = "connect()"
    SEND_AUTH = "auth()"
    SEND_PUBLISH = "publish()"
    SEND_SUBSCRIBE = "subscribe()"
    SEND_UNSUBSCRIBE = "unsubscribe()"
    SEND_ACK = "ack()"
    SEND_PING = "ping()"
    SEND_DISCONNECT = "disconnect()"
    # Packets from the server.
    RECV_CONNACK = "CONNACK accepted"
    RECV_CONNACK_REFUSED = "CONNACK refused"
    RECV_AUTH = "AUTH"
    RECV_PUBLISH = "PUBLISH"
    RECV_PUBACK = "PUBACK"
    RECV_PUBREC = "PUBREC"
    RECV_PUBREL = "PUBREL"
    RECV_PUBCOMP = "PUBCOMP"
    RECV_SUBACK = "SUBACK"
    RECV_UNSUBACK = "UNSUBACK"
    RECV_PINGRESP = "PINGRESP"
    RECV_DISCONNECT = "server DISCONNECT"
    # The engine's own findings.
    PROTOCOL_ERROR = "protocol error"
    CONNECT_TIMEOUT = "CONNACK timeout"
    KEEPALIVE_TIMEOUT = "PINGRESP timeout"
    PING_DUE = "keepalive due"
    # The transport.
    RECV_EOF = "transport closed"
    FLUSHED = "final bytes taken"


_S = SessionState
_I = Input

# Inputs that only ever keep a connected session connected.
_CONNECTED_LOOPS = (
    _I.SEND_AUTH,
    _I.SEND_PUBLISH,
    _I.SEND_SUBSCRIBE,
    _I.SEND_UNSUBSCRIBE,
    _I.SEND_ACK,
    _I.SEND_PING,
    _I.RECV_AUTH,
    _I.RECV_PUBLISH,
    _I.RECV_PUBACK,
    _I.RECV_PUBREC,
    _I.RECV_PUBREL,
    _I.RECV_PUBCOMP,
    _I.RECV_SUBACK,
    _I.RECV_UNSUBACK,
    _I.RECV_PINGRESP,
    _I.PING_DUE,
)

_TABLE: dict[tuple[SessionState, Input], SessionState] = {
    # Publishing is allowed in every state: messages wait in the session's
    # queue until a connection can carry them.
    (_S.DISCONNECTED, _I.SEND_PUBLISH): _S.DISCONNECTED,
    (_S.DISCONNECTED, _I.SEND_CONNECT): _S.CONNECTING,
    (_S.DISCONNECTED, _I.RECV_EOF): _S.DISCONNECTED,
    (_S.CONNECTING, _I.SEND_PUBLISH): _S.CONNECTING,
    (_S.CONNECTING, _I.RECV_CONNACK): _S.CONNECTED,
    (_S.CONNECTING, _I.RECV_CONNACK_REFUSED): _S.DISCONNECTED,
    # The server continues an enhanced authentication started by CONNECT's
    # Authentication Method [MQTT-4.12.0-2].
    (_S.CONNECTING, _I.RECV_AUTH): _S.AUTHENTICATING,
    (_S.CONNECTING, _I.CONNECT_TIMEOUT): _S.DISCONNECTED,
    (_S.CONNECTING, _I.RECV_EOF): _S.DISCONNECTED,
    (_S.CONNECTING, _I.SEND_DISCONNECT): _S.DISCONNECTING,
    (_S.CONNECTING, _I.PROTOCOL_ERROR): _S.DISCONNECTING,
    (_S.AUTHENTICATING, _I.SEND_PUBLISH): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, _I.SEND_AUTH): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, _I.RECV_AUTH): _S.AUTHENTICATING,
    (_S.AUTHENTICATING, _I.RECV_CONNACK): _S.CONNECTED,
    (_S.AUTHENTICATING, _I.RECV_CONNACK_REFUSED): _S.DISCONNECTED,
    (_S.AUTHENTICATING, _I.CONNECT_TIMEOUT): _S.DISCONNECTED,
    (_S.AUTHENTICATING, _I.RECV_EOF): _S.DISCONNECTED,
    (_S.AUTHENTICATING, _I.SEND_DISCONNECT): _S.DISCONNECTING,
    (_S.AUTHENTICATING, _I.PROTOCOL_ERROR): _S.DISCONNECTING,
    **{(_S.CONNECTED, i): _S.CONNECTED for i in _CONNECTED_LOOPS},
    (_S.CONNECTED, _I.RECV_DISCONNECT): _S.DISCONNECTED,
    (_S.CONNECTED, _I.KEEPALIVE_TIMEOUT): _S.DISCONNECTED,
    (_S.CONNECTED, _I.RECV_EOF): _S.DISCONNECTED,
    (_S.CONNECTED, _I.SEND_DISCONNECT): _S.DISCONNECTING,
    (_S.CONNECTED, _I.PROTOCOL_ERROR): _S.DISCONNECTING,
    (_S.DISCONNECTING, _I.SEND_PUBLISH): _S.DISCONNECTING,
    (_S.DISCONNECTING, _I.FLUSHED): _S.DISCONNECTED,
    (_S.DISCONNECTING, _I.RECV_EOF): _S.DISCONNECTED,
    # A new connection may start before the old one's last bytes were taken
    # (the adapter gave up writing them); they are discarded.
    (_S.DISCONNECTING, _I.SEND_CONNECT): _S.CONNECTING,
}

#: ``(state, input) -> next state``; a pair that is absent is not allowed.
TRANSITIONS: Mapping[tuple[SessionState, Input], SessionState] = MappingProxyType(_TABLE)
