"""The transition table of emqtt_core.state."""

from __future__ import annotations

import pytest
from scripted_broker import SessionHarness

from emqtt_core.config import ClientConfig
from emqtt_core.enums import QoS
from emqtt_core.events import ConnectionClosed
from emqtt_core.exceptions import ProtocolError
from emqtt_core.packets import (
    Auth,
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
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import _RECV_INPUTS
from emqtt_core.state import TRANSITIONS, Input, SessionState

S, In = SessionState, Input


def test_every_state_is_reachable_and_every_input_is_used() -> None:
    assert set(TRANSITIONS.values()) == set(S)
    assert {event for _, event in TRANSITIONS} == set(In)


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.CONNECTED, In.SEND_CONNECT)] = S.CONNECTING  # type: ignore[index]


@pytest.mark.parametrize(
    ("state", "event", "target"),
    [
        (S.DISCONNECTED, In.SEND_CONNECT, S.CONNECTING),
        (S.CONNECTING, In.RECV_CONNACK, S.CONNECTED),
        (S.CONNECTING, In.RECV_AUTH, S.AUTHENTICATING),
        (S.AUTHENTICATING, In.RECV_CONNACK, S.CONNECTED),
        (S.CONNECTED, In.PROTOCOL_ERROR, S.DISCONNECTING),
        (S.CONNECTED, In.RECV_DISCONNECT, S.DISCONNECTED),
        (S.DISCONNECTING, In.FLUSHED, S.DISCONNECTED),
    ],
)
def test_main_path(state: SessionState, event: Input, target: SessionState) -> None:
    assert TRANSITIONS[(state, event)] is target


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.CONNECTING, In.RECV_PUBLISH),  # nothing but CONNACK/AUTH before CONNACK
        (S.CONNECTED, In.RECV_CONNACK),  # a second CONNACK
        (S.CONNECTED, In.SEND_CONNECT),
        (S.DISCONNECTED, In.SEND_SUBSCRIBE),
        (S.DISCONNECTED, In.SEND_DISCONNECT),
    ],
)
def test_missing_pairs_are_not_allowed(state: SessionState, event: Input) -> None:
    assert (state, event) not in TRANSITIONS


def test_publishing_is_allowed_in_every_state() -> None:
    for state in S:
        assert TRANSITIONS[(state, In.SEND_PUBLISH)] is state


def test_the_state_diagram_in_the_docs_is_current() -> None:
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[2] / "tools" / "make_state_diagram.py"
    result = subprocess.run(
        [sys.executable, str(tool), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def session_in(state: SessionState) -> SessionHarness:
    """A session with enhanced authentication (method "M"), brought to *state*."""
    h = SessionHarness(ClientConfig(client_id="c", authentication_method="M"))
    h.session.connect()
    h.sent()
    if state is S.AUTHENTICATING:
        h.reply(Auth(reason_code=ReasonCode.CONTINUE_AUTHENTICATION, properties=METHOD))
    elif state is S.CONNECTED:
        h.reply(ConnAck(properties=METHOD))
    h.events()
    assert h.session.state is state
    return h


METHOD = Properties(authentication_method="M")
SERVER_PACKETS: list[Packet] = [
    Connect(client_id="x"),
    ConnAck(properties=METHOD),
    Publish(topic="t", qos=QoS.AT_LEAST_ONCE, packet_id=1),
    PubAck(packet_id=1),
    PubRec(packet_id=1),
    PubRel(packet_id=1),
    PubComp(packet_id=1),
    Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a"),)),
    SubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_0,)),
    Unsubscribe(packet_id=1, topic_filters=("a",)),
    UnsubAck(packet_id=1, reason_codes=(ReasonCode.SUCCESS,)),
    PingReq(),
    PingResp(),
    Disconnect(),
    Auth(reason_code=ReasonCode.CONTINUE_AUTHENTICATION, properties=METHOD),
]


@pytest.mark.parametrize("state", [S.CONNECTING, S.AUTHENTICATING, S.CONNECTED])
@pytest.mark.parametrize("packet", SERVER_PACKETS, ids=lambda p: type(p).__name__)
def test_every_packet_in_every_open_state_follows_the_table(
    state: SessionState, packet: Packet
) -> None:
    h = session_in(state)
    h.reply(packet)
    closed = [e for e in h.events() if isinstance(e, ConnectionClosed)]
    event = _RECV_INPUTS.get(type(packet))
    if event is None or (state, event) not in TRANSITIONS:
        # A pair missing from the table is a protocol error.
        assert closed and isinstance(closed[0].error, ProtocolError)
        assert "unexpected" in str(closed[0].error)
    else:
        # Allowed by the table: whatever the handler decides, the table did not refuse it.
        assert not closed or "unexpected" not in str(closed[0].error)
