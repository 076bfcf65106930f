"""Stateful property test of ClientSession against a model broker.

Hypothesis interleaves publishes of every QoS, acknowledgements in any order
(successful or failing), server publishes and duplicates, subscribe and
unsubscribe requests and their answers, reconnections with and without
session present, clean and abrupt disconnections, and timer firings; once with
automatic and once with manual acknowledgement.  After every step it checks
that:

* everything the client sends decodes, and no packet identifier is reused
  while its message or request is in flight [MQTT-2.2.1-3];
* no more QoS 1/2 messages are unacknowledged on a connection than the
  server's Receive Maximum [MQTT-3.3.4-7];
* the session's subscriptions are the ones the server granted and kept;
* every publish ends exactly once (completed, failed or cancelled), and the
  ones that have not ended are in flight, queued or still in the output;
* a QoS 2 message from the server is delivered exactly once, and a QoS 1
  message at least once before the client acknowledges it;
* the server never has to see a protocol error from the client.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from emqtt_core.codec import Decoder, encode
from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import (
    ConnectionClosed,
    MessageReceived,
    PublishCompleted,
    PublishFailed,
    Subscribed,
    Unsubscribed,
)
from emqtt_core.exceptions import ProtocolError, QueueFullError
from emqtt_core.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
)
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession
from emqtt_core.state import SessionState

S = SessionState
FAILURES = (ReasonCode.UNSPECIFIED_ERROR, ReasonCode.QUOTA_EXCEEDED)


@dataclass
class ServerOut:
    """A QoS 1/2 message the broker sent to the client."""

    message: int
    qos: QoS
    stage: str = "sent"  # sent -> (QoS 2) rec -> released


@dataclass
class Model:
    """What the broker and the application have seen."""

    accepted: dict[int, QoS] = field(default_factory=dict)  # ticket -> qos
    finished: set[int] = field(default_factory=set)
    client_in: dict[int, tuple[QoS, str]] = field(default_factory=dict)  # id -> (qos, stage)
    server_out: dict[int, ServerOut] = field(default_factory=dict)
    delivered: Counter[int] = field(default_factory=Counter)
    qos_of_message: dict[int, QoS] = field(default_factory=dict)
    next_message: int = 0


class SessionMachine(RuleBasedStateMachine):
    AUTO_ACK = True

    def __init__(self) -> None:
        super().__init__()
        self.version = ProtocolVersion.MQTT_5
        self.session = ClientSession(
            ClientConfig(
                client_id="prop",
                session_expiry_interval=600,
                keep_alive=10,
                max_queued=15,
                connect_timeout=5,
                auto_ack=self.AUTO_ACK,
            )
        )
        self.now = 0.0
        self.model = Model()
        self.decoder: Decoder | None = None  # the broker's end of the connection
        self.connect_packet: Connect | None = None
        self.server_has_session = False
        self.broker_open = False  # CONNACK sent and the connection not ended
        self.pings = 0
        self.quota: set[int] = set()  # client ids unacknowledged on this connection
        self.requests: dict[int, Subscribe | Unsubscribe] = {}  # unanswered on this connection
        self.app_requests: set[int] = set()  # ids of the application's own requests
        self.registry: set[str] = set()  # what session.subscriptions must hold
        self.to_ack: list[int] = []  # server packet ids the application must acknowledge
        self.receive_maximum = 65535

    # -- plumbing

    def live(self) -> bool:
        """Both ends consider the connection open."""
        return self.broker_open and self.session.state is S.CONNECTED

    def send(self, *packets: Packet) -> None:
        data = b"".join(encode(p, self.version) for p in packets)
        self.session.receive_data(data, self.now)
        self.drain()

    def flush(self) -> None:
        data = self.session.data_to_send(self.now)
        self.drain()
        if not data:
            return
        assert self.decoder is not None, "bytes with no connection"
        self.decoder.feed(data)
        replies: list[Packet] = []
        while (packet := self.decoder.next_packet()) is not None:
            replies.extend(self.on_client_packet(packet))
        if replies and self.broker_open:
            self.send(*replies)

    def on_client_packet(self, packet: Packet) -> list[Packet]:
        model = self.model
        if isinstance(packet, Connect):
            self.connect_packet = packet
        elif isinstance(packet, Publish):
            if packet.qos:
                pid = packet.packet_id
                assert pid is not None
                known = model.client_in.get(pid)
                if packet.dup:
                    assert known is None or known[0] == packet.qos
                else:
                    # [MQTT-2.2.1-3] a new message never takes an id in flight.
                    assert known is None, f"packet id {pid} reused while in flight"
                    assert pid not in self.requests, f"packet id {pid} taken by a request"
                if known is None:
                    model.client_in[pid] = (packet.qos, "new")
                # [MQTT-3.3.4-7] never more unacknowledged than Receive Maximum.
                self.quota.add(pid)
                assert len(self.quota) <= self.receive_maximum
        elif isinstance(packet, PubRel):
            known = model.client_in.pop(packet.packet_id, None)
            if known is None:
                return [
                    PubComp(
                        packet_id=packet.packet_id,
                        reason_code=ReasonCode.PACKET_IDENTIFIER_NOT_FOUND,
                    )
                ]
            assert known == (QoS.EXACTLY_ONCE, "rec"), known
            self.quota.discard(packet.packet_id)
            return [PubComp(packet_id=packet.packet_id)]
        elif isinstance(packet, PubAck):
            # A resent QoS 1 message is acknowledged again: the first ack ends it.
            done = model.server_out.pop(packet.packet_id, None)
            if done is not None:
                assert done.qos is QoS.AT_LEAST_ONCE and done.stage == "sent"
                assert model.delivered[done.message] >= 1
        elif isinstance(packet, PubRec):
            out = model.server_out[packet.packet_id]
            assert out.qos is QoS.EXACTLY_ONCE
            assert model.delivered[out.message] == 1
            if out.stage == "sent":
                out.stage = "rec"
        elif isinstance(packet, PubComp):
            out = model.server_out.pop(packet.packet_id)
            assert out.stage == "released"
            assert model.delivered[out.message] == 1
        elif isinstance(packet, (Subscribe, Unsubscribe)):
            pid = packet.packet_id
            known_request = self.requests.get(pid)
            # A request reuses no identifier in flight [MQTT-2.2.1-3] (a resend
            # on a new connection repeats its own).
            assert known_request is None or known_request == packet
            assert pid not in model.client_in
            self.requests[pid] = packet
        elif isinstance(packet, PingReq):
            self.pings += 1
        elif isinstance(packet, Disconnect):
            self.broker_open = False
        else:  # pragma: no cover - the client sends nothing else here
            raise AssertionError(packet)
        return []

    def drain(self) -> None:
        model = self.model
        while (event := self.session.next_event()) is not None:
            if isinstance(event, (PublishCompleted, PublishFailed)):
                assert event.ticket in model.accepted
                assert event.ticket not in model.finished, "a publish ended twice"
                model.finished.add(event.ticket)
            elif isinstance(event, MessageReceived):
                if event.needs_ack:
                    assert event.packet_id is not None
                    self.to_ack.append(event.packet_id)
                message = int(event.message.payload)
                model.delivered[message] += 1
                if model.qos_of_message[message] is QoS.EXACTLY_ONCE:
                    assert model.delivered[message] == 1, "QoS 2 delivered twice"
            elif isinstance(event, ConnectionClosed):
                assert not isinstance(event.error, ProtocolError), event.error
            elif isinstance(event, (Subscribed, Unsubscribed)):
                self.app_requests.discard(event.packet_id)

    # -- connection

    @precondition(lambda self: self.session.state in (S.DISCONNECTED, S.DISCONNECTING))
    @rule()
    def connect(self) -> None:
        self.session.connect()
        self.broker_open = False
        self.quota = set()
        self.requests = {}
        self.decoder = Decoder(self.version)
        self.connect_packet = None
        self.pings = 0
        self.flush()
        assert self.connect_packet is not None

    @precondition(lambda self: self.session.state is S.CONNECTING and self.connect_packet)
    @rule(present=st.booleans(), receive_maximum=st.sampled_from([None, 1, 2, 5]))
    def connack(self, present: bool, receive_maximum: int | None) -> None:
        assert self.connect_packet is not None
        present = present and self.server_has_session and not self.connect_packet.clean_start
        if not present:
            self.model.client_in.clear()
            self.model.server_out.clear()
            self.to_ack.clear()  # the session they belonged to is gone
        self.server_has_session = True
        self.broker_open = True
        self.receive_maximum = receive_maximum or 65535
        props = (
            NO_PROPERTIES
            if receive_maximum is None
            else Properties(receive_maximum=receive_maximum)
        )
        self.send(ConnAck(session_present=present, properties=props))
        assert self.session.state is S.CONNECTED
        if present:
            # The broker resends what the client has not acknowledged.
            resend: list[Packet] = []
            for pid, out in self.model.server_out.items():
                if out.stage == "sent":
                    resend.append(
                        Publish(
                            topic="in",
                            payload=str(out.message).encode(),
                            qos=out.qos,
                            dup=True,
                            packet_id=pid,
                        )
                    )
                else:
                    out.stage = "released"
                    resend.append(PubRel(packet_id=pid))
            if resend:
                self.send(*resend)
        self.flush()

    @precondition(lambda self: self.session.state in (S.CONNECTING, S.CONNECTED))
    @rule()
    def drop(self) -> None:
        self.broker_open = False
        self.session.receive_eof(self.now)
        self.drain()
        assert self.session.state is S.DISCONNECTED
        assert self.session.data_to_send(self.now) == b""

    @precondition(lambda self: self.session.state is S.CONNECTED)
    @rule()
    def disconnect(self) -> None:
        self.session.disconnect()
        self.drain()
        self.flush()
        assert self.session.state is S.DISCONNECTED

    @rule(seconds=st.sampled_from([0.5, 3.0, 11.0]))
    def tick(self, seconds: float) -> None:
        end = self.now + seconds
        while (timer := self.session.get_timer()) is not None and timer <= end:
            self.now = max(self.now, timer)
            self.session.handle_timer(self.now)
            self.drain()
            self.flush()
        self.now = end

    @precondition(lambda self: self.live() and self.pings > 0)
    @rule()
    def pingresp(self) -> None:
        self.pings -= 1
        self.send(PingResp())

    # -- client publishes

    @rule(qos=st.sampled_from(list(QoS)), retain=st.booleans())
    def publish(self, qos: QoS, retain: bool) -> None:
        try:
            ticket = self.session.publish("out", b"x", qos=qos, retain=retain)
        except QueueFullError:
            return
        self.model.accepted[ticket] = qos

    @rule()
    def write(self) -> None:
        self.flush()

    @rule(pick=st.integers(min_value=0))
    def cancel(self, pick: int) -> None:
        open_tickets = sorted(set(self.model.accepted) - self.model.finished)
        if open_tickets and self.session.cancel(open_tickets[pick % len(open_tickets)]):
            self.model.finished.add(open_tickets[pick % len(open_tickets)])

    @precondition(lambda self: self.live())
    @rule(pick=st.integers(min_value=0), fail=st.booleans())
    def broker_acks(self, pick: int, fail: bool) -> None:
        # A broker acknowledges a PUBLISH it received on this connection.
        waiting = sorted(
            pid
            for pid, (_, stage) in self.model.client_in.items()
            if stage == "new" and pid in self.quota
        )
        if not waiting:
            return
        pid = waiting[pick % len(waiting)]
        qos, _ = self.model.client_in[pid]
        code = FAILURES[pick % 2] if fail else ReasonCode.SUCCESS
        if qos is QoS.AT_LEAST_ONCE:
            del self.model.client_in[pid]
            self.quota.discard(pid)
            self.send(PubAck(packet_id=pid, reason_code=code))
        elif fail:
            del self.model.client_in[pid]
            self.quota.discard(pid)
            self.send(PubRec(packet_id=pid, reason_code=code))
        else:
            self.model.client_in[pid] = (qos, "rec")
            self.send(PubRec(packet_id=pid))
        self.flush()

    # -- server publishes

    @precondition(lambda self: self.live())
    @rule(qos=st.sampled_from(list(QoS)))
    def server_publishes(self, qos: QoS) -> None:
        model = self.model
        message = model.next_message
        model.next_message += 1
        model.qos_of_message[message] = qos
        pid = None
        if qos:
            pid = next(i for i in range(1, 70000) if i not in model.server_out)
            model.server_out[pid] = ServerOut(message, qos)
        self.send(Publish(topic="in", payload=str(message).encode(), qos=qos, packet_id=pid))

    @precondition(lambda self: self.live())
    @rule(pick=st.integers(min_value=0))
    def server_resends(self, pick: int) -> None:
        sent = [pid for pid, out in self.model.server_out.items() if out.stage == "sent"]
        if sent:
            pid = sent[pick % len(sent)]
            out = self.model.server_out[pid]
            self.send(
                Publish(
                    topic="in",
                    payload=str(out.message).encode(),
                    qos=out.qos,
                    dup=True,
                    packet_id=pid,
                )
            )

    @precondition(lambda self: self.live())
    @rule(pick=st.integers(min_value=0))
    def server_releases(self, pick: int) -> None:
        received = [pid for pid, out in self.model.server_out.items() if out.stage == "rec"]
        if received:
            pid = received[pick % len(received)]
            self.model.server_out[pid].stage = "released"
            self.send(PubRel(packet_id=pid))

    @rule()
    def write_replies(self) -> None:
        self.flush()

    @precondition(lambda self: self.live() and self.to_ack)
    @rule(pick=st.integers(min_value=0))
    def application_acks(self, pick: int) -> None:
        packet_id = self.to_ack.pop(pick % len(self.to_ack))
        self.session.ack(packet_id)
        self.flush()

    # -- subscriptions

    @precondition(lambda self: self.session.state is S.CONNECTED)
    @rule(topic_filter=st.sampled_from(["a", "b/+", "c/#"]), unsubscribe=st.booleans())
    def request(self, topic_filter: str, unsubscribe: bool) -> None:
        if unsubscribe:
            pid = self.session.unsubscribe([topic_filter])
        else:
            pid = self.session.subscribe([Subscription(topic_filter=topic_filter)])
        self.app_requests.add(pid)

    @precondition(lambda self: self.live() and self.requests)
    @rule(pick=st.integers(min_value=0), refuse=st.booleans())
    def broker_answers(self, pick: int, refuse: bool) -> None:
        pid = sorted(self.requests)[pick % len(self.requests)]
        request = self.requests.pop(pid)
        if isinstance(request, Subscribe):
            [sub] = request.subscriptions
            if refuse:
                code = ReasonCode.NOT_AUTHORIZED
                if pid not in self.app_requests:
                    # A resubscription refused: the session forgets it.
                    self.registry.discard(sub.topic_filter)
            else:
                code = ReasonCode.GRANTED_QOS_0
                self.registry.add(sub.topic_filter)
            self.send(SubAck(packet_id=pid, reason_codes=(code,)))
        else:
            [topic_filter] = request.topic_filters
            code = ReasonCode.NOT_AUTHORIZED if refuse else ReasonCode.SUCCESS
            if not refuse:
                self.registry.discard(topic_filter)
            self.send(UnsubAck(packet_id=pid, reason_codes=(code,)))
        self.flush()

    # -- invariants

    @invariant()
    def registry_matches(self) -> None:
        assert set(self.session.subscriptions) == self.registry

    @invariant()
    def nothing_vanishes(self) -> None:
        model = self.model
        open_tickets = set(model.accepted) - model.finished
        unaccounted = len(open_tickets) - self.session.inflight_count - self.session.queued_count
        # The rest are QoS 0 messages whose bytes have not been taken yet.
        open_qos0 = sum(1 for t in open_tickets if model.accepted[t] is QoS.AT_MOST_ONCE)
        assert 0 <= unaccounted <= open_qos0


SessionMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_session_state_machine = SessionMachine.TestCase


class ManualAckMachine(SessionMachine):
    """The same, with the application acknowledging received messages itself."""

    AUTO_ACK = False


ManualAckMachine.TestCase.settings = SessionMachine.TestCase.settings
test_session_state_machine_manual_ack = ManualAckMachine.TestCase
