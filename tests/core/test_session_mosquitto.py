"""ClientSession against the real broker: the engine alone, pumped over a blocking socket.

`Pump` is the smallest adapter there is: it writes ``data_to_send()``, fires the timer and
reads the socket until a predicate over the events holds or a deadline passes.
"""

from __future__ import annotations

import itertools
import os
import select
import socket
import time
from collections.abc import Callable

import pytest
from support.broker import Mosquitto

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import (
    Connected,
    ConnectionClosed,
    Event,
    MessageReceived,
    PublishCompleted,
    Subscribed,
)
from emqtt_core.packets import Publish, Subscription, Will
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession
from emqtt_core.state import SessionState

TIMEOUT = 10.0
_ids = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


class Pump:
    """Drive one ClientSession over one TCP connection to 127.0.0.1."""

    def __init__(self, session: ClientSession, port: int) -> None:
        self.session = session
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.events: list[Event] = []

    def run(self, until: Callable[[list[Event]], bool]) -> list[Event]:
        """Pump until ``until(events)`` holds; return the events seen."""
        deadline = time.monotonic() + TIMEOUT
        session = self.session
        while True:
            data = session.data_to_send(time.monotonic())
            if data:
                self.sock.sendall(data)
            while (event := session.next_event()) is not None:
                self.events.append(event)
            if until(self.events):
                return self.events
            now = time.monotonic()
            assert now < deadline, f"timed out; events: {self.events}"
            timer = session.get_timer()
            wait = deadline - now if timer is None else max(0.0, min(timer, deadline) - now)
            readable, _, _ = select.select([self.sock], [], [], wait)
            if readable:
                chunk = self.sock.recv(65536)
                if chunk:
                    session.receive_data(chunk, time.monotonic())
                else:
                    session.receive_eof(time.monotonic())
            timer = session.get_timer()
            if timer is not None and time.monotonic() >= timer:
                session.handle_timer(time.monotonic())

    def close(self) -> None:
        self.sock.close()


def has(kind: type, count: int = 1) -> Callable[[list[Event]], bool]:
    return lambda events: sum(isinstance(e, kind) for e in events) >= count


def connect(session: ClientSession, port: int) -> Pump:
    pump = Pump(session, port)
    session.connect()
    pump.run(has(Connected))
    return pump


@pytest.mark.parametrize(
    "version",
    [ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5],
)
def test_round_trip_of_every_qos(mosquitto: Mosquitto, version: ProtocolVersion) -> None:
    topic = unique("engine/rt")
    session = ClientSession(ClientConfig(client_id=unique("rt")[:23], protocol_version=version))
    pump = connect(session, mosquitto.tcp_port)
    session.subscribe([Subscription(topic_filter=topic, qos=QoS.EXACTLY_ONCE)])
    pump.run(has(Subscribed))
    tickets = [session.publish(topic, f"m{q}".encode(), qos=q) for q in (0, 1, 2)]
    events = pump.run(lambda ev: has(MessageReceived, 3)(ev) and has(PublishCompleted, 3)(ev))
    received = sorted(e.message.payload for e in events if isinstance(e, MessageReceived))
    assert received == [b"m0", b"m1", b"m2"]
    done = {e.ticket: e for e in events if isinstance(e, PublishCompleted)}
    assert set(done) == set(tickets)
    assert all(e.reason_code < 0x80 for e in done.values())
    session.disconnect()
    pump.run(lambda ev: session.state is SessionState.DISCONNECTED)
    pump.close()


def test_topic_aliases_both_ways_with_mosquitto(mosquitto: Mosquitto) -> None:
    topic = unique("engine/alias/a-long-topic-name")
    session = ClientSession(ClientConfig(client_id=unique("alias"), topic_alias_maximum=5))
    pump = connect(session, mosquitto.tcp_port)
    [connected] = [e for e in pump.events if isinstance(e, Connected)]
    assert connected.connack.properties.topic_alias_maximum  # mosquitto allows aliases
    session.subscribe([Subscription(topic_filter=topic, qos=QoS.AT_LEAST_ONCE)])
    pump.run(has(Subscribed))
    session.record_sent_packets = True
    for i in range(3):
        session.publish(topic, str(i).encode(), qos=1)
    events = pump.run(has(MessageReceived, 3))
    assert [e.message.topic for e in events if isinstance(e, MessageReceived)] == [topic] * 3
    sent = [p for p, _ in session.take_sent_packets() if isinstance(p, Publish)]
    assert [p.topic for p in sent] == [topic, "", ""]
    pump.close()


def test_session_resumes_with_queued_messages(mosquitto: Mosquitto) -> None:
    topic = unique("engine/resume")
    client_id = unique("resume")
    config = ClientConfig(client_id=client_id, session_expiry_interval=60)
    session = ClientSession(config)
    pump = connect(session, mosquitto.tcp_port)
    session.subscribe([Subscription(topic_filter=topic, qos=QoS.AT_LEAST_ONCE)])
    pump.run(has(Subscribed))
    session.disconnect()
    pump.run(lambda ev: session.state is SessionState.DISCONNECTED)
    pump.close()

    other = ClientSession(ClientConfig(client_id=unique("other")))
    sender = connect(other, mosquitto.tcp_port)
    other.publish(topic, b"while away", qos=1)
    sender.run(has(PublishCompleted))
    sender.close()

    pump = Pump(session, mosquitto.tcp_port)
    session.connect()
    events = pump.run(has(MessageReceived))
    [connected] = [e for e in events if isinstance(e, Connected)]
    assert connected.session_present
    [message] = [e for e in events if isinstance(e, MessageReceived)]
    assert message.message.payload == b"while away"
    assert set(session.subscriptions) == {topic}
    session.disconnect()
    pump.run(lambda ev: session.state is SessionState.DISCONNECTED)
    pump.close()


def test_will_is_published_when_the_transport_just_ends(mosquitto: Mosquitto) -> None:
    topic = unique("engine/will")
    watcher = ClientSession(ClientConfig(client_id=unique("watch")))
    watch = connect(watcher, mosquitto.tcp_port)
    watcher.subscribe([Subscription(topic_filter=topic)])
    watch.run(has(Subscribed))

    dying = ClientSession(
        ClientConfig(client_id=unique("dying"), will=Will(topic=topic, payload=b"gone"))
    )
    pump = connect(dying, mosquitto.tcp_port)
    pump.close()  # no DISCONNECT
    dying.receive_eof(time.monotonic())
    events = watch.run(has(MessageReceived))
    [will] = [e for e in events if isinstance(e, MessageReceived)]
    assert will.message.payload == b"gone"
    watch.close()


def test_refused_connection_reports_the_reason(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    session = ClientSession(ClientConfig(client_id=unique("refused")))
    pump = Pump(session, broker.tcp_port)
    session.connect()
    events = pump.run(has(ConnectionClosed))
    [closed] = [e for e in events if isinstance(e, ConnectionClosed)]
    assert closed.by_server
    assert closed.reason_code is ReasonCode.NOT_AUTHORIZED
    pump.close()
