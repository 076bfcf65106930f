"""Exceptions raised by the clients of every adapter (asyncio, threading, anyio).

The hierarchy::

    ClientError
    ├── InvalidOptions (also ValueError)      bad option, raised before anything is sent
    ├── ConnectError                          no MQTT connection could be established
    │   ├── ConnectionFailed                  the network connection could not be opened
    │   │   └── ConnectionRefused             the server actively refused it (nothing listens)
    │   ├── TLSVerificationFailed             the server's certificate is not trusted
    │   │   └── TLSHostnameMismatch           trusted, but issued for another host name
    │   ├── ConnackRefused                    the server answered CONNACK with a failure code
    │   └── ConnectTimeout (also TimeoutError) no CONNACK within ``connect_timeout``
    ├── AckTimeout (also TimeoutError)        no acknowledgement within ``ack_timeout``
    ├── ConnectionLost                        an established connection ended abnormally
    ├── PublishFailed                         the session gave up on a publish
    └── ClientClosed                          the client is closed (or not connected yet)

Every exception raised because of a lower-level one chains it as ``__cause__`` (the
``OSError``, ``ssl.SSLError``, transport or engine error), so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AckTimeout",
    "ClientClosed",
    "ClientError",
    "ConnackRefused",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionRefused",
    "InvalidOptions",
    "PublishFailed",
    "TLSHostnameMismatch",
    "TLSVerificationFailed",
]


class ClientError(Exception):
    """Root of the errors raised by the MQTT clients of the adapters."""


class InvalidOptions(ClientError, ValueError):
    """A client option or call argument is invalid; raised before anything is sent."""


class ConnectError(ClientError):
    """No MQTT connection could be established with the server.

    Attributes:
        host: The server host the attempt was made to (``None`` if not known).
        port: The server port the attempt was made to (``None`` if not known).
    """

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class ConnectionFailed(ConnectError):
    """The network connection (TCP, TLS handshake, WebSocket upgrade or QUIC handshake)
    could not be opened; the underlying error is the ``__cause__``."""


class ConnectionRefused(ConnectionFailed):
    """The server host actively refused the connection: nothing listens on that port."""


class TLSVerificationFailed(ConnectError):
    """The server's TLS certificate could not be verified against the trusted CAs."""


class TLSHostnameMismatch(TLSVerificationFailed):
    """The server's TLS certificate is valid but was not issued for the host connected to."""


class ConnackRefused(ConnectError):
    """The server refused the connection with a CONNACK failure code.

    Attributes:
        reason_code: The CONNACK reason code as an MQTT 5 `ReasonCode` (an int). On MQTT
            3.1/3.1.1 the return code is mapped to its MQTT 5 equivalent (return code 5 Not
            authorized is 0x87; see `emqtt_core.reason_codes.connack_return_code` for the way
            back).
        properties: The CONNACK properties (MQTT 5; empty otherwise).
        server_reference: The server the client is told to use instead, if any (MQTT 5).
    """

    def __init__(
        self,
        message: str,
        *,
        reason_code: int,
        properties: Mapping[str, Any] | Any = None,
        server_reference: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(message, host=host, port=port)
        self.reason_code = reason_code
        self.properties = properties
        self.server_reference = server_reference


class ConnectTimeout(ConnectError, TimeoutError):
    """Opening the connection or waiting for CONNACK took longer than ``connect_timeout``."""


class AckTimeout(ClientError, TimeoutError):
    """The server did not acknowledge an operation within its timeout.

    Attributes:
        operation: What timed out: ``"publish"``, ``"subscribe"``, ``"unsubscribe"``,
            ``"ping"`` or ``"reauthenticate"``.
    """

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message)
        self.operation = operation


class ConnectionLost(ClientError):
    """An established connection ended other than by the client's own ``disconnect()``.

    Attributes:
        reason_code: The reason code of the server's DISCONNECT (MQTT 5), else ``None``.
        by_server: Whether the server ended the connection with a DISCONNECT (MQTT 5). An
            end of stream or a network error gives False: the client cannot tell whether the
            server or something on the way closed it.
        server_reference: The server the client is told to use instead, if any (MQTT 5).
    """

    def __init__(
        self,
        message: str,
        *,
        reason_code: int | None = None,
        by_server: bool = False,
        server_reference: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.by_server = by_server
        self.server_reference = server_reference


class PublishFailed(ClientError):
    """The session gave up on a publish (for example its session was not resumed by the
    server, or the message became too large for the server); the reason is the ``__cause__``."""


class ClientClosed(ClientError):
    """The operation needs a connected client, and this one is closed or not connected."""
