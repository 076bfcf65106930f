"""ClientSession: keepalive, ping, enhanced authentication, DISCONNECT both ways."""

from __future__ import annotations

import pytest
from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion
from emqtt_core.events import (
    AuthReceived,
    Connected,
    ConnectionClosed,
    PongReceived,
    PublishCompleted,
    PublishFailed,
    Reauthenticated,
)
from emqtt_core.exceptions import (
    ConnectTimeout,
    InvalidStateError,
    KeepAliveTimeout,
    ProtocolError,
    ServerDisconnected,
    UsageError,
)
from emqtt_core.packets import Auth, ConnAck, Connect, Disconnect, PingReq, PingResp, Publish
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.state import SessionState

V4 = ProtocolVersion.MQTT_3_1_1
CONTINUE = ReasonCode.CONTINUE_AUTHENTICATION
REAUTH = ReasonCode.RE_AUTHENTICATE


def connected(**config: object) -> SessionHarness:
    h = SessionHarness(ClientConfig(client_id="c", **config))  # type: ignore[arg-type]
    h.connect()
    h.events()
    return h


# -- keepalive


def test_pingreq_when_nothing_was_sent_for_keep_alive_mqtt_3_1_2_20() -> None:
    h = connected(keep_alive=10)
    start = h.now
    assert h.session.get_timer() == start + 10
    h.advance(5)
    h.session.publish("t", b"x")
    h.sent()  # sending restarts the interval
    assert h.session.get_timer() == start + 15
    h.advance(9.9)
    assert h.broker.received[-1] != PingReq()
    h.advance(0.2)
    assert h.broker.received[-1] == PingReq()
    h.reply(PingResp())
    assert isinstance(h.events()[-1], PongReceived)
    assert h.session.get_timer() == start + 25


def test_missing_pingresp_closes_with_keep_alive_timeout() -> None:
    h = connected(keep_alive=10)
    h.advance(10)
    assert h.broker.received[-1] == PingReq()
    h.advance(9.9)
    assert h.session.state is SessionState.CONNECTED
    h.advance(0.2)
    [closed] = [e for e in h.events() if isinstance(e, ConnectionClosed)]
    assert isinstance(closed.error, KeepAliveTimeout)
    assert closed.reason_code is ReasonCode.KEEP_ALIVE_TIMEOUT
    assert h.session.state is SessionState.DISCONNECTED
    assert h.sent() == []


def test_configured_ping_timeout_and_traffic_extending_it() -> None:
    h = connected(keep_alive=10, ping_timeout=3)
    h.advance(10)
    assert h.session.get_timer() == h.now + 3
    h.advance(2)
    h.reply(Publish(topic="t"))  # the connection is alive: the wait restarts
    h.advance(2.5)
    assert h.session.state is SessionState.CONNECTED
    h.advance(1)
    assert h.session.state is SessionState.DISCONNECTED


def test_keep_alive_zero_disables_keepalive() -> None:
    h = connected(keep_alive=0)
    assert h.session.get_timer() is None
    h.session.ping()
    assert h.sent() == [PingReq()]
    # A manual ping still gets an answer deadline (the connect timeout).
    assert h.session.get_timer() == h.now + h.config.connect_timeout


def test_manual_ping_and_unsolicited_pingresp() -> None:
    h = connected()
    h.session.ping()
    h.session.ping()
    assert h.sent() == [PingReq(), PingReq()]
    h.reply(PingResp())
    assert h.session.get_timer() is not None
    h.reply(PingResp())
    assert h.events() == [PongReceived(), PongReceived()]
    h.reply(PingResp())
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_timer_fired_early_does_nothing() -> None:
    h = connected(keep_alive=10)
    h.session.handle_timer(h.now + 1)
    assert h.sent() == []
    h.session.handle_timer(h.now + 11)
    h.session.handle_timer(h.now + 11)  # not yet written: one PINGREQ only
    assert h.sent() == [PingReq()]


def test_ping_needs_a_connection() -> None:
    h = SessionHarness()
    with pytest.raises(InvalidStateError):
        h.session.ping()
    h.session.handle_timer(h.now + 1e6)  # nothing to do while disconnected
    assert h.session.get_timer() is None


# -- DISCONNECT


def test_client_disconnect_is_reported_and_flushed() -> None:
    h = connected()
    h.session.publish("t", b"last")
    h.session.disconnect(properties=Properties(reason_string="bye"))
    assert h.session.state is SessionState.DISCONNECTING
    events = h.events()
    assert isinstance(events[-1], ConnectionClosed)
    assert events[-1].error is None and events[-1].by_server is False
    packets = h.sent()
    assert packets[-1] == Disconnect(properties=Properties(reason_string="bye"))
    assert isinstance(packets[0], Publish)
    assert isinstance(h.events()[0], PublishCompleted)
    assert h.session.state is SessionState.DISCONNECTED
    with pytest.raises(InvalidStateError):
        h.session.disconnect()


def test_disconnect_with_will_message_reason() -> None:
    h = connected()
    h.session.disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
    assert h.sent() == [Disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)]


def test_session_expiry_cannot_go_from_zero_to_nonzero_mqtt_3_14_2_2() -> None:
    h = connected()
    with pytest.raises(UsageError):
        h.session.disconnect(properties=Properties(session_expiry_interval=60))
    assert h.session.state is SessionState.CONNECTED
    assert h.sent() == []


def test_v3_disconnect_takes_no_mqtt5_arguments() -> None:
    h = connected(protocol_version=V4)
    with pytest.raises(UsageError):
        h.session.disconnect(reason_code=ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
    h.session.disconnect()
    assert h.sent() == [Disconnect()]


def test_server_disconnect_is_reported_with_reason_and_reference() -> None:
    h = connected()
    h.session.publish("t", b"unsent")
    props = Properties(reason_string="moving", server_reference="b:1883")
    h.reply(Disconnect(reason_code=ReasonCode.SERVER_MOVED, properties=props))
    events = h.events()
    assert isinstance(events[0], PublishFailed)  # its bytes never left
    closed = events[-1]
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ServerDisconnected)
    assert closed.reason_code is ReasonCode.SERVER_MOVED
    assert (closed.server_reference, closed.by_server) == ("b:1883", True)
    assert h.sent() == []  # nothing is written after the server's DISCONNECT


def test_v3_server_disconnect_is_a_protocol_error() -> None:
    h = connected(protocol_version=V4)
    h.reply_bytes(b"\xe0\x00")
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_disconnect_while_connecting_and_reconnect_before_flush() -> None:
    h = SessionHarness()
    h.session.connect()
    h.sent()
    h.session.publish("t", b"x")
    h.session.disconnect()
    assert h.session.state is SessionState.DISCONNECTING
    # The adapter gave up on writing: a new connection discards the old bytes.
    h.session.connect()
    packets = h.sent()
    assert [type(p) for p in packets] == [Connect]


def test_eof_while_disconnecting_drops_the_final_bytes() -> None:
    h = connected()
    h.session.publish("t", b"x")
    h.session.disconnect()
    h.events()
    h.drop()
    assert isinstance(h.events()[0], PublishFailed)
    assert h.session.state is SessionState.DISCONNECTED
    assert h.session.data_to_send(h.now) == b""


def test_protocol_error_disconnect_is_flushed_after_connection_closed() -> None:
    h = connected()
    h.reply_bytes(b"\x00\x00")  # packet type 0 is reserved
    assert h.session.state is SessionState.DISCONNECTING
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)
    assert h.sent() == [Disconnect(reason_code=closed.reason_code)]
    assert h.session.state is SessionState.DISCONNECTED


# -- enhanced authentication


def auth_config(**extra: object) -> ClientConfig:
    return ClientConfig(
        client_id="c",
        authentication_method="SCRAM-SHA-1",
        authentication_data=b"client-first",
        **extra,  # type: ignore[arg-type]
    )


SCRAM = Properties(authentication_method="SCRAM-SHA-1")


def test_successful_connack_must_repeat_the_method_mqtt_4_12_0_5() -> None:
    h = SessionHarness(auth_config())
    h.connect()
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def server_auth(data: bytes, code: ReasonCode = CONTINUE) -> Auth:
    return Auth(
        reason_code=code,
        properties=Properties(authentication_method="SCRAM-SHA-1", authentication_data=data),
    )


def test_enhanced_authentication_during_connect_mqtt_4_12() -> None:
    h = SessionHarness(auth_config())
    h.session.connect()
    [connect] = h.sent()
    assert isinstance(connect, Connect)
    assert connect.properties.authentication_method == "SCRAM-SHA-1"
    assert connect.properties.authentication_data == b"client-first"
    h.reply(server_auth(b"server-first"))
    assert h.session.state is SessionState.AUTHENTICATING
    [asked] = h.events()
    assert isinstance(asked, AuthReceived)
    assert asked.packet.properties.authentication_data == b"server-first"
    h.session.auth(reason_code=CONTINUE, data=b"client-final")
    [answer] = h.sent()
    assert answer == Auth(
        reason_code=CONTINUE,
        properties=Properties(
            authentication_method="SCRAM-SHA-1", authentication_data=b"client-final"
        ),
    )
    h.reply(ConnAck(properties=Properties(authentication_method="SCRAM-SHA-1")))
    assert isinstance(h.events()[0], Connected)
    assert h.session.state is SessionState.CONNECTED


def test_connect_timeout_covers_the_auth_exchange() -> None:
    h = SessionHarness(auth_config(connect_timeout=5))
    h.session.connect()
    h.sent()
    h.reply(server_auth(b"x"))
    h.advance(6)
    closed = h.events()[-1]
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ConnectTimeout)


def test_reauthentication_while_connected_mqtt_4_12_1() -> None:
    h = SessionHarness(auth_config())
    h.connect(properties=SCRAM)
    h.events()
    with pytest.raises(UsageError):
        h.session.auth(reason_code=CONTINUE)  # nothing to continue yet
    h.session.auth(reason_code=REAUTH, data=b"again")
    [start] = h.sent()
    assert isinstance(start, Auth) and start.reason_code is REAUTH
    h.reply(server_auth(b"challenge"))
    assert isinstance(h.events()[0], AuthReceived)
    h.session.publish("t", b"during")  # other traffic continues
    h.session.auth(reason_code=CONTINUE, method="SCRAM-SHA-1", data=b"response")
    assert len(h.sent()) == 2
    h.reply(server_auth(b"", ReasonCode.SUCCESS))
    done = [e for e in h.events() if isinstance(e, Reauthenticated)]
    assert len(done) == 1
    assert h.session.state is SessionState.CONNECTED


@pytest.mark.parametrize(
    ("config", "kwargs"),
    [
        ({}, {"reason_code": REAUTH}),
        ({"protocol_version": V4}, {"reason_code": REAUTH}),
    ],
)
def test_auth_without_a_method_is_a_usage_error(
    config: dict[str, object], kwargs: dict[str, object]
) -> None:
    h = connected(**config)
    with pytest.raises(UsageError):
        h.session.auth(**kwargs)  # type: ignore[arg-type]


def test_auth_with_another_method_is_a_usage_error_mqtt_4_12_0_5() -> None:
    h = SessionHarness(auth_config())
    h.connect(properties=SCRAM)
    with pytest.raises(UsageError):
        h.session.auth(reason_code=REAUTH, method="OTHER")


def test_auth_needs_a_connection() -> None:
    h = SessionHarness(auth_config())
    with pytest.raises(InvalidStateError):
        h.session.auth(reason_code=REAUTH)


@pytest.mark.parametrize(
    "packet",
    [
        server_auth(b"x", ReasonCode.SUCCESS),  # not re-authenticating
        Auth(reason_code=CONTINUE, properties=Properties(authentication_method="OTHER")),
    ],
)
def test_unexpected_server_auth_is_a_protocol_error(packet: Auth) -> None:
    h = SessionHarness(auth_config())
    h.connect(properties=SCRAM)
    h.events()
    h.reply(packet)
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_server_auth_without_enhanced_authentication_is_a_protocol_error() -> None:
    h = SessionHarness()
    h.session.connect()
    h.sent()
    h.reply(server_auth(b"x"))
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_server_auth_success_during_connect_is_a_protocol_error() -> None:
    h = SessionHarness(auth_config())
    h.session.connect()
    h.sent()
    h.reply(server_auth(b"x", ReasonCode.SUCCESS))
    [closed] = h.events()
    assert isinstance(closed, ConnectionClosed) and isinstance(closed.error, ProtocolError)


def test_second_ping_keeps_the_first_deadline() -> None:
    h = connected(keep_alive=10, ping_timeout=4)
    h.session.ping()
    h.sent()
    first = h.session.get_timer()
    h.advance(1)
    h.session.ping()
    h.sent()
    assert h.session.get_timer() == first


def test_connect_timer_is_armed_only_when_connect_leaves() -> None:
    h = SessionHarness()
    h.session.connect()
    h.session.handle_timer(h.now + 1e6)  # CONNECT not written yet: no deadline
    assert h.session.state is SessionState.CONNECTING
    assert h.session.config is h.config


def test_force_ping_pings_every_interval_despite_traffic() -> None:
    h = connected(keep_alive=10, force_ping=True)
    start = h.now
    answered = 0
    for _ in range(4):
        h.advance(5)
        h.session.publish("t", b"x")
        h.sent()
        pings = [p for p in h.broker.received if p == PingReq()]
        for _ in pings[answered:]:
            h.reply(PingResp())
        answered = len(pings)
    assert h.session.state is SessionState.CONNECTED
    pings = [p for p in h.broker.received if p == PingReq()]
    assert len(pings) == 2  # at start + 10 and start + 20
    assert h.session.get_timer() == start + 30
    h.session.handle_timer(start + 29)  # early: nothing
    assert h.sent() == []
    # A ping already queued is not doubled.
    h.session.ping()
    h.session.handle_timer(start + 31)
    assert h.sent() == [PingReq()]


def test_without_force_ping_traffic_replaces_pings() -> None:
    h = connected(keep_alive=10)
    for _ in range(4):
        h.advance(5)
        h.session.publish("t", b"x")
        h.sent()
    assert PingReq() not in h.broker.received


@pytest.mark.parametrize("force_ping", [False, True])
def test_no_past_keepalive_timer_while_bytes_wait_for_data_to_send(force_ping: bool) -> None:
    # An adapter whose writer is paused (a server that stops reading) does not call
    # data_to_send: a keepalive due time already past, that handle_timer cannot act on, would
    # make it fire the timer in a loop. The timer reappears once the bytes have left.
    h = connected(keep_alive=10, force_ping=force_ping)
    start = h.now
    h.session.publish("t", b"x")  # queued, not taken
    if force_ping:
        h.session.ping()  # a PINGREQ waiting to leave: handle_timer would not add another
    later = start + 25
    assert h.session.get_timer() is None
    h.session.handle_timer(later)
    assert h.session.get_timer() is None
    h.session.data_to_send(later)
    timer = h.session.get_timer()
    assert timer is not None and timer > later
