"""ClientSession: messages from the server, acknowledgements, topic aliases."""

from __future__ import annotations

import pytest
from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import ConnectionClosed, MessageReceived
from emqtt_core.exceptions import InvalidStateError, ProtocolError, UsageError
from emqtt_core.packets import Disconnect, PubAck, PubComp, Publish, PubRec, PubRel
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.state import SessionState

V4 = ProtocolVersion.MQTT_3_1_1
Q1, Q2 = QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE


def connected(**config: object) -> SessionHarness:
    h = SessionHarness(ClientConfig(client_id="c", **config))  # type: ignore[arg-type]
    h.connect()
    h.events()
    return h


def closed_with(h: SessionHarness, code: ReasonCode) -> None:
    [closed] = [e for e in h.events() if isinstance(e, ConnectionClosed)]
    assert isinstance(closed.error, ProtocolError)
    assert closed.reason_code is code
    assert Disconnect(reason_code=code) in h.sent()
    assert h.session.state is SessionState.DISCONNECTED


def test_qos0_message_is_delivered() -> None:
    h = connected()
    message = Publish(topic="a", payload=b"x", retain=True)
    h.reply(message)
    assert h.events() == [MessageReceived(message)]
    assert h.sent() == []


def test_qos1_auto_ack_sends_puback() -> None:
    h = connected()
    message = Publish(topic="a", payload=b"x", qos=Q1, packet_id=7)
    h.reply(message)
    [event] = h.events()
    assert event == MessageReceived(message)
    assert (event.packet_id, event.qos, event.needs_ack) == (7, Q1, False)
    assert h.sent() == [PubAck(packet_id=7)]


def test_qos2_auto_ack_is_delivered_once_mqtt_4_3_3() -> None:
    h = connected()
    message = Publish(topic="a", payload=b"x", qos=Q2, packet_id=3)
    h.reply(message)
    assert h.events() == [MessageReceived(message)]
    assert h.sent() == [PubRec(packet_id=3)]
    # A resend before PUBREL is not delivered again; PUBREC is repeated.
    h.reply(Publish(topic="a", payload=b"x", qos=Q2, packet_id=3, dup=True))
    assert h.events() == []
    assert h.sent() == [PubRec(packet_id=3)]
    h.reply(PubRel(packet_id=3))
    assert h.sent() == [PubComp(packet_id=3)]
    # After PUBCOMP the id is free again: a new message with it is new.
    h.reply(message)
    assert h.events() == [MessageReceived(message)]


@pytest.mark.parametrize(
    ("version", "code"),
    [(ProtocolVersion.MQTT_5, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND), (V4, ReasonCode.SUCCESS)],
)
def test_unknown_pubrel_gets_pubcomp(version: ProtocolVersion, code: ReasonCode) -> None:
    h = connected(protocol_version=version)
    h.reply(PubRel(packet_id=44))
    assert h.sent() == [PubComp(packet_id=44, reason_code=code)]
    assert h.events() == []


def test_manual_ack_qos1() -> None:
    h = connected(auto_ack=False)
    message = Publish(topic="a", payload=b"x", qos=Q1, packet_id=5)
    h.reply(message)
    [event] = h.events()
    assert isinstance(event, MessageReceived) and event.needs_ack
    assert h.sent() == []
    # A resend while the application holds it is not delivered twice.
    h.reply(Publish(topic="a", payload=b"x", qos=Q1, packet_id=5, dup=True))
    assert h.events() == []
    h.session.ack(5)
    assert h.sent() == [PubAck(packet_id=5)]
    with pytest.raises(UsageError):
        h.session.ack(5)


def test_manual_ack_qos2() -> None:
    h = connected(auto_ack=False)
    h.reply(Publish(topic="a", payload=b"x", qos=Q2, packet_id=6))
    [event] = h.events()
    assert isinstance(event, MessageReceived) and event.needs_ack
    h.reply(Publish(topic="a", payload=b"x", qos=Q2, packet_id=6, dup=True))
    assert h.events() == [] and h.sent() == []
    h.session.ack(6)
    assert h.sent() == [PubRec(packet_id=6)]
    h.reply(PubRel(packet_id=6))
    assert h.sent() == [PubComp(packet_id=6)]


def test_manual_ack_refusal_ends_the_qos2_exchange() -> None:
    h = connected(auto_ack=False)
    h.reply(Publish(topic="a", payload=b"x", qos=Q2, packet_id=6))
    h.events()
    h.session.ack(6, reason_code=ReasonCode.NOT_AUTHORIZED)
    assert h.sent() == [PubRec(packet_id=6, reason_code=ReasonCode.NOT_AUTHORIZED)]
    h.reply(Publish(topic="a", payload=b"y", qos=Q2, packet_id=6))
    assert len(h.events()) == 1  # a new message


def test_ack_with_a_bad_reason_code_raises_and_keeps_the_message() -> None:
    h = connected(auto_ack=False)
    h.reply(Publish(topic="a", payload=b"x", qos=Q1, packet_id=5))
    with pytest.raises(UsageError):
        h.session.ack(5, reason_code=ReasonCode.SERVER_MOVED)
    h.session.ack(5)
    assert h.sent() == [PubAck(packet_id=5)]


def test_ack_needs_a_connection() -> None:
    h = connected(auto_ack=False)
    h.reply(Publish(topic="a", payload=b"x", qos=Q1, packet_id=5))
    h.drop()
    with pytest.raises(InvalidStateError):
        h.session.ack(5)


def test_pubrel_before_our_pubrec_is_a_protocol_error() -> None:
    h = connected(auto_ack=False)
    h.reply(Publish(topic="a", payload=b"x", qos=Q2, packet_id=6))
    h.reply(PubRel(packet_id=6))
    closed_with(h, ReasonCode.PROTOCOL_ERROR)


def test_our_receive_maximum_is_enforced_on_the_server_mqtt_3_3_4_9() -> None:
    h = connected(receive_maximum=2, auto_ack=False)
    h.reply(Publish(topic="a", qos=Q1, packet_id=1), Publish(topic="a", qos=Q2, packet_id=2))
    assert len(h.events()) == 2
    h.session.ack(1)
    h.reply(Publish(topic="a", qos=Q1, packet_id=3))
    assert len(h.events()) == 1
    h.reply(Publish(topic="a", qos=Q1, packet_id=4))
    closed_with(h, ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)


def test_inbound_topic_alias_is_resolved() -> None:
    h = connected(topic_alias_maximum=2)
    h.reply(Publish(topic="long/topic", payload=b"1", properties=Properties(topic_alias=2)))
    h.reply(Publish(topic="", payload=b"2", properties=Properties(topic_alias=2)))
    _, second = h.events()
    assert isinstance(second, MessageReceived)
    assert second.message.topic == "long/topic" and second.message.payload == b"2"
    # A new connection forgets the aliases.
    h.drop()
    h.connect()
    h.events()
    h.reply(Publish(topic="", payload=b"3", properties=Properties(topic_alias=2)))
    closed_with(h, ReasonCode.TOPIC_ALIAS_INVALID)


def test_inbound_alias_above_our_maximum_is_an_error_mqtt_3_3_2_10() -> None:
    h = connected(topic_alias_maximum=2)
    h.reply(Publish(topic="t", properties=Properties(topic_alias=3)))
    closed_with(h, ReasonCode.TOPIC_ALIAS_INVALID)


def test_inbound_alias_zero_is_an_error() -> None:
    h = connected(topic_alias_maximum=2)
    # PUBLISH "t", properties: Topic Alias 0.
    h.reply_bytes(b"\x30\x07\x00\x01t\x03\x23\x00\x00")
    closed_with(h, ReasonCode.TOPIC_ALIAS_INVALID)


def test_unknown_inbound_alias_is_an_error() -> None:
    h = connected(topic_alias_maximum=2)
    h.reply(Publish(topic="", properties=Properties(topic_alias=1)))
    closed_with(h, ReasonCode.TOPIC_ALIAS_INVALID)


def test_publish_without_topic_or_alias_is_an_error_mqtt_3_3_2_1() -> None:
    h = connected()
    h.reply_bytes(b"\x30\x03\x00\x00\x00")  # empty topic, no properties
    closed_with(h, ReasonCode.PROTOCOL_ERROR)


def test_malformed_bytes_close_with_0x81() -> None:
    h = connected()
    h.reply_bytes(b"\x30\x02\x00\x05")  # topic length beyond the packet
    closed_with(h, ReasonCode.MALFORMED_PACKET)


def test_packet_over_our_maximum_closes_with_0x95() -> None:
    h = connected(maximum_packet_size=64)
    h.reply(Publish(topic="a", payload=b"x" * 100))
    closed_with(h, ReasonCode.PACKET_TOO_LARGE)


def test_v3_protocol_error_closes_without_disconnect() -> None:
    h = connected(protocol_version=V4)
    h.reply(PubAck(packet_id=9))
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)
    assert h.sent() == []
    assert h.session.state is SessionState.DISCONNECTED


def test_data_after_the_connection_ended_is_ignored() -> None:
    h = connected()
    h.drop()
    h.events()
    h.reply(Publish(topic="a", payload=b"x"))
    assert h.events() == []


def test_chunked_input_gives_the_same_events() -> None:
    h = connected()
    data = h.broker.encode(
        Publish(topic="a", payload=b"x"), Publish(topic="b", payload=b"y", qos=Q1, packet_id=1)
    )
    for i in range(len(data)):
        h.session.receive_data(data[i : i + 1], h.now)
    assert [e.message.topic for e in h.events()] == ["a", "b"]  # type: ignore[union-attr]
    assert h.sent() == [PubAck(packet_id=1)]


def test_suback_and_unsuback_mismatches_are_protocol_errors() -> None:
    from emqtt_core.packets import SubAck, Subscription, UnsubAck

    cases = [
        SubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_0,)),  # unknown id
        UnsubAck(packet_id=1, reason_codes=(ReasonCode.SUCCESS,)),  # unknown id
    ]
    for packet in cases:
        h = connected()
        h.reply(packet)
        closed_with(h, ReasonCode.PROTOCOL_ERROR)
    h = connected()
    pid = h.session.subscribe([Subscription(topic_filter="a"), Subscription(topic_filter="b")])
    h.sent()
    h.reply(SubAck(packet_id=pid, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
    closed_with(h, ReasonCode.PROTOCOL_ERROR)
    h = connected()
    pid = h.session.unsubscribe(["a", "b"])
    h.sent()
    h.reply(UnsubAck(packet_id=pid, reason_codes=(ReasonCode.SUCCESS,)))
    closed_with(h, ReasonCode.PROTOCOL_ERROR)
    h = connected()
    pid = h.session.subscribe([Subscription(topic_filter="a")])
    h.sent()
    h.reply(UnsubAck(packet_id=pid, reason_codes=(ReasonCode.SUCCESS,)))  # wrong kind
    closed_with(h, ReasonCode.PROTOCOL_ERROR)


def test_bad_subscribe_and_unsubscribe_arguments_raise() -> None:
    from emqtt_core.packets import Subscription

    h = connected()
    bad_subscribes: list[object] = [
        [],
        ["a"],
        [Subscription(topic_filter="a/#/b")],
        [Subscription(topic_filter="$share/g/a", no_local=True)],
    ]
    for subs in bad_subscribes:
        with pytest.raises(UsageError):
            h.session.subscribe(subs)  # type: ignore[arg-type]
    for filters in ([], "a", ["a/+b"]):
        with pytest.raises(UsageError):
            h.session.unsubscribe(filters)
    assert h.sent() == []
    h.drop()
    with pytest.raises(InvalidStateError):
        h.session.subscribe([Subscription(topic_filter="a")])
    with pytest.raises(InvalidStateError):
        h.session.unsubscribe(["a"])


def test_v5_server_may_assign_over_our_client_id() -> None:
    h = SessionHarness(ClientConfig(client_id="mine"))
    h.connect(properties=Properties(assigned_client_identifier="theirs"))
    assert h.session.client_id == "theirs"


def test_reason_code_not_valid_for_disconnect_becomes_protocol_error() -> None:
    h = connected()
    # A CONNECT from the server, with protocol level 9: the decoder objects
    # with a code DISCONNECT cannot carry.
    h.reply_bytes(b"\x10\x0a\x00\x04MQTT\x09\x02\x00\x3c\x00\x00")
    [closed] = [e for e in h.events() if isinstance(e, ConnectionClosed)]
    assert isinstance(closed.error, ProtocolError)
    assert closed.reason_code.is_failure
    [disconnect] = h.sent()
    assert isinstance(disconnect, Disconnect)


def test_manual_acks_leave_in_arrival_order_mqtt_4_6_0_2_and_3() -> None:
    h = connected(auto_ack=False)
    h.reply(
        Publish(topic="a", qos=Q1, packet_id=1),
        Publish(topic="a", qos=Q2, packet_id=2),
        Publish(topic="a", qos=Q1, packet_id=3),
        Publish(topic="a", qos=Q2, packet_id=4),
    )
    h.events()
    h.session.ack(3)
    h.session.ack(4)
    assert h.sent() == []  # each waits for the message before it
    with pytest.raises(UsageError):
        h.session.ack(3)  # already acknowledged, only waiting
    h.session.ack(2)
    assert h.sent() == [PubRec(packet_id=2), PubRec(packet_id=4)]
    h.session.ack(1)
    assert h.sent() == [PubAck(packet_id=1), PubAck(packet_id=3)]
    h.reply(PubRel(packet_id=2), PubRel(packet_id=4))
    assert h.sent() == [PubComp(packet_id=2), PubComp(packet_id=4)]
