"""Errors of the transport layers.

The hierarchy::

    MQTTError (emqtt_core)
    └── TransportError               a transport layer failed; recorded in ``transport.error``
        ├── TransportClosed          the transport is closed (or was reset) and carries no more
        │                            bytes; also raised by ``send()`` after the end
        ├── TransportProtocolError   the peer broke the framing protocol (a WebSocket text
        │                            frame [MQTT-6.0.0-1], a malformed frame, a QUIC error)
        └── HandshakeFailed          the WebSocket upgrade or the QUIC handshake failed
            └── TLSVerificationFailed  the server's certificate was not trusted, or not issued
                                       for the host name (``hostname_mismatch``)

Layers never raise these out of ``receive_wire``, ``receive_wire_eof`` or ``handle_timer``:
a failure there closes the layer and is recorded in its ``error`` attribute, where the adapter
finds it. ``send`` raises `TransportClosed` when there is nowhere left to send to. Every error
caused by a library exception (websockets, aioquic, ssl) chains it as ``__cause__``.
"""

from __future__ import annotations

import ssl

from emqtt_core.exceptions import MQTTError

__all__ = [
    "HandshakeFailed",
    "TLSVerificationFailed",
    "TransportClosed",
    "TransportError",
    "TransportProtocolError",
    "tls_error_from_ssl",
]


class TransportError(MQTTError):
    """A transport layer (TCP, TLS, WebSocket, QUIC) failed."""


class TransportClosed(TransportError):
    """The transport is closed or was reset by the peer: no more bytes go through it."""


class TransportProtocolError(TransportError):
    """The peer broke the framing protocol (WebSocket or QUIC); the layer closed itself."""


class HandshakeFailed(TransportError):
    """The WebSocket upgrade or the QUIC/TLS handshake did not succeed."""


class TLSVerificationFailed(HandshakeFailed):
    """The server's TLS certificate could not be verified.

    Attributes:
        hostname_mismatch: True when the certificate is otherwise acceptable but was not
            issued for the host name (or address) connected to.
    """

    def __init__(self, message: str, *, hostname_mismatch: bool = False) -> None:
        super().__init__(message)
        self.hostname_mismatch = hostname_mismatch


def tls_error_from_ssl(exc: ssl.SSLError) -> HandshakeFailed:
    """Classify an `ssl.SSLError` from a TLS socket handshake (``ssl`` and ``wss``).

    Adapters do TLS over TCP with the ``ssl`` module; this turns its errors into the same
    exceptions the QUIC layer reports, chaining ``exc`` as the cause.

    Returns:
        `TLSVerificationFailed` for certificate verification failures (with
        ``hostname_mismatch`` set when only the host name was wrong), else `HandshakeFailed`.
    """
    error: HandshakeFailed
    if isinstance(exc, ssl.SSLCertVerificationError):
        # X509_V_ERR_HOSTNAME_MISMATCH (62) and X509_V_ERR_IP_ADDRESS_MISMATCH (64).
        mismatch = exc.verify_code in (62, 64)
        error = TLSVerificationFailed(
            f"TLS certificate verification failed: {exc.verify_message or exc}",
            hostname_mismatch=mismatch,
        )
    else:
        error = HandshakeFailed(f"TLS handshake failed: {exc}")
    error.__cause__ = exc
    return error
