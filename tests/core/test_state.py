"""The transition table of emqtt_core.state."""

from __future__ import annotations

import pytest

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
