"""The emqtt telemetry events of the asyncio client (docs/telemetry.md), on every transport."""

from __future__ import annotations

import os
from typing import Any

import pytest
from asyncio_support import TRANSPORTS, endpoint, make_client, next_message, run, unique_topic
from support.telemetry_metadata import MODULES, SOCKET_TYPES

from adapters._driver import ConnectionDriver
from adapters._options import Endpoint
from adapters._telemetry import REDACTED_PASSWORD
from adapters.asyncio import TELEMETRY_EVENTS, Client
from adapters.transports.tcp import StreamTransport
from emqtt_core.packets import Connect, Publish
from telemetry.testing import CapturedEvent, capture

COMMON_KEYS = {"client_id", "socket_type", "connection_module", "protocol_version", "pid"}


@pytest.mark.broker
@pytest.mark.timeout(60)
@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_events_and_metadata(
    request: pytest.FixtureRequest, transport: str, version: int
) -> None:
    target = endpoint(request, transport)
    topic = unique_topic("telemetry")
    client_id = f"tm-{transport}-{version}"

    async def scenario() -> None:
        async with make_client(
            target,
            protocol_version=version,
            client_id=client_id,
            username="user",
            password="s3cret",
            telemetry=True,
        ) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=1)
            await client.publish(topic, b"payload", qos=1)
            await next_message(messages)

    with capture(TELEMETRY_EVENTS) as events:
        run(scenario())

    recv_name = (
        ("emqtt", "websocket", "recv_data")
        if transport in ("ws", "wss")
        else ("emqtt", "socket", "recv_data")
    )
    names = {event.event_name for event in events}
    assert names == {recv_name, ("emqtt", "socket", "send_data")}
    for event in events:
        metadata = event.metadata
        assert set(metadata) == COMMON_KEYS | {"data"}
        assert metadata["client_id"] == client_id
        assert metadata["socket_type"] == SOCKET_TYPES[transport]
        assert metadata["connection_module"] == MODULES[transport]
        assert metadata["protocol_version"] == version
        assert metadata["pid"] == os.getpid()
    received = [e for e in events if e.event_name == recv_name]
    assert all(isinstance(e.metadata["data"], bytes) for e in received)
    assert all(e.measurements["data_size"] == len(e.metadata["data"]) for e in received)
    # The CONNACK (4 bytes on 3.1.1) is in the first chunk received.
    assert received[0].metadata["data"][0] >> 4 == 2
    sent = [e.metadata["data"] for e in events if e.event_name[2] == "send_data"]
    connect = sent[0]
    assert isinstance(connect, Connect)
    assert connect.password == REDACTED_PASSWORD
    assert "s3cret" not in repr(_everything(events))
    assert any(isinstance(p, Publish) and p.payload == b"payload" for p in sent)
    assert all(e.measurements["data_size"] > 0 for e in events)


def _everything(events: list[CapturedEvent]) -> list[Any]:
    return [(e.measurements, dict(e.metadata)) for e in events]


@pytest.mark.broker
@pytest.mark.timeout(60)
def test_nothing_is_emitted_without_telemetry(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")

    async def scenario() -> None:
        async with make_client(target) as client:
            await client.publish("t/x", b"x", qos=1)

    with capture(TELEMETRY_EVENTS) as events:
        run(scenario())
    assert events == []


class _Hooks:
    def connection_made(self, event: Any) -> None:
        pass

    def connection_ended(self, event: Any, error: Any) -> None:
        self.ended = error

    def message_received(self, event: Any) -> None:
        pass

    def auth_received(self, event: Any) -> None:
        pass


def test_a_failed_send_emits_send_data_failed_with_the_reason() -> None:
    """The shared driver emits send_data_failed when the transport refuses the bytes, and the
    connection ends with the socket's error as the cause."""
    options = Client("127.0.0.1", telemetry=True, client_id="fails").options
    hooks = _Hooks()
    driver = ConnectionDriver(options, hooks)
    failure = BrokenPipeError("gone")

    def writer(data: bytes) -> None:
        raise failure

    driver.writer = writer
    waiter = _Waiter()
    with capture(TELEMETRY_EVENTS) as events:
        driver.start(StreamTransport(), Endpoint("127.0.0.1", 1883), 0.0, waiter)
        driver.flush(0.0)
    assert [e.event_name for e in events] == [("emqtt", "socket", "send_data_failed")]
    assert events[0].metadata["reason"] is failure
    assert events[0].measurements["data_size"] > 0
    assert set(events[0].metadata) == COMMON_KEYS | {"reason"}
    assert isinstance(waiter.error, Exception)
    assert waiter.error.__cause__ is failure


class _Waiter:
    error: BaseException | None = None

    def done(self) -> bool:
        return self.error is not None

    def set_result(self, result: Any) -> None:
        raise AssertionError("no CONNACK can arrive")

    def set_exception(self, error: BaseException) -> None:
        self.error = error
