"""Client options shared by every adapter: transports, endpoints, URL forms and validation.

Everything here is checked when a client is created, before anything is sent: a client that
exists has options the engine and the transports can use.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from adapters.errors import InvalidOptions

__all__ = [
    "DEFAULT_PORTS",
    "TRANSPORTS",
    "URL_SCHEMES",
    "Endpoint",
    "Transport",
    "parse_endpoint",
    "parse_url",
]

Transport = Literal["tcp", "ssl", "ws", "wss", "quic"]

#: The transports a client can use.
TRANSPORTS: tuple[Transport, ...] = ("tcp", "ssl", "ws", "wss", "quic")

#: The port used when none is given: IANA's 1883/8883 for MQTT over TCP/TLS, and the ports
#: EMQX listens on for WebSocket (8083), secure WebSocket (8084) and QUIC (14567).
DEFAULT_PORTS: Mapping[Transport, int] = {
    "tcp": 1883,
    "ssl": 8883,
    "ws": 8083,
    "wss": 8084,
    "quic": 14567,
}

#: URL scheme -> transport. ``tcp://`` and ``ssl://``/``tls://`` are accepted as aliases
#: because other clients and brokers' documentation use them.
URL_SCHEMES: Mapping[str, Transport] = {
    "mqtt": "tcp",
    "tcp": "tcp",
    "mqtts": "ssl",
    "ssl": "ssl",
    "tls": "ssl",
    "ws": "ws",
    "wss": "wss",
    "quic": "quic",
}

#: Transports that run over TLS (and so take an ``ssl_context``).
SECURE_TRANSPORTS = frozenset({"ssl", "wss", "quic"})

_MAX_PORT = 65535


@dataclass(frozen=True)
class Endpoint:
    """One server address: where a connection attempt goes.

    Attributes:
        host: Host name or IP address (IPv6 without brackets).
        port: TCP (or UDP, for QUIC) port.
    """

    host: str
    port: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise InvalidOptions(f"host must be a non-empty string, not {self.host!r}")
        _check_port(self.port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _check_port(port: object) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= _MAX_PORT:
        raise InvalidOptions(f"port must be an integer from 1 to {_MAX_PORT}, not {port!r}")


def check_transport(transport: object) -> Transport:
    """Return ``transport`` if it names a known transport.

    Raises:
        InvalidOptions: it does not.
    """
    for known in TRANSPORTS:
        if transport == known:
            return known
    raise InvalidOptions(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")


def parse_endpoint(value: str | tuple[str, int] | Endpoint, default_port: int) -> Endpoint:
    """Turn a ``hosts`` entry into an `Endpoint`.

    Accepted forms: an `Endpoint`; a ``(host, port)`` pair; ``"host"`` (gets ``default_port``);
    ``"host:port"``; ``"[v6addr]"`` or ``"[v6addr]:port"``; a bare IPv6 address.
    The same forms are used for MQTT 5 Server References.

    Raises:
        InvalidOptions: the value is none of these.
    """
    if isinstance(value, Endpoint):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidOptions(f"a host must be (host, port), not {value!r}")
        return Endpoint(value[0], value[1])
    if not isinstance(value, str) or not value.strip():
        raise InvalidOptions(f"a host must be a string or (host, port), not {value!r}")
    text = value.strip()
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise InvalidOptions(f"unbalanced brackets in host {value!r}")
        host, rest = text[1:close], text[close + 1 :]
        if not rest:
            return Endpoint(host, default_port)
        if not rest.startswith(":"):
            raise InvalidOptions(f"unexpected text after the address in {value!r}")
        return Endpoint(host, _port_from_text(rest[1:], value))
    if text.count(":") == 1:
        host, port_text = text.split(":")
        return Endpoint(host, _port_from_text(port_text, value))
    # No colon: a host name; several: a bare IPv6 address.
    return Endpoint(text, default_port)


def _port_from_text(text: str, whole: str) -> int:
    if not text.isdigit():
        raise InvalidOptions(f"bad port in {whole!r}")
    port = int(text)
    _check_port(port)
    return port


def parse_url(url: str) -> dict[str, Any]:
    """Split a server URL into client options.

    ``mqtt://`` (TCP), ``mqtts://`` (TLS), ``ws://``, ``wss://`` (WebSocket; the path becomes
    ``ws_path``) and ``quic://``; user name and password may be given in the authority
    (percent-encoded). ``tcp``, ``ssl`` and ``tls`` are accepted as scheme aliases.

    Returns:
        A dict with ``transport``, ``host``, ``port`` and, when present in the URL,
        ``username``, ``password`` and ``ws_path``.

    Raises:
        InvalidOptions: the URL is not of one of these forms.
    """
    if not isinstance(url, str):
        raise InvalidOptions(f"url must be a string, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidOptions(f"invalid URL {url!r}: {exc}") from exc
    transport = URL_SCHEMES.get(parts.scheme.lower())
    if transport is None:
        schemes = ", ".join(f"{s}://" for s in URL_SCHEMES)
        raise InvalidOptions(f"unsupported URL scheme in {url!r} (one of {schemes})")
    if not parts.hostname:
        raise InvalidOptions(f"no host in URL {url!r}")
    if parts.query or parts.fragment:
        raise InvalidOptions(f"URL {url!r} has a query or fragment, which mean nothing here")
    options: dict[str, Any] = {
        "transport": transport,
        "host": parts.hostname,
        "port": port if port is not None else DEFAULT_PORTS[transport],
    }
    if port == 0:
        _check_port(port)
    if parts.username is not None:
        options["username"] = unquote(parts.username)
    if parts.password is not None:
        options["password"] = unquote(parts.password)
    if transport in ("ws", "wss"):
        if parts.path:
            options["ws_path"] = parts.path
    elif parts.path not in ("", "/"):
        raise InvalidOptions(f"a path is meaningful only for ws:// and wss:// URLs: {url!r}")
    return options


def check_ssl_context(transport: Transport, ssl_context: object) -> ssl.SSLContext | None:
    """Validate ``ssl_context`` against the transport.

    Raises:
        InvalidOptions: a context given for a transport without TLS, or not an SSLContext.
    """
    if ssl_context is None:
        return None
    if not isinstance(ssl_context, ssl.SSLContext):
        raise InvalidOptions(f"ssl_context must be an ssl.SSLContext, not {ssl_context!r}")
    if transport not in SECURE_TRANSPORTS:
        raise InvalidOptions(f"ssl_context is meaningless with transport {transport!r}")
    return ssl_context


def check_headers(
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> tuple[tuple[str, str], ...]:
    """Normalise ``ws_headers`` into a tuple of (name, value) pairs.

    Raises:
        InvalidOptions: a name or value is not a string, or contains a line break.
    """
    if headers is None:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise InvalidOptions(f"ws_headers entries must be (name, value), not {item!r}")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise InvalidOptions(f"ws_headers entries must be strings, not {item!r}")
        if any(c in name + value for c in "\r\n\0"):
            raise InvalidOptions(f"line breaks are not allowed in ws_headers: {item!r}")
        pairs.append((name, value))
    return tuple(pairs)


def check_positive(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as a float if it is a positive number.

    Raises:
        InvalidOptions: it is not (``None`` is accepted when ``allow_none``).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidOptions(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


def check_count(name: str, value: object, low: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``low``.

    Raises:
        InvalidOptions: it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidOptions(f"{name} must be an integer >= {low}, not {value!r}")
    return value
