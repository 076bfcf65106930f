"""The client side of an MQTT session, as a sans-IO engine.

:class:`ClientSession` turns bytes and time into bytes and events, and never
does I/O itself: the caller (an adapter) feeds it what the socket received
(:meth:`~ClientSession.receive_data`), the end of the stream
(:meth:`~ClientSession.receive_eof`) and timer expiries
(:meth:`~ClientSession.handle_timer`), and after every call writes
:meth:`~ClientSession.data_to_send`, re-arms one timer at
:meth:`~ClientSession.get_timer` and drains :meth:`~ClientSession.next_event`.

The object is the *session*, not the connection: in-flight QoS 1/2 messages,
the publish queue, subscriptions and inbound QoS 2 state outlive a network
connection, and calling ``connect()`` again on the same object resumes them.
The connection's states and what moves between them are in
:mod:`emqtt_core.state`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import Any, Final, NamedTuple, final

from .codec import MAX_PACKET_SIZE, Decoder, encode
from .codec import _PublishFields as _new_publish  # Publish built with plain slot stores
from .config import ClientConfig
from .enums import PacketType, ProtocolVersion, QoS
from .events import (
    AuthReceived,
    Connected,
    ConnectionClosed,
    Event,
    PongReceived,
    PublishFailed,
    Reauthenticated,
    Subscribed,
    Unsubscribed,
    message_received,
    publish_completed,
)
from .exceptions import (
    ConnectionClosedError,
    ConnectionLost,
    ConnectRefused,
    ConnectTimeout,
    InvalidStateError,
    KeepAliveTimeout,
    ProtocolError,
    PublishDropped,
    QueueFullError,
    ServerDisconnected,
    UsageError,
)
from .packets import (
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
)
from .properties import NO_PROPERTIES, Properties, allowed_for
from .reason_codes import ReasonCode, valid_for
from .state import TRANSITIONS, Input, SessionState
from .topics import is_shared, validate_topic_filter, validate_topic_name

__all__ = ["ClientSession", "SubscriptionInfo"]

_MAX_PACKET_ID: Final = 0xFFFF
# A 3.x client cannot learn the server's window; mosquitto's default
# max_inflight_messages is 20, and a 3.1.1 client beyond it loses QoS 2
# messages silently.
_V3_DEFAULT_WINDOW: Final = 20
# Receive Maximum when the server sends none (MQTT 5 section 3.2.2.3.3).
_DEFAULT_RECEIVE_MAXIMUM: Final = 65535
# Validated topic names are remembered so that publishing to the same topics
# again costs a set lookup; the cache is cleared when it reaches this size.
_TOPIC_CACHE_SIZE: Final = 1024
# Topics this short gain nothing from an alias (the property takes 3 bytes).
_MIN_ALIASED_TOPIC: Final = 4
# Generated client identifiers: "emqtt-" and 16 hex digits, 22 characters,
# within MQTT 3.1's limit of 23.
_CLIENT_ID_PREFIX: Final = "emqtt-"
_CLIENT_ID_RANDOM_BYTES: Final = 8

# Enum members bound to module names: reading ``SessionState.CONNECTED`` goes
# through Enum's class-attribute descriptor, about ten times the cost of a
# global lookup, and the hot paths read these on every message.
_DISCONNECTED: Final = SessionState.DISCONNECTED
_CONNECTING: Final = SessionState.CONNECTING
_AUTHENTICATING: Final = SessionState.AUTHENTICATING
_CONNECTED: Final = SessionState.CONNECTED
_DISCONNECTING: Final = SessionState.DISCONNECTING
_QOS0: Final = QoS.AT_MOST_ONCE
_QOS1: Final = QoS.AT_LEAST_ONCE
_QOS2: Final = QoS.EXACTLY_ONCE
_QOS: Final = (_QOS0, _QOS1, _QOS2)
_QOS_TYPES: Final = (int, QoS)
_RECEIVING: Final = frozenset({_CONNECTING, _AUTHENTICATING, _CONNECTED})

# Properties the client may not put on a PUBLISH: those the packet cannot
# carry, plus the Topic Alias (managed by the session) and the Subscription
# Identifier [MQTT-3.3.4-6].
_PUBLISH_FORBIDDEN: Final = frozenset(
    f.name
    for f in fields(Properties)
    if f.name not in allowed_for(PacketType.PUBLISH)
    or f.name in ("topic_alias", "subscription_identifier")
)

_RECV_INPUTS: Final[dict[type, Input]] = {
    ConnAck: Input.RECV_CONNACK,
    Auth: Input.RECV_AUTH,
    Publish: Input.RECV_PUBLISH,
    PubAck: Input.RECV_PUBACK,
    PubRec: Input.RECV_PUBREC,
    PubRel: Input.RECV_PUBREL,
    PubComp: Input.RECV_PUBCOMP,
    SubAck: Input.RECV_SUBACK,
    UnsubAck: Input.RECV_UNSUBACK,
    PingResp: Input.RECV_PINGRESP,
    Disconnect: Input.RECV_DISCONNECT,
}


# The packet classes each state accepts from the server, from the table.
_RECEIVABLE: Final[dict[SessionState, frozenset[type]]] = {
    state: frozenset(cls for cls, event in _RECV_INPUTS.items() if (state, event) in TRANSITIONS)
    for state in SessionState
}


@final
@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """A subscription the server acknowledged, as the session remembers it."""

    subscription: Subscription
    """The topic filter and its options."""
    subscription_identifier: int | None = None
    """The MQTT 5 Subscription Identifier it was made with."""


class _Queued(NamedTuple):
    """A publish waiting for a connection or for room in the in-flight window."""

    topic: str
    payload: bytes
    qos: QoS
    retain: bool
    properties: Properties


class _Answer(NamedTuple):
    """An acknowledgement ack() produced, waiting for its turn."""

    packet: PubAck | PubRec
    data: bytes


class _Outgoing:
    """An outgoing QoS 1/2 publish in the in-flight window."""

    __slots__ = ("packet", "properties", "released", "ticket", "topic")

    def __init__(self, ticket: int, packet: Publish, topic: str, properties: Properties) -> None:
        self.ticket = ticket
        self.packet = packet
        """The PUBLISH as last sent (its topic may be empty behind an alias)."""
        self.topic = topic
        """The real topic."""
        self.properties = properties
        """The caller's properties (without the session's Topic Alias)."""
        self.released = False
        """PUBREC arrived and PUBREL was sent (QoS 2)."""


class ClientSession:
    """The client side of an MQTT 3.1, 3.1.1 or 5.0 session.

    Inputs carry the current time (``now``, seconds on any monotonic clock);
    the engine reads no clock, opens no socket and starts no thread.  It is
    not thread-safe: an adapter serialises every call.

    After each call the adapter writes :meth:`data_to_send`, re-arms its
    single timer at :meth:`get_timer` and drains :meth:`next_event`.

    Args:
        config: the session's configuration.
    """

    record_sent_packets: bool
    """When True, every packet put into :meth:`data_to_send` is also listed,
    with its encoded size, by :meth:`take_sent_packets` (for telemetry)."""

    immediate_qos0_events: bool
    """When False, a QoS 0 publish sent at once (``publish()`` while connected) gets no
    :class:`PublishCompleted`: it is done once the next :meth:`data_to_send` returns, which
    the caller knows. A QoS 0 publish that waited in the queue still gets its event."""

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._version: ProtocolVersion = config.protocol_version
        self._v5 = self._version is ProtocolVersion.MQTT_5
        self._state = _DISCONNECTED
        self._client_id = config.client_id
        self._events: deque[Event] = deque()
        self.record_sent_packets = False
        self.immediate_qos0_events = True

        # Output not yet taken by data_to_send(), and what it means.
        self._out: list[bytes] = []
        self._out_qos0: list[int] = []  # tickets of the QoS 0 publishes in _out
        self._out_records: list[tuple[Packet, int]] = []
        self._sent_records: list[tuple[Packet, int]] = []

        # Session state: survives network connections.
        self._inflight: dict[int, _Outgoing] = {}  # packet id -> publish, in send order
        self._resend: deque[int] = deque()  # in-flight ids not yet resent on this connection
        self._queue: OrderedDict[int, _Queued] = OrderedDict()  # ticket -> publish
        self._next_ticket = 1
        self._next_packet_id = 1
        self._requests: dict[int, Subscribe | Unsubscribe] = {}  # awaiting SUBACK/UNSUBACK
        self._resubscribe_ids: set[int] = set()
        self._subscriptions: dict[str, SubscriptionInfo] = {}
        self._subscriptions_view = MappingProxyType(self._subscriptions)
        self._in_qos2: dict[int, bool] = {}  # inbound QoS 2 id -> PUBREC sent
        # Manual acknowledgement: received QoS 1 / QoS 2 messages in arrival
        # order, each with its PUBACK / PUBREC once ack() gave it.  An answer
        # waits for the answers to earlier messages [MQTT-4.6.0-2], [MQTT-4.6.0-3].
        self._awaiting_puback: OrderedDict[int, _Answer | None] = OrderedDict()
        self._awaiting_pubrec: OrderedDict[int, _Answer | None] = OrderedDict()
        self._session_expiry = config.session_expiry_interval
        self._connected_before = False
        # Topic names already validated, each with its PUBLISH variable-header start: the
        # two-byte length and the UTF-8 name (and, on MQTT 5, an empty property list).
        self._valid_topics: dict[str, bytes] = {}
        self._alias_properties: dict[int, Properties] = {}

        # Connection state: reset by every connect().
        self._decoder: Decoder | None = None
        self._in_counted: set[int] = set()  # inbound QoS>0 ids counted against our Receive Maximum
        self._aliases_in: dict[int, str] = {}
        self._aliases_out: dict[str, int] = {}
        self._clean_start_sent = True
        self._keep_alive = config.keep_alive
        self._last_sent = 0.0
        self._last_ping = 0.0  # when the last PINGREQ (or CONNECT) left, for force_ping
        self._connect_deadline: float | None = None
        self._connect_unsent = False
        self._ping_deadline: float | None = None
        self._pings_unsent = 0
        self._pings_outstanding = 0
        self._reauthenticating = False

        # What the server allows (from its last CONNACK; permissive until then).
        self._window = self._configured_window(_DEFAULT_RECEIVE_MAXIMUM)
        self._server_maximum_qos = _QOS2
        self._retain_available = True
        self._wildcard_available = True
        self._shared_available = True
        self._subscription_ids_available = True
        self._server_maximum_packet_size: int | None = None
        self._server_alias_maximum = 0

        self._connect_properties = self._build_connect_properties()
    # ------------------------------------------------------------------ state

    @property
    def config(self) -> ClientConfig:
        """The configuration the session was created with."""
        return self._config

    @property
    def state(self) -> SessionState:
        """The state of the current network connection."""
        return self._state

    @property
    def client_id(self) -> str:
        """The client identifier: configured, generated, or assigned by the server."""
        return self._client_id

    @property
    def subscriptions(self) -> Mapping[str, SubscriptionInfo]:
        """Acknowledged subscriptions by topic filter (a live read-only view)."""
        return self._subscriptions_view

    @property
    def inflight_count(self) -> int:
        """Outgoing QoS 1/2 messages awaiting acknowledgement."""
        return len(self._inflight)

    @property
    def queued_count(self) -> int:
        """Publishes waiting for a connection or for room in the window."""
        return len(self._queue)

    @property
    def max_inflight(self) -> int:
        """The effective in-flight window: ``min(max_inflight, server Receive Maximum)``."""
        return self._window

    # ----------------------------------------------------------------- inputs

    def receive_data(self, data: bytes, now: float) -> None:
        """Take bytes received from the server.

        A protocol violation by the server never raises: the connection is
        closed (a DISCONNECT with the matching reason code is queued on
        MQTT 5) and :class:`ConnectionClosed` reports the error.  Bytes that
        arrive when no connection is open are ignored.

        Args:
            data: bytes as read from the transport, any amount.
            now: the current time.
        """
        if self._state not in _RECEIVING:
            return
        if self._ping_deadline is not None:
            # The connection is demonstrably alive; a PINGRESP may be queued
            # behind a large message still arriving.
            self._ping_deadline = now + self._ping_timeout()
        decoder = self._decoder
        assert decoder is not None
        state = self._state
        handlers = _HANDLERS[state]
        try:
            decoder.feed(data)
            next_packet = decoder.next_packet
            events = self._events
            while (packet := next_packet()) is not None:
                if (
                    type(packet) is Publish
                    and packet.qos is _QOS0
                    and state is _CONNECTED
                    and packet.properties.topic_alias is None
                ):
                    # The receiving hot path, without the handler call (see _on_publish).
                    events.append(message_received(packet))
                    continue
                handler = handlers.get(type(packet))
                if handler is None:
                    raise ProtocolError(
                        f"unexpected {type(packet).__name__} while {state.value}",
                        ReasonCode.PROTOCOL_ERROR,
                    )
                handler(self, packet, now)
                if self._state is not state:
                    state = self._state
                    if state not in _RECEIVING:
                        return
                    handlers = _HANDLERS[state]
        except ProtocolError as exc:
            self._protocol_error(exc)

    def receive_eof(self, now: float) -> None:
        """Take the end of the transport (EOF or a transport error).

        An open connection is reported closed with :class:`ConnectionLost`.

        Args:
            now: the current time.
        """
        state = self._state
        if state is _DISCONNECTING:
            self._drop_output()
            self._state = TRANSITIONS[(state, Input.RECV_EOF)]
        elif state in _RECEIVING:
            self._close(
                Input.RECV_EOF,
                ConnectionLost("the transport closed"),
                reason_code=ReasonCode.UNSPECIFIED_ERROR,
            )

    def handle_timer(self, now: float) -> None:
        """Act on timers that are due at *now*: CONNACK timeout, keepalive PINGREQ,
        PINGRESP timeout.  Calling it early does nothing.

        Args:
            now: the current time.
        """
        state = self._state
        if state is _CONNECTED:
            if self._ping_deadline is not None and now >= self._ping_deadline:
                self._close(
                    Input.KEEPALIVE_TIMEOUT,
                    KeepAliveTimeout("no PINGRESP in time"),
                    reason_code=ReasonCode.KEEP_ALIVE_TIMEOUT,
                )
            elif self._keep_alive and not self._pings_unsent:
                if self._config.force_ping:
                    if now >= self._last_ping + self._keep_alive:
                        self._send_ping()
                elif now >= self._last_sent + self._keep_alive and not self._out:
                    # [MQTT-3.1.2-20] nothing was sent for a keepalive interval.
                    self._send_ping()
        elif state in _RECEIVING:
            deadline = self._connect_deadline
            if deadline is not None and now >= deadline:
                self._close(
                    Input.CONNECT_TIMEOUT,
                    ConnectTimeout("no CONNACK in time"),
                    reason_code=ReasonCode.UNSPECIFIED_ERROR,
                )

    # ---------------------------------------------------------------- outputs

    def data_to_send(self, now: float) -> bytes:
        """Return every byte queued for the server (b"" when none) and forget it.

        The time the bytes leave restarts the keepalive interval and starts
        the CONNACK and PINGRESP deadlines.  QoS 0 publishes complete here.

        Args:
            now: the current time.
        """
        out = self._out
        if not out:
            if self._state is _DISCONNECTING:
                self._state = TRANSITIONS[(_DISCONNECTING, Input.FLUSHED)]
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._last_sent = now
        if self._out_qos0:
            events = self._events
            for ticket in self._out_qos0:
                events.append(publish_completed(ticket, _QOS0, None))
            self._out_qos0.clear()
        if self._out_records:
            self._sent_records.extend(self._out_records)
            self._out_records.clear()
        if self._connect_unsent:
            self._connect_unsent = False
            self._connect_deadline = now + self._config.connect_timeout
            self._last_ping = now
        if self._pings_unsent:
            self._pings_unsent = 0
            self._last_ping = now
            if self._ping_deadline is None:
                self._ping_deadline = now + self._ping_timeout()
        if self._state is _DISCONNECTING:
            self._state = TRANSITIONS[(_DISCONNECTING, Input.FLUSHED)]
        return data

    def next_event(self) -> Event | None:
        """Return the oldest event not yet returned, or None."""
        events = self._events
        return events.popleft() if events else None

    def get_timer(self) -> float | None:
        """Return when :meth:`handle_timer` must next be called (absolute time), or None."""
        state = self._state
        if state is _CONNECTED:
            deadline = self._ping_deadline
            # Only when handle_timer would send the PINGREQ: with a ping or other bytes still
            # waiting for data_to_send (a writer paused by a server that does not read), a due
            # time already past would make the adapter fire the timer again and again.
            if self._keep_alive and not self._pings_unsent:
                force = self._config.force_ping
                if force or not self._out:
                    due = (self._last_ping if force else self._last_sent) + self._keep_alive
                    if deadline is None or due < deadline:
                        deadline = due
            return deadline
        if state in _RECEIVING:
            return self._connect_deadline
        return None

    def take_sent_packets(self) -> list[tuple[Packet, int]]:
        """Return and forget ``(packet, encoded_size)`` for every packet that left
        through :meth:`data_to_send` while :attr:`record_sent_packets` was True,
        in the order of the bytes.  A CONNECT's password is redacted."""
        records = self._sent_records
        self._sent_records = []
        return records

    # --------------------------------------------------------------- commands

    def connect(self, *, clean_start: bool | None = None) -> None:
        """Start a new network connection: queue CONNECT.

        The adapter calls it once the transport is open, for the first
        connection and for every reconnection of the session.

        Args:
            clean_start: None: the configured value on the first connection;
                on later ones, False when the session may still exist on the
                server (MQTT 5 Session Expiry Interval above 0, or MQTT 3.x
                ``clean_start=False``), so that it resumes.

        Raises:
            InvalidStateError: a connection is already open.
        """
        target = self._require(Input.SEND_CONNECT)
        config = self._config
        if clean_start is None:
            if not self._connected_before:
                clean_start = config.clean_start
            elif self._v5:
                clean_start = config.clean_start and self._session_expiry == 0
            else:
                clean_start = config.clean_start
        client_id = self._client_id
        if not client_id and config.needs_generated_client_id():
            client_id = self._generate_client_id()
        packet = Connect(
            protocol_version=self._version,
            client_id=client_id,
            clean_start=clean_start,
            keep_alive=config.keep_alive,
            username=config.username,
            password=config.password,
            will=config.will,
            properties=self._connect_properties,
        )
        data = encode(packet, self._version)
        # Committed: a new connection begins.
        self._client_id = client_id
        self._drop_output()
        self._reset_connection()
        self._decoder = Decoder(self._version, max_packet_size=self._max_incoming_packet())
        self._clean_start_sent = clean_start
        self._session_expiry = config.session_expiry_interval
        self._connect_unsent = True
        self._state = target
        self._queue_bytes(packet, data)

    def publish(
        self,
        topic: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> int:
        """Publish an application message.

        Allowed in every state: the message waits in the queue until a
        connection is up and the in-flight window has room.

        Args:
            topic: the topic name (no wildcards).
            payload: the message body.
            qos: 0, 1 or 2.
            retain: ask the server to retain the message.
            properties: MQTT 5 PUBLISH properties (no Topic Alias: aliases are
                managed by the session; no Subscription Identifier).

        Returns:
            A ticket that identifies the publish in :class:`PublishCompleted`
            and :class:`PublishFailed` and in :meth:`cancel`.

        Raises:
            UsageError: a bad argument, or one the server does not allow
                (QoS above its Maximum QoS, retain when unavailable, a packet
                over its Maximum Packet Size).
            QueueFullError: the message would have to wait and the queue holds
                ``max_queued`` messages already.
        """
        if type(payload) is not bytes:
            payload = _as_payload(payload)
        if type(topic) is not str or topic not in self._valid_topics:
            self._validate_topic(topic)
        if type(qos) not in _QOS_TYPES or not 0 <= qos <= 2:
            raise UsageError(f"qos must be 0, 1 or 2, not {qos!r}")
        level = _QOS[qos]
        props = NO_PROPERTIES if properties is None else properties
        if props is not NO_PROPERTIES:
            self._check_publish_properties(props)
        if level > self._server_maximum_qos or (retain and not self._retain_available):
            self._check_server_allows(level, retain)  # raises the error that says why
        ticket = self._next_ticket
        if (
            level is _QOS0
            and props is NO_PROPERTIES
            and self._state is _CONNECTED
            and not self.record_sent_packets
            and not self._server_alias_maximum
        ):
            # The common QoS 0 case, encoded here from the cached topic: the same bytes as
            # encode(Publish(topic, payload, retain=retain)), without building the packet.
            head = self._valid_topics[topic]
            remaining = len(head) + len(payload)
            first = 0x31 if retain else 0x30
            if remaining < 0x80:
                data = bytes((first, remaining)) + head + payload
            elif remaining < 0x4000:
                data = bytes((first, remaining & 0x7F | 0x80, remaining >> 7)) + head + payload
            else:
                data = b""
            limit = self._server_maximum_packet_size
            if data and (limit is None or len(data) <= limit):
                self._out.append(data)
                if self.immediate_qos0_events:
                    self._out_qos0.append(ticket)
                self._next_ticket = ticket + 1
                return ticket
        if self._state is _CONNECTED and (
            level is _QOS0
            or (not self._queue and not self._resend and len(self._inflight) < self._window)
        ):
            try:
                self._send_new(ticket, topic, payload, level, retain, props)
                if level is _QOS0 and not self.immediate_qos0_events:
                    self._out_qos0.pop()
            except QueueFullError:
                # Every packet identifier is taken (subscriptions count too):
                # the message waits like any other.
                self._enqueue(ticket, _Queued(topic, payload, level, retain, props))
        else:
            self._enqueue(ticket, _Queued(topic, payload, level, retain, props))
        self._next_ticket = ticket + 1
        return ticket

    def _validate_topic(self, topic: object) -> None:
        if not isinstance(topic, str):
            raise UsageError(f"topic must be a str, not {type(topic).__name__}")
        validate_topic_name(topic)
        if len(self._valid_topics) >= _TOPIC_CACHE_SIZE:
            self._valid_topics.clear()
        name = topic.encode()
        head = len(name).to_bytes(2, "big") + name
        self._valid_topics[topic] = head + b"\x00" if self._v5 else head

    def _enqueue(self, ticket: int, item: _Queued) -> None:
        if len(self._queue) >= self._config.max_queued:
            raise QueueFullError(f"{len(self._queue)} messages are queued already (max_queued)")
        self._check_size_limit(item)
        self._queue[ticket] = item

    def cancel(self, ticket: int) -> bool:
        """Drop a publish that is still queued (its bytes were never produced).

        Returns:
            True if it was queued and is now dropped (no event follows), False
            if it is in flight, finished, or unknown.
        """
        return self._queue.pop(ticket, None) is not None

    def subscribe(
        self, subscriptions: Sequence[Subscription], *, properties: Properties | None = None
    ) -> int:
        """Queue SUBSCRIBE; :class:`Subscribed` reports the SUBACK.

        Args:
            subscriptions: one or more topic filters with their options.
            properties: MQTT 5 SUBSCRIBE properties (Subscription Identifier,
                User Property).

        Returns:
            The packet identifier, which :class:`Subscribed` repeats.

        Raises:
            UsageError: a bad filter or option, or one the server does not
                support (wildcards, shared subscriptions, identifiers).
            InvalidStateError: not connected.
        """
        self._require(Input.SEND_SUBSCRIBE)
        subs = tuple(subscriptions)
        if not subs:
            # [MQTT-3.8.3-2] at least one topic filter.
            raise UsageError("subscribe needs at least one subscription")
        props = NO_PROPERTIES if properties is None else properties
        for sub in subs:
            if not isinstance(sub, Subscription):
                raise UsageError(f"expected a Subscription, not {type(sub).__name__}")
            self._check_filter(sub.topic_filter)
            shared = is_shared(sub.topic_filter)
            if shared and sub.no_local:
                raise UsageError("no_local is not allowed on a shared subscription [MQTT-3.8.3-4]")
        if props.subscription_identifier and not self._subscription_ids_available:
            raise UsageError("the server does not support subscription identifiers")
        packet_id = self._free_packet_id()
        packet = Subscribe(packet_id=packet_id, subscriptions=subs, properties=props)
        self._send_request(packet)
        return packet_id

    def unsubscribe(
        self, topic_filters: Sequence[str], *, properties: Properties | None = None
    ) -> int:
        """Queue UNSUBSCRIBE; :class:`Unsubscribed` reports the UNSUBACK.

        Returns:
            The packet identifier, which :class:`Unsubscribed` repeats.

        Raises:
            UsageError: no filter, or a bad one.
            InvalidStateError: not connected.
        """
        self._require(Input.SEND_UNSUBSCRIBE)
        if isinstance(topic_filters, str):
            raise UsageError("unsubscribe takes a sequence of topic filters, not a str")
        filters = tuple(topic_filters)
        if not filters:
            # [MQTT-3.10.3-2] at least one topic filter.
            raise UsageError("unsubscribe needs at least one topic filter")
        for topic_filter in filters:
            validate_topic_filter(topic_filter)
        packet_id = self._free_packet_id()
        packet = Unsubscribe(
            packet_id=packet_id,
            topic_filters=filters,
            properties=NO_PROPERTIES if properties is None else properties,
        )
        self._send_request(packet)
        return packet_id

    def ack(
        self,
        packet_id: int,
        *,
        reason_code: ReasonCode = ReasonCode.SUCCESS,
        properties: Properties | None = None,
    ) -> None:
        """Acknowledge a received QoS 1/2 message (with ``auto_ack=False``).

        QoS 1 gets PUBACK; QoS 2 gets PUBREC (PUBCOMP follows the server's
        PUBREL automatically).  A failure reason code refuses the message.

        Raises:
            UsageError: no received message awaits an acknowledgement with
                that packet identifier, or a bad reason code.
            InvalidStateError: not connected.
        """
        self._require(Input.SEND_ACK)
        props = NO_PROPERTIES if properties is None else properties
        if packet_id in self._awaiting_puback and self._awaiting_puback[packet_id] is None:
            waiting = self._awaiting_puback
            packet: PubAck | PubRec = PubAck(
                packet_id=packet_id, reason_code=reason_code, properties=props
            )
        elif packet_id in self._awaiting_pubrec and self._awaiting_pubrec[packet_id] is None:
            waiting = self._awaiting_pubrec
            packet = PubRec(packet_id=packet_id, reason_code=reason_code, properties=props)
        else:
            raise UsageError(f"no received message awaits an acknowledgement with id {packet_id}")
        waiting[packet_id] = _Answer(packet, self._encode_within_limit(packet))
        self._release_answers(waiting)

    def _release_answers(self, waiting: OrderedDict[int, _Answer | None]) -> None:
        """Send the acknowledgements at the head of *waiting*, in arrival order."""
        while waiting:
            packet_id = next(iter(waiting))
            answer = waiting[packet_id]
            if answer is None:
                return  # an earlier message is still with the application
            del waiting[packet_id]
            packet = answer.packet
            if type(packet) is PubAck:
                self._in_counted.discard(packet_id)
            elif packet.reason_code >= 0x80:
                # The exchange ends here: no PUBREL follows a failing PUBREC.
                del self._in_qos2[packet_id]
                self._in_counted.discard(packet_id)
            else:
                self._in_qos2[packet_id] = True
            self._queue_bytes(packet, answer.data)

    def ping(self) -> None:
        """Queue PINGREQ; :class:`PongReceived` reports the PINGRESP.

        Raises:
            InvalidStateError: not connected.
        """
        self._require(Input.SEND_PING)
        self._send_ping()

    def auth(
        self,
        *,
        reason_code: ReasonCode,
        method: str | None = None,
        data: bytes | None = None,
        properties: Properties | None = None,
    ) -> None:
        """Queue AUTH: answer the server's AUTH during connect or re-authentication
        (0x18 Continue authentication), or start a re-authentication
        (0x19 Re-authenticate) while connected.  MQTT 5 only.

        Args:
            reason_code: CONTINUE_AUTHENTICATION or RE_AUTHENTICATE.
            method: the authentication method; it must be the one of CONNECT
                [MQTT-4.12.0-5] (None: that one).
            data: authentication data.
            properties: further AUTH properties (Reason String, User Property).

        Raises:
            UsageError: not MQTT 5, no authentication method configured, a
                different method, or a reason code the exchange does not
                expect now.
            InvalidStateError: no connection.
        """
        target = self._require(Input.SEND_AUTH)
        configured = self._config.authentication_method
        if not self._v5 or configured is None:
            raise UsageError("AUTH needs MQTT 5 and a configured authentication_method")
        if method is not None and method != configured:
            raise UsageError(f"the authentication method must stay {configured!r} [MQTT-4.12.0-5]")
        if self._state is _CONNECTED and not self._reauthenticating:
            expected = ReasonCode.RE_AUTHENTICATE
        else:
            expected = ReasonCode.CONTINUE_AUTHENTICATION
        if reason_code != expected:
            raise UsageError(f"AUTH must carry {expected.name} now, not {reason_code!r}")
        props = NO_PROPERTIES if properties is None else properties
        props = replace(props, authentication_method=configured, authentication_data=data)
        packet = Auth(reason_code=expected, properties=props)
        encoded = self._encode_within_limit(packet)
        if expected is ReasonCode.RE_AUTHENTICATE:
            self._reauthenticating = True
        self._state = target
        self._queue_bytes(packet, encoded)

    def disconnect(
        self,
        *,
        reason_code: ReasonCode = ReasonCode.NORMAL_DISCONNECTION,
        properties: Properties | None = None,
    ) -> None:
        """End the connection cleanly: queue DISCONNECT and report
        :class:`ConnectionClosed` (with no error).  The session stays, with its
        in-flight and queued messages, for a later ``connect()``.

        Args:
            reason_code: MQTT 5 reason code (for example
                DISCONNECT_WITH_WILL_MESSAGE); 3.x sends none.
            properties: MQTT 5 DISCONNECT properties (Session Expiry Interval,
                Reason String, User Property).

        Raises:
            UsageError: a Session Expiry Interval when CONNECT had 0
                [MQTT-3.14.2-2], or MQTT 5 arguments on 3.x.
            InvalidStateError: no connection.
        """
        self._require(Input.SEND_DISCONNECT)
        props = NO_PROPERTIES if properties is None else properties
        expiry = props.session_expiry_interval
        if expiry is not None and expiry != 0 and self._config.session_expiry_interval == 0:
            raise UsageError(
                "session expiry cannot change from 0 to non-zero at DISCONNECT [MQTT-3.14.2-2]"
            )
        packet = Disconnect(reason_code=reason_code, properties=props)
        data = self._encode_within_limit(packet)
        if expiry is not None:
            self._session_expiry = expiry
        self._queue_bytes(packet, data)
        self._close(
            Input.SEND_DISCONNECT,
            None,
            reason_code=reason_code,
            properties=props,
            keep_output=True,
        )

    # ------------------------------------------------------- packet handlers

    def _on_connack(self, packet: ConnAck, now: float) -> None:
        props = packet.properties
        if packet.reason_code >= 0x80:
            self._close(
                Input.RECV_CONNACK_REFUSED,
                ConnectRefused(packet.reason_code, props),
                reason_code=packet.reason_code,
                properties=props,
                server_reference=props.server_reference,
                by_server=True,
            )
            return
        if packet.session_present and self._clean_start_sent:
            # [MQTT-3.2.2-2] a clean start never resumes a session.
            raise ProtocolError("CONNACK resumes a session after a clean start")
        if props.assigned_client_identifier:
            self._client_id = props.assigned_client_identifier
        elif not self._client_id and self._v5:
            # [MQTT-3.2.2-16] an empty client id must be assigned one.
            raise ProtocolError("CONNACK assigns no client identifier")
        method = self._config.authentication_method
        if method is not None and props.authentication_method != method:
            # [MQTT-4.12.0-5] a successful CONNACK repeats the CONNECT's method.
            raise ProtocolError("CONNACK without the authentication method of CONNECT")
        if props.server_keep_alive is not None:
            # [MQTT-3.2.2-21] the client uses the server's keep alive.
            self._keep_alive = props.server_keep_alive
        if props.session_expiry_interval is not None:
            self._session_expiry = props.session_expiry_interval
        self._apply_server_limits(props)
        self._state = TRANSITIONS[(self._state, Input.RECV_CONNACK)]
        self._connect_deadline = None
        self._connected_before = True
        self._events.append(Connected(packet.session_present, self._client_id, packet))
        if packet.session_present:
            self._resume_session()
        else:
            self._session_lost()
        for request in list(self._requests.values()):
            # Requests the last connection left unanswered are asked again.
            self._queue_packet(request)
        self._pump()

    def _on_auth(self, packet: Auth, now: float) -> None:
        if self._config.authentication_method is None:
            raise ProtocolError("AUTH without enhanced authentication")
        method = packet.properties.authentication_method
        if method != self._config.authentication_method:
            # [MQTT-4.12.0-5] the method stays the one of CONNECT.
            raise ProtocolError(f"AUTH with another authentication method {method!r}")
        code = packet.reason_code
        if self._state is _CONNECTED:
            if not self._reauthenticating:
                raise ProtocolError("AUTH while no re-authentication is in progress")
            if code is ReasonCode.SUCCESS:
                self._reauthenticating = False
                self._events.append(Reauthenticated(packet))
                return
        if code is not ReasonCode.CONTINUE_AUTHENTICATION:
            raise ProtocolError(f"AUTH with reason code {code!r} now")
        self._state = TRANSITIONS[(self._state, Input.RECV_AUTH)]
        self._events.append(AuthReceived(packet))

    def _on_publish(self, packet: Publish, now: float) -> None:
        alias = packet.properties.topic_alias
        if alias is not None:
            packet = self._resolve_alias(packet, alias)
        qos = packet.qos
        if qos is _QOS0:
            self._events.append(message_received(packet))
            return
        packet_id = packet.packet_id
        assert packet_id is not None
        if qos is _QOS1:
            if packet_id in self._awaiting_puback:
                return  # a resend of a message the application has not acked yet
            if self._config.auto_ack:
                self._events.append(message_received(packet))
                self._queue_packet(PubAck(packet_id=packet_id))
                return
            self._count_inbound(packet_id)
            self._awaiting_puback[packet_id] = None
            self._events.append(message_received(packet, True))
            return
        pubrec_sent = self._in_qos2.get(packet_id)
        if pubrec_sent is not None:
            # Exactly once: a resend of a message already delivered is not
            # delivered again; PUBREC is repeated if it was sent [MQTT-4.3.3-10].
            if pubrec_sent:
                self._queue_packet(PubRec(packet_id=packet_id))
            return
        self._count_inbound(packet_id)
        if self._config.auto_ack:
            self._in_qos2[packet_id] = True
            self._events.append(message_received(packet))
            self._queue_packet(PubRec(packet_id=packet_id))
        else:
            self._in_qos2[packet_id] = False
            self._awaiting_pubrec[packet_id] = None
            self._events.append(message_received(packet, True))

    def _on_puback(self, packet: PubAck, now: float) -> None:
        packet_id = packet.packet_id
        entry = self._inflight.get(packet_id)
        if entry is None or entry.packet.qos is not _QOS1:
            raise ProtocolError(f"PUBACK for unknown packet id {packet_id}")
        del self._inflight[packet_id]
        self._events.append(
            publish_completed(
                entry.ticket,
                _QOS1,
                packet_id,
                packet.reason_code,
                packet.properties,
            )
        )
        if self._resend:
            self._forget_resend(packet_id)
        if self._queue or self._resend:
            self._pump()

    def _on_pubrec(self, packet: PubRec, now: float) -> None:
        packet_id = packet.packet_id
        entry = self._inflight.get(packet_id)
        if entry is None or entry.packet.qos is not _QOS2:
            raise ProtocolError(f"PUBREC for unknown packet id {packet_id}")
        if packet.reason_code >= 0x80:
            if entry.released:
                raise ProtocolError(f"failing PUBREC after PUBREL for packet id {packet_id}")
            # [MQTT-4.4.0-2] acknowledged with an error: no PUBREL, no resend.
            del self._inflight[packet_id]
            self._events.append(
                publish_completed(
                    entry.ticket,
                    _QOS2,
                    packet_id,
                    packet.reason_code,
                    packet.properties,
                )
            )
            if self._resend:
                self._forget_resend(packet_id)
            if self._queue or self._resend:
                self._pump()
            return
        if not entry.released:
            entry.released = True
            # Released entries keep PUBREC order, so that a resumed session
            # resends PUBREL in that order too [MQTT-4.6.0-4].
            del self._inflight[packet_id]
            self._inflight[packet_id] = entry
        if self._resend:
            self._forget_resend(packet_id)
        self._queue_packet(PubRel(packet_id=packet_id))

    def _on_pubcomp(self, packet: PubComp, now: float) -> None:
        packet_id = packet.packet_id
        entry = self._inflight.get(packet_id)
        if entry is None or not entry.released:
            raise ProtocolError(f"PUBCOMP for unknown packet id {packet_id}")
        del self._inflight[packet_id]
        self._events.append(
            publish_completed(
                entry.ticket,
                _QOS2,
                packet_id,
                packet.reason_code,
                packet.properties,
            )
        )
        if self._queue or self._resend:
            self._pump()

    def _on_pubrel(self, packet: PubRel, now: float) -> None:
        packet_id = packet.packet_id
        pubrec_sent = self._in_qos2.get(packet_id)
        if pubrec_sent is None:
            # Already completed (a resend after reconnect) or never known.
            code = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND if self._v5 else ReasonCode.SUCCESS
            self._queue_packet(PubComp(packet_id=packet_id, reason_code=code))
            return
        if not pubrec_sent:
            raise ProtocolError(f"PUBREL before PUBREC for packet id {packet_id}")
        del self._in_qos2[packet_id]
        self._in_counted.discard(packet_id)
        self._queue_packet(PubComp(packet_id=packet_id))

    def _on_suback(self, packet: SubAck, now: float) -> None:
        request = self._requests.get(packet.packet_id)
        if not isinstance(request, Subscribe):
            raise ProtocolError(f"SUBACK for unknown packet id {packet.packet_id}")
        if len(packet.reason_codes) != len(request.subscriptions):
            # [MQTT-3.8.4-6] one reason code per subscription.
            raise ProtocolError("SUBACK does not answer every subscription")
        del self._requests[packet.packet_id]
        resubscribe = packet.packet_id in self._resubscribe_ids
        self._resubscribe_ids.discard(packet.packet_id)
        ids = request.properties.subscription_identifier
        identifier = ids[0] if ids else None
        for sub, code in zip(request.subscriptions, packet.reason_codes, strict=True):
            if code < 0x80:
                self._subscriptions[sub.topic_filter] = SubscriptionInfo(sub, identifier)
            elif resubscribe:
                self._subscriptions.pop(sub.topic_filter, None)
        self._events.append(Subscribed(packet.packet_id, packet.reason_codes, packet.properties))
        if self._queue:
            self._pump()  # a packet identifier may have been all that was missing

    def _on_unsuback(self, packet: UnsubAck, now: float) -> None:
        request = self._requests.get(packet.packet_id)
        if not isinstance(request, Unsubscribe):
            raise ProtocolError(f"UNSUBACK for unknown packet id {packet.packet_id}")
        codes = packet.reason_codes
        if not self._v5:
            codes = (ReasonCode.SUCCESS,) * len(request.topic_filters)
        elif len(codes) != len(request.topic_filters):
            # [MQTT-3.11.3-1] one reason code per topic filter.
            raise ProtocolError("UNSUBACK does not answer every topic filter")
        del self._requests[packet.packet_id]
        for topic_filter, code in zip(request.topic_filters, codes, strict=True):
            if code < 0x80:
                self._subscriptions.pop(topic_filter, None)
        self._events.append(Unsubscribed(packet.packet_id, codes, packet.properties))
        if self._queue:
            self._pump()

    def _on_pingresp(self, packet: PingResp, now: float) -> None:
        if not self._pings_outstanding:
            raise ProtocolError("PINGRESP without PINGREQ")
        self._pings_outstanding -= 1
        self._ping_deadline = now + self._ping_timeout() if self._pings_outstanding else None
        self._events.append(PongReceived())

    def _on_disconnect(self, packet: Disconnect, now: float) -> None:
        if not self._v5:
            raise ProtocolError("a server sends DISCONNECT only on MQTT 5")
        props = packet.properties
        self._close(
            Input.RECV_DISCONNECT,
            ServerDisconnected(packet.reason_code, props),
            reason_code=packet.reason_code,
            properties=props,
            server_reference=props.server_reference,
            by_server=True,
        )

    # ---------------------------------------------------------------- helpers

    def _require(self, event: Input) -> SessionState:
        target = TRANSITIONS.get((self._state, event))
        if target is None:
            raise InvalidStateError(f"{event.value} is not allowed while {self._state.value}")
        return target

    def _queue_bytes(self, packet: Packet, data: bytes) -> None:
        self._out.append(data)
        if self.record_sent_packets:
            if isinstance(packet, Connect) and packet.password is not None:
                packet = replace(packet, password=b"<redacted>")
            self._out_records.append((packet, len(data)))

    def _queue_packet(self, packet: Packet) -> None:
        self._queue_bytes(packet, encode(packet, self._version))

    def _encode_within_limit(self, packet: Packet) -> bytes:
        """Encode a packet the caller shaped; refuse it over the server's maximum size."""
        data = encode(packet, self._version)
        limit = self._server_maximum_packet_size
        if limit is not None and len(data) > limit:
            # [MQTT-3.2.2-15] never more than the server's Maximum Packet Size.
            raise UsageError(
                f"{type(packet).__name__} would be {len(data)} bytes, over the server's"
                f" maximum of {limit} [MQTT-3.2.2-15]"
            )
        return data

    def _send_ping(self) -> None:
        self._pings_unsent += 1
        self._pings_outstanding += 1
        self._queue_packet(PingReq())

    def _ping_timeout(self) -> float:
        timeout = self._config.ping_timeout
        if timeout is not None:
            return timeout
        # Keepalive off: a manual ping() waits as long as CONNECT waits for CONNACK.
        return float(self._keep_alive or self._config.connect_timeout)

    def _configured_window(self, receive_maximum: int) -> int:
        configured = self._config.max_inflight
        if configured is None:
            return receive_maximum if self._v5 else _V3_DEFAULT_WINDOW
        return min(configured, receive_maximum)

    def _max_incoming_packet(self) -> int:
        configured = self._config.maximum_packet_size
        return MAX_PACKET_SIZE if configured is None else configured

    def _build_connect_properties(self) -> Properties:
        if not self._v5:
            return NO_PROPERTIES
        c = self._config
        return Properties(
            session_expiry_interval=c.session_expiry_interval or None,
            receive_maximum=None if c.receive_maximum == 65535 else c.receive_maximum,
            maximum_packet_size=c.maximum_packet_size,
            topic_alias_maximum=c.topic_alias_maximum or None,
            request_response_information=True if c.request_response_information else None,
            request_problem_information=None if c.request_problem_information else False,
            user_property=c.user_properties,
            authentication_method=c.authentication_method,
            authentication_data=c.authentication_data,
        )

    def _generate_client_id(self) -> str:
        source = self._config.random_bytes
        assert source is not None  # ClientConfig guarantees it
        raw = source(_CLIENT_ID_RANDOM_BYTES)
        if not isinstance(raw, bytes) or len(raw) != _CLIENT_ID_RANDOM_BYTES:
            raise UsageError(f"random_bytes({_CLIENT_ID_RANDOM_BYTES}) returned {raw!r}")
        return _CLIENT_ID_PREFIX + raw.hex()

    def _reset_connection(self) -> None:
        self._decoder = None
        self._in_counted.clear()
        self._aliases_in.clear()
        self._aliases_out.clear()
        self._keep_alive = self._config.keep_alive
        self._connect_deadline = None
        self._connect_unsent = False
        self._ping_deadline = None
        self._pings_unsent = 0
        self._pings_outstanding = 0
        self._reauthenticating = False
        self._resend.clear()

    def _drop_output(self) -> None:
        """Forget output that will never be written; its QoS 0 publishes fail."""
        self._out.clear()
        self._out_records.clear()
        if self._out_qos0:
            for ticket in self._out_qos0:
                self._events.append(
                    PublishFailed(
                        ticket, PublishDropped("the connection closed before it was sent")
                    )
                )
            self._out_qos0.clear()

    def _close(
        self,
        event: Input,
        error: ConnectionClosedError | ProtocolError | None,
        *,
        reason_code: ReasonCode,
        properties: Properties = NO_PROPERTIES,
        server_reference: str | None = None,
        by_server: bool = False,
        keep_output: bool = False,
    ) -> None:
        target = TRANSITIONS[(self._state, event)]
        if not keep_output:
            self._drop_output()
        self._reset_connection()
        self._state = target
        self._events.append(
            ConnectionClosed(error, reason_code, properties, server_reference, by_server)
        )

    def _protocol_error(self, exc: ProtocolError) -> None:
        code = exc.reason_code
        if code not in valid_for(PacketType.DISCONNECT) or code < 0x80:
            code = ReasonCode.PROTOCOL_ERROR
        if self._v5:
            # [MQTT-4.13.1-1] close with a DISCONNECT carrying the reason.
            self._queue_packet(Disconnect(reason_code=code))
        self._close(Input.PROTOCOL_ERROR, exc, reason_code=code, keep_output=True)

    def _apply_server_limits(self, props: Properties) -> None:
        receive_maximum = props.receive_maximum
        self._window = self._configured_window(
            _DEFAULT_RECEIVE_MAXIMUM if receive_maximum is None else receive_maximum
        )
        maximum_qos = props.maximum_qos
        self._server_maximum_qos = _QOS2 if maximum_qos is None else maximum_qos
        self._retain_available = props.retain_available is not False
        self._wildcard_available = props.wildcard_subscription_available is not False
        self._shared_available = props.shared_subscription_available is not False
        self._subscription_ids_available = props.subscription_identifier_available is not False
        self._server_maximum_packet_size = props.maximum_packet_size
        alias_maximum = props.topic_alias_maximum if self._config.auto_topic_alias else None
        self._server_alias_maximum = alias_maximum or 0

    def _check_server_allows(self, qos: QoS, retain: bool) -> None:
        if qos > self._server_maximum_qos:
            # [MQTT-3.2.2-11] never above the server's Maximum QoS.
            raise UsageError(f"the server accepts QoS {int(self._server_maximum_qos)} at most")
        if retain and not self._retain_available:
            # [MQTT-3.2.2-14] no retained messages when Retain Available is 0.
            raise UsageError("the server does not support retained messages")

    def _check_publish_properties(self, props: Properties) -> None:
        if not isinstance(props, Properties):
            raise UsageError(f"properties must be Properties, not {type(props).__name__}")
        if not self._v5:
            if props != NO_PROPERTIES:
                raise UsageError("properties are an MQTT 5 feature")
            return
        for name in props.present():
            if name in _PUBLISH_FORBIDDEN:
                raise UsageError(f"a client cannot send {name} on PUBLISH")

    def _check_filter(self, topic_filter: str) -> None:
        validate_topic_filter(topic_filter)
        if not self._wildcard_available and ("+" in topic_filter or "#" in topic_filter):
            raise UsageError("the server does not support wildcard subscriptions")
        if not self._shared_available and is_shared(topic_filter):
            raise UsageError("the server does not support shared subscriptions")

    def _check_size_limit(self, item: _Queued) -> None:
        limit = self._server_maximum_packet_size
        if limit is None:
            return
        topic, payload, qos, retain, props = item
        if props is NO_PROPERTIES and len(payload) + 4 * len(topic) + 16 <= limit:
            return  # cannot be over the limit
        packet = Publish(
            topic=topic,
            payload=payload,
            qos=qos,
            retain=retain,
            packet_id=1 if qos else None,
            properties=props,
        )
        size = len(encode(packet, self._version))
        if size > limit:
            raise UsageError(
                f"the PUBLISH would be {size} bytes, over the server's maximum of {limit}"
                " [MQTT-3.2.2-15]"
            )

    def _free_packet_id(self) -> int:
        """Return an unused packet identifier (not yet reserved) [MQTT-2.2.1-3]."""
        packet_id = self._next_packet_id
        inflight = self._inflight
        requests = self._requests
        for _ in range(_MAX_PACKET_ID):
            if packet_id not in inflight and packet_id not in requests:
                return packet_id
            packet_id = packet_id % _MAX_PACKET_ID + 1
        raise QueueFullError("every packet identifier is in use")

    def _alias_for(self, topic: str, props: Properties) -> tuple[str, Properties, int]:
        """Return the topic and properties to send, and a new alias to remember (or 0)."""
        alias = self._aliases_out.get(topic)
        if alias is not None:
            return "", self._with_alias(props, alias), 0
        count = len(self._aliases_out)
        if count < self._server_alias_maximum and len(topic) >= _MIN_ALIASED_TOPIC:
            # [MQTT-3.3.2-9] never above the server's Topic Alias Maximum.
            return topic, self._with_alias(props, count + 1), count + 1
        return topic, props, 0

    def _with_alias(self, props: Properties, alias: int) -> Properties:
        if props is not NO_PROPERTIES:
            return replace(props, topic_alias=alias)
        cached = self._alias_properties.get(alias)
        if cached is None:
            cached = self._alias_properties[alias] = Properties(topic_alias=alias)
        return cached

    def _send_new(  # noqa: PLR0917 - positional on purpose: it is the hot path
        self,
        ticket: int,
        topic: str,
        payload: bytes,
        qos: QoS,
        retain: bool,
        props: Properties,
    ) -> None:
        """Encode and queue a publish; raise before changing anything if it cannot go."""
        if qos:
            packet_id: int | None = self._next_packet_id
            if packet_id in self._inflight or packet_id in self._requests:
                packet_id = self._free_packet_id()
        else:
            packet_id = None
        wire_topic, wire_props, new_alias = (
            self._alias_for(topic, props) if self._server_alias_maximum else (topic, props, 0)
        )
        # Built the way the codec builds decoded packets: the frozen
        # dataclass's own __init__ costs as much as encoding the packet.
        packet: Publish = _new_publish(
            wire_topic, payload, qos, retain, False, packet_id, wire_props
        )  # type: ignore[assignment]
        data = encode(packet, self._version)
        limit = self._server_maximum_packet_size
        if limit is not None and len(data) > limit:
            raise UsageError(
                f"the PUBLISH is {len(data)} bytes, over the server's maximum of {limit}"
                " [MQTT-3.2.2-15]"
            )
        if new_alias:
            self._aliases_out[topic] = new_alias
        if packet_id is not None:
            self._next_packet_id = packet_id % _MAX_PACKET_ID + 1
            self._inflight[packet_id] = _Outgoing(ticket, packet, topic, props)
        else:
            self._out_qos0.append(ticket)
        self._out.append(data)
        if self.record_sent_packets:
            self._out_records.append((packet, len(data)))

    def _resend_publish(self, entry: _Outgoing) -> None:
        """Send an in-flight PUBLISH again on a new connection, with DUP set."""
        old = entry.packet
        topic, props, new_alias = (
            self._alias_for(entry.topic, entry.properties)
            if self._server_alias_maximum
            else (entry.topic, entry.properties, 0)
        )
        if new_alias:
            self._aliases_out[entry.topic] = new_alias
        packet = Publish(
            topic=topic,
            payload=old.payload,
            qos=old.qos,
            retain=old.retain,
            dup=True,
            packet_id=old.packet_id,
            properties=props,
        )
        entry.packet = packet
        self._queue_packet(packet)

    def _forget_resend(self, packet_id: int) -> None:
        # The server answered a message not yet resent on this connection
        # (rare; the list is short-lived).
        if packet_id in self._resend:
            self._resend.remove(packet_id)

    def _pump(self) -> None:
        """Fill the in-flight window: first messages to resend, then the queue."""
        inflight = self._inflight
        resend = self._resend
        window = self._window
        while resend and len(inflight) - len(resend) < window:
            self._resend_publish(inflight[resend.popleft()])
        queue = self._queue
        events = self._events
        while queue:
            ticket = next(iter(queue))
            item = queue[ticket]
            if item.qos and (resend or len(inflight) >= window):
                return
            try:
                self._check_server_allows(item.qos, item.retain)
                self._send_new(ticket, *item)
            except UsageError as exc:
                # The server of this connection no longer accepts it.
                events.append(PublishFailed(ticket, PublishDropped(str(exc))))
            except QueueFullError:
                return  # no packet identifier free; wait for an acknowledgement
            del queue[ticket]

    def _resume_session(self) -> None:
        """The server kept the session: resend PUBREL and PUBLISH (DUP) in their
        original order [MQTT-4.4.0-1], PUBLISH within the window."""
        window = self._window
        sent = 0
        for packet_id, entry in self._inflight.items():
            if entry.released:
                self._queue_packet(PubRel(packet_id=packet_id))
                sent += 1
            elif sent < window:
                self._resend_publish(entry)
                sent += 1
            else:
                self._resend.append(packet_id)

    def _session_lost(self) -> None:
        """The server has no session: inbound state goes, outbound messages are
        queued again or failed, subscriptions are made again."""
        # [MQTT-3.2.2-5] discard the session state the server no longer has.
        self._in_qos2.clear()
        self._awaiting_puback.clear()
        self._awaiting_pubrec.clear()
        events = self._events
        requeue: list[tuple[int, _Queued]] = []
        for entry in self._inflight.values():
            if entry.released:
                # The server took the message (PUBREC) but forgot the exchange:
                # sending it again could deliver it twice.
                events.append(
                    PublishFailed(
                        entry.ticket,
                        PublishDropped("the server lost the session before PUBCOMP"),
                    )
                )
            elif self._config.session_lost_policy == "requeue":
                old = entry.packet
                requeue.append(
                    (
                        entry.ticket,
                        _Queued(entry.topic, old.payload, old.qos, old.retain, entry.properties),
                    )
                )
            else:
                events.append(
                    PublishFailed(entry.ticket, PublishDropped("the server lost the session"))
                )
        self._inflight.clear()
        queue = self._queue
        for ticket, item in reversed(requeue):
            # Back in front of the queue, in their original order; they were
            # accepted already, so the queue bound does not apply.
            queue[ticket] = item
            queue.move_to_end(ticket, last=False)
        if self._config.resubscribe and self._subscriptions:
            self._resubscribe()

    def _resubscribe(self) -> None:
        groups: dict[int | None, list[Subscription]] = {}
        for info in self._subscriptions.values():
            groups.setdefault(info.subscription_identifier, []).append(info.subscription)
        for identifier, subs in groups.items():
            try:
                packet_id = self._free_packet_id()
            except QueueFullError:
                # Every identifier is held by an unanswered request: these
                # subscriptions cannot be made again, so they are no longer
                # the session's (the registry says what the server has).
                for sub in subs:
                    del self._subscriptions[sub.topic_filter]
                continue
            props = (
                NO_PROPERTIES
                if identifier is None
                else Properties(subscription_identifier=(identifier,))
            )
            packet = Subscribe(packet_id=packet_id, subscriptions=tuple(subs), properties=props)
            self._requests[packet_id] = packet
            self._resubscribe_ids.add(packet_id)
            self._next_packet_id = packet_id % _MAX_PACKET_ID + 1
        # Queued by the caller together with other unanswered requests.

    def _send_request(self, packet: Subscribe | Unsubscribe) -> None:
        data = self._encode_within_limit(packet)
        self._requests[packet.packet_id] = packet
        self._next_packet_id = packet.packet_id % _MAX_PACKET_ID + 1
        self._queue_bytes(packet, data)

    def _count_inbound(self, packet_id: int) -> None:
        counted = self._in_counted
        counted.add(packet_id)
        if len(counted) > self._config.receive_maximum:
            # [MQTT-3.3.4-9] the server exceeded our Receive Maximum.
            raise ProtocolError(
                "the server exceeded our Receive Maximum", ReasonCode.RECEIVE_MAXIMUM_EXCEEDED
            )

    def _resolve_alias(self, packet: Publish, alias: int) -> Publish:
        if alias > self._config.topic_alias_maximum:
            # [MQTT-3.3.2-10] an alias within the maximum we announced (the
            # decoder already refused 0).
            raise ProtocolError(f"topic alias {alias} out of range", ReasonCode.TOPIC_ALIAS_INVALID)
        if packet.topic:
            self._aliases_in[alias] = packet.topic
            return packet
        topic = self._aliases_in.get(alias)
        if topic is None:
            raise ProtocolError(f"unknown topic alias {alias}", ReasonCode.TOPIC_ALIAS_INVALID)
        resolved: Publish = _new_publish(
            topic,
            packet.payload,
            packet.qos,
            packet.retain,
            packet.dup,
            packet.packet_id,
            packet.properties,
        )  # type: ignore[assignment]
        return resolved


_PACKET_HANDLERS: Final[dict[type, Callable[[ClientSession, Any, float], None]]] = {
    ConnAck: ClientSession._on_connack,
    Auth: ClientSession._on_auth,
    Publish: ClientSession._on_publish,
    PubAck: ClientSession._on_puback,
    PubRec: ClientSession._on_pubrec,
    PubRel: ClientSession._on_pubrel,
    PubComp: ClientSession._on_pubcomp,
    SubAck: ClientSession._on_suback,
    UnsubAck: ClientSession._on_unsuback,
    PingResp: ClientSession._on_pingresp,
    Disconnect: ClientSession._on_disconnect,
}
#: For each state, the handlers of the packets the table accepts in it (plain functions shared
#: by every session, not bound methods built per session).
_HANDLERS: Final = {
    state: {cls: _PACKET_HANDLERS[cls] for cls in _RECEIVABLE[state]} for state in SessionState
}


def _as_payload(payload: object) -> bytes:
    if not isinstance(payload, (bytearray, memoryview)):
        raise UsageError(f"payload must be bytes, not {type(payload).__name__}")
    return bytes(payload)
