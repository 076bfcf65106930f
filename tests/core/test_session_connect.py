"""ClientSession: CONNECT, CONNACK, client identifiers, server limits."""

from __future__ import annotations

import pytest
from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import Connected, ConnectionClosed, Subscribed
from emqtt_core.exceptions import (
    ConnectRefused,
    ConnectTimeout,
    InvalidStateError,
    ProtocolError,
    UsageError,
)
from emqtt_core.packets import (
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    Publish,
    SubAck,
    Subscribe,
    Subscription,
    Will,
)
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession
from emqtt_core.state import SessionState

V3, V4, V5 = ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5


@pytest.mark.parametrize("version", [V3, V4, V5])
def test_connect_carries_every_configured_field(version: ProtocolVersion) -> None:
    will = Will(topic="status/c1", payload=b"gone", qos=QoS.AT_LEAST_ONCE, retain=True)
    h = SessionHarness(
        ClientConfig(
            client_id="c1",
            protocol_version=version,
            clean_start=False,
            keep_alive=30,
            username="user",
            password=b"secret",
            will=will,
        )
    )
    h.session.connect()
    assert h.session.state is SessionState.CONNECTING
    [connect] = h.sent()
    assert isinstance(connect, Connect)
    assert connect.protocol_version == version
    assert (connect.client_id, connect.clean_start, connect.keep_alive) == ("c1", False, 30)
    assert (connect.username, connect.password) == ("user", b"secret")
    assert connect.will == will
    h.reply(ConnAck())
    [event] = h.events()
    assert isinstance(event, Connected)
    assert (event.session_present, event.client_id) == (False, "c1")
    assert h.session.state is SessionState.CONNECTED


def test_connect_v5_properties_and_will_properties() -> None:
    will = Will(
        topic="w",
        payload=b"bye",
        properties=Properties(will_delay_interval=10, message_expiry_interval=60),
    )
    h = SessionHarness(
        ClientConfig(
            client_id="c5",
            session_expiry_interval=3600,
            receive_maximum=10,
            maximum_packet_size=4096,
            topic_alias_maximum=5,
            request_response_information=True,
            request_problem_information=False,
            user_properties=(("app", "test"),),
            will=will,
        )
    )
    h.session.connect()
    [connect] = h.sent()
    assert isinstance(connect, Connect)
    props = connect.properties
    assert props.session_expiry_interval == 3600
    assert props.receive_maximum == 10
    assert props.maximum_packet_size == 4096
    assert props.topic_alias_maximum == 5
    assert props.request_response_information is True
    assert props.request_problem_information is False
    assert props.user_property == (("app", "test"),)
    assert connect.will is not None and connect.will.properties.will_delay_interval == 10


def test_connect_v5_defaults_send_no_default_valued_properties() -> None:
    h = SessionHarness(ClientConfig(client_id="c", topic_alias_maximum=0))
    h.session.connect()
    [connect] = h.sent()
    assert isinstance(connect, Connect)
    assert connect.properties == NO_PROPERTIES


def test_connect_twice_is_an_invalid_state() -> None:
    h = SessionHarness()
    h.connect()
    with pytest.raises(InvalidStateError):
        h.session.connect()
    assert h.sent() == []


def test_connack_timeout_closes_with_connect_timeout() -> None:
    h = SessionHarness(ClientConfig(client_id="c", connect_timeout=5))
    h.session.connect()
    assert h.session.get_timer() is None  # the deadline starts when CONNECT leaves
    h.sent()
    assert h.session.get_timer() == h.now + 5
    h.advance(4.9)
    assert h.events() == []
    h.advance(0.2)
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ConnectTimeout)
    assert h.session.state is SessionState.DISCONNECTED
    assert h.session.get_timer() is None


@pytest.mark.parametrize("version", [V4, V5])
def test_refused_connack_reports_reason_code(version: ProtocolVersion) -> None:
    h = SessionHarness(ClientConfig(client_id="c", protocol_version=version))
    h.connect(reason_code=ReasonCode.NOT_AUTHORIZED)
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed)
    assert isinstance(closed.error, ConnectRefused)
    assert closed.error.reason_code is ReasonCode.NOT_AUTHORIZED
    assert closed.reason_code is ReasonCode.NOT_AUTHORIZED
    assert closed.by_server is True
    assert h.session.state is SessionState.DISCONNECTED
    assert h.session.data_to_send(h.now) == b""


@pytest.mark.parametrize("code", [ReasonCode.USE_ANOTHER_SERVER, ReasonCode.SERVER_MOVED])
def test_connack_server_reference_is_reported(code: ReasonCode) -> None:
    h = SessionHarness()
    h.connect(reason_code=code, properties=Properties(server_reference="other:1883"))
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed)
    assert closed.server_reference == "other:1883"
    assert closed.properties.server_reference == "other:1883"


def test_v5_empty_client_id_adopts_the_assigned_one() -> None:
    h = SessionHarness(ClientConfig())
    connect = h.connect(properties=Properties(assigned_client_identifier="srv-42"))
    assert connect.client_id == ""
    [connected] = h.events()
    assert isinstance(connected, Connected) and connected.client_id == "srv-42"
    assert h.session.client_id == "srv-42"
    # The session keeps the identifier for its next connection.
    h.drop()
    second = h.connect()
    assert second.client_id == "srv-42"


def test_v5_empty_client_id_without_assignment_is_a_protocol_error() -> None:
    h = SessionHarness(ClientConfig())
    h.connect()
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)
    [disconnect] = h.sent()
    assert isinstance(disconnect, Disconnect)
    assert disconnect.reason_code is ReasonCode.PROTOCOL_ERROR


def test_v311_empty_id_with_clean_start_is_sent_empty() -> None:
    h = SessionHarness(ClientConfig(protocol_version=V4))
    assert h.connect().client_id == ""
    assert h.session.client_id == ""


@pytest.mark.parametrize(("version", "clean"), [(V3, True), (V4, False)])
def test_v3_empty_id_is_generated_from_injected_randomness(
    version: ProtocolVersion, clean: bool
) -> None:
    calls: list[int] = []

    def random_bytes(n: int) -> bytes:
        calls.append(n)
        return bytes(range(n))

    h = SessionHarness(
        ClientConfig(protocol_version=version, clean_start=clean, random_bytes=random_bytes)
    )
    connect = h.connect()
    assert connect.client_id == "emqtt-0001020304050607"
    assert len(connect.client_id) <= 23  # MQTT 3.1's limit
    h.drop()
    assert h.connect().client_id == connect.client_id
    assert calls == [8]


def test_generated_id_with_bad_randomness_is_a_usage_error() -> None:
    session = ClientSession(ClientConfig(protocol_version=V3, random_bytes=lambda n: b"short"))
    with pytest.raises(UsageError):
        session.connect()
    assert session.state is SessionState.DISCONNECTED
    assert session.data_to_send(0.0) == b""


def test_session_present_after_clean_start_is_a_protocol_error_mqtt_3_2_2_2() -> None:
    h = SessionHarness()
    h.connect(session_present=True)
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_packets_before_connack_are_a_protocol_error() -> None:
    h = SessionHarness()
    h.session.connect()
    h.sent()
    h.reply(Publish(topic="t", payload=b"x"))
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)
    assert closed.reason_code is ReasonCode.PROTOCOL_ERROR


def test_server_only_packets_from_the_server_are_a_protocol_error() -> None:
    h = SessionHarness()
    h.connect()
    h.events()
    h.reply(PingReq())
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_server_keep_alive_replaces_ours_mqtt_3_2_2_21() -> None:
    h = SessionHarness(ClientConfig(client_id="c", keep_alive=60))
    h.connect(properties=Properties(server_keep_alive=10))
    assert h.session.get_timer() == h.now + 10


def test_server_maximum_qos_is_enforced_mqtt_3_2_2_11() -> None:
    h = SessionHarness()
    h.connect(properties=Properties(maximum_qos=QoS.AT_LEAST_ONCE))
    with pytest.raises(UsageError):
        h.session.publish("t", b"x", qos=2)
    h.session.publish("t", b"x", qos=1)
    assert len(h.publishes(h.sent())) == 1


def test_server_retain_unavailable_is_enforced_mqtt_3_2_2_14() -> None:
    h = SessionHarness()
    h.connect(properties=Properties(retain_available=False))
    with pytest.raises(UsageError):
        h.session.publish("t", b"x", retain=True)
    assert h.sent() == []


def test_server_subscription_capabilities_are_enforced() -> None:
    h = SessionHarness()
    h.connect(
        properties=Properties(
            wildcard_subscription_available=False,
            shared_subscription_available=False,
            subscription_identifier_available=False,
        )
    )
    with pytest.raises(UsageError):
        h.session.subscribe([Subscription(topic_filter="a/+")])
    with pytest.raises(UsageError):
        h.session.subscribe([Subscription(topic_filter="a/#")])
    with pytest.raises(UsageError):
        h.session.subscribe([Subscription(topic_filter="$share/g/a")])
    with pytest.raises(UsageError):
        h.session.subscribe(
            [Subscription(topic_filter="a")], properties=Properties(subscription_identifier=(1,))
        )
    assert h.sent() == []
    h.session.subscribe([Subscription(topic_filter="a")])
    [subscribe] = h.sent()
    assert isinstance(subscribe, Subscribe)


def test_server_maximum_packet_size_is_enforced_mqtt_3_2_2_15() -> None:
    h = SessionHarness()
    h.connect(properties=Properties(maximum_packet_size=100))
    with pytest.raises(UsageError):
        h.session.publish("t", b"x" * 200)
    with pytest.raises(UsageError):
        h.session.subscribe([Subscription(topic_filter="f" * 200)])
    assert h.sent() == []
    h.session.publish("t", b"x" * 50)
    assert len(h.publishes(h.sent())) == 1


def test_server_maximum_packet_size_applies_to_queued_messages() -> None:
    h = SessionHarness()
    h.connect(properties=Properties(maximum_packet_size=100, receive_maximum=1))
    h.session.publish("t", b"first", qos=1)
    with pytest.raises(UsageError):
        h.session.publish("t", b"x" * 200, qos=1)  # would wait in the queue
    with pytest.raises(UsageError):
        h.session.publish("t", b"x", qos=1, properties=Properties(content_type="c" * 200))
    h.session.publish("t", b"x", qos=1, properties=Properties(content_type="text"))
    assert h.session.queued_count == 1


def test_receive_maximum_sets_the_window() -> None:
    h = SessionHarness(ClientConfig(client_id="c", max_inflight=50))
    h.connect(properties=Properties(receive_maximum=7))
    assert h.session.max_inflight == 7
    h.drop()
    h.connect()
    assert h.session.max_inflight == 50


@pytest.mark.parametrize(("version", "window"), [(V4, 20), (V5, 65535)])
def test_default_window(version: ProtocolVersion, window: int) -> None:
    h = SessionHarness(ClientConfig(client_id="c", protocol_version=version))
    h.connect()
    assert h.session.max_inflight == window


def test_connect_resumes_after_the_first_connection_when_the_session_may_exist() -> None:
    h = SessionHarness(ClientConfig(client_id="c", session_expiry_interval=300))
    assert h.connect().clean_start is True
    h.drop()
    assert h.connect(session_present=True).clean_start is False
    h.session.disconnect(properties=Properties(session_expiry_interval=0))
    h.sent()
    assert h.connect().clean_start is True


def test_connack_session_expiry_overrides_ours() -> None:
    h = SessionHarness(ClientConfig(client_id="c", session_expiry_interval=300))
    h.connect(properties=Properties(session_expiry_interval=0))
    h.drop()
    assert h.connect().clean_start is True


def test_v311_clean_session_false_is_kept_on_reconnect() -> None:
    h = SessionHarness(ClientConfig(client_id="c", protocol_version=V4, clean_start=False))
    assert h.connect().clean_start is False
    h.drop()
    assert h.connect(session_present=True).clean_start is False


def test_explicit_clean_start_wins() -> None:
    h = SessionHarness(ClientConfig(client_id="c", session_expiry_interval=300))
    h.connect()
    h.drop()
    assert h.connect(clean_start=True).clean_start is True


def test_sent_packets_are_recorded_with_sizes_and_password_redacted() -> None:
    h = SessionHarness(ClientConfig(client_id="c", username="u", password=b"pw"))
    h.session.connect()
    data = h.session.data_to_send(h.now)
    [(packet, size)] = h.session.take_sent_packets()
    assert isinstance(packet, Connect) and packet.password != b"pw"
    assert size == len(data)
    assert h.session.take_sent_packets() == []


def test_recording_off_records_nothing() -> None:
    h = SessionHarness()
    h.session.record_sent_packets = False
    h.connect()
    assert h.session.take_sent_packets() == []


def test_pending_subscribe_is_asked_again_on_the_next_connection() -> None:
    h = SessionHarness()
    h.connect()
    packet_id = h.session.subscribe([Subscription(topic_filter="a")])
    h.sent()
    h.drop()
    h.events()
    h.connect(session_present=False)
    [again] = h.sent()
    assert isinstance(again, Subscribe) and again.packet_id == packet_id
    h.reply(SubAck(packet_id=packet_id, reason_codes=(ReasonCode.GRANTED_QOS_0,)))
    assert isinstance(h.events()[-1], Subscribed)
