"""The part of every adapter's ``Client`` that does no I/O: its options and their validation,
the URL form, and the normalisation of call arguments.

The asyncio, threading and anyio clients subclass `ClientBase`, so they share one constructor
signature, one ``from_url`` and one set of checks; they add only the waiting.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from adapters._options import (
    DEFAULT_PORTS,
    SECURE_TRANSPORTS,
    Endpoint,
    Transport,
    check_count,
    check_headers,
    check_positive,
    check_ssl_context,
    check_transport,
    parse_endpoint,
    parse_url,
)
from adapters._reconnect import ReconnectPolicy, policy_from_option
from adapters.errors import InvalidOptions
from adapters.transports.tls import create_ssl_context
from emqtt_core.config import ClientConfig, SessionLostPolicy
from emqtt_core.enums import ProtocolVersion, QoS, RetainHandling
from emqtt_core.exceptions import MQTTError
from emqtt_core.packets import Auth, Subscription, Will
from emqtt_core.properties import NO_PROPERTIES, Properties

__all__ = [
    "CONNECT_PROPERTY_OPTIONS",
    "AuthHandler",
    "ClientBase",
    "ClientOptions",
    "Will",
    "build_options",
    "properties_from",
    "subscribe_arguments",
    "subscriptions_from",
    "unsubscribe_arguments",
]

#: Default seconds for opening the connection and receiving CONNACK (each attempt).
DEFAULT_CONNECT_TIMEOUT = 30.0
#: Default seconds an operation (publish, subscribe, ping...) waits for its acknowledgement.
DEFAULT_ACK_TIMEOUT = 30.0
#: Default bound of the queue of received messages waiting for the application.
DEFAULT_MESSAGE_QUEUE_SIZE = 1000

#: CONNECT properties (MQTT 5) accepted in ``properties=``, and the `ClientConfig` field each
#: one sets (the engine writes CONNECT itself, from its configuration).
CONNECT_PROPERTY_OPTIONS: Mapping[str, str] = {
    "session_expiry_interval": "session_expiry_interval",
    "receive_maximum": "receive_maximum",
    "maximum_packet_size": "maximum_packet_size",
    "topic_alias_maximum": "topic_alias_maximum",
    "request_response_information": "request_response_information",
    "request_problem_information": "request_problem_information",
    "user_property": "user_properties",
    "user_properties": "user_properties",
    "authentication_method": "authentication_method",
    "authentication_data": "authentication_data",
}

_PROPERTY_NAMES = frozenset(f.name for f in fields(Properties))
#: What stands for a password wherever options are shown.
REDACTED = b"******"

#: Enhanced authentication (MQTT 5): called with each AUTH packet by which the server continues
#: the exchange (0x18 Continue authentication), during connection or re-authentication; returns
#: the Authentication Data to answer with. Raising ends the attempt.
AuthHandler = Callable[[Auth], "bytes | None"]


@dataclass(frozen=True)
class ClientOptions:
    """Everything a client needs besides the engine's `ClientConfig`, validated.

    Attributes:
        endpoints: Servers to try, in order (``hosts``, or ``host``/``port``).
        transport: ``"tcp"``, ``"ssl"``, ``"ws"``, ``"wss"`` or ``"quic"``.
        ssl_context: TLS settings (``ssl``, ``wss``, ``quic``); verification is on by default.
        server_hostname: Name sent in SNI and checked in the certificate (default: the host).
        ws_path: WebSocket request path.
        ws_headers: Extra headers of the WebSocket upgrade request.
        quic_options: Extra keyword arguments of `adapters.transports.quic.quic_configuration`.
        connect_timeout: Seconds for each connection attempt (socket, TLS, WebSocket or QUIC
            handshake, CONNACK).
        ack_timeout: Seconds an operation waits for its acknowledgement.
        message_queue_size: Received messages waiting for the application before reading from
            the network pauses.
        reconnect: The reconnect policy, or None for no reconnection.
        telemetry: Whether the client emits the emqtt telemetry events.
        local_address: ``(host, port)`` the socket is bound to before connecting.
        socket_options: ``(level, option, value)`` triples set on the socket once connected.
        auth_handler: Answers the server's AUTH 0x18 (Continue authentication) packets.
        config: The engine configuration.
    """

    endpoints: tuple[Endpoint, ...]
    transport: Transport
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None
    ws_path: str
    ws_headers: tuple[tuple[str, str], ...]
    quic_options: Mapping[str, Any]
    connect_timeout: float
    ack_timeout: float
    message_queue_size: int
    reconnect: ReconnectPolicy | None
    telemetry: bool
    local_address: tuple[str, int] | None
    socket_options: tuple[tuple[int, int, int | bytes], ...]
    auth_handler: AuthHandler | None
    config: ClientConfig

    @property
    def default_port(self) -> int:
        """The port implied by the transport."""
        return DEFAULT_PORTS[self.transport]

    def __repr__(self) -> str:
        # Never show the password (logs and tracebacks print options).
        config = self.config
        if config.password is not None:
            config = replace(config, password=REDACTED)
        fields_text = ", ".join(
            f"{f.name}={config if f.name == 'config' else getattr(self, f.name)!r}"
            for f in fields(self)
        )
        return f"ClientOptions({fields_text})"


def properties_from(value: Properties | Mapping[str, Any] | None, what: str) -> Properties:
    """Turn ``properties=`` (a `Properties` or a mapping of its field names) into `Properties`.

    Raises:
        InvalidOptions: an unknown property name or a bad value type.
    """
    if value is None:
        return NO_PROPERTIES
    if isinstance(value, Properties):
        return value
    if not isinstance(value, Mapping):
        raise InvalidOptions(f"{what} properties must be a Properties or a mapping: {value!r}")
    unknown = set(value) - _PROPERTY_NAMES
    if unknown:
        raise InvalidOptions(f"unknown {what} properties: {', '.join(sorted(unknown))}")
    items = dict(value)
    if "user_property" in items:
        items["user_property"] = _user_properties(items["user_property"])
    if "subscription_identifier" in items:
        items["subscription_identifier"] = _subscription_identifiers(
            items["subscription_identifier"]
        )
    try:
        return Properties(**items)
    except (TypeError, ValueError) as exc:
        raise InvalidOptions(f"bad {what} properties: {exc}") from exc


def _user_properties(value: object) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    if not isinstance(items, Iterable):
        raise InvalidOptions(f"user properties must be (name, value) pairs: {value!r}")
    pairs = []
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise InvalidOptions(f"a user property must be a (name, value) pair: {item!r}")
        name, text = item
        if not isinstance(name, str) or not isinstance(text, str):
            raise InvalidOptions(f"user property names and values are strings: {item!r}")
        pairs.append((name, text))
    return tuple(pairs)


def _subscription_identifiers(value: object) -> tuple[int, ...]:
    # One identifier (SUBSCRIBE carries one) or the sequence a PUBLISH may carry.
    values = (value,) if isinstance(value, int) else value
    if not isinstance(values, Iterable) or isinstance(values, str | bytes):
        raise InvalidOptions(f"subscription identifiers are integers: {value!r}")
    identifiers = tuple(values)
    if not all(type(item) is int for item in identifiers):
        raise InvalidOptions(f"subscription identifiers are integers: {value!r}")
    return identifiers


def _password_bytes(password: str | bytes | Callable[[], str | bytes] | None) -> bytes | None:
    if callable(password):
        password = password()
    if password is None:
        return None
    if isinstance(password, str):
        return password.encode("utf-8")
    if isinstance(password, bytes | bytearray):
        return bytes(password)
    raise InvalidOptions(f"password must be str, bytes or a callable, not {type(password)}")


def build_options(
    host: str,
    port: int | None,
    *,
    transport: str,
    hosts: Sequence[str | tuple[str, int] | Endpoint] | None,
    client_id: str | None,
    protocol_version: int,
    username: str | None,
    password: str | bytes | Callable[[], str | bytes] | None,
    keep_alive: int,
    clean_start: bool,
    session_expiry_interval: int,
    will: Will | None,
    properties: Properties | Mapping[str, Any] | None,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None,
    ws_path: str,
    ws_headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
    quic_options: Mapping[str, Any] | None,
    connect_timeout: float,
    ack_timeout: float,
    ping_timeout: float | None,
    max_inflight: int | None,
    max_queued: int,
    message_queue_size: int,
    auto_ack: bool,
    auto_topic_alias: bool,
    resubscribe: bool,
    session_lost_policy: SessionLostPolicy,
    reconnect: bool | int | ReconnectPolicy | None,
    telemetry: bool,
    local_address: tuple[str, int] | None,
    socket_options: Sequence[tuple[int, int, int | bytes]],
    auth_handler: AuthHandler | None = None,
) -> ClientOptions:
    """Validate every client option and build the `ClientOptions` and `ClientConfig`.

    Raises:
        InvalidOptions: an option is invalid or contradicts another; nothing was sent.
    """
    kind = check_transport(transport)
    default_port = DEFAULT_PORTS[kind]
    if hosts:
        if isinstance(hosts, str):
            raise InvalidOptions("hosts must be a sequence of hosts, not a single string")
        endpoints = tuple(parse_endpoint(entry, port or default_port) for entry in hosts)
    else:
        endpoints = (Endpoint(host, default_port if port is None else port),)
    context = check_ssl_context(kind, ssl_context)
    if context is None and kind in ("ssl", "wss"):
        context = create_ssl_context()
    if not isinstance(ws_path, str) or not ws_path.startswith("/"):
        raise InvalidOptions(f"ws_path must start with '/', not {ws_path!r}")
    if quic_options is not None and not isinstance(quic_options, Mapping):
        raise InvalidOptions("quic_options must be a mapping of quic_configuration arguments")
    if server_hostname is not None and kind not in SECURE_TRANSPORTS:
        raise InvalidOptions(f"server_hostname is meaningless with transport {kind!r}")
    if not isinstance(telemetry, bool):
        raise InvalidOptions(f"telemetry must be True or False, not {telemetry!r}")
    connect_s = check_positive("connect_timeout", connect_timeout)
    ack_s = check_positive("ack_timeout", ack_timeout)
    assert connect_s is not None and ack_s is not None
    ping_s = check_positive("ping_timeout", ping_timeout, allow_none=True)
    queue_size = check_count("message_queue_size", message_queue_size)
    policy = policy_from_option(reconnect)
    if local_address is not None and not (
        isinstance(local_address, tuple) and len(local_address) == 2
    ):
        raise InvalidOptions(f"local_address must be (host, port), not {local_address!r}")
    sockopts = tuple(socket_options)
    for entry in sockopts:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise InvalidOptions(f"socket options are (level, option, value): {entry!r}")
    if auth_handler is not None and not callable(auth_handler):
        raise InvalidOptions(f"auth_handler must be callable, not {auth_handler!r}")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidOptions(f"client_id must be a str, not {type(client_id).__name__}")

    connect_properties = properties_from(properties, "CONNECT")
    engine: dict[str, Any] = {}
    for name in _PROPERTY_NAMES if connect_properties is not NO_PROPERTIES else ():
        value = getattr(connect_properties, name)
        if value is None or value == ():
            continue
        target = CONNECT_PROPERTY_OPTIONS.get(name)
        if target is None:
            raise InvalidOptions(f"{name} is not a CONNECT property the client sets")
        engine[target] = value
    if session_expiry_interval:
        engine["session_expiry_interval"] = session_expiry_interval
    try:
        version = ProtocolVersion(protocol_version)
    except ValueError:
        raise InvalidOptions(
            f"protocol_version must be 3 (MQTT 3.1), 4 (3.1.1) or 5, not {protocol_version!r}"
        ) from None
    try:
        config = ClientConfig(
            client_id=client_id or "",
            protocol_version=version,
            clean_start=clean_start,
            keep_alive=keep_alive,
            ping_timeout=ping_s,
            connect_timeout=connect_s,
            username=username,
            password=_password_bytes(password),
            will=will,
            max_inflight=max_inflight,
            max_queued=max_queued,
            auto_ack=auto_ack,
            session_lost_policy=session_lost_policy,
            resubscribe=resubscribe,
            auto_topic_alias=auto_topic_alias,
            random_bytes=os.urandom,
            **engine,
        )
    except (MQTTError, TypeError, ValueError) as exc:
        raise InvalidOptions(str(exc)) from exc
    return ClientOptions(
        endpoints=endpoints,
        transport=kind,
        ssl_context=context,
        server_hostname=server_hostname,
        ws_path=ws_path,
        ws_headers=check_headers(ws_headers),
        quic_options=dict(quic_options or {}),
        connect_timeout=connect_s,
        ack_timeout=ack_s,
        message_queue_size=queue_size,
        reconnect=policy,
        telemetry=telemetry,
        local_address=local_address,
        socket_options=sockopts,
        auth_handler=auth_handler,
        config=config,
    )


def subscribe_arguments(
    topic: str | Subscription | Sequence[str | tuple[str, int] | Subscription],
    *,
    qos: int,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: int,
    properties: Properties | Mapping[str, Any] | None,
) -> tuple[tuple[Subscription, ...], Properties | None]:
    """What every adapter's ``subscribe`` hands the engine: the subscriptions and properties.

    Raises:
        InvalidOptions: a bad filter form, option or property.
    """
    subs = subscriptions_from(
        topic,
        qos=qos,
        no_local=no_local,
        retain_as_published=retain_as_published,
        retain_handling=retain_handling,
    )
    props = None if properties is None else properties_from(properties, "SUBSCRIBE")
    return subs, props


def unsubscribe_arguments(
    topic: str | Sequence[str], properties: Properties | Mapping[str, Any] | None
) -> tuple[list[str], Properties | None]:
    """What every adapter's ``unsubscribe`` hands the engine: the filters and properties.

    Raises:
        InvalidOptions: a bad property.
    """
    filters = [topic] if isinstance(topic, str) else list(topic)
    props = None if properties is None else properties_from(properties, "UNSUBSCRIBE")
    return filters, props


def subscriptions_from(
    topic: str | Subscription | Sequence[str | tuple[str, int] | Subscription],
    *,
    qos: int,
    no_local: bool,
    retain_as_published: bool,
    retain_handling: int,
) -> tuple[Subscription, ...]:
    """Normalise the forms ``subscribe`` accepts into `Subscription` values.

    Forms: a topic filter; a `Subscription`; a sequence of filters, ``(filter, qos)`` pairs or
    `Subscription` values. The keyword options apply to entries that do not carry their own.

    Raises:
        InvalidOptions: an entry of none of these forms, or a bad QoS or retain handling.
    """
    try:
        level = QoS(qos)
        handling = RetainHandling(retain_handling)
    except ValueError as exc:
        raise InvalidOptions(str(exc)) from exc

    def one(entry: object) -> Subscription:
        if isinstance(entry, Subscription):
            return entry
        if isinstance(entry, str):
            return Subscription(
                topic_filter=entry,
                qos=level,
                no_local=no_local,
                retain_as_published=retain_as_published,
                retain_handling=handling,
            )
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            try:
                entry_qos = QoS(entry[1])
            except ValueError as exc:
                raise InvalidOptions(str(exc)) from exc
            return Subscription(
                topic_filter=entry[0],
                qos=entry_qos,
                no_local=no_local,
                retain_as_published=retain_as_published,
                retain_handling=handling,
            )
        raise InvalidOptions(f"cannot subscribe to {entry!r}")

    if isinstance(topic, str | Subscription):
        return (one(topic),)
    if not isinstance(topic, Iterable):
        raise InvalidOptions(f"cannot subscribe to {topic!r}")
    entries: Sequence[object] = topic
    if isinstance(entries, tuple) and len(entries) == 2 and isinstance(entries[1], int):
        # A single (filter, qos) pair.
        return (one(entries),)
    result = tuple(one(entry) for entry in entries)
    if not result:
        raise InvalidOptions("subscribe needs at least one topic filter")
    return result


_C = TypeVar("_C", bound="ClientBase")


class ClientBase:
    """Options and argument handling shared by the clients of all adapters.

    Args:
        host: Server host name or address (ignored when ``hosts`` is given).
        port: Server port (default: 1883 tcp, 8883 ssl, 8083 ws, 8084 wss, 14567 quic).
        transport: ``"tcp"``, ``"ssl"`` (TLS), ``"ws"``, ``"wss"`` (WebSocket) or ``"quic"``.
        hosts: Servers to try in this order, each ``"host"``, ``"host:port"`` or
            ``(host, port)``; a failed or lost connection moves to the next one.
        client_id: Client identifier (default: assigned by the server on MQTT 5, generated on
            3.x when one is needed).
        protocol_version: 3 (MQTT 3.1), 4 (3.1.1) or 5.
        username: User name for CONNECT.
        password: Password (str, bytes, or a callable returning one, called once).
        keep_alive: Keep Alive in seconds (0: none).
        clean_start: Start a new session on the first connection.
        session_expiry_interval: MQTT 5 seconds the server keeps the session after a
            disconnection (0xFFFFFFFF: forever).
        will: The will message (an `emqtt_core.packets.Will`).
        properties: Further MQTT 5 CONNECT properties (a `Properties` or a mapping of its
            field names: receive_maximum, maximum_packet_size, topic_alias_maximum,
            request_response_information, request_problem_information, user_property,
            authentication_method, authentication_data).
        ssl_context: TLS settings for ``ssl``, ``wss`` and ``quic``. Default: the system's CAs,
            with certificate and host-name verification.
        server_hostname: Name for SNI and certificate checking (default: the host).
        ws_path: WebSocket request path.
        ws_headers: Extra HTTP headers of the WebSocket upgrade request.
        quic_options: Extra arguments of `adapters.transports.quic.quic_configuration`
            (idle_timeout, certfile, keyfile...).
        connect_timeout: Seconds for each connection attempt, CONNACK included.
        ack_timeout: Seconds a publish, subscribe, unsubscribe, ping or re-authentication
            waits for the server before failing with `AckTimeout`.
        ping_timeout: Seconds to wait for PINGRESP before the connection is declared dead
            (default: the keepalive interval).
        max_inflight: Outgoing QoS 1/2 messages awaiting acknowledgement at once (default:
            the server's Receive Maximum on MQTT 5, 20 on 3.x, as mosquitto allows).
        max_queued: Publishes waiting for room in the window (or for a connection) at once.
        message_queue_size: Received messages waiting for the application; when it is full,
            reading from the network pauses until the application catches up.
        auto_ack: Acknowledge received QoS 1/2 messages automatically. False: the application
            acknowledges each one (``message.ack()`` or ``client.ack(message)``).
        auto_topic_alias: MQTT 5: replace repeated topics by aliases, within the server's
            Topic Alias Maximum.
        resubscribe: Subscribe again when the server did not keep the session.
        session_lost_policy: ``"requeue"`` or ``"fail"`` outgoing messages that were in
            flight when the server lost the session.
        reconnect: ``False`` (default), ``True`` (forever), a number of rounds, or a
            `ReconnectPolicy`.
        telemetry: Emit the emqtt telemetry events (see docs/telemetry.md).
        local_address: ``(host, port)`` to bind the socket to.
        socket_options: ``(level, option, value)`` triples set on the socket.
        auth_handler: MQTT 5 enhanced authentication: called with each AUTH packet by which
            the server continues the exchange (during connection or re-authentication);
            returns the Authentication Data to answer with (the method is the one given in
            ``properties``). Raising ends the attempt.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        transport: str = "tcp",
        hosts: Sequence[str | tuple[str, int] | Endpoint] | None = None,
        client_id: str | None = None,
        protocol_version: int = 5,
        username: str | None = None,
        password: str | bytes | Callable[[], str | bytes] | None = None,
        keep_alive: int = 60,
        clean_start: bool = True,
        session_expiry_interval: int = 0,
        will: Will | None = None,
        properties: Properties | Mapping[str, Any] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        ws_path: str = "/mqtt",
        ws_headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        quic_options: Mapping[str, Any] | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        ping_timeout: float | None = None,
        max_inflight: int | None = None,
        max_queued: int = 10_000,
        message_queue_size: int = DEFAULT_MESSAGE_QUEUE_SIZE,
        auto_ack: bool = True,
        auto_topic_alias: bool = True,
        resubscribe: bool = True,
        session_lost_policy: SessionLostPolicy = "requeue",
        reconnect: bool | int | ReconnectPolicy = False,
        telemetry: bool = False,
        local_address: tuple[str, int] | None = None,
        socket_options: Sequence[tuple[int, int, int | bytes]] = (),
        auth_handler: AuthHandler | None = None,
    ) -> None:
        self.options = build_options(
            host,
            port,
            transport=transport,
            hosts=hosts,
            client_id=client_id,
            protocol_version=protocol_version,
            username=username,
            password=password,
            keep_alive=keep_alive,
            clean_start=clean_start,
            session_expiry_interval=session_expiry_interval,
            will=will,
            properties=properties,
            ssl_context=ssl_context,
            server_hostname=server_hostname,
            ws_path=ws_path,
            ws_headers=ws_headers,
            quic_options=quic_options,
            connect_timeout=connect_timeout,
            ack_timeout=ack_timeout,
            ping_timeout=ping_timeout,
            max_inflight=max_inflight,
            max_queued=max_queued,
            message_queue_size=message_queue_size,
            auto_ack=auto_ack,
            auto_topic_alias=auto_topic_alias,
            resubscribe=resubscribe,
            session_lost_policy=session_lost_policy,
            reconnect=reconnect,
            telemetry=telemetry,
            local_address=local_address,
            socket_options=socket_options,
            auth_handler=auth_handler,
        )
        self._setup()

    def _setup(self) -> None:
        """Prepare the adapter's own state once the options are valid (for subclasses)."""

    @classmethod
    def from_url(cls: type[_C], url: str, **options: Any) -> _C:
        """Create a client for a server URL.

        ``mqtt://``, ``mqtts://``, ``ws://``, ``wss://`` and ``quic://`` select the transport;
        ``user:password@`` and a WebSocket path may be part of the URL. Keyword ``options``
        are those of the constructor and take precedence over the URL.

        Raises:
            InvalidOptions: a malformed URL or option.
        """
        merged = parse_url(url)
        merged.update(options)
        host = merged.pop("host")
        port = merged.pop("port")
        return cls(host, port, **merged)
