"""Parity scenarios: every adapter x every transport x MQTT 3.1.1 and 5, against mosquitto.

Each scenario is written once against `parity_facade.SyncClient`; the ``adapter``,
``target`` and ``version`` fixtures expand it into the whole matrix.
"""

from __future__ import annotations

import pytest
from parity_facade import Adapter, Target, client_threads, open_fds, unique

from adapters._reconnect import ReconnectPolicy
from adapters.errors import ClientClosed
from emqtt_core.enums import QoS
from emqtt_core.packets import Will
from emqtt_core.reason_codes import ReasonCode

#: A fast, deterministic reconnect policy for the tests.
FAST_RECONNECT = ReconnectPolicy(initial_delay=0.02, max_delay=0.1, jitter=0.0, max_attempts=50)


def client_id() -> str:
    """A client identifier no other test uses."""
    return unique("cid").replace("/", "-")


def test_connect_ping_disconnect_leaves_nothing_behind(
    adapter: Adapter, target: Target, version: int
) -> None:
    fds = open_fds()
    client = adapter.new(target, protocol_version=version, client_id=client_id())
    assert client.status == "initialized"
    client.connect()
    sockets = client.socket_links()
    assert sockets
    try:
        assert client.status == "connected"
        assert client.connack is not None
        assert client.connack.session_present is False  # clean start [MQTT-3.2.2-2]
        client.ping()
    finally:
        client.disconnect()
    assert client.status == "closed"
    with pytest.raises(ClientClosed):
        client.publish("parity/after", b"x", qos=1)
    adapter.settle()
    assert client_threads() == set()
    after = open_fds()
    assert not sockets & set(after.values())
    if target.transport != "quic":
        # (The QUIC relay runs in this process: its sockets to the broker close on its own
        # schedule. The client's own sockets are checked above.)
        assert after.items() <= fds.items()


def test_publish_and_receive_at_each_qos(adapter: Adapter, target: Target, version: int) -> None:
    topic = unique()
    with adapter.client(target, protocol_version=version) as client:
        granted = client.subscribe(f"{topic}/#", qos=2)
        assert list(granted) == [ReasonCode.GRANTED_QOS_2]
        results = [client.publish(f"{topic}/{qos}", b"m%d" % qos, qos=qos) for qos in (0, 1, 2)]
        assert results[0].qos == QoS.AT_MOST_ONCE and results[0].packet_id is None
        for result, qos in zip(results[1:], (1, 2), strict=True):
            assert result.qos == qos
            assert result.packet_id is not None
            assert result.reason_code < 0x80
        received = sorted(
            (m.topic, m.payload, int(m.qos)) for m in client.messages(3)
        )
        assert received == [(f"{topic}/{q}", b"m%d" % q, q) for q in (0, 1, 2)]

        # After UNSUBACK nothing more arrives for the filter [MQTT-3.10.4-2]: a message on a
        # still-subscribed topic, published after, is the next one received.
        assert list(client.unsubscribe(f"{topic}/#")) in (
            [ReasonCode.SUCCESS],  # MQTT 5
            [],  # 3.1.1 UNSUBACK carries no reason codes
        )
        client.subscribe(f"{topic}-fence", qos=1)
        client.publish(f"{topic}/1", b"unsubscribed", qos=1)
        client.publish(f"{topic}-fence", b"fence", qos=1)
        assert client.next_message().payload == b"fence"


def test_retained_message_reaches_a_later_subscriber(
    adapter: Adapter, target: Target, version: int
) -> None:
    topic = unique()
    with adapter.client(target, protocol_version=version) as publisher:
        publisher.publish(topic, b"kept", qos=1, retain=True)
        try:
            with adapter.client(target, protocol_version=version) as subscriber:
                subscriber.subscribe(topic, qos=1)
                message = subscriber.next_message()
                # Sent because of the new subscription, with RETAIN set [MQTT-3.3.1-9].
                assert (message.payload, message.retain) == (b"kept", True)
        finally:
            publisher.publish(topic, b"", qos=1, retain=True)  # clears it [MQTT-3.3.1-10]


def test_will_is_published_after_abort_not_after_disconnect(
    adapter: Adapter, target: Target, version: int
) -> None:
    topic = unique()
    with adapter.client(target, protocol_version=version) as watcher:
        watcher.subscribe(f"{topic}/#", qos=1)
        lost = adapter.client(
            target,
            protocol_version=version,
            will=Will(topic=f"{topic}/lost", payload=b"lost-gone", qos=QoS.AT_LEAST_ONCE),
        )
        polite = adapter.client(
            target,
            protocol_version=version,
            will=Will(topic=f"{topic}/polite", payload=b"polite-gone", qos=QoS.AT_LEAST_ONCE),
        )
        # DISCONNECT (0x00) discards the will [MQTT-3.1.2-10]; a connection lost without it
        # publishes it [MQTT-3.1.2-8].
        polite.disconnect()
        lost.abort()
        assert lost.status == "closed"
        message = watcher.next_message()
        assert (message.topic, message.payload) == (f"{topic}/lost", b"lost-gone")
        watcher.publish(f"{topic}/fence", b"fence", qos=1)
        assert watcher.next_message().payload == b"fence"
        with pytest.raises(ClientClosed):
            lost.publish(f"{topic}/x", b"x", qos=1)


def _session_options(version: int) -> dict[str, object]:
    """Options of a client whose session the broker keeps across connections."""
    if version == 5:
        return {"clean_start": True, "session_expiry_interval": 300}
    return {"clean_start": False}


def test_reconnect_resumes_the_session_and_loses_nothing(
    adapter: Adapter, target: Target, version: int
) -> None:
    topic = unique()
    with (
        adapter.client(
            target,
            protocol_version=version,
            client_id=client_id(),
            reconnect=FAST_RECONNECT,
            **_session_options(version),
        ) as client,
        adapter.client(target, protocol_version=version) as peer,
    ):
        client.subscribe(f"{topic}/in", qos=1)
        peer.subscribe(f"{topic}/out", qos=1)
        client.drop_connection()
        # While the client is away: the broker queues what is published for its session
        # [MQTT-3.1.2-5], and the client's own publishes wait in its session.
        sent = [b"in%d" % i for i in range(5)]
        for payload in sent:
            peer.publish(f"{topic}/in", payload, qos=1)
        own = [b"out%d" % i for i in range(5)]
        results = client.publish_many(f"{topic}/out", own, qos=1)
        assert all(result.reason_code < 0x80 for result in results)
        client.ping()
        assert client.status == "connected"
        assert client.connack.session_present is True  # resumed [MQTT-3.2.2-3]
        received = [m.payload for m in client.messages(len(sent))]
        assert sorted(received) == sorted(sent)
        delivered = [m.payload for m in peer.messages(len(own))]
        assert sorted(delivered) == sorted(own)


def test_backpressure_pauses_reading_and_drops_nothing(
    adapter: Adapter, target: Target, version: int
) -> None:
    topic = unique()
    payloads = [b"%03d" % i for i in range(60)]
    with (
        adapter.client(target, protocol_version=version, message_queue_size=4) as slow,
        adapter.client(target, protocol_version=version, max_inflight=3) as fast,
    ):
        slow.subscribe(topic, qos=1)
        # The publisher's window is 3: the other 57 wait in its session queue, and every
        # one is acknowledged.
        results = fast.publish_many(topic, payloads, qos=1)
        assert len({r.ticket for r in results}) == len(payloads)
        assert all(r.reason_code < 0x80 for r in results)
        assert fast.session.inflight_count == 0 and fast.session.queued_count == 0
        # The subscriber read nothing so far: its queue filled and reading paused, yet every
        # message arrives, in order [MQTT-4.6.0-6].
        first = slow.next_message()
        assert slow.client.pending_messages <= len(payloads)
        rest = slow.messages(len(payloads) - 1)
        assert [m.payload for m in [first, *rest]] == payloads
        assert slow.client.pending_messages == 0
        assert slow.client.reading_paused is False
        assert set(slow.client.subscriptions) == {topic}
        assert (fast.client.inflight_count, fast.client.queued_count) == (0, 0)

