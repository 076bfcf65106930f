"""Each expected failure's exit status and one-line message (pure: the exceptions are built here;
the same paths run for real against the broker in test_cli_broker.py)."""

from __future__ import annotations

import socket
import ssl

import pytest

from adapters._cli_args import UsageError
from adapters._cli_errors import ExitCode, RejectedError, WaitTimeout, describe, reason_name
from adapters.errors import (
    AckTimeout,
    ConnackRefused,
    ConnectionFailed,
    ConnectionLost,
    ConnectionRefused,
    ConnectTimeout,
    InvalidOptions,
    TLSHostnameMismatch,
    TLSVerificationFailed,
)
from emqtt_core.exceptions import UsageError as CoreUsageError


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (UsageError("bad"), ExitCode.USAGE, "bad"),
        (InvalidOptions("bad option"), ExitCode.USAGE, "bad option"),
        (CoreUsageError("topic too long"), ExitCode.USAGE, "topic too long"),
        (ConnectionRefused("x", host="h", port=1), ExitCode.UNREACHABLE,
         "connection refused by h:1 (is a broker listening there?)"),
        (_caused(ConnectionFailed("x", host="::1", port=2), socket.gaierror(-2, "Name unknown")),
         ExitCode.UNREACHABLE, "cannot connect to [::1]:2: cannot resolve the host name "
         "(Name unknown)"),
        (ConnackRefused("x", reason_code=0x86, host="h", port=1), ExitCode.REFUSED,
         "connection refused by the broker at h:1: bad user name or password (0x86)"),
        (ConnackRefused("x", reason_code=0x9C, server_reference="other:1883"), ExitCode.REFUSED,
         "connection refused by the broker: use another server (0x9C); it suggests other:1883"),
        (TLSHostnameMismatch("x", host="h", port=8883), ExitCode.TLS,
         "TLS: the certificate of h:8883 is not valid for that host name "
         "(use --sni NAME or --insecure)"),
        (_caused(ConnectionFailed("x", host="h", port=1), ssl.SSLError(1, "alert")),
         ExitCode.TLS, "TLS handshake with h:1 failed: alert"),
        (ConnectTimeout("x", host="h", port=1), ExitCode.TIMEOUT, "timed out connecting to h:1"),
        (AckTimeout("x", operation="subscribe"), ExitCode.TIMEOUT,
         "timed out waiting for the broker to acknowledge subscribe"),
        (WaitTimeout("timed out after 1 s"), ExitCode.TIMEOUT, "timed out after 1 s"),
        (ConnectionLost("x", reason_code=0x8B, by_server=True), ExitCode.LOST,
         "connection lost: the broker disconnected with server shutting down (0x8B)"),
        (ConnectionLost("x", by_server=True), ExitCode.LOST,
         "connection lost: the broker closed the connection"),
        (RejectedError("refused"), ExitCode.REJECTED, "refused"),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "interrupted"),
        (RuntimeError("boom"), ExitCode.ERROR, "RuntimeError: boom"),
    ],
)
def test_describe(exc: BaseException, code: ExitCode, message: str) -> None:
    assert describe(exc) == (code, message)


def test_untrusted_certificate_names_the_fix() -> None:
    code, message = describe(TLSVerificationFailed("unable to get local issuer", host="h",
                                                   port=8883))
    assert code is ExitCode.TLS
    assert message.startswith("TLS: cannot verify the certificate of h:8883")
    assert message.endswith("(use --cafile to trust its CA, or --insecure/--no-verify)")


def test_reset_while_connecting_over_tls_is_a_tls_failure() -> None:
    exc = _caused(ConnectionFailed("x", host="h", port=8883), ConnectionResetError(104, "reset"))
    assert describe(exc)[0] is ExitCode.UNREACHABLE
    code, message = describe(exc, secure=True)
    assert code is ExitCode.TLS and "client certificate" in message


@pytest.mark.parametrize(
    ("code", "name"),
    [(0x87, "not authorized (0x87)"), (5, "not authorized (0x05)"),
     (2, "client identifier not valid (0x02)"), (0xFE, "reason code 0xFE")],
)
def test_reason_names(code: int, name: str) -> None:
    # Below 0x80 a CONNACK failure is an MQTT 3.x return code, named after its MQTT 5 twin.
    assert reason_name(code) == name
