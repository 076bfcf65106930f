"""Failures around the emqtt telemetry events, with the asyncio client and the real broker:
sends that fail, handlers that raise, and credentials that must not leak."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from events_session import (
    ALL_EVENTS,
    PASSWORD,
    PUBLISHES,
    SEND_DATA,
    SEND_DATA_FAILED,
    USERNAME,
    BrokerEndpoint,
    close_layer,
    make_endpoint,
    named,
    publish_after,
    run_session,
)

import telemetry
from adapters.asyncio import Client, ConnectionLost
from adapters.transports.errors import TransportClosed
from telemetry.reporters.console import attach_logger
from telemetry.testing import capture


@pytest.mark.parametrize(
    "transport", ["ws", "wss", pytest.param("quic", marks=pytest.mark.quic)]
)
def test_send_data_failed_when_the_transport_layer_closed_under_the_client(
    request: pytest.FixtureRequest, mosquitto: object, transport: str
) -> None:

    endpoint = make_endpoint(request, transport)
    events, size, error = asyncio.run(publish_after(endpoint, close_layer))

    assert isinstance(error, ConnectionLost)
    assert named(events, SEND_DATA) == []  # the publish was never reported as sent
    [failed] = named(events, SEND_DATA_FAILED)
    assert failed.measurements == {"data_size": size}
    reason = failed.metadata["reason"]
    assert isinstance(reason, TransportClosed)
    assert error.__cause__ is reason or reason in _causes(error)
    assert failed.metadata["socket_type"] == endpoint.socket_type


def _causes(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    cause = error.__cause__
    while cause is not None and len(found) < 10:
        found.append(cause)
        cause = cause.__cause__
    return found


def test_send_data_failed_when_the_socket_refuses_the_write(
    tcp_endpoint: BrokerEndpoint,
) -> None:
    # After write_eof() asyncio's TCP transport raises on write: a send that fails for real.
    def half_close(client: Client) -> None:
        transport = client._transport
        assert transport is not None
        transport.write_eof()  # type: ignore[attr-defined]

    events, size, error = asyncio.run(publish_after(tcp_endpoint, half_close))

    assert isinstance(error, ConnectionLost)
    assert named(events, SEND_DATA) == []
    [failed] = named(events, SEND_DATA_FAILED)
    assert failed.measurements == {"data_size": size}
    assert isinstance(failed.metadata["reason"], RuntimeError)
    assert failed.metadata["socket_type"] == "tcp"


def test_send_data_failed_when_the_socket_closed_under_the_client(
    endpoint: BrokerEndpoint,
) -> None:
    def close_socket(client: Client) -> None:
        transport = client._transport
        assert transport is not None
        transport.close()

    events, size, error = asyncio.run(publish_after(endpoint, close_socket, before=False))

    assert isinstance(error, ConnectionLost)
    assert named(events, SEND_DATA) == []
    [failed] = named(events, SEND_DATA_FAILED)
    assert failed.measurements == {"data_size": size}


def test_a_raising_handler_is_detached_and_the_client_keeps_working(
    endpoint: BrokerEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, ...]] = []

    def broken(event_name: tuple[str, ...], measurements: Any, metadata: Any, config: Any) -> None:
        calls.append(event_name)
        raise RuntimeError("bug in a telemetry handler")

    telemetry.attach("broken-handler", SEND_DATA, broken)
    caplog.set_level(logging.ERROR, logger="telemetry")
    with capture([telemetry.HANDLER_FAILURE_EVENT]) as failures, capture(ALL_EVENTS) as events:
        observed = asyncio.run(run_session(endpoint.client_options(telemetry=True)))

    # The session went through: the client never saw the exception.
    assert [p.payload for p in observed.messages] == [payload for _, payload in PUBLISHES]
    assert calls == [SEND_DATA]  # called once, then detached
    assert "broken-handler" not in {handler.id for handler in telemetry.list_handlers()}
    [failure] = failures
    assert failure.metadata["handler_id"] == "broken-handler"
    assert failure.metadata["event_name"] == SEND_DATA
    assert isinstance(failure.metadata["reason"], RuntimeError)
    # The other handler saw every event, the first CONNECT included.
    assert len(named(events, SEND_DATA)) > 1
    assert any("broken-handler" in record.getMessage() for record in caplog.records)


def _hex_fragments(secret: bytes, width: int = 6) -> list[str]:
    """The secret's windows of ``width`` bytes as hex dumps (how frame loggers show bytes)."""
    return [
        " ".join(f"{byte:02x}" for byte in secret[start : start + width])
        for start in range(len(secret) - width + 1)
    ]


def _leaks(text: str, secret: str) -> list[str]:
    found = [secret] if secret in text else []
    lowered = text.lower()
    for fragment in _hex_fragments(secret.encode()):
        if fragment in lowered or fragment.replace(" ", "") in lowered:
            found.append(fragment)
    return found


@pytest.mark.parametrize(
    "transport",
    [
        "tcp",
        "ssl",
        "ws",
        "wss",
        pytest.param("quic", marks=pytest.mark.quic),
    ],
)
def test_the_password_never_reaches_a_handler_or_a_log_line(
    request: pytest.FixtureRequest,
    mosquitto: object,
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:

    endpoint = make_endpoint(request, transport)
    password = f"{PASSWORD}-{uuid.uuid4().hex}"
    shown: list[str] = []

    def show(event_name: tuple[str, ...], measurements: Any, metadata: Any, config: Any) -> None:
        # What a careless debug handler would print or ship.
        shown.append(f"{event_name} {measurements} {metadata} {metadata!r}")
        shown.extend(str(value) for value in metadata.values())

    caplog.set_level(logging.DEBUG)  # every logger, the transports' libraries included
    telemetry.attach("show-everything", ("emqtt", "_", "_"), show)
    attach_logger("log-everything", list(ALL_EVENTS), level=logging.INFO, redact=())
    options = endpoint.client_options(telemetry=True, username=USERNAME, password=password)
    with capture([SEND_DATA]) as sent:
        asyncio.run(run_session(options))

    connect = sent[0].metadata["data"]
    assert connect.username == USERNAME and connect.password is not None
    assert password.encode() not in connect.password
    assert password not in repr(connect)
    assert shown
    for text in shown:
        assert _leaks(text, password) == [], text
    logged = [record.getMessage() for record in caplog.records]
    assert any("send_data" in line for line in logged)  # the events were logged, unredacted
    for line in logged:
        assert _leaks(line, password) == [], line
