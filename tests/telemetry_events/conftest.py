"""Fixtures of the emqtt telemetry event tests: a broker endpoint per transport, and handler
hygiene (every test ends with the handlers attached before it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from events_session import TRANSPORTS, BrokerEndpoint, make_endpoint

import telemetry


@pytest.fixture(params=TRANSPORTS)
def endpoint(request: pytest.FixtureRequest, mosquitto: object) -> BrokerEndpoint:
    """The private broker, once per transport (tcp, ssl, ws, wss, quic)."""
    return make_endpoint(request, request.param)


@pytest.fixture
def tcp_endpoint(request: pytest.FixtureRequest, mosquitto: object) -> BrokerEndpoint:
    """The private broker over plain TCP."""
    return make_endpoint(request, "tcp")


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    before = {handler.id for handler in telemetry.list_handlers()}
    yield
    for handler_id in {handler.id for handler in telemetry.list_handlers()} - before:
        telemetry.detach(handler_id)
