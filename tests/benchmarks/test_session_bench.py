"""Throughput of the ClientSession engine alone: no sockets, no event loop.

Run (the normal test run ignores tests/benchmarks)::

    .venv/bin/python -m pytest tests/benchmarks/test_session_bench.py --benchmark-only \
        --benchmark-columns=median,iqr,ops --benchmark-sort=name

Each round moves ``BATCH`` messages (small enough that a round is rarely cut by the
scheduler on a busy machine) the way an adapter does under load: many
``publish()`` calls, one ``data_to_send()``, one ``receive_data()`` with every
acknowledgement, then the events drained.  The median divided by ``BATCH`` is
the engine's cost per message; ``BATCH / median`` is messages per second.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emqtt_core.codec import encode
from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.packets import ConnAck, PubAck, PubComp, Publish, PubRec
from emqtt_core.properties import Properties
from emqtt_core.session import ClientSession

BATCH = 100
PAYLOAD = b"x" * 64
TOPIC = "bench/topic"
MAX_ID = 0xFFFF


def connected(version: ProtocolVersion, **config: object) -> ClientSession:
    session = ClientSession(
        ClientConfig(client_id="bench", protocol_version=version, **config)  # type: ignore[arg-type]
    )
    session.connect()
    session.data_to_send(0.0)
    session.receive_data(encode(ConnAck(), version), 0.0)
    while session.next_event() is not None:
        pass
    return session


def ids_of_round(first: int) -> list[int]:
    """The packet ids a session hands out next, starting at ``first``."""
    return [(first - 1 + i) % MAX_ID + 1 for i in range(BATCH)]


def drain(session: ClientSession) -> int:
    count = 0
    while session.next_event() is not None:
        count += 1
    return count


@pytest.mark.parametrize("version", [ProtocolVersion.MQTT_3_1_1, ProtocolVersion.MQTT_5])
def test_publish_qos1_round_trip(
    benchmark: Callable[..., object], version: ProtocolVersion
) -> None:
    session = connected(version, max_inflight=BATCH)
    acks = [b"", *(encode(PubAck(packet_id=i), version) for i in range(1, MAX_ID + 1))]
    state = {"next": 1}

    def round_trip() -> None:
        first = state["next"]
        publish = session.publish
        for _ in range(BATCH):
            publish(TOPIC, PAYLOAD, qos=1)
        session.data_to_send(1.0)
        session.receive_data(b"".join([acks[i] for i in ids_of_round(first)]), 1.0)
        state["next"] = (first - 1 + BATCH) % MAX_ID + 1
        assert drain(session) == BATCH

    benchmark(round_trip)
    assert session.inflight_count == 0


def test_publish_qos2_round_trip(benchmark: Callable[..., object]) -> None:
    version = ProtocolVersion.MQTT_5
    session = connected(version, max_inflight=BATCH)
    recs = [b"", *(encode(PubRec(packet_id=i), version) for i in range(1, MAX_ID + 1))]
    comps = [b"", *(encode(PubComp(packet_id=i), version) for i in range(1, MAX_ID + 1))]
    state = {"next": 1}

    def round_trip() -> None:
        first = state["next"]
        ids = ids_of_round(first)
        for _ in range(BATCH):
            session.publish(TOPIC, PAYLOAD, qos=2)
        session.data_to_send(1.0)
        session.receive_data(b"".join([recs[i] for i in ids]), 1.0)
        session.data_to_send(1.0)  # the PUBRELs
        session.receive_data(b"".join([comps[i] for i in ids]), 1.0)
        state["next"] = (first - 1 + BATCH) % MAX_ID + 1
        assert drain(session) == BATCH

    benchmark(round_trip)


def test_publish_qos0(benchmark: Callable[..., object]) -> None:
    session = connected(ProtocolVersion.MQTT_5)

    def burst() -> None:
        for _ in range(BATCH):
            session.publish(TOPIC, PAYLOAD)
        session.data_to_send(1.0)
        assert drain(session) == BATCH

    benchmark(burst)


def test_publish_qos1_with_topic_alias(benchmark: Callable[..., object]) -> None:
    version = ProtocolVersion.MQTT_5
    session = ClientSession(ClientConfig(client_id="bench", max_inflight=BATCH))
    session.connect()
    session.data_to_send(0.0)
    session.receive_data(
        encode(ConnAck(properties=Properties(topic_alias_maximum=10)), version), 0.0
    )
    drain(session)
    acks = [b"", *(encode(PubAck(packet_id=i), version) for i in range(1, MAX_ID + 1))]
    state = {"next": 1}

    def round_trip() -> None:
        first = state["next"]
        for _ in range(BATCH):
            session.publish(TOPIC, PAYLOAD, qos=1)
        session.data_to_send(1.0)
        session.receive_data(b"".join([acks[i] for i in ids_of_round(first)]), 1.0)
        state["next"] = (first - 1 + BATCH) % MAX_ID + 1
        assert drain(session) == BATCH

    benchmark(round_trip)


@pytest.mark.parametrize("qos", [QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE])
def test_receive(benchmark: Callable[..., object], qos: QoS) -> None:
    version = ProtocolVersion.MQTT_5
    session = connected(version)
    data = b"".join(
        encode(
            Publish(topic=TOPIC, payload=PAYLOAD, qos=qos, packet_id=(i + 1) if qos else None),
            version,
        )
        for i in range(BATCH)
    )

    def receive() -> None:
        session.receive_data(data, 1.0)
        session.data_to_send(1.0)
        assert drain(session) == BATCH

    benchmark(receive)
