"""TLS settings shared by the adapters: one way to build the client `ssl.SSLContext`.

The ``ssl`` and ``wss`` transports run TLS in the adapter's socket (asyncio, trio and threading
all take an `ssl.SSLContext`); QUIC builds its own TLS 1.3 from the same options (see
`adapters.transports.quic.quic_configuration`). Verification of the certificate chain *and* of
the host name is on unless explicitly turned off.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from os import PathLike

__all__ = ["create_ssl_context"]

StrPath = str | PathLike[str]


def create_ssl_context(
    *,
    cafile: StrPath | None = None,
    capath: StrPath | None = None,
    cadata: str | bytes | None = None,
    certfile: StrPath | None = None,
    keyfile: StrPath | None = None,
    password: str | bytes | None = None,
    verify: bool = True,
    check_hostname: bool | None = None,
    alpn_protocols: Sequence[str] | None = None,
    minimum_version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
) -> ssl.SSLContext:
    """Build a client TLS context.

    Without ``cafile``/``capath``/``cadata`` the system's trusted CAs are used. The server
    name (SNI and the name checked) is what the adapter passes as ``server_hostname`` when it
    wraps the socket: the host connected to, unless the user gives another.

    Args:
        cafile: PEM file of the CAs to trust (instead of the system's).
        capath: Directory of hashed CA certificates to trust.
        cadata: PEM text (or DER bytes) of CAs to trust.
        certfile: Client certificate chain (PEM), for mutual TLS.
        keyfile: Its private key (default: in ``certfile``).
        password: Password of an encrypted private key.
        verify: Verify the server's certificate. False disables all checks (insecure: only
            for testing against self-signed servers).
        check_hostname: Check that the certificate names the server (default: ``verify``).
            Cannot be True when ``verify`` is False.
        alpn_protocols: ALPN protocol names to offer (for example ``["mqtt"]``).
        minimum_version: Lowest TLS version accepted (default: the ``ssl`` module's, TLS 1.2).
        ciphers: OpenSSL cipher list for TLS 1.2 and below.

    Raises:
        ValueError: ``check_hostname=True`` with ``verify=False``, or ``keyfile`` or
            ``password`` without ``certfile``.
        OSError: A file could not be read. ``ssl.SSLError``: a file is not valid PEM.
    """
    if check_hostname is None:
        check_hostname = verify
    if check_hostname and not verify:
        raise ValueError("check_hostname=True needs verify=True")
    if certfile is None and (keyfile is not None or password is not None):
        raise ValueError("keyfile and password need a certfile")
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=cafile, capath=capath, cadata=cadata
    )
    # The order matters: verify_mode cannot be CERT_NONE while check_hostname is on.
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile, password)
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    if minimum_version is not None:
        context.minimum_version = minimum_version
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context
