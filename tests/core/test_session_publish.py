"""ClientSession: outgoing publishes, the in-flight window and the queue."""

from __future__ import annotations

import pytest
from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import ConnectionClosed, PublishCompleted, PublishFailed
from emqtt_core.exceptions import ProtocolError, QueueFullError, UsageError
from emqtt_core.packets import (
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Subscription,
    Unsubscribe,
)
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

V4 = ProtocolVersion.MQTT_3_1_1


def connected(**config: object) -> SessionHarness:
    h = SessionHarness(ClientConfig(client_id="c", **config))  # type: ignore[arg-type]
    h.connect()
    h.events()
    return h


def test_qos0_completes_when_its_bytes_leave() -> None:
    h = connected()
    ticket = h.session.publish("a/b", b"hello")
    assert h.events() == []
    [publish] = h.sent()
    assert publish == Publish(topic="a/b", payload=b"hello")
    assert h.events() == [PublishCompleted(ticket, QoS.AT_MOST_ONCE, None)]


def test_qos1_completes_on_puback() -> None:
    h = connected()
    ticket = h.session.publish("a/b", b"x", qos=1, retain=True)
    [publish] = h.sent()
    assert isinstance(publish, Publish)
    assert (publish.qos, publish.retain, publish.dup) == (QoS.AT_LEAST_ONCE, True, False)
    assert publish.packet_id is not None
    assert h.session.inflight_count == 1
    h.reply(PubAck(packet_id=publish.packet_id))
    assert h.events() == [PublishCompleted(ticket, QoS.AT_LEAST_ONCE, publish.packet_id)]
    assert h.session.inflight_count == 0


def test_qos1_failure_reason_code_is_reported() -> None:
    h = connected()
    ticket = h.session.publish("a", b"x", qos=1)
    [publish] = h.sent()
    assert publish.packet_id is not None  # type: ignore[union-attr]
    props = Properties(reason_string="nope")
    h.reply(
        PubAck(
            packet_id=publish.packet_id,  # type: ignore[union-attr]
            reason_code=ReasonCode.NOT_AUTHORIZED,
            properties=props,
        )
    )
    [done] = h.events()
    assert isinstance(done, PublishCompleted) and done.ticket == ticket
    assert done.reason_code is ReasonCode.NOT_AUTHORIZED and done.properties == props


def test_qos2_full_exchange() -> None:
    h = connected()
    ticket = h.session.publish("a", b"x", qos=2)
    [publish] = h.sent()
    assert isinstance(publish, Publish) and publish.packet_id is not None
    pid = publish.packet_id
    h.reply(PubRec(packet_id=pid))
    assert h.sent() == [PubRel(packet_id=pid)]
    assert h.events() == []
    h.reply(PubComp(packet_id=pid))
    assert h.events() == [PublishCompleted(ticket, QoS.EXACTLY_ONCE, pid)]
    assert h.session.inflight_count == 0


def test_no_pubrel_after_pubrec_with_failure_code_mqtt_4_4_0_2() -> None:
    h = connected()
    ticket = h.session.publish("a", b"x", qos=2)
    [publish] = h.sent()
    pid = publish.packet_id  # type: ignore[union-attr]
    assert pid is not None
    h.reply(PubRec(packet_id=pid, reason_code=ReasonCode.QUOTA_EXCEEDED))
    assert h.sent() == []
    assert h.events() == [
        PublishCompleted(ticket, QoS.EXACTLY_ONCE, pid, ReasonCode.QUOTA_EXCEEDED)
    ]
    assert h.session.inflight_count == 0


def test_duplicate_pubrec_repeats_pubrel() -> None:
    h = connected(protocol_version=V4)
    h.session.publish("a", b"x", qos=2)
    [publish] = h.sent()
    pid = publish.packet_id  # type: ignore[union-attr]
    assert pid is not None
    h.reply(PubRec(packet_id=pid))
    h.reply(PubRec(packet_id=pid))
    assert h.sent() == [PubRel(packet_id=pid), PubRel(packet_id=pid)]


@pytest.mark.parametrize(
    "ack",
    [
        PubAck(packet_id=99),
        PubRec(packet_id=99),
        PubComp(packet_id=99),
    ],
)
def test_ack_for_unknown_packet_id_is_a_protocol_error(ack: PubAck | PubRec | PubComp) -> None:
    h = connected()
    h.reply(ack)
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_ack_of_the_wrong_kind_is_a_protocol_error() -> None:
    h = connected(session_expiry_interval=60)
    h.session.publish("a", b"x", qos=1)
    h.session.publish("a", b"x", qos=2)
    first, second = h.sent()
    h.reply(PubRec(packet_id=first.packet_id))  # type: ignore[union-attr]
    assert isinstance(h.events()[-1], ConnectionClosed)
    h.connect(session_present=True)
    h.sent()
    h.events()
    h.reply(PubAck(packet_id=second.packet_id))  # type: ignore[union-attr]
    assert isinstance(h.events()[-1], ConnectionClosed)


def test_pubcomp_before_pubrec_is_a_protocol_error() -> None:
    h = connected()
    h.session.publish("a", b"x", qos=2)
    [publish] = h.sent()
    h.reply(PubComp(packet_id=publish.packet_id))  # type: ignore[union-attr]
    assert isinstance(h.events()[-1], ConnectionClosed)


def test_failing_pubrec_after_pubrel_is_a_protocol_error() -> None:
    h = connected()
    h.session.publish("a", b"x", qos=2)
    [publish] = h.sent()
    pid = publish.packet_id  # type: ignore[union-attr]
    assert pid is not None
    h.reply(PubRec(packet_id=pid))
    h.reply(PubRec(packet_id=pid, reason_code=ReasonCode.UNSPECIFIED_ERROR))
    assert isinstance(h.events()[-1], ConnectionClosed)


def test_window_holds_messages_back_in_order_mqtt_3_3_4_7() -> None:
    h = connected(max_inflight=2)
    tickets = [h.session.publish("t", bytes([i]), qos=1) for i in range(5)]
    sent = h.publishes(h.sent())
    assert [p.payload for p in sent] == [b"\x00", b"\x01"]
    assert (h.session.inflight_count, h.session.queued_count) == (2, 3)
    h.reply(PubAck(packet_id=sent[0].packet_id))  # type: ignore[arg-type]
    more = h.publishes(h.sent())
    assert [p.payload for p in more] == [b"\x02"]
    h.reply(
        PubAck(packet_id=sent[1].packet_id),  # type: ignore[arg-type]
        PubAck(packet_id=more[0].packet_id),  # type: ignore[arg-type]
    )
    rest = h.publishes(h.sent())
    assert [p.payload for p in rest] == [b"\x03", b"\x04"]
    completed = [e.ticket for e in h.events() if isinstance(e, PublishCompleted)]
    assert completed == tickets[:3]


def test_qos0_is_not_held_by_the_window() -> None:
    h = connected(max_inflight=1)
    h.session.publish("t", b"1", qos=1)
    h.session.publish("t", b"2", qos=1)
    h.session.publish("t", b"3", qos=0)
    assert [p.payload for p in h.publishes(h.sent())] == [b"1", b"3"]


def test_queue_is_bounded_and_full_raises_without_queueing() -> None:
    h = connected(max_inflight=1, max_queued=2)
    h.session.publish("t", b"1", qos=1)
    h.session.publish("t", b"2", qos=1)
    h.session.publish("t", b"3", qos=1)
    with pytest.raises(QueueFullError):
        h.session.publish("t", b"4", qos=1)
    assert (h.session.inflight_count, h.session.queued_count) == (1, 2)


def test_publish_while_disconnected_waits_for_the_connection() -> None:
    h = SessionHarness()
    t0 = h.session.publish("t", b"0")
    t1 = h.session.publish("t", b"1", qos=1)
    assert h.session.queued_count == 2
    assert h.session.data_to_send(h.now) == b""
    h.connect()
    sent = h.publishes(h.sent())
    assert [p.payload for p in sent] == [b"0", b"1"]
    events = h.events()
    assert PublishCompleted(t0, QoS.AT_MOST_ONCE, None) in events
    assert all(getattr(e, "ticket", None) != t1 for e in events)


def test_cancel_drops_only_queued_messages() -> None:
    h = SessionHarness()
    ticket = h.session.publish("t", b"x", qos=1)
    assert h.session.cancel(ticket) is True
    assert h.session.cancel(ticket) is False
    h.connect()
    assert h.publishes(h.sent()) == []
    sent_ticket = h.session.publish("t", b"y", qos=1)
    h.sent()
    assert h.session.cancel(sent_ticket) is False


def test_packet_ids_are_unique_while_in_flight_and_skip_used_ones_mqtt_2_2_1_3() -> None:
    h = connected()
    first = h.session.publish("t", b"", qos=1)
    assert first
    packet_ids = [p.packet_id for p in h.publishes(h.sent())]
    # Run the counter all the way round: the id still in flight is skipped.
    for _ in range(65534):
        h.session.publish("t", b"", qos=1)
        [p] = h.publishes(h.sent())
        assert p.packet_id not in packet_ids
        h.reply(PubAck(packet_id=p.packet_id))  # type: ignore[arg-type]
    h.session.publish("t", b"", qos=1)
    [p] = h.publishes(h.sent())
    assert p.packet_id not in packet_ids and p.packet_id is not None


def test_outbound_and_inbound_packet_ids_are_separate() -> None:
    h = connected()
    h.reply(Publish(topic="in", payload=b"x", qos=QoS.AT_LEAST_ONCE, packet_id=1))
    h.session.publish("out", b"y", qos=1)
    packets = h.sent()
    assert PubAck(packet_id=1) in packets
    [publish] = h.publishes(packets)
    assert publish.packet_id == 1  # our space is separate from the server's


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a/+", b""), {}),
        (("", b""), {}),
        (("a", "text"), {}),
        ((b"a", b""), {}),
        (("a", b""), {"qos": 3}),
        (("a", b""), {"qos": True}),
        (("a", b""), {"properties": Properties(topic_alias=1)}),
        (("a", b""), {"properties": Properties(subscription_identifier=(1,))}),
        (("a", b""), {"properties": Properties(session_expiry_interval=1)}),
        (("a", b""), {"properties": "nope"}),
    ],
)
def test_bad_publish_arguments_raise_and_queue_nothing(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    h = connected()
    with pytest.raises(UsageError):
        h.session.publish(*args, **kwargs)  # type: ignore[arg-type]
    assert h.sent() == []
    assert h.session.queued_count == 0


def test_v3_publish_properties_are_refused() -> None:
    h = connected(protocol_version=V4)
    with pytest.raises(UsageError):
        h.session.publish("a", b"", properties=Properties(content_type="x"))
    h.session.publish("a", b"", properties=Properties())
    assert len(h.sent()) == 1


def test_bytes_like_payloads_are_accepted() -> None:
    h = connected()
    h.session.publish("a", bytearray(b"ab"))
    h.session.publish("a", memoryview(b"cd"))
    assert [p.payload for p in h.publishes(h.sent())] == [b"ab", b"cd"]


def test_publish_properties_reach_the_wire() -> None:
    h = connected()
    props = Properties(message_expiry_interval=5, user_property=(("k", "v"),), response_topic="r")
    h.session.publish("a", b"x", qos=1, properties=props)
    [publish] = h.publishes(h.sent())
    assert publish.properties == props


def test_topic_validation_cache_is_bounded() -> None:
    h = connected()
    for i in range(1100):
        h.session.publish(f"t/{i}", b"")
    assert len(h.publishes(h.sent())) == 1100
    with pytest.raises(UsageError):
        h.session.publish("t/#", b"")


def test_queued_message_the_new_server_refuses_is_failed() -> None:
    h = connected()
    h.drop()
    h.events()
    ticket = h.session.publish("t", b"x", qos=2)
    retained = h.session.publish("t", b"x", retain=True)
    ok = h.session.publish("t", b"y", qos=1)
    h.connect(properties=Properties(maximum_qos=QoS.AT_LEAST_ONCE, retain_available=False))
    failed = {e.ticket for e in h.events() if isinstance(e, PublishFailed)}
    assert failed == {ticket, retained}
    assert [p.payload for p in h.publishes(h.sent())] == [b"y"]
    assert ok not in failed


def test_subscribe_and_publish_share_the_outbound_id_space() -> None:
    h = connected()
    sub_id = h.session.subscribe([Subscription(topic_filter="x")])
    h.session.publish("t", b"", qos=1)
    packets = h.sent()
    [publish] = h.publishes(packets)
    assert publish.packet_id != sub_id


def test_qos2_completion_makes_room_for_the_queue() -> None:
    h = connected(max_inflight=1)
    h.session.publish("t", b"1", qos=2)
    h.session.publish("t", b"2", qos=2)
    [first] = h.publishes(h.sent())
    pid = first.packet_id
    assert pid is not None
    h.reply(PubRec(packet_id=pid))
    assert h.sent() == [PubRel(packet_id=pid)]  # PUBREL stage still holds the slot
    h.reply(PubComp(packet_id=pid))
    assert [p.payload for p in h.publishes(h.sent())] == [b"2"]


def test_failing_pubrec_makes_room_for_the_queue() -> None:
    h = connected(max_inflight=1)
    h.session.publish("t", b"1", qos=2)
    h.session.publish("t", b"2", qos=2)
    [first] = h.publishes(h.sent())
    h.reply(PubRec(packet_id=first.packet_id, reason_code=ReasonCode.QUOTA_EXCEEDED))  # type: ignore[arg-type]
    assert [p.payload for p in h.publishes(h.sent())] == [b"2"]


def test_every_packet_id_in_use_makes_publishes_wait() -> None:
    h = connected()
    for _ in range(65534):
        h.session.publish("t", b"", qos=1)
    sub_id = h.session.subscribe([Subscription(topic_filter="s")])
    h.sent()
    ticket = h.session.publish("t", b"last", qos=1)  # no identifier left: it waits
    assert h.session.queued_count == 1
    with pytest.raises(QueueFullError):
        h.session.subscribe([Subscription(topic_filter="s2")])
    from emqtt_core.packets import SubAck

    h.reply(SubAck(packet_id=sub_id, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
    [last] = h.publishes(h.sent())
    assert (last.payload, last.packet_id) == (b"last", sub_id)
    assert h.session.queued_count == 0 and ticket


def test_queue_waits_while_no_packet_id_is_free() -> None:
    h = connected(max_inflight=65535)
    for _ in range(65534):
        h.session.publish("t", b"", qos=1)
    h.session.unsubscribe(["s"])
    h.session.publish("t", b"a", qos=1)
    h.session.publish("t", b"b", qos=1)
    assert h.session.queued_count == 2
    sent = h.publishes(h.sent())
    h.reply(PubAck(packet_id=sent[0].packet_id))  # type: ignore[arg-type]
    assert [p.payload for p in h.publishes(h.sent())] == [b"a"]
    assert h.session.queued_count == 1
    from emqtt_core.packets import UnsubAck

    [unsubscribe] = [p for p in h.broker.received if isinstance(p, Unsubscribe)]
    h.reply(UnsubAck(packet_id=unsubscribe.packet_id, reason_codes=(ReasonCode.SUCCESS,)))
    assert [p.payload for p in h.publishes(h.sent())] == [b"b"]


def test_recording_off_sends_the_same_bytes() -> None:
    on, off = connected(), connected()
    off.session.record_sent_packets = False
    off.session.take_sent_packets()
    for h in (on, off):
        h.session.publish("t", b"x", qos=1)
        h.session.publish("t", b"y", qos=2)
        h.session.subscribe([Subscription(topic_filter="s")])
    assert on.sent() == off.sent()
    assert off.session.take_sent_packets() == []
    assert [type(p).__name__ for p, _ in on.session.take_sent_packets()] == [
        "Connect",
        "Publish",
        "Publish",
        "Subscribe",
    ]


def test_small_queued_message_skips_the_size_check() -> None:
    h = connected()
    h.drop()
    h.connect(properties=Properties(maximum_packet_size=1000, receive_maximum=1))
    h.session.publish("t", b"1", qos=1)
    h.session.publish("t", b"2", qos=1)
    assert h.session.queued_count == 1


@pytest.mark.parametrize("qos", [1.0, "1", None, -1])
def test_qos_of_another_type_is_a_usage_error(qos: object) -> None:
    h = connected()
    with pytest.raises(UsageError):
        h.session.publish("t", b"", qos=qos)  # type: ignore[arg-type]


@pytest.mark.parametrize("topic", [["a"], None, 5])
def test_topic_of_another_type_is_a_usage_error(topic: object) -> None:
    h = connected()
    with pytest.raises(UsageError):
        h.session.publish(topic, b"")  # type: ignore[arg-type]


def test_acks_and_disconnect_over_the_server_maximum_are_refused() -> None:
    h = SessionHarness(ClientConfig(client_id="c", auto_ack=False))
    h.connect(properties=Properties(maximum_packet_size=40))
    h.reply(Publish(topic="a", qos=QoS.AT_LEAST_ONCE, packet_id=1))
    long = Properties(reason_string="r" * 60)
    with pytest.raises(UsageError):
        h.session.ack(1, reason_code=ReasonCode.UNSPECIFIED_ERROR, properties=long)
    with pytest.raises(UsageError):
        h.session.disconnect(properties=long)
    h.session.ack(1)
    assert h.sent() == [PubAck(packet_id=1)]
