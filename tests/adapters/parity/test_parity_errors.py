"""Parity of the documented errors (adapters.errors): every adapter raises the same error for
the same cause, over every transport where the cause exists."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from parity_facade import ADAPTERS, TIMEOUT, Adapter, Target, target_for, unique
from support.broker import Mosquitto, MosquittoFactory
from support.net import LOOPBACK, free_tcp_port

from adapters._reconnect import ReconnectPolicy
from adapters.errors import (
    AckTimeout,
    ClientClosed,
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
from emqtt_core.exceptions import UsageError
from emqtt_core.reason_codes import ReasonCode

#: Seconds an attempt may take in the scenarios that wait for a timeout.
SHORT = 0.5


def test_invalid_options_are_refused_before_anything_is_sent(adapter: Adapter) -> None:
    cls = adapter.module.Client
    with pytest.raises(InvalidOptions):
        cls("localhost", transport="smtp")
    with pytest.raises(InvalidOptions):
        cls.from_url("http://localhost")
    with pytest.raises(InvalidOptions):
        cls("localhost", protocol_version=6)
    with pytest.raises(InvalidOptions):
        cls("localhost", ack_timeout=0)


def test_misuse_and_loss_after_connecting(adapter: Adapter, target: Target, version: int) -> None:
    client = adapter.client(target, protocol_version=version)
    try:
        # Bad arguments raise at once and leave the connection usable.
        with pytest.raises(UsageError):
            client.publish("parity/#", b"x", qos=1)  # no wildcard in a topic name [MQTT-3.3.2-2]
        with pytest.raises((UsageError, InvalidOptions)):
            client.subscribe("parity/#/x", qos=1)  # '#' must be last [MQTT-4.7.1-1]
        with pytest.raises((UsageError, InvalidOptions)):
            client.publish("parity/x", b"x", qos=3)
        client.ping()
        # Without a reconnect policy, losing the connection finishes the client.
        client.drop_connection()
        with pytest.raises(ConnectionLost):
            client.next_message(TIMEOUT)
        assert client.status == "closed"
        with pytest.raises(ClientClosed) as raised:
            client.publish(unique(), b"x", qos=1)
        assert isinstance(raised.value.__cause__, ConnectionLost)
    finally:
        client.disconnect()


@pytest.fixture(params=("tcp", "ssl", "ws", "wss", "quic"))
def transport(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_nothing_listening(adapter: Adapter, transport: str, mosquitto: Mosquitto) -> None:
    port = free_tcp_port()
    context = mosquitto.client_ssl_context() if transport in ("ssl", "wss", "quic") else None
    client = adapter.new(
        Target(transport, LOOPBACK, port, context), connect_timeout=SHORT
    )
    # TCP answers with a reset; UDP has no connection to refuse: the QUIC handshake times out.
    expected = ConnectTimeout if transport == "quic" else ConnectionRefused
    with pytest.raises(expected) as raised:
        client.connect()
    assert (raised.value.host, raised.value.port) == (LOOPBACK, port)
    assert client.status == "closed"


def test_server_never_answers(
    adapter: Adapter, transport: str, silent_server: tuple[int, int], mosquitto: Mosquitto
) -> None:
    tcp_port, udp_port = silent_server
    port = udp_port if transport == "quic" else tcp_port
    context = mosquitto.client_ssl_context() if transport in ("ssl", "wss", "quic") else None
    client = adapter.new(Target(transport, LOOPBACK, port, context), connect_timeout=SHORT)
    with pytest.raises(ConnectTimeout):
        client.connect()
    assert client.status == "closed"


@pytest.fixture(params=("ssl", "wss", "quic"))
def tls_target(request: pytest.FixtureRequest, mosquitto: Mosquitto) -> Target:
    return target_for(request, mosquitto, request.param)


def test_untrusted_certificate(adapter: Adapter, tls_target: Target) -> None:
    # The default context trusts the system's CAs, not the test CA.
    client = adapter.new(Target(tls_target.transport, tls_target.host, tls_target.port, None))
    with pytest.raises(TLSVerificationFailed) as raised:
        client.connect()
    assert not isinstance(raised.value, TLSHostnameMismatch)
    assert raised.value.__cause__ is not None


def test_certificate_for_another_host(adapter: Adapter, tls_target: Target) -> None:
    client = adapter.new(tls_target, server_hostname="other.example")
    with pytest.raises(TLSHostnameMismatch):
        client.connect()


def test_connack_refused(
    request: pytest.FixtureRequest,
    adapter: Adapter,
    transport: str,
    version: int,
    strict_broker: Mosquitto,
) -> None:
    target = target_for(request, strict_broker, transport, "strict_relay")
    client = adapter.new(target, protocol_version=version)
    with pytest.raises(ConnackRefused) as raised:
        client.connect()
    # Not authorized (mosquitto without credentials): 0x87 on 5; the 3.1.1 return code 0x05
    # is reported as the same reason code.
    assert raised.value.reason_code == ReasonCode.NOT_AUTHORIZED
    assert isinstance(raised.value, ConnectError)
    assert client.status == "closed"


@pytest.fixture
def paused_broker(mosquitto_factory: MosquittoFactory) -> Iterator[Mosquitto]:
    broker = mosquitto_factory()
    yield broker
    if broker.pid is not None:
        os.kill(broker.pid, signal.SIGCONT)


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
def test_ack_timeout_when_the_server_stops_answering(
    adapter: Adapter, paused_broker: Mosquitto
) -> None:
    # One transport is enough: the timeout is the shared results table's, and a private broker
    # is needed to stop it (SIGSTOP) without disturbing the other tests.
    target = Target("tcp", paused_broker.host, paused_broker.tcp_port, None)
    with adapter.client(target, ack_timeout=SHORT, keep_alive=0) as client:
        pid = paused_broker.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(AckTimeout) as raised:
                client.publish(unique(), b"x", qos=1)
            assert raised.value.operation == "publish"
            with pytest.raises(AckTimeout) as raised:
                client.ping()
            assert raised.value.operation == "ping"
        finally:
            os.kill(pid, signal.SIGCONT)
        # The connection is still good once the server answers again.
        client.ping()


@pytest.mark.parametrize("transport", ["ssl", "ws", "wss"], indirect=True)
def test_wrong_protocol_on_the_port(
    adapter: Adapter, transport: str, mosquitto: Mosquitto
) -> None:
    # TLS or a WebSocket upgrade sent to the plain MQTT port: the broker reads garbage and
    # closes the connection before any handshake completes.
    context = mosquitto.client_ssl_context() if transport in ("ssl", "wss") else None
    target = Target(transport, mosquitto.host, mosquitto.tcp_port, context)
    client = adapter.new(target, connect_timeout=TIMEOUT)
    with pytest.raises(ConnectionFailed) as raised:
        client.connect()
    assert not isinstance(raised.value, ConnectionRefused)
    assert raised.value.__cause__ is not None
    assert client.status == "closed"


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
def test_publishes_in_flight_fail_when_the_server_lost_the_session(
    adapter: Adapter, paused_broker: Mosquitto
) -> None:
    # One transport, a private broker: it is frozen (SIGSTOP) so that publishes stay in
    # flight, then killed (SIGKILL: its sessions, never saved, are lost) and started again.
    broker = paused_broker
    target = Target("tcp", broker.host, broker.tcp_port, None)
    policy = ReconnectPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0, max_attempts=200)
    with adapter.client(
        target,
        client_id=unique("lost").replace("/", "-"),
        session_expiry_interval=3600,
        session_lost_policy="fail",
        reconnect=policy,
        keep_alive=0,
    ) as client:
        pid = broker.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        topic = unique()
        pending = client.start_publishes(topic, [b"a", b"b", b"c"], qos=1)
        broker.stop(kill=True)
        broker.start()
        client.ping()  # waits for the reconnection
        assert client.connack.session_present is False
        outcomes = client.wait_all(pending)
        assert all(isinstance(outcome, PublishFailed) for outcome in outcomes), outcomes
