"""ClientSession: reconnecting, resuming or losing the session, resubscribing."""

from __future__ import annotations

from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import (
    ConnectionClosed,
    PublishCompleted,
    PublishFailed,
    Subscribed,
)
from emqtt_core.exceptions import ConnectionLost, PublishDropped
from emqtt_core.packets import (
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    Unsubscribe,
)
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.state import SessionState

V4 = ProtocolVersion.MQTT_3_1_1


def session(**config: object) -> SessionHarness:
    h = SessionHarness(
        ClientConfig(client_id="c", session_expiry_interval=600, **config)  # type: ignore[arg-type]
    )
    h.connect()
    h.events()
    return h


def test_eof_reports_connection_lost_and_keeps_the_session() -> None:
    h = session()
    h.session.publish("t", b"x", qos=1)
    h.sent()
    h.drop()
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ConnectionLost)
    assert closed.by_server is False
    assert closed.reason_code is ReasonCode.UNSPECIFIED_ERROR
    assert h.session.state is SessionState.DISCONNECTED
    assert h.session.inflight_count == 1
    h.drop()  # a second EOF changes nothing
    assert h.events() == []


def test_resume_resends_publish_with_dup_and_pubrel_in_order_mqtt_4_4_0_1() -> None:
    h = session()
    t1 = h.session.publish("t", b"1", qos=1)
    t2 = h.session.publish("t", b"2", qos=2)
    t3 = h.session.publish("t", b"3", qos=2)
    p1, p2, p3 = h.publishes(h.sent())
    h.reply(PubRec(packet_id=p2.packet_id))  # type: ignore[arg-type]
    assert h.sent() == [PubRel(packet_id=p2.packet_id)]  # type: ignore[arg-type]
    h.drop()
    h.events()
    connect = h.connect(session_present=True)
    assert connect.clean_start is False
    resent = h.sent()
    # PUBLISH in the order first sent [MQTT-4.6.0-1], PUBREL in PUBREC order [MQTT-4.6.0-4].
    assert resent == [
        Publish(topic="t", payload=b"1", qos=QoS.AT_LEAST_ONCE, dup=True, packet_id=p1.packet_id),
        Publish(topic="t", payload=b"3", qos=QoS.EXACTLY_ONCE, dup=True, packet_id=p3.packet_id),
        PubRel(packet_id=p2.packet_id),  # type: ignore[arg-type]
    ]
    h.reply(
        PubAck(packet_id=p1.packet_id),  # type: ignore[arg-type]
        PubComp(packet_id=p2.packet_id),  # type: ignore[arg-type]
        PubRec(packet_id=p3.packet_id),  # type: ignore[arg-type]
    )
    h.sent()
    h.reply(PubComp(packet_id=p3.packet_id))  # type: ignore[arg-type]
    done = [e.ticket for e in h.events() if isinstance(e, PublishCompleted)]
    assert done == [t1, t2, t3]


def test_resume_respects_a_smaller_window() -> None:
    h = session()
    for i in range(4):
        h.session.publish("t", bytes([i]), qos=1)
    sent = h.publishes(h.sent())
    h.drop()
    h.connect(session_present=True, properties=Properties(receive_maximum=2))
    first = h.publishes(h.sent())
    assert [p.payload for p in first] == [b"\x00", b"\x01"]
    assert all(p.dup for p in first)
    # The server answers one not yet resent (it had it already): no longer owed.
    h.reply(PubAck(packet_id=sent[3].packet_id))  # type: ignore[arg-type]
    h.reply(PubAck(packet_id=first[0].packet_id))  # type: ignore[arg-type]
    assert [p.payload for p in h.publishes(h.sent())] == [b"\x02"]
    h.session.publish("t", b"new", qos=1)
    h.reply(PubAck(packet_id=first[1].packet_id))  # type: ignore[arg-type]
    assert [p.payload for p in h.publishes(h.sent())] == [b"new"]


def test_no_retransmission_while_connected() -> None:
    h = session(keep_alive=10)
    h.session.publish("t", b"x", qos=1)
    h.sent()
    h.advance(100)
    assert len(h.publishes(h.broker.received)) == 1


def test_session_lost_requeues_unacknowledged_messages_as_new() -> None:
    h = session()
    t1 = h.session.publish("t", b"1", qos=1)
    t2 = h.session.publish("t", b"2", qos=2)
    h.session.publish("t", b"3", qos=2)
    _, _, p3 = h.publishes(h.sent())
    h.reply(PubRec(packet_id=p3.packet_id))  # type: ignore[arg-type]
    h.sent()
    queued = h.session.publish("t", b"4", qos=1)
    h.drop()
    h.events()
    h.connect(session_present=False)
    events = h.events()
    [failed] = [e for e in events if isinstance(e, PublishFailed)]
    assert isinstance(failed.error, PublishDropped)
    again = h.publishes(h.sent())
    assert [(p.payload, p.dup) for p in again] == [(b"1", False), (b"2", False), (b"4", False)]
    h.reply(PubAck(packet_id=again[0].packet_id))  # type: ignore[arg-type]
    h.reply(PubRec(packet_id=again[1].packet_id))  # type: ignore[arg-type]
    h.sent()
    h.reply(PubComp(packet_id=again[1].packet_id))  # type: ignore[arg-type]
    h.reply(PubAck(packet_id=again[2].packet_id))  # type: ignore[arg-type]
    done = [e.ticket for e in h.events() if isinstance(e, PublishCompleted)]
    assert done == [t1, t2, queued]


def test_session_lost_with_fail_policy_reports_every_message() -> None:
    h = session(session_lost_policy="fail")
    tickets = {h.session.publish("t", b"x", qos=q) for q in (1, 2)}
    h.sent()
    h.drop()
    h.events()
    h.connect(session_present=False)
    failed = {e.ticket for e in h.events() if isinstance(e, PublishFailed)}
    assert failed == tickets
    assert h.publishes(h.sent()) == []
    assert h.session.inflight_count == 0


def test_session_lost_forgets_inbound_qos2_state() -> None:
    h = session()
    h.reply(Publish(topic="a", qos=QoS.EXACTLY_ONCE, packet_id=1))
    h.sent()
    h.events()
    h.drop()
    h.connect(session_present=False)
    h.events()
    h.reply(Publish(topic="a", qos=QoS.EXACTLY_ONCE, packet_id=1))
    assert len(h.events()) == 1  # a new message, delivered


def test_session_present_keeps_inbound_qos2_state() -> None:
    h = session()
    h.reply(Publish(topic="a", qos=QoS.EXACTLY_ONCE, packet_id=1))
    h.sent()
    h.events()
    h.drop()
    h.connect(session_present=True)
    h.events()
    h.reply(Publish(topic="a", qos=QoS.EXACTLY_ONCE, packet_id=1, dup=True))
    assert h.events() == []
    assert h.sent() == [PubRec(packet_id=1)]
    h.reply(PubRel(packet_id=1))
    assert h.sent() == [PubComp(packet_id=1)]


def test_subscriptions_are_registered_and_reissued_when_the_session_is_lost() -> None:
    h = session()
    a = Subscription(topic_filter="a/+", qos=QoS.AT_LEAST_ONCE)
    b = Subscription(topic_filter="b", qos=QoS.EXACTLY_ONCE)
    c = Subscription(topic_filter="c")
    pid = h.session.subscribe([a, b], properties=Properties(subscription_identifier=(7,)))
    pid2 = h.session.subscribe([c])
    h.sent()
    h.reply(
        SubAck(
            packet_id=pid,
            reason_codes=(ReasonCode.GRANTED_QOS_1, ReasonCode.NOT_AUTHORIZED),
        ),
        SubAck(packet_id=pid2, reason_codes=(ReasonCode.GRANTED_QOS_0,)),
    )
    assert isinstance(h.events()[0], Subscribed)
    assert set(h.session.subscriptions) == {"a/+", "c"}
    assert h.session.subscriptions["a/+"].subscription_identifier == 7
    h.drop()
    h.connect(session_present=False)
    again = [p for p in h.sent() if isinstance(p, Subscribe)]
    assert sorted(s.topic_filter for p in again for s in p.subscriptions) == ["a/+", "c"]
    by_filter = {p.subscriptions[0].topic_filter: p for p in again}
    assert by_filter["a/+"].properties.subscription_identifier == (7,)
    # A resubscription the server now refuses leaves the registry.
    h.reply(SubAck(packet_id=by_filter["a/+"].packet_id, reason_codes=(ReasonCode.NOT_AUTHORIZED,)))
    assert set(h.session.subscriptions) == {"c"}


def test_no_resubscription_when_the_session_is_present_or_disabled() -> None:
    for present, resubscribe in ((True, True), (False, False)):
        h = session(resubscribe=resubscribe)
        pid = h.session.subscribe([Subscription(topic_filter="a")])
        h.sent()
        h.reply(SubAck(packet_id=pid, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
        h.drop()
        h.connect(session_present=present)
        assert [p for p in h.sent() if isinstance(p, Subscribe)] == []


def test_unsubscribe_removes_from_the_registry() -> None:
    h = session()
    pid = h.session.subscribe([Subscription(topic_filter="a"), Subscription(topic_filter="b")])
    h.sent()
    h.reply(SubAck(packet_id=pid, reason_codes=(ReasonCode.GRANTED_QOS_0,) * 2))
    upid = h.session.unsubscribe(["a", "b"])
    assert h.sent() == [Unsubscribe(packet_id=upid, topic_filters=("a", "b"))]
    from emqtt_core.packets import UnsubAck

    h.reply(
        UnsubAck(
            packet_id=upid,
            reason_codes=(ReasonCode.SUCCESS, ReasonCode.NOT_AUTHORIZED),
        )
    )
    assert set(h.session.subscriptions) == {"b"}


def test_v311_unsuback_without_codes_removes_every_filter() -> None:
    h = SessionHarness(ClientConfig(client_id="c", protocol_version=V4))
    h.connect()
    pid = h.session.subscribe([Subscription(topic_filter="a")])
    h.sent()
    h.reply(SubAck(packet_id=pid, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
    upid = h.session.unsubscribe(["a"])
    h.sent()
    from emqtt_core.packets import UnsubAck

    h.reply(UnsubAck(packet_id=upid))
    events = h.events()
    assert events[-1].reason_codes == (ReasonCode.SUCCESS,)  # type: ignore[union-attr]
    assert dict(h.session.subscriptions) == {}


def test_outbound_aliases_are_assigned_within_the_server_maximum_mqtt_3_3_2_9() -> None:
    h = session()
    h.drop()
    h.connect(properties=Properties(topic_alias_maximum=1))
    for topic in ("sensors/one", "sensors/one", "sensors/two", "sensors/one"):
        h.session.publish(topic, b"x", qos=1)
    sent = h.publishes(h.sent())
    assert [(p.topic, p.properties.topic_alias) for p in sent] == [
        ("sensors/one", 1),
        ("", 1),
        ("sensors/two", None),
        ("", 1),
    ]
    # A new connection forgets them: a resend carries the topic again.
    h.drop()
    h.connect(session_present=True, properties=Properties(topic_alias_maximum=1))
    resent = h.publishes(h.sent())
    assert [(p.topic, p.properties.topic_alias) for p in resent] == [
        ("sensors/one", 1),
        ("", 1),
        ("sensors/two", None),
        ("", 1),
    ]


def test_no_alias_when_the_server_allows_none_or_disabled() -> None:
    h = session()
    h.session.publish("sensors/one", b"x")
    h.session.publish("sensors/one", b"x")
    assert all(p.properties.topic_alias is None for p in h.publishes(h.sent()))
    h2 = SessionHarness(ClientConfig(client_id="c", auto_topic_alias=False))
    h2.connect(properties=Properties(topic_alias_maximum=5))
    h2.session.publish("sensors/one", b"x")
    assert all(p.properties.topic_alias is None for p in h2.publishes(h2.sent()))


def test_alias_keeps_user_properties_and_requeue_strips_it() -> None:
    h = session()
    h.drop()
    h.connect(properties=Properties(topic_alias_maximum=2))
    props = Properties(user_property=(("k", "v"),))
    h.session.publish("sensors/one", b"x", qos=1, properties=props)
    h.session.publish("sensors/one", b"y", qos=1)
    first, second = h.publishes(h.sent())
    assert first.properties == Properties(user_property=(("k", "v"),), topic_alias=1)
    assert second.properties == Properties(topic_alias=1)
    h.drop()
    h.connect(session_present=False)
    again = h.publishes(h.sent())
    assert [(p.topic, p.properties) for p in again] == [
        ("sensors/one", props),
        ("sensors/one", Properties()),
    ]


def test_pubrec_for_messages_not_yet_resent() -> None:
    h = session()
    for i in range(3):
        h.session.publish("t", bytes([i]), qos=2)
    sent = h.publishes(h.sent())
    h.drop()
    h.connect(session_present=True, properties=Properties(receive_maximum=1))
    assert [p.payload for p in h.publishes(h.sent())] == [b"\x00"]
    # The server had the other two already and answers them.
    h.reply(PubRec(packet_id=sent[1].packet_id))  # type: ignore[arg-type]
    assert h.sent() == [PubRel(packet_id=sent[1].packet_id)]  # type: ignore[arg-type]
    h.reply(
        PubRec(packet_id=sent[2].packet_id, reason_code=ReasonCode.QUOTA_EXCEEDED)  # type: ignore[arg-type]
    )
    failed = [e for e in h.events() if isinstance(e, PublishCompleted)]
    assert [e.reason_code for e in failed] == [ReasonCode.QUOTA_EXCEEDED]
    assert h.session.inflight_count == 2


def test_resumed_pubrels_follow_pubrec_order_mqtt_4_6_0_4() -> None:
    h = session()
    for payload in (b"1", b"2", b"3"):
        h.session.publish("t", payload, qos=2)
    p1, p2, p3 = h.publishes(h.sent())
    h.reply(PubRec(packet_id=p3.packet_id), PubRec(packet_id=p1.packet_id))  # type: ignore[arg-type]
    assert h.sent() == [PubRel(packet_id=p3.packet_id), PubRel(packet_id=p1.packet_id)]  # type: ignore[arg-type]
    h.drop()
    h.connect(session_present=True)
    assert h.sent() == [
        Publish(topic="t", payload=b"2", qos=QoS.EXACTLY_ONCE, dup=True, packet_id=p2.packet_id),
        PubRel(packet_id=p3.packet_id),  # type: ignore[arg-type]
        PubRel(packet_id=p1.packet_id),  # type: ignore[arg-type]
    ]


def test_resubscription_without_a_free_packet_id_leaves_the_registry() -> None:
    h = session()
    pid = h.session.subscribe([Subscription(topic_filter="kept")])
    h.sent()
    h.reply(SubAck(packet_id=pid, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
    for _ in range(65535):
        h.session.unsubscribe(["x"])  # never answered: holds every identifier
    h.drop()
    h.connect(session_present=False)  # must not raise
    assert dict(h.session.subscriptions) == {}
    assert h.session.state is SessionState.CONNECTED
