"""Fixtures of the emqtt telemetry event tests: a broker endpoint per transport, and handler
hygiene (every test ends with the handlers attached before it)."""

from __future__ import annotations

import pytest
from events_session import TRANSPORTS, BrokerEndpoint, make_endpoint
from support.telemetry_handlers import restore_handlers

__all__ = ["endpoint", "restore_handlers", "tcp_endpoint"]


@pytest.fixture(params=TRANSPORTS)
def endpoint(request: pytest.FixtureRequest, mosquitto: object) -> BrokerEndpoint:
    """The private broker, once per transport (tcp, ssl, ws, wss, quic)."""
    return make_endpoint(request, request.param)


@pytest.fixture
def tcp_endpoint(request: pytest.FixtureRequest, mosquitto: object) -> BrokerEndpoint:
    """The private broker over plain TCP."""
    return make_endpoint(request, "tcp")
