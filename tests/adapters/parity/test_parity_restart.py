"""Parity of session resumption across a broker restart (the heavy scenario).

It runs once per adapter over TCP: it needs a private broker (restarting the session's broker
would cut every other test's connections), and what it checks (the session survives, the
subscription is not resent, messages arrive through it) is decided by the engine and the
shared reconnect policy, which the reconnect scenario already covers on every transport and
both protocol versions. It uses MQTT 3.1.1 because mosquitto 2.0.11 restores persisted 3.1.1
sessions after a restart but not MQTT 5 sessions (seen: session_present is 0 after a restart
even with a Session Expiry Interval of an hour).
"""

from __future__ import annotations

import pytest
from parity_facade import ADAPTERS, Adapter, Target, unique
from support.broker import MosquittoFactory

from adapters._reconnect import ReconnectPolicy

FAST_RECONNECT = ReconnectPolicy(initial_delay=0.05, max_delay=0.2, jitter=0.0, max_attempts=100)


@pytest.mark.parametrize("adapter", ADAPTERS, indirect=True)
def test_session_survives_a_broker_restart(
    adapter: Adapter, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory()
    target = Target("tcp", broker.host, broker.tcp_port, None)
    topic = unique()
    client_id = unique("restart").replace("/", "-")
    with adapter.client(
        target,
        client_id=client_id,
        protocol_version=4,
        clean_start=False,
        reconnect=FAST_RECONNECT,
        resubscribe=False,
    ) as client:
        client.subscribe(topic, qos=1)
        # SIGTERM: mosquitto saves its sessions (persistence) and comes back on the same port.
        broker.restart()
        client.ping()  # waits for the reconnection
        assert client.connack.session_present is True
        with adapter.client(target, protocol_version=4) as peer:
            payloads = [b"after-restart-%d" % i for i in range(5)]
            peer.publish_many(topic, payloads, qos=1)
        # Delivered through the subscription the broker kept (resubscribe is off).
        assert sorted(m.payload for m in client.messages(len(payloads))) == payloads
