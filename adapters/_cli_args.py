"""The ``emqtt`` command line: its grammar and the settings it parses into.

The flags follow two traditions at once. emqtt's own CLI (``emqtt pub|sub|connect``) gives the
command names and the long options (``--enable-ssl``, ``--clientid``, ``--repeat``...);
mosquitto_pub and mosquitto_sub give the short options people type without thinking (``-h -p -t
-m -q -r -i -u -P -V -f -l -n -s -C -W -v``). Where the two disagree on a short flag the
mosquitto meaning wins and emqtt keeps its long spelling; ``docs/cli.md`` lists every such choice.

Everything here is pure: `parse_command` turns an argument list into frozen settings or raises
`UsageError` with a one-line message. Nothing connects, and only ``-f`` reads a file.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, TypeAlias
from urllib.parse import unquote

from adapters._options import DEFAULT_PORTS, Transport, parse_url
from adapters.errors import InvalidOptions
from emqtt_core.enums import PacketType
from emqtt_core.properties import PROPERTY_SPECS, WILL_PROPERTIES, PropertyType, allowed_for

__all__ = [
    "ConnectCommand",
    "ConnectionSettings",
    "OutputFormat",
    "PubCommand",
    "SubCommand",
    "TLSSettings",
    "UsageError",
    "Will",
    "build_parser",
    "parse_command",
    "parse_protocol_version",
]

OutputFormat: TypeAlias = Literal["payload", "verbose", "json", "size"]
MessageSource: TypeAlias = Literal["message", "file", "null", "lines", "stdin"]
PropertyValues: TypeAlias = dict[str, object]
"""MQTT 5 properties given with ``-D``: `Properties` field name -> value (a list of pairs for
``user_property``)."""

#: Every spelling of a protocol version that emqtt (``v3.1``) or mosquitto (``mqttv31``, ``31``)
#: accepts, mapped to the protocol level byte of CONNECT (3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0).
_VERSIONS: dict[str, int] = {
    "mqttv31": 3, "v3.1": 3, "3.1": 3, "31": 3, "v3": 3, "3": 3,
    "mqttv311": 4, "v3.1.1": 4, "3.1.1": 4, "311": 4, "v4": 4, "4": 4,
    "mqttv5": 5, "v5": 5, "5": 5, "5.0": 5, "v5.0": 5, "mqttv50": 5,
}  # fmt: skip

_TLS_VERSIONS = ("tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3")
_LOG_LEVELS = ("debug", "info", "warning", "error")
_DEFAULT_WS_PATH = "/mqtt"


class UsageError(Exception):
    """The command line is wrong; the message is one line meant for the user."""


@dataclass(frozen=True)
class Will:
    """The last-will message the broker publishes if the connection ends abnormally."""

    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: PropertyValues = field(default_factory=dict)


@dataclass(frozen=True)
class TLSSettings:
    """How to set up TLS (for ``ssl``, ``wss`` and ``quic``).

    Attributes:
        cafile: PEM file of the certificate authorities to trust (default: the system store).
        capath: Directory of hashed CA certificates (as for ``openssl rehash``).
        certfile: Client certificate chain (PEM), for brokers that ask for one.
        keyfile: Private key of ``certfile``; None when the key is inside ``certfile``.
        verify: Verify the broker's certificate chain.
        check_hostname: Check that the certificate names the host we connect to.
        version: Pin one TLS version (``tlsv1.2`` ...); None negotiates the best one.
        server_name: The name sent as SNI and checked in the certificate (default: the host).
        alpn: ALPN protocols to offer, in preference order.
    """

    cafile: Path | None = None
    capath: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    verify: bool = True
    check_hostname: bool = True
    version: str | None = None
    server_name: str | None = None
    alpn: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect: the options every command shares."""

    transport: Transport = "tcp"
    host: str = "localhost"
    port: int = 1883
    protocol_version: int = 5
    client_id: str | None = None
    client_id_prefix: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive: int = 60
    clean_start: bool = True
    session_expiry_interval: int | None = None
    max_inflight: int | None = None
    connect_timeout: float = 30.0
    will: Will | None = None
    tls: TLSSettings | None = None
    ws_path: str = _DEFAULT_WS_PATH
    ws_headers: tuple[tuple[str, str], ...] = ()
    bind_address: str | None = None
    telemetry: bool = False
    log_level: str = "warning"
    connect_properties: PropertyValues = field(default_factory=dict)
    disconnect_properties: PropertyValues = field(default_factory=dict)


@dataclass(frozen=True)
class PubCommand:
    """``emqtt pub``: publish one message (or ``repeat`` of them, or one per stdin line)."""

    connection: ConnectionSettings
    topic: str
    source: MessageSource
    message: bytes = b""
    qos: int = 0
    retain: bool = False
    repeat: int = 1
    repeat_delay: float = 0.0
    progress: bool | None = None
    properties: PropertyValues = field(default_factory=dict)


@dataclass(frozen=True)
class SubCommand:
    """``emqtt sub``: subscribe and print what arrives."""

    connection: ConnectionSettings
    topics: tuple[str, ...]
    qos: int = 0
    count: int | None = None
    timeout: float | None = None
    output: OutputFormat = "payload"
    show_properties: bool = False
    end_of_line: bool = True
    skip_retained: bool = False
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    properties: PropertyValues = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectCommand:
    """``emqtt connect``: connect, report the CONNACK, and stay connected printing messages."""

    connection: ConnectionSettings
    timeout: float | None = None
    output: OutputFormat = "payload"
    show_properties: bool = False
    end_of_line: bool = True


Command: TypeAlias = PubCommand | SubCommand | ConnectCommand


@dataclass(frozen=True)
class _ParsedURL:
    transport: Transport
    host: str
    port: int | None
    path: str
    username: str | None = None
    password: str | None = None


# --- argparse plumbing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises `UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _port(text: str) -> int:
    value = _int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, got {text!r}")
    return value


def _qos(text: str) -> int:
    if text not in ("0", "1", "2"):
        raise argparse.ArgumentTypeError(f"QoS is 0, 1 or 2, got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"seconds must be zero or more, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than zero seconds")
    return value


def parse_protocol_version(text: str) -> int:
    """The protocol level (3, 4 or 5) for any spelling emqtt or mosquitto accepts.

    ``v3.1``/``mqttv31``/``31`` is MQTT 3.1, ``v3.1.1``/``mqttv311``/``311`` is 3.1.1 and
    ``v5``/``mqttv5``/``5`` is 5.0.

    Raises:
        argparse.ArgumentTypeError: Not a known spelling.
    """
    level = _VERSIONS.get(text.strip().lower())
    if level is None:
        raise argparse.ArgumentTypeError(
            f"unknown protocol version {text!r}: use mqttv31, mqttv311 or mqttv5 "
            "(or v3.1, v3.1.1, v5)"
        )
    return level


def _ws_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"a header is 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "url", nargs="?", metavar="URL",
        help="broker URL: mqtt://, mqtts://, ws://, wss:// or quic://"
        "[user[:password]@]host[:port]/topic (for ws and wss the path is the WebSocket path)",
    )
    conn.add_argument("-L", "--url", dest="url_option", metavar="URL", help="same as URL")
    conn.add_argument("-h", "--host", help="broker host (default: localhost)")
    conn.add_argument("-p", "--port", type=_port, help="broker port (default: per transport)")
    conn.add_argument(
        "-V", "--protocol-version", dest="protocol_version", type=parse_protocol_version,
        metavar="VERSION", help="mqttv31, mqttv311 or mqttv5; also v3.1, v3.1.1, v5 "
        "(default: mqttv5)",
    )
    conn.add_argument(
        "-i", "--id", "--clientid", dest="client_id", metavar="ID",
        help="client identifier (default: generated)",
    )
    conn.add_argument(
        "-I", "--id-prefix", dest="client_id_prefix", metavar="PREFIX",
        help="generate the client identifier as PREFIX followed by random hex digits",
    )
    conn.add_argument("-u", "--username")
    conn.add_argument("-P", "--pw", "--password", dest="password")
    conn.add_argument(
        "-k", "--keepalive", type=_non_negative_int, metavar="SECONDS",
        help="keep-alive interval, 0 to disable (default: 60)",
    )
    conn.add_argument(
        "-c", "--disable-clean-session", "--no-clean-start", dest="no_clean",
        action="store_true", help="resume the session the broker kept for this client id",
    )
    conn.add_argument(
        "-x", "--session-expiry-interval", dest="session_expiry", type=_non_negative_int,
        metavar="SECONDS", help="MQTT 5 session expiry interval",
    )
    conn.add_argument("--max-inflight", type=_positive_int, metavar="N",
                      help="most QoS 1/2 publishes awaiting acknowledgement at once")
    conn.add_argument("--connect-timeout", type=_positive_seconds, metavar="SECONDS",
                      help="give up connecting after this long (default: 30)")
    conn.add_argument("-A", "--iface", "--bind-address", dest="bind_address", metavar="ADDRESS",
                      help="local address to connect from")

    will = parser.add_argument_group("last will")
    will.add_argument("--will-topic", metavar="TOPIC")
    will.add_argument("--will-payload", metavar="TEXT")
    will.add_argument("--will-qos", type=_qos, metavar="QOS")
    will.add_argument("--will-retain", action="store_true")

    transport = parser.add_argument_group("transport")
    transport.add_argument("--enable-websocket", "--ws", dest="websocket", action="store_true",
                           help="MQTT over WebSocket (wss with any TLS option)")
    transport.add_argument("--enable-quic", "--quic", dest="quic", action="store_true",
                           help="MQTT over QUIC (always TLS 1.3)")
    transport.add_argument("--enable-ssl", "--tls", dest="tls", action="store_true",
                           help="MQTT over TLS (also implied by --cafile, --capath, --cert)")
    transport.add_argument("--ws-path", metavar="PATH",
                           help=f"WebSocket path (default: {_DEFAULT_WS_PATH})")
    transport.add_argument("--ws-header", dest="ws_headers", action="append", type=_ws_header,
                           metavar="'NAME: VALUE'", help="extra WebSocket handshake header")

    tls = parser.add_argument_group("TLS")
    tls.add_argument("--cafile", "--CAfile", type=Path, metavar="FILE",
                     help="trust these CA certificates (PEM) instead of the system store")
    tls.add_argument("--capath", type=Path, metavar="DIR", help="directory of CA certificates")
    tls.add_argument("--cert", type=Path, metavar="FILE", help="client certificate (PEM)")
    tls.add_argument("--key", type=Path, metavar="FILE", help="client private key (PEM)")
    tls.add_argument("--insecure", action="store_true",
                     help="do not check the host name in the broker's certificate")
    tls.add_argument("--no-verify", action="store_true",
                     help="do not verify the broker's certificate at all (implies --insecure)")
    tls.add_argument("--verify", action="store_true",
                     help="verify the broker's certificate (the default; for emqtt scripts)")
    tls.add_argument("--tls-version", choices=_TLS_VERSIONS, help="use only this TLS version")
    tls.add_argument("--sni", metavar="NAME",
                     help="server name to send and to check (default: the host)")
    tls.add_argument("--tls-alpn", dest="alpn", action="append", metavar="PROTOCOL",
                     help="ALPN protocol to offer (repeatable)")

    props = parser.add_argument_group("MQTT 5 properties")
    props.add_argument(
        "-D", "--property", dest="properties", action="append", nargs="+",
        metavar="COMMAND NAME VALUE",
        help="set a property of a packet, as mosquitto does: COMMAND is connect, publish, "
        "subscribe, disconnect or will; NAME a property such as content-type, "
        "message-expiry-interval or user-property (which takes a key and a value)",
    )

    misc = parser.add_argument_group("output and diagnostics")
    misc.add_argument("--telemetry", action="store_true",
                      help="print byte and packet counters when the command ends")
    misc.add_argument("-d", "--debug", action="store_true", help="same as --log-level debug")
    misc.add_argument("--log-level", choices=_LOG_LEVELS, help="default: warning")
    misc.add_argument("--help", action="help", help="show this help and exit")


def _add_subscriber_output(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("printing messages")
    out.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="print the topic before the payload; twice (-vv) adds QoS, flags and properties",
    )
    out.add_argument("--format", dest="output", choices=("payload", "verbose", "json", "size"),
                     help="payload (default), verbose, json (one object a line) or size")
    out.add_argument("--json", dest="output", action="store_const", const="json",
                     help="same as --format json")
    out.add_argument("--print", dest="print_mode", choices=("size",),
                     help="emqtt's spelling of --format size")
    out.add_argument("-N", "--no-eol", dest="no_eol", action="store_true",
                     help="do not end a printed payload with a newline")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``emqtt`` with its three sub-commands.

    `parse_command` is what callers want; the parser itself is public for help texts and docs.
    """
    parser = _Parser(
        prog="emqtt",
        add_help=False,
        description="MQTT 3.1/3.1.1/5.0 command-line client over TCP, TLS, WebSocket and QUIC.",
        epilog="Run 'emqtt COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--help", action="help", help="show this help and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.required = True

    pub = commands.add_parser("pub", add_help=False, help="publish messages",
                              description="Publish a message, a file, or one message per line.")
    _add_connection_options(pub)
    msg = pub.add_argument_group("message")
    msg.add_argument("-t", "--topic", action="append", help="topic to publish to")
    msg.add_argument("-q", "--qos", type=_qos, help="0, 1 or 2 (default: 0)")
    msg.add_argument("-r", "--retain", action="store_true", help="ask the broker to retain it")
    source = msg.add_mutually_exclusive_group()
    source.add_argument("-m", "--message", "--payload", dest="message", metavar="TEXT",
                        help="the payload, as text")
    source.add_argument("-f", "--file", type=Path, metavar="FILE",
                        help="send the contents of FILE as one message")
    source.add_argument("-n", "--null-message", dest="null", action="store_true",
                        help="send an empty payload")
    source.add_argument("-l", "--stdin-line", dest="lines", action="store_true",
                        help="send each line of standard input as a message")
    source.add_argument("-s", "--stdin-file", dest="stdin", action="store_true",
                        help="send all of standard input as one message")
    msg.add_argument("--repeat", type=_positive_int, metavar="N",
                     help="publish the message N times (default: 1)")
    msg.add_argument("--repeat-delay", type=_seconds, metavar="SECONDS",
                     help="wait this long between repeats (default: 0)")
    progress = msg.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="show a progress bar even when stderr is not a terminal")
    progress.add_argument("--no-progress", dest="progress", action="store_false",
                          help="never show a progress bar")

    sub = commands.add_parser("sub", add_help=False, help="subscribe and print messages",
                              description="Subscribe to topic filters and print what arrives.")
    _add_connection_options(sub)
    flt = sub.add_argument_group("subscription")
    flt.add_argument("-t", "--topic", action="append", help="topic filter (repeatable)")
    flt.add_argument("-q", "--qos", type=_qos, help="maximum QoS (default: 0)")
    flt.add_argument("-C", "--count", type=_positive_int, metavar="N",
                     help="exit after N messages")
    flt.add_argument("-W", "--timeout", type=_positive_seconds, metavar="SECONDS",
                     help="exit with status 6 if still running after this long")
    flt.add_argument("-R", "--no-retained", dest="skip_retained", action="store_true",
                     help="do not print retained messages the broker sends on subscribing")
    flt.add_argument("--no-local", action="store_true",
                     help="MQTT 5: do not receive this client's own publishes")
    flt.add_argument("--retain-as-published", "--retain-as-publish", "--rap",
                     dest="retain_as_published", action="store_true",
                     help="MQTT 5: keep the retain flag as the publisher set it")
    flt.add_argument("--retain-handling", type=int, choices=(0, 1, 2),
                     help="MQTT 5: 0 send retained, 1 only for new subscriptions, 2 never")
    _add_subscriber_output(sub)

    connect = commands.add_parser("connect", add_help=False, help="connect and stay connected",
                                  description="Connect, print the broker's CONNACK, then print "
                                  "any message delivered to the session until interrupted.")
    _add_connection_options(connect)
    connect.add_argument("-W", "--timeout", type=_positive_seconds, metavar="SECONDS",
                         help="disconnect and exit 0 after this long")
    _add_subscriber_output(connect)
    return parser


# --- MQTT 5 properties (-D) -----------------------------------------------------------------

_SPECS_BY_NAME = {spec.name: spec for spec in PROPERTY_SPECS.values()}

#: Which properties ``-D COMMAND`` accepts: what the packet may carry and a client may set.
_PROPERTY_TARGETS: dict[str, frozenset[str]] = {
    "connect": allowed_for(PacketType.CONNECT),
    # [MQTT-3.3.4-6]: a client's PUBLISH carries no Subscription Identifier; topic aliases are
    # the client's business (it assigns them itself).
    "publish": allowed_for(PacketType.PUBLISH) - {"subscription_identifier", "topic_alias"},
    "subscribe": allowed_for(PacketType.SUBSCRIBE),
    # Server Reference is the server's to send [MQTT-3.14.2.2.5].
    "disconnect": allowed_for(PacketType.DISCONNECT) - {"server_reference"},
    "will": WILL_PROPERTIES,
}

_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_INTEGER_LIMITS = {
    PropertyType.BYTE: 0xFF,
    PropertyType.TWO_BYTE_INTEGER: 0xFFFF,
    PropertyType.FOUR_BYTE_INTEGER: 0xFFFFFFFF,
    PropertyType.VARIABLE_BYTE_INTEGER: 268_435_455,
}


def _property_value(name: str, kind: PropertyType, values: list[str]) -> object:
    if kind is PropertyType.UTF8_STRING_PAIR:
        if len(values) != 2:
            raise UsageError(f"-D ... {name.replace('_', '-')} takes a key and a value")
        return (values[0], values[1])
    if len(values) != 1:
        raise UsageError(
            f"-D ... {name.replace('_', '-')} takes one value, got {len(values)}: "
            f"{' '.join(values)!r} (give a URL before -D, not after)"
        )
    text = values[0]
    if kind is PropertyType.UTF8_STRING:
        return text
    if kind is PropertyType.BINARY_DATA:
        return text.encode("utf-8")
    if kind is PropertyType.FLAG:
        flag = _FLAGS.get(text.lower())
        if flag is None:
            raise UsageError(f"-D ... {name.replace('_', '-')} is 0 or 1, got {text!r}")
        return flag
    limit = _INTEGER_LIMITS[kind]
    try:
        number = int(text, 10)
    except ValueError:
        number = -1
    if not 0 <= number <= limit:
        raise UsageError(
            f"-D ... {name.replace('_', '-')} is an integer from 0 to {limit}, got {text!r}"
        )
    return number


def _packet_properties(ns: argparse.Namespace, version: int, command: str,
                       packet: str | None) -> PropertyValues:
    """The ``-D`` properties of ``packet`` (None: none expected), refusing those given for a
    packet this command never sends."""
    grouped = _parse_properties(ns.properties, version)
    sent = {"connect", "disconnect", "will", packet}
    for name, values in grouped.items():
        if values and name not in sent:
            raise UsageError(f"-D {name}: 'emqtt {command}' sends no {name.upper()} packet")
    return grouped[packet] if packet is not None else {}


def _parse_properties(entries: list[list[str]] | None, version: int) -> dict[str, PropertyValues]:
    """``-D COMMAND NAME VALUE...`` entries, grouped by command and checked against the
    packets' property tables."""
    grouped: dict[str, PropertyValues] = {command: {} for command in _PROPERTY_TARGETS}
    if not entries:
        return grouped
    if version < 5:
        raise UsageError("-D sets MQTT 5 properties: it needs -V mqttv5")
    for entry in entries:
        if len(entry) < 3:
            raise UsageError(f"-D takes COMMAND NAME VALUE, got {' '.join(entry)!r}")
        command, raw_name, values = entry[0].lower(), entry[1], entry[2:]
        allowed = _PROPERTY_TARGETS.get(command)
        if allowed is None:
            raise UsageError(
                f"-D {command}: the packets are {', '.join(_PROPERTY_TARGETS)}"
            )
        name = raw_name.lower().replace("-", "_")
        spec = _SPECS_BY_NAME.get(name)
        if spec is None or name not in allowed:
            known = ", ".join(sorted(n.replace("_", "-") for n in allowed))
            raise UsageError(f"-D {command} {raw_name}: not a property it takes ({known})")
        value = _property_value(name, spec.type, values)
        target = grouped[command]
        if name == "user_property":
            pairs = target.setdefault(name, [])
            assert isinstance(pairs, list)
            pairs.append(value)
        elif name in target:
            raise UsageError(f"-D {command} {raw_name} given twice")
        else:
            # The repeatable Subscription Identifier is a tuple in `Properties`.
            target[name] = (value,) if spec.repeatable else value
    return grouped


# --- from the namespace to settings ----------------------------------------------------------


def _split_url(text: str) -> _ParsedURL:
    """Split an MQTT URL whose path may be a topic.

    The authority goes through the clients' own URL parser; the path is cut off first and kept
    verbatim (percent-decoded), so a ``#`` filter is not taken for a URL fragment.
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise UsageError(f"not a URL: {text!r} (expected e.g. mqtt://host/topic)")
    authority, slash, path = rest.partition("/")
    server = f"{scheme}://{authority}"
    try:
        options = parse_url(server)
    except InvalidOptions as exc:
        raise UsageError(str(exc).replace(repr(server), repr(text))) from None
    port = int(options["port"]) if _has_port(authority) else None
    return _ParsedURL(
        transport=options["transport"],
        host=options["host"],
        port=port,
        path=unquote(path) if slash else "",
        username=options.get("username"),
        password=options.get("password"),
    )


def _has_port(authority: str) -> bool:
    """Whether the URL authority names a port (otherwise ``-p`` or the default applies)."""
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        return "]:" in hostport
    return ":" in hostport


def _pick_transport(ns: argparse.Namespace, url: _ParsedURL | None) -> Transport:
    wants_tls = bool(ns.tls or ns.cafile or ns.capath or ns.cert)
    if ns.websocket and ns.quic:
        raise UsageError("--enable-websocket and --enable-quic exclude each other")
    base: Transport = url.transport if url else "tcp"
    if ns.quic:
        if base not in ("tcp", "ssl", "quic"):
            raise UsageError(f"--enable-quic conflicts with the {base} URL")
        return "quic"
    if ns.websocket and base in ("tcp", "ssl"):
        base = "wss" if base == "ssl" else "ws"
    elif ns.websocket and base == "quic":
        raise UsageError("--enable-websocket conflicts with the quic URL")
    if wants_tls and base == "tcp":
        return "ssl"
    if wants_tls and base == "ws":
        return "wss"
    return base


def _tls_settings(ns: argparse.Namespace, transport: Transport) -> TLSSettings | None:
    if transport not in ("ssl", "wss", "quic"):
        for flag, given in (
            ("--insecure", ns.insecure), ("--no-verify", ns.no_verify),
            ("--tls-version", ns.tls_version), ("--sni", ns.sni), ("--key", ns.key),
            ("--tls-alpn", ns.alpn),
        ):
            if given:
                raise UsageError(f"{flag} needs TLS: add --enable-ssl, --cafile or a "
                                 "mqtts://, wss:// or quic:// URL")
        return None
    if ns.key and not ns.cert:
        raise UsageError("--key needs --cert")
    if ns.no_verify and ns.verify:
        raise UsageError("--verify and --no-verify exclude each other")
    if transport == "quic" and ns.tls_version not in (None, "tlsv1.3"):
        raise UsageError("QUIC always uses TLS 1.3; drop --tls-version")
    if transport == "quic" and ns.alpn:
        raise UsageError("QUIC always offers ALPN 'mqtt'; drop --tls-alpn")
    if transport == "quic" and ns.insecure and not ns.no_verify:
        raise UsageError(
            "QUIC cannot skip only the host-name check: use --sni NAME, or --no-verify"
        )
    for flag, path in (("--cafile", ns.cafile), ("--cert", ns.cert), ("--key", ns.key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag}: no such file: {path}")
    if ns.capath is not None and not ns.capath.is_dir():
        raise UsageError(f"--capath: no such directory: {ns.capath}")
    return TLSSettings(
        cafile=ns.cafile,
        capath=ns.capath,
        certfile=ns.cert,
        keyfile=ns.key,
        verify=not ns.no_verify,
        check_hostname=not (ns.insecure or ns.no_verify),
        version=ns.tls_version,
        server_name=ns.sni,
        alpn=tuple(ns.alpn or ()),
    )


def _connection(ns: argparse.Namespace, url: _ParsedURL | None) -> ConnectionSettings:
    transport = _pick_transport(ns, url)
    host = ns.host or (url.host if url else None) or "localhost"
    if ns.host and url and ns.host != url.host:
        raise UsageError(f"-h {ns.host} contradicts the URL host {url.host}")
    port = ns.port or (url.port if url else None) or DEFAULT_PORTS[transport]
    version = ns.protocol_version or 5
    username = ns.username if ns.username is not None else (url.username if url else None)
    password = ns.password if ns.password is not None else (url.password if url else None)
    if password is not None and username is None:
        raise UsageError("a password (-P) needs a username (-u)")
    if ns.client_id is not None and ns.client_id_prefix is not None:
        raise UsageError("-i/--id and -I/--id-prefix exclude each other")
    if ns.client_id == "" and version < 5 and ns.no_clean:
        # [MQTT-3.1.3-7]: a zero-length client id requires a clean session.
        raise UsageError("an empty client id cannot resume a session (-c)")
    if ns.no_clean and ns.client_id is None:
        raise UsageError("-c/--disable-clean-session needs a fixed client id (-i)")
    if ns.session_expiry is not None and version < 5:
        raise UsageError("-x/--session-expiry-interval needs MQTT 5 (-V mqttv5)")
    properties = _parse_properties(ns.properties, version)
    if ns.session_expiry is not None and "session_expiry_interval" in properties["connect"]:
        raise UsageError("give the session expiry once: -x or -D connect, not both")
    keepalive = 60 if ns.keepalive is None else ns.keepalive
    if keepalive > 65535:
        raise UsageError(f"keep-alive is at most 65535 seconds, got {keepalive}")

    will = None
    if ns.will_topic is not None:
        if not ns.will_topic:
            raise UsageError("--will-topic must not be empty")
        will = Will(
            topic=ns.will_topic,
            payload=(ns.will_payload or "").encode(),
            qos=ns.will_qos or 0,
            retain=ns.will_retain,
            properties=properties["will"],
        )
    elif ns.will_payload is not None or ns.will_qos is not None or ns.will_retain:
        raise UsageError("--will-payload, --will-qos and --will-retain need --will-topic")
    elif properties["will"]:
        raise UsageError("-D will ... needs --will-topic")

    ws_path = _DEFAULT_WS_PATH
    if transport in ("ws", "wss"):
        ws_path = ns.ws_path or (("/" + url.path) if url and url.path else _DEFAULT_WS_PATH)
        if not ws_path.startswith("/"):
            ws_path = "/" + ws_path
    elif ns.ws_path or ns.ws_headers:
        raise UsageError("--ws-path and --ws-header need a WebSocket connection (--ws or ws://)")

    return ConnectionSettings(
        transport=transport,
        host=host,
        port=port,
        protocol_version=version,
        client_id=ns.client_id,
        client_id_prefix=ns.client_id_prefix,
        username=username,
        password=password,
        keepalive=keepalive,
        clean_start=not ns.no_clean,
        session_expiry_interval=ns.session_expiry,
        max_inflight=ns.max_inflight,
        connect_timeout=ns.connect_timeout or 30.0,
        will=will,
        tls=_tls_settings(ns, transport),
        ws_path=ws_path,
        ws_headers=tuple(ns.ws_headers or ()),
        bind_address=ns.bind_address,
        telemetry=ns.telemetry,
        log_level="debug" if ns.debug else (ns.log_level or "warning"),
        connect_properties=properties["connect"],
        disconnect_properties=properties["disconnect"],
    )


def _url_topic(url: _ParsedURL | None) -> str | None:
    """The topic a URL names: its path, except for WebSocket URLs where the path is the
    WebSocket path."""
    if url is None or url.transport in ("ws", "wss") or not url.path:
        return None
    return url.path


def _output(ns: argparse.Namespace) -> tuple[OutputFormat, bool]:
    output: OutputFormat = ns.output or "payload"
    if ns.print_mode == "size":
        if ns.output not in (None, "size"):
            raise UsageError(f"--print size conflicts with --format {ns.output}")
        output = "size"
    if ns.verbose:
        if ns.output not in (None, "verbose") or ns.print_mode:
            raise UsageError(f"-v conflicts with --format {output}")
        output = "verbose"
    return output, ns.verbose > 1


def _read_message_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"-f: no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"-f: is a directory: {path}") from None
    except OSError as exc:
        raise UsageError(f"-f: cannot read {path}: {exc.strerror or exc}") from None


def _pub(ns: argparse.Namespace, url: _ParsedURL | None) -> PubCommand:
    connection = _connection(ns, url)
    topics: list[str] = ns.topic or []
    url_topic = _url_topic(url)
    if url_topic is not None:
        topics = [*topics, url_topic] if url_topic not in topics else topics
    if not topics:
        raise UsageError("no topic: give -t TOPIC or a URL like mqtt://host/TOPIC")
    if len(topics) > 1:
        raise UsageError("pub sends to one topic; got " + ", ".join(map(repr, topics)))
    topic = topics[0]
    if not topic:
        raise UsageError("the topic must not be empty")
    if "+" in topic or "#" in topic:
        # [MQTT-3.3.2-2]: the Topic Name in a PUBLISH must not contain wildcard characters.
        raise UsageError(f"wildcards (+, #) are not allowed in a topic to publish to: {topic!r}")

    source: MessageSource
    message = b""
    if ns.message is not None:
        source, message = "message", ns.message.encode()
    elif ns.file is not None:
        source, message = "file", _read_message_file(ns.file)
    elif ns.null:
        source = "null"
    elif ns.lines:
        source = "lines"
    elif ns.stdin:
        source = "stdin"
    else:
        raise UsageError("no message: give one of -m TEXT, -f FILE, -n, -l or -s")
    if source == "lines" and (ns.repeat or ns.repeat_delay):
        raise UsageError("--repeat and --repeat-delay do not combine with -l")
    return PubCommand(
        connection=connection,
        topic=topic,
        source=source,
        message=message,
        qos=ns.qos or 0,
        retain=ns.retain,
        repeat=ns.repeat or 1,
        repeat_delay=ns.repeat_delay or 0.0,
        progress=ns.progress,
        properties=_packet_properties(ns, connection.protocol_version, "pub", "publish"),
    )


def _sub(ns: argparse.Namespace, url: _ParsedURL | None) -> SubCommand:
    connection = _connection(ns, url)
    topics: list[str] = list(ns.topic or [])
    url_topic = _url_topic(url)
    if url_topic is not None and url_topic not in topics:
        topics.append(url_topic)
    if not topics:
        raise UsageError("no topic filter: give -t FILTER or a URL like mqtt://host/FILTER")
    for topic in topics:
        _check_filter(topic)
    v5_only = [
        flag for flag, given in (
            ("--no-local", ns.no_local),
            ("--retain-as-published", ns.retain_as_published),
            ("--retain-handling", ns.retain_handling),
        ) if given
    ]
    if v5_only and connection.protocol_version < 5:
        raise UsageError(f"{v5_only[0]} needs MQTT 5 (-V mqttv5)")
    output, show_properties = _output(ns)
    return SubCommand(
        connection=connection,
        topics=tuple(topics),
        qos=ns.qos or 0,
        count=ns.count,
        timeout=ns.timeout,
        output=output,
        show_properties=show_properties,
        end_of_line=not ns.no_eol,
        skip_retained=ns.skip_retained,
        no_local=ns.no_local,
        retain_as_published=ns.retain_as_published,
        retain_handling=ns.retain_handling or 0,
        properties=_packet_properties(ns, connection.protocol_version, "sub", "subscribe"),
    )


def _check_filter(topic: str) -> None:
    """Reject filters the broker would refuse, so the user gets the reason, not a SUBACK code."""
    if not topic:
        raise UsageError("a topic filter must not be empty")  # [MQTT-4.7.3-1]
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            # [MQTT-4.7.1-2]: '#' stands alone and is the last level.
            raise UsageError(f"'#' must be a whole level at the end of the filter: {topic!r}")
        if "+" in level and level != "+":
            # [MQTT-4.7.1-3]: '+' occupies a whole level.
            raise UsageError(f"'+' must be a whole level of the filter: {topic!r}")


def _connect(ns: argparse.Namespace, url: _ParsedURL | None) -> ConnectCommand:
    if url is not None and url.path and url.transport not in ("ws", "wss"):
        raise UsageError("connect takes no topic; use 'emqtt sub' to subscribe")
    output, show_properties = _output(ns)
    connection = _connection(ns, url)
    _packet_properties(ns, connection.protocol_version, "connect", None)
    return ConnectCommand(
        connection=connection,
        timeout=ns.timeout,
        output=output,
        show_properties=show_properties,
        end_of_line=not ns.no_eol,
    )


def parse_command(argv: Sequence[str]) -> Command:
    """Parse ``emqtt`` arguments (without the program name) into the settings of one command.

    Raises:
        UsageError: The arguments are wrong; the message says why in one line.
        SystemExit: ``--help`` was given (argparse printed the help already).
    """
    ns = build_parser().parse_args(list(argv))
    if ns.url and ns.url_option:
        raise UsageError("give the URL once: as an argument or with -L, not both")
    url_text = ns.url or ns.url_option
    url = _split_url(url_text) if url_text else None
    if ns.command == "pub":
        return _pub(ns, url)
    if ns.command == "sub":
        return _sub(ns, url)
    return _connect(ns, url)
