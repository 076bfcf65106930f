"""Codec benchmarks: emqtt_core against zmqtt, gmqtt (pure Python) and mqtt5 (Rust).

One message shape, as in the project's performance baseline: a QoS 1 PUBLISH of
a 256-byte payload to ``sensors/temperature/room1``, with two properties on MQTT 5
(``message_expiry_interval`` and one user property) and none on MQTT 3.1.1.

Decode is bytes in, the library's own packet object out, through each library's
incremental reader where it has one (our ``Decoder``, zmqtt's ``PacketBuffer``,
gmqtt's framing and packet handler up to ``on_message``, without the PUBACK it
hands to the client on the way; mqtt5 has only a one-shot ``read``, given a
memoryview made once). Encode is from a packet object built beforehand to bytes
(for mqtt5, ``packet.write()``). The "floor" row builds the same objects and
packs the same bytes with no parsing and no checks: what any pure-Python codec
into these objects costs at the least. A last group times the common PUBACK.

Run on demand (the normal test run ignores this directory)::

    .venv/bin/python -m pytest tests/benchmarks/test_codec_bench.py --benchmark-only \\
        -p no:cacheprovider -o addopts="" --benchmark-group-by=group
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any, cast

import pytest

from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import QoS
from emqtt_core.packets import PubAck, Publish
from emqtt_core.properties import Properties

# Each round runs the operation many times between two clock readings: with one
# call per round (pytest-benchmark's choice for a microsecond operation) the
# clock reading itself, about a tenth of a microsecond here, would be counted
# in every result and squeeze the ratios between fast and slow libraries.
pytestmark = pytest.mark.benchmark(min_time=0.0002)

TOPIC = "sensors/temperature/room1"
PAYLOAD = bytes(range(256))
PACKET_ID = 1234
EXPIRY = 60
USER_PROPERTY = ("key", "value")

OURS_V5 = Publish(
    topic=TOPIC,
    payload=PAYLOAD,
    qos=QoS.AT_LEAST_ONCE,
    packet_id=PACKET_ID,
    properties=Properties(message_expiry_interval=EXPIRY, user_property=(USER_PROPERTY,)),
)
OURS_V4 = Publish(topic=TOPIC, payload=PAYLOAD, qos=QoS.AT_LEAST_ONCE, packet_id=PACKET_ID)
WIRE = {"5": encode(OURS_V5, 5), "3.1.1": encode(OURS_V4, 4)}


def check_publish(topic: object, payload: object, packet_id: object) -> None:
    assert topic in (TOPIC, TOPIC.encode())
    assert payload == PAYLOAD
    assert packet_id == PACKET_ID


# --------------------------------------------------------------------------
# Each library: (decode one message, encode one message), or None if it lacks
# the protocol version.


def emqtt_codec(version: str) -> tuple[Callable[[], Any], Callable[[], bytes]]:
    data = WIRE[version]
    protocol = 5 if version == "5" else 4
    packet = OURS_V5 if version == "5" else OURS_V4
    decoder = Decoder(protocol)

    def decode() -> Any:
        decoder.feed(data)
        return decoder.next_packet()

    result = decode()
    assert result == packet
    return decode, lambda: encode(packet, protocol)


def zmqtt_codec(version: str) -> tuple[Callable[[], Any], Callable[[], bytes]]:
    from zmqtt._internal.packets.codec import encode as zmqtt_encode
    from zmqtt._internal.packets.properties import PublishProperties
    from zmqtt._internal.packets.publish import Publish as ZPublish
    from zmqtt._internal.packets.reader import PacketBuffer
    from zmqtt._internal.types.qos import QoS as ZQoS

    zversion = "5.0" if version == "5" else "3.1.1"
    props = (
        PublishProperties(message_expiry_interval=EXPIRY, user_properties=(USER_PROPERTY,))
        if version == "5"
        else None
    )
    packet = ZPublish(
        topic=TOPIC,
        payload=PAYLOAD,
        qos=ZQoS.AT_LEAST_ONCE,
        retain=False,
        dup=False,
        packet_id=PACKET_ID,
        properties=props,
    )
    data = WIRE[version]
    buffer = PacketBuffer(version=zversion)  # type: ignore[arg-type]

    def decode() -> Any:
        buffer.feed(data)
        for received in buffer:
            return received
        raise AssertionError("no packet")

    result = decode()
    check_publish(result.topic, result.payload, result.packet_id)
    assert zmqtt_encode(packet, version=zversion) == data  # type: ignore[arg-type]
    return decode, lambda: zmqtt_encode(packet, version=zversion)  # type: ignore[arg-type]


def gmqtt_codec(version: str) -> tuple[Callable[[], Any], Callable[[], bytes]]:
    from gmqtt.client import Message
    from gmqtt.mqtt.constants import MQTTv50, MQTTv311
    from gmqtt.mqtt.handler import MqttPackageHandler
    from gmqtt.mqtt.package import PublishPacket
    from gmqtt.mqtt.protocol import MQTTProtocol
    from gmqtt.mqtt.utils import ConnectionState

    logging.getLogger("gmqtt").setLevel(logging.WARNING)
    proto = MQTTv50 if version == "5" else MQTTv311
    state = ConnectionState(protocol_version=proto)
    received: list[tuple[Any, ...]] = []

    async def noop_async(*args: Any, **kwargs: Any) -> None:
        return None

    handler = MqttPackageHandler(
        connack_event=None,
        connection_lost_event=None,
        connection_state=state,
        reconnect_callback=noop_async,
        disconnect_callback=noop_async,
        resend_qos_callback=noop_async,
        clear_qos_callback=lambda: None,
        connect_properties={},
        subscriptions_getter=list,
        remove_message_callback=lambda mid: None,
        store_message_callback=lambda mid, data: None,
        send_command_with_mid_callback=lambda *args, **kwargs: None,
        optimistic_acknowledgement=True,
    )

    def on_message(topic: Any, payload: Any, qos: Any, properties: Any) -> None:
        received.append((topic, payload, qos, properties))

    handler.on_message = on_message
    # With optimistic acknowledgement the handler hands a PUBACK to the client
    # before on_message; acknowledging is not decoding (our decoder leaves it to
    # the engine), so that hand-off is left out here.
    handler._send_puback = lambda mid, reason_code=0: None

    class Connection:
        # What MQTTProtocol._read_packet hands each framed packet to.
        put_package = staticmethod(handler)

    class Framing:
        _connection = Connection()

    framing = Framing()
    read_packet = MQTTProtocol._read_packet
    data = WIRE[version]

    def decode() -> Any:
        read_packet(framing, data)
        return received.pop()

    topic, payload, qos, properties = decode()
    check_publish(topic, payload, PACKET_ID)
    assert qos == 1
    if version == "5":
        assert properties["message_expiry_interval"] == [EXPIRY]
        assert properties["user_property"] == [USER_PROPERTY]

    class IdGenerator:
        @staticmethod
        def next_id() -> int:
            return PACKET_ID

    class Protocol:
        proto_ver = proto
        id_generator = IdGenerator()

    extra = {"message_expiry_interval": EXPIRY, "user_property": [USER_PROPERTY]}
    message = Message(TOPIC, PAYLOAD, qos=1, **(extra if version == "5" else {}))
    protocol = Protocol()

    def encode_gmqtt() -> bytes:
        return PublishPacket.build_package(message, protocol)[1]  # type: ignore[no-any-return]

    assert bytes(encode_gmqtt()) == data
    return decode, encode_gmqtt


def mqtt5_codec(version: str) -> tuple[Callable[[], Any], Callable[[], bytes]] | None:
    if version != "5":
        return None  # mqtt5 speaks MQTT 5 only
    import mqtt5

    packet = mqtt5.PublishPacket(
        topic=TOPIC,
        payload=PAYLOAD,
        qos=mqtt5.QoS.AT_LEAST_ONCE,
        packet_id=PACKET_ID,
        message_expiry_interval=EXPIRY,
        user_properties=[USER_PROPERTY],
    )
    data = WIRE[version]
    # mqtt5 reads from a memoryview; a reader keeps one over its receive buffer,
    # so the view is made once, not per message.
    view = memoryview(data)

    def decode() -> Any:
        return mqtt5.read(view)[0]

    result = decode()
    check_publish(result.topic, result.payload, result.packet_id)
    assert packet.write() == data
    return decode, packet.write


def floor_codec(version: str) -> tuple[Callable[[], Any], Callable[[], bytes]]:
    """The least that decoding and encoding this message cost in pure Python.

    Not a codec: the same objects built and the same bytes packed as ours, for
    this one message, from offsets and lengths known in advance. No framing, no
    dispatch, no bounds check, no validation. It shows how much of our time is
    the work any pure-Python codec into these objects must do.
    """
    from emqtt_core.codec import _PublishFields  # the decoder's way to fill a Publish

    new = object.__new__
    data = WIRE[version]
    packet = OURS_V5 if version == "5" else OURS_V4
    u16 = struct.Struct(">H")
    u32 = struct.Struct(">I")
    header = struct.Struct(">BBBH").pack
    id_and_u32 = struct.Struct(">BI").pack
    id_and_u16 = struct.Struct(">BH").pack
    qos = QoS.AT_LEAST_ONCE
    topic_end = 5 + len(TOPIC)  # after the two-byte remaining length and topic length

    def decode_v5() -> Any:
        buf = data
        properties = new(Properties)
        values = properties.__dict__
        values["message_expiry_interval"] = u32.unpack_from(buf, topic_end + 4)[0]
        values["user_property"] = ((buf[41:44].decode(), buf[46:51].decode()),)
        publish = new(_PublishFields)
        publish.topic = buf[5:topic_end].decode()
        publish.payload = buf[51:]
        publish.qos = qos
        publish.retain = False
        publish.dup = False
        publish.packet_id = u16.unpack_from(buf, topic_end)[0]
        publish.properties = properties
        publish.__class__ = Publish  # type: ignore[assignment]
        return publish

    def decode_v4() -> Any:
        buf = data
        publish = new(_PublishFields)
        publish.topic = buf[5:topic_end].decode()
        publish.payload = buf[topic_end + 2 :]
        publish.qos = qos
        publish.retain = False
        publish.dup = False
        publish.packet_id = u16.unpack_from(buf, topic_end)[0]
        publish.properties = packet.properties
        publish.__class__ = Publish  # type: ignore[assignment]
        return publish

    def encode_v5() -> bytes:
        topic = packet.topic.encode()
        properties = packet.properties
        ((key, value),) = properties.user_property
        key_bytes = key.encode()
        value_bytes = value.encode()
        props = b"".join(
            (
                id_and_u32(0x02, properties.message_expiry_interval),
                id_and_u16(0x26, len(key_bytes)),
                key_bytes,
                u16.pack(len(value_bytes)),
                value_bytes,
            )
        )
        payload = packet.payload
        remaining = len(topic) + len(props) + len(payload) + 5
        return b"".join(
            (
                header(0x32, remaining & 0x7F | 0x80, remaining >> 7, len(topic)),
                topic,
                u16.pack(cast(int, packet.packet_id)),
                bytes((len(props),)),
                props,
                payload,
            )
        )

    def encode_v4() -> bytes:
        topic = packet.topic.encode()
        payload = packet.payload
        remaining = len(topic) + len(payload) + 4
        return b"".join(
            (
                header(0x32, remaining & 0x7F | 0x80, remaining >> 7, len(topic)),
                topic,
                u16.pack(cast(int, packet.packet_id)),
                payload,
            )
        )

    decode, encode_floor = (decode_v5, encode_v5) if version == "5" else (decode_v4, encode_v4)
    assert decode() == packet
    assert encode_floor() == data
    return decode, encode_floor


LIBRARIES = {
    "emqtt": emqtt_codec,
    "zmqtt": zmqtt_codec,
    "gmqtt": gmqtt_codec,
    "mqtt5": mqtt5_codec,
    "floor": floor_codec,
}
PEERS = ("zmqtt", "gmqtt", "mqtt5")


STREAM = 100
"""Messages per chunk in the stream benchmark."""


def stream_decoder(library: str) -> Callable[[bytes], int]:
    """Decode every message of one chunk (as a socket read delivers them); return the count."""
    if library == "emqtt":
        decoder = Decoder(5)

        def decode(chunk: bytes) -> int:
            decoder.feed(chunk)
            count = 0
            while decoder.next_packet() is not None:
                count += 1
            return count

        return decode
    if library == "zmqtt":
        from zmqtt._internal.packets.reader import PacketBuffer

        buffer = PacketBuffer(version="5.0")

        def decode_zmqtt(chunk: bytes) -> int:
            buffer.feed(chunk)
            return sum(1 for _ in buffer)

        return decode_zmqtt
    if library == "gmqtt":
        read_packet, framing_object, received = _gmqtt_parts(gmqtt_codec("5")[0])

        def decode_gmqtt(chunk: bytes) -> int:
            read_packet(framing_object, chunk)
            count = len(received)
            received.clear()
            return count

        return decode_gmqtt
    import mqtt5

    def decode_mqtt5(chunk: bytes) -> int:
        view = memoryview(chunk)
        offset = count = 0
        while offset < len(view):
            offset += mqtt5.read(view[offset:])[1]
            count += 1
        return count

    return decode_mqtt5


def _gmqtt_parts(decode: Callable[[], Any]) -> tuple[Any, Any, list[Any]]:
    # The one-message decode closure of gmqtt_codec() holds the framing function,
    # the object it frames for and the list its on_message fills.
    cells = dict(zip(decode.__code__.co_freevars, decode.__closure__ or (), strict=True))
    return (
        cells["read_packet"].cell_contents,
        cells["framing"].cell_contents,
        cells["received"].cell_contents,
    )


@pytest.mark.parametrize("library", ["emqtt", *PEERS])
def test_decode_stream(benchmark: Any, library: str) -> None:
    if library in PEERS:
        pytest.importorskip(library)
    decode = stream_decoder(library)
    chunk = WIRE["5"] * STREAM
    assert decode(chunk) == STREAM
    benchmark.group = f"decode MQTT 5, {STREAM} PUBLISH in one chunk (time per chunk)"
    benchmark.extra_info.update(library=library, version="5", operation="stream")
    benchmark(decode, chunk)


@pytest.mark.parametrize("library", list(LIBRARIES))
@pytest.mark.parametrize("version", ["5", "3.1.1"])
@pytest.mark.parametrize("operation", ["decode", "encode"])
def test_codec(benchmark: Any, library: str, version: str, operation: str) -> None:
    if library in PEERS:
        pytest.importorskip(library)
    codecs = LIBRARIES[library](version)
    if codecs is None:
        pytest.skip(f"{library} has no MQTT {version}")
    function = codecs[0] if operation == "decode" else codecs[1]
    benchmark.group = f"{operation} MQTT {version} QoS 1 PUBLISH, 256 B"
    benchmark.extra_info.update(library=library, version=version, operation=operation)
    benchmark(function)


PUBACK = PubAck(packet_id=PACKET_ID)


def puback_codec(library: str) -> tuple[Callable[[], Any], Callable[[], bytes]]:
    """Decode and encode a PUBACK of success without properties, the common acknowledgement."""
    data = encode(PUBACK, 5)
    if library == "emqtt":
        decoder = Decoder(5)

        def decode() -> Any:
            decoder.feed(data)
            return decoder.next_packet()

        assert decode() == PUBACK
        return decode, lambda: encode(PUBACK, 5)
    import mqtt5

    packet = mqtt5.PubAckPacket(packet_id=PACKET_ID)
    view = memoryview(data)

    def decode_mqtt5() -> Any:
        return mqtt5.read(view)[0]

    assert decode_mqtt5().packet_id == PACKET_ID
    assert packet.write() == data
    return decode_mqtt5, packet.write


@pytest.mark.parametrize("library", ["emqtt", "mqtt5"])
@pytest.mark.parametrize("operation", ["decode", "encode"])
def test_puback(benchmark: Any, library: str, operation: str) -> None:
    if library in PEERS:
        pytest.importorskip(library)
    codecs = puback_codec(library)
    function = codecs[0] if operation == "decode" else codecs[1]
    benchmark.group = f"{operation} MQTT 5 PUBACK"
    benchmark.extra_info.update(library=library, version="5", operation=operation)
    benchmark(function)
