"""The asyncio client against the private mosquitto, over every transport and MQTT version."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from asyncio_support import (
    TRANSPORTS,
    VERSIONS,
    endpoint,
    make_client,
    next_message,
    run,
    unique_topic,
)

import telemetry
from adapters.asyncio import Client, ReasonCode, Will
from emqtt_core.packets import Publish
from emqtt_core.reason_codes import ReasonCode as RC

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]

MATRIX = [(transport, version) for transport in TRANSPORTS for version in VERSIONS]
IDS = [f"{transport}-v{version}" for transport, version in MATRIX]


@pytest.fixture(params=MATRIX, ids=IDS)
def target(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Options reaching the broker over one transport with one protocol version."""
    transport, version = request.param
    options = endpoint(request, transport)
    options["protocol_version"] = version
    return options


def test_publish_and_receive_at_each_qos(target: dict[str, Any]) -> None:
    topic = unique_topic("qos")

    async def scenario() -> list[tuple[str, bytes, int]]:
        async with make_client(target) as client:
            assert client.status == "connected"
            granted = await client.subscribe(f"{topic}/#", qos=2)
            assert list(granted) == [RC.GRANTED_QOS_2]
            messages = client.messages()
            results = [
                await client.publish(f"{topic}/{qos}", f"m{qos}".encode(), qos=qos)
                for qos in (0, 1, 2)
            ]
            assert [r.reason_code for r in results] == [ReasonCode.SUCCESS] * 3
            assert [r.qos for r in results[1:]] == [1, 2]
            received = [await next_message(messages) for _ in range(3)]
            return [(m.topic, m.payload, int(m.qos)) for m in received]

    received = run(scenario())
    assert sorted(received) == [
        (f"{topic}/0", b"m0", 0),
        (f"{topic}/1", b"m1", 1),
        (f"{topic}/2", b"m2", 2),
    ]


def test_retained_message_goes_to_a_later_subscriber(target: dict[str, Any]) -> None:
    topic = unique_topic("retained")

    async def scenario() -> tuple[bytes, bool]:
        async with make_client(target) as publisher:
            await publisher.publish(topic, b"kept", qos=1, retain=True)
        async with make_client(target) as subscriber:
            messages = subscriber.messages()
            await subscriber.subscribe(topic, qos=1)
            message = await next_message(messages)
            # Clear it so the broker does not keep it for the rest of the session.
            await subscriber.publish(topic, b"", qos=1, retain=True)
            return message.payload, message.retain

    assert run(scenario()) == (b"kept", True)


def test_will_is_published_after_an_abnormal_close(target: dict[str, Any]) -> None:
    topic = unique_topic("will")

    async def scenario() -> bytes:
        async with make_client(target) as watcher:
            messages = watcher.messages()
            await watcher.subscribe(topic, qos=1)
            doomed = make_client(target, will=Will(topic=topic, payload=b"gone", qos=1))
            await doomed.connect()
            await doomed.abort()  # no DISCONNECT: the broker must publish the will
            assert doomed.status == "closed"
            return (await next_message(messages)).payload

    assert run(scenario()) == b"gone"


def test_will_is_not_published_after_disconnect(target: dict[str, Any]) -> None:
    topic = unique_topic("nowill")

    async def scenario() -> bytes:
        async with make_client(target) as watcher:
            messages = watcher.messages()
            await watcher.subscribe(f"{topic}/#", qos=1)
            async with make_client(target, will=Will(topic=f"{topic}/w", payload=b"x")):
                pass
            # A marker published after the disconnect arrives first if no will was sent.
            await watcher.publish(f"{topic}/marker", b"marker", qos=1)
            return (await next_message(messages)).payload

    assert run(scenario()) == b"marker"


def test_one_megabyte_payload(request: pytest.FixtureRequest, target: dict[str, Any]) -> None:
    """A 1 MiB message is published and received intact.

    mosquitto 2.0's WebSocket listener sends about 4 KiB per 100 ms to a subscriber (paho
    measures the same 25 s for 1 MiB), so over ws/wss the 1 MiB message is published over
    WebSocket and received over TCP, and a 64 KiB message (many WebSocket frames) is received
    over WebSocket.
    """
    topic = unique_topic("big")
    payload = bytes(range(256)) * 4096
    websocket = target["transport"] in ("ws", "wss")
    tcp = endpoint(request, "tcp") if websocket else target

    async def scenario() -> tuple[bytes, bytes | None]:
        async with make_client(target) as client, make_client(tcp) as reader:
            messages = reader.messages()
            await reader.subscribe(topic, qos=1)
            await client.publish(topic, payload, qos=1)
            big = (await next_message(messages)).payload
            if not websocket:
                return big, None
            own = client.messages()
            await client.subscribe(f"{topic}/ws", qos=1)
            await client.publish(f"{topic}/ws", payload[: 64 * 1024], qos=1)
            return big, (await next_message(own)).payload

    big, small = run(scenario())
    assert big == payload
    if websocket:
        assert small == payload[: 64 * 1024]


def test_unicode_topics(target: dict[str, Any]) -> None:
    topic = unique_topic("ünïcødé/温度/🚀")

    async def scenario() -> str:
        async with make_client(target) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=1)
            await client.publish(topic, "ça marche".encode(), qos=1)
            message = await next_message(messages)
            assert message.payload.decode() == "ça marche"
            return message.topic

    assert run(scenario()) == topic


def test_unsubscribe_and_ping(target: dict[str, Any]) -> None:
    topic = unique_topic("unsub")

    async def scenario() -> None:
        async with make_client(target) as client:
            await client.subscribe(topic, qos=1)
            codes = await client.unsubscribe(topic)
            assert list(codes) == [RC.SUCCESS]
            await client.ping()

    run(scenario())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_topic_aliases_are_used_on_mqtt5(request: pytest.FixtureRequest, transport: str) -> None:
    """Repeated publishes to one topic go out with a Topic Alias and an empty topic after the
    first (mosquitto grants 10 aliases); the subscriber still sees the real topic."""
    target = endpoint(request, transport)
    topic = unique_topic("alias")
    sent: list[Publish] = []

    def on_send(name: Any, measurements: Any, metadata: dict[str, Any], config: Any) -> None:
        packet = metadata["data"]
        if isinstance(packet, Publish) and packet.packet_id is not None:
            sent.append(packet)

    async def scenario() -> list[str]:
        async with make_client(target, protocol_version=5, telemetry=True) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=1)
            for n in range(3):
                await client.publish(topic, b"%d" % n, qos=1)
            return [(await next_message(messages)).topic for _ in range(3)]

    handler_id = f"alias-{transport}"
    telemetry.attach(handler_id, ("emqtt", "socket", "send_data"), on_send)
    try:
        topics = run(scenario())
    finally:
        telemetry.detach(handler_id)
    assert topics == [topic] * 3
    assert len(sent) == 3
    alias = sent[0].properties.topic_alias
    assert alias is not None
    assert sent[0].topic == topic
    assert [(p.topic, p.properties.topic_alias) for p in sent[1:]] == [("", alias)] * 2


def test_mqtt_3_1_smoke(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("v31")

    async def scenario() -> bytes:
        async with make_client(target, protocol_version=3) as client:
            assert len(client.client_id) <= 23  # generated within MQTT 3.1's limit
            messages = client.messages()
            await client.subscribe(topic, qos=2)
            await client.publish(topic, b"old", qos=2)
            return (await next_message(messages)).payload

    assert run(scenario()) == b"old"


def test_from_url_connects_with_the_url_options(request: pytest.FixtureRequest) -> None:
    broker = request.getfixturevalue("mosquitto")

    async def scenario() -> str:
        client = Client.from_url(
            f"ws://{broker.host}:{broker.ws_port}/mqtt", client_id="url-client"
        )
        async with client:
            return client.client_id

    assert run(scenario()) == "url-client"


def test_many_concurrent_publishers_share_one_connection(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("concurrent")

    async def scenario() -> int:
        async with make_client(target, protocol_version=5) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=1)

            async def worker(n: int) -> None:
                for i in range(50):
                    await client.publish(topic, b"%d-%d" % (n, i), qos=1)

            async def consume() -> set[bytes]:
                return {(await next_message(messages)).payload for _ in range(1000)}

            # The messages come back to this client: it reads them while it publishes, or its
            # bounded message queue would (rightly) stop it from reading the last PUBACKs.
            consumer = asyncio.ensure_future(consume())
            await asyncio.gather(*(worker(n) for n in range(20)))
            return len(await consumer)

    assert run(scenario()) == 1000


def test_defaults_are_safe_with_mosquittos_default_limits(request: pytest.FixtureRequest) -> None:
    """MQTT 3.1.1 has no Receive Maximum and mosquitto silently drops QoS 2 messages beyond its
    default 20 in flight: with default options a deep pipeline still delivers everything."""
    target = endpoint(request, "tcp")
    topic = unique_topic("defaults")
    count = 500

    async def scenario() -> int:
        async with make_client(target, protocol_version=4) as client:
            messages = client.messages()
            await client.subscribe(topic, qos=2)
            futures = [client.publish_nowait(topic, b"%d" % n, qos=2) for n in range(count)]
            await asyncio.gather(*futures)
            got = {int((await next_message(messages)).payload) for _ in range(count)}
            return len(got)

    assert run(scenario()) == count


def test_mqtt5_properties_travel_with_the_message(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")
    topic = unique_topic("props")

    async def scenario() -> Any:
        async with make_client(target, protocol_version=5) as client:
            messages = client.messages()
            codes = await client.subscribe(
                topic, qos=1, properties={"subscription_identifier": (42,)}
            )
            assert list(codes) == [RC.GRANTED_QOS_1]
            await client.publish(
                topic,
                b"{}",
                qos=1,
                properties={
                    "content_type": "application/json",
                    "user_property": [("trace", "abc"), ("trace", "def")],
                    "message_expiry_interval": 60,
                    "response_topic": f"{topic}/reply",
                    "correlation_data": b"\x01\x02",
                },
            )
            return (await next_message(messages)).properties

    properties = run(scenario())
    assert properties.content_type == "application/json"
    assert properties.user_property == (("trace", "abc"), ("trace", "def"))
    assert properties.response_topic.endswith("/reply")
    assert properties.correlation_data == b"\x01\x02"
    assert properties.subscription_identifier == (42,)
    assert 0 < properties.message_expiry_interval <= 60


def test_disconnect_with_will_message(request: pytest.FixtureRequest) -> None:
    """MQTT 5 DISCONNECT 0x04 asks the server to publish the will anyway."""
    target = endpoint(request, "tcp")
    topic = unique_topic("will04")

    async def scenario() -> bytes:
        async with make_client(target, protocol_version=5) as watcher:
            messages = watcher.messages()
            await watcher.subscribe(topic, qos=1)
            leaving = make_client(
                target, protocol_version=5, will=Will(topic=topic, payload=b"bye", qos=1)
            )
            await leaving.connect()
            await leaving.disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
            return (await next_message(messages)).payload

    assert run(scenario()) == b"bye"


def test_socket_options_and_local_address(request: pytest.FixtureRequest) -> None:
    target = endpoint(request, "tcp")

    async def scenario() -> tuple[str, int]:
        client = make_client(
            target,
            local_address=("127.0.0.1", 0),
            socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
        )
        async with client:
            transport = client._transport
            assert transport is not None
            sock = transport.get_extra_info("socket")
            return sock.getsockname()[0], sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)

    address, keepalive = run(scenario())
    assert address == "127.0.0.1"
    assert keepalive == 1
