"""Exit statuses of ``emqtt`` and the one-line message for each expected failure.

An expected failure (the broker is down, refuses us, the certificate is wrong, a timeout) is
reported as ``emqtt: <what happened>`` on stderr with a distinct exit status and no traceback;
``-d`` adds the traceback for those who want it. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum
import socket
import ssl

from adapters._cli_args import UsageError
from adapters.errors import (
    AckTimeout,
    ClientClosed,
    ClientError,
    ConnackRefused,
    ConnectError,
    ConnectionFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    InvalidOptions,
    PublishFailed,
    TLSHostnameMismatch,
    TLSVerificationFailed,
)
from emqtt_core.exceptions import UsageError as CoreUsageError
from emqtt_core.reason_codes import ReasonCode, from_connack_return_code

__all__ = ["ExitCode", "RejectedError", "WaitTimeout", "describe", "reason_name", "ssl_reason"]


class ExitCode(enum.IntEnum):
    """The exit statuses of ``emqtt`` (the table in ``docs/cli.md``)."""

    OK = 0
    """The command did what was asked."""
    ERROR = 1
    """An unexpected error (a bug: the traceback is printed)."""
    USAGE = 2
    """Bad arguments, or a file named on the command line cannot be read."""
    UNREACHABLE = 3
    """The network connection could not be opened (refused, unknown host, unreachable)."""
    REFUSED = 4
    """The broker answered CONNACK with a failure: bad credentials, not authorized..."""
    TLS = 5
    """The TLS handshake failed: untrusted certificate, wrong host name, bad client key."""
    TIMEOUT = 6
    """Connecting, an acknowledgement, or ``sub -W`` took longer than allowed."""
    LOST = 7
    """The connection ended while the command still needed it."""
    REJECTED = 8
    """The broker rejected a publish or a subscription (a reason code of 0x80 or more)."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT); the client disconnected cleanly first."""
    BROKEN_PIPE = 141
    """The reader of standard output went away (128 + SIGPIPE, as shells report it)."""
    TERMINATED = 143
    """Terminated by SIGTERM (128 + 15); the client disconnected cleanly first."""


class RejectedError(Exception):
    """The broker accepted the connection but refused an operation (a failure reason code)."""


class WaitTimeout(Exception):
    """``sub -W``: the time limit passed before the command was done."""


_TLS_HINT = "(use --cafile to trust its CA, or --insecure/--no-verify)"


def reason_name(code: int) -> str:
    """The spec's name of a reason code, with its number; a CONNACK failure below 0x80 can only
    be an MQTT 3.1/3.1.1 return code (1..5), named after its MQTT 5 equivalent."""
    known: ReasonCode | None
    if 0 < code < 0x80:
        known = from_connack_return_code(code)
    else:
        try:
            known = ReasonCode(code)
        except ValueError:
            known = None
    if known is None:
        return f"reason code 0x{code:02X}"
    return f"{known.name.lower().replace('_', ' ')} (0x{code:02X})"


def ssl_reason(exc: ssl.SSLError) -> str:
    """OpenSSL's short reason (``CERTIFICATE_VERIFY_FAILED``...), or the whole message."""
    return str(getattr(exc, "reason", None) or exc)


def _where(exc: ConnectError) -> str:
    if exc.host is None:
        return ""
    host = f"[{exc.host}]" if ":" in exc.host else exc.host
    return f"{host}:{exc.port}" if exc.port is not None else host


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def _os_error_text(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {ssl_reason(exc)}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[1:2].islower() else exc.strerror
    return str(exc) or type(exc).__name__


def describe(exc: BaseException, *, secure: bool = False) -> tuple[ExitCode, str]:
    """The exit status and the one-line message for an exception that ended a command.

    Args:
        exc: What ended the command.
        secure: The transport runs TLS. A broker that rejects the client's certificate (or
            its absence) does so after the client finished its side of a TLS 1.3 handshake,
            so the client sees the connection reset while connecting, not a TLS alert; on a
            TLS transport that is reported as the TLS failure it almost always is.
    """
    if isinstance(exc, UsageError):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, (InvalidOptions, CoreUsageError)):
        return ExitCode.USAGE, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, "interrupted"
    if isinstance(exc, WaitTimeout):
        return ExitCode.TIMEOUT, str(exc)
    if isinstance(exc, RejectedError):
        return ExitCode.REJECTED, str(exc)
    if isinstance(exc, ConnackRefused):
        where = _where(exc)
        text = f"connection refused by the broker{' at ' + where if where else ''}: "
        text += reason_name(exc.reason_code)
        if exc.server_reference:
            text += f"; it suggests {exc.server_reference}"
        return ExitCode.REFUSED, text
    if isinstance(exc, TLSHostnameMismatch):
        return ExitCode.TLS, (
            f"TLS: the certificate of {_where(exc) or 'the broker'} is not valid for that host "
            "name (use --sni NAME or --insecure)"
        )
    if isinstance(exc, TLSVerificationFailed):
        cause = _root_cause(exc)
        detail = getattr(cause, "verify_message", None) or str(exc)
        return ExitCode.TLS, (
            f"TLS: cannot verify the certificate of {_where(exc) or 'the broker'}: {detail} "
            f"{_TLS_HINT}"
        )
    if isinstance(exc, ConnectTimeout):
        return ExitCode.TIMEOUT, f"timed out connecting to {_where(exc) or 'the broker'}"
    if isinstance(exc, ConnectionRefused):
        return ExitCode.UNREACHABLE, (
            f"connection refused by {_where(exc) or 'the server'} (is a broker listening there?)"
        )
    if isinstance(exc, ConnectionFailed):
        cause = _root_cause(exc)
        if isinstance(cause, ssl.SSLError):
            return ExitCode.TLS, (
                f"TLS handshake with {_where(exc) or 'the broker'} failed: {ssl_reason(cause)}"
            )
        where = _where(exc)
        if secure and isinstance(cause, (ConnectionResetError, BrokenPipeError)):
            return ExitCode.TLS, (
                f"TLS: {where or 'the broker'} closed the connection during the handshake "
                "(does it require a client certificate? see --cert and --key)"
            )
        text = _os_error_text(cause) if cause is not exc else str(exc)
        return ExitCode.UNREACHABLE, f"cannot connect to {where or 'the broker'}: {text}"
    if isinstance(exc, ConnectError):
        return ExitCode.UNREACHABLE, str(exc)
    if isinstance(exc, AckTimeout):
        return ExitCode.TIMEOUT, f"timed out waiting for the broker to acknowledge {exc.operation}"
    if isinstance(exc, ConnectionLost):
        text = "connection lost"
        if exc.reason_code is not None:
            text += f": the broker disconnected with {reason_name(exc.reason_code)}"
        elif exc.by_server:
            text += ": the broker closed the connection"
        elif str(exc):
            text += f": {exc}"
        return ExitCode.LOST, text
    if isinstance(exc, PublishFailed):
        return ExitCode.REJECTED, f"publish failed: {exc}"
    if isinstance(exc, ClientClosed):
        return ExitCode.LOST, f"connection closed: {exc}"
    if isinstance(exc, ClientError):
        return ExitCode.ERROR, str(exc)
    if isinstance(exc, ssl.SSLError):
        return ExitCode.TLS, f"TLS error: {ssl_reason(exc)}"
    if isinstance(exc, TimeoutError):
        return ExitCode.TIMEOUT, str(exc) or "timed out"
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return ExitCode.UNREACHABLE, f"cannot connect: {_os_error_text(exc)}"
    if isinstance(exc, (ConnectionError, EOFError)):
        return ExitCode.LOST, f"connection lost: {_os_error_text(exc)}"
    return ExitCode.ERROR, f"{type(exc).__name__}: {exc}"
