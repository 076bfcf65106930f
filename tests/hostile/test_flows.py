"""Servers that misbehave within a flow: acknowledgements that do not match, limits the
client announced and the server ignores, keepalive left unanswered, connections cut half-way.

Each scenario asserts what the application sees, what the client sent (read on the server
side) and that the connection ends (or, where the protocol says so, goes on).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostile_facade import accept, engine_error, new_client, wait_lost
from hostile_server import ScriptedServer, ServerConnection
from parity_facade import Adapter

from adapters.errors import ConnectionFailed, ConnectionLost
from emqtt_core.codec import encode
from emqtt_core.enums import QoS
from emqtt_core.exceptions import ConnectionLost as EngineConnectionLost
from emqtt_core.exceptions import KeepAliveTimeout, PacketTooLarge, ProtocolError
from emqtt_core.packets import (
    ConnAck,
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
    Unsubscribe,
)
from emqtt_core.reason_codes import ReasonCode


def _closed_with(server: ScriptedServer, version: int, code: ReasonCode) -> ServerConnection:
    """The connection the client closed; on MQTT 5 it ended with DISCONNECT ``code``."""
    conn = server.wait_closed()
    assert conn.eof.is_set()
    if version == 5:
        assert conn.received[-1] == Disconnect(reason_code=code)
    else:
        assert conn.disconnects == []
    return conn


def test_unknown_pubrel_is_answered_with_pubcomp(adapter: Adapter, version: int) -> None:
    """A PUBREL for a packet id the client does not know is answered, not fatal: PUBCOMP 0x92
    Packet Identifier not found on MQTT 5 (section 3.7.2.1), a plain PUBCOMP on 3.1.1
    [MQTT-4.3.3-11]; the connection goes on."""
    expected = ReasonCode.PACKET_IDENTIFIER_NOT_FOUND if version == 5 else ReasonCode.SUCCESS

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send(PubRel(packet_id=9))
        # The client's ping may overtake the PUBCOMP (it can be called as soon as CONNACK
        # arrived): PINGRESP only once both came.
        while not (bool(conn.packets(PubComp)) and bool(conn.packets(PingReq))):
            conn.read_packet()
        conn.send(PingResp())

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        client.connect()
        client.ping()
        assert client.status == "connected"
        assert server.connection().packets(PubComp) == [PubComp(packet_id=9, reason_code=expected)]
        client.disconnect()
        assert server.wait_closed().disconnects == [Disconnect()]


def test_suback_with_the_wrong_count_of_reason_codes(adapter: Adapter, version: int) -> None:
    """SUBACK has one reason code per subscription [MQTT-3.8.4-6]: two for one is a protocol
    error; the waiting subscribe() fails with ConnectionLost."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        subscribe = conn.expect(Subscribe)
        codes = (ReasonCode.GRANTED_QOS_1, ReasonCode.GRANTED_QOS_1)
        conn.send(SubAck(packet_id=subscribe.packet_id, reason_codes=codes))

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        client.connect()
        with pytest.raises(ConnectionLost) as raised:
            client.subscribe("a/b", qos=1)
        error = engine_error(raised.value)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.PROTOCOL_ERROR
        assert dict(client.session.subscriptions) == {}
        _closed_with(server, version, ReasonCode.PROTOCOL_ERROR)


def test_unsuback_with_the_wrong_count_of_reason_codes(adapter: Adapter) -> None:
    """MQTT 5 UNSUBACK has one reason code per topic filter [MQTT-3.11.3-1]."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        unsubscribe = conn.expect(Unsubscribe)
        # One reason code (0x00) for two filters; written by hand: the codec's encoder
        # refuses the mismatch.
        packet_id = unsubscribe.packet_id.to_bytes(2, "big")
        conn.send_raw(b"\xb0\x04" + packet_id + b"\x00\x00")

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        client.connect()
        with pytest.raises(ConnectionLost) as raised:
            client.unsubscribe(["a/b", "c/d"])
        assert isinstance(engine_error(raised.value), ProtocolError)
        _closed_with(server, 5, ReasonCode.PROTOCOL_ERROR)


def test_more_qos1_messages_than_our_receive_maximum(adapter: Adapter) -> None:
    """Receive Maximum 2 announced, three QoS 1 messages left unacknowledged by the
    application: DISCONNECT 0x93 Receive Maximum exceeded [MQTT-3.3.4-9]."""

    def script(conn: ServerConnection) -> None:
        connect = conn.expect_connect()
        assert connect.properties.receive_maximum == 2
        conn.send(ConnAck())
        conn.send(
            *(
                Publish(topic="r/m", payload=b"%d" % n, qos=QoS.AT_LEAST_ONCE, packet_id=n)
                for n in (1, 2, 3)
            )
        )

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, 5, properties={"receive_maximum": 2}, auto_ack=False) as client,
    ):
        client.connect()
        first, second = client.next_message(), client.next_message()
        assert (first.payload, second.payload) == (b"1", b"2")
        lost = wait_lost(client)
        error = engine_error(lost)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.RECEIVE_MAXIMUM_EXCEEDED
        conn = _closed_with(server, 5, ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)
        assert conn.packets(PubAck) == []


def test_more_qos2_messages_than_our_receive_maximum(adapter: Adapter) -> None:
    """With automatic acknowledgement, a QoS 2 message counts against Receive Maximum until
    its PUBREL [MQTT-3.3.4-9]: a server that sends a third one without releasing any is
    disconnected with 0x93, after the first two got their PUBREC."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send(ConnAck())
        for n in (1, 2):
            conn.send(Publish(topic="r/m", payload=b"%d" % n, qos=QoS.EXACTLY_ONCE, packet_id=n))
            assert conn.expect(PubRec).packet_id == n
        conn.send(Publish(topic="r/m", payload=b"3", qos=QoS.EXACTLY_ONCE, packet_id=3))

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, 5, properties={"receive_maximum": 2}) as client,
    ):
        client.connect()
        assert [client.next_message().payload for _ in range(2)] == [b"1", b"2"]
        error = engine_error(wait_lost(client))
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.RECEIVE_MAXIMUM_EXCEEDED
        _closed_with(server, 5, ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)


def test_packet_over_our_maximum_packet_size(adapter: Adapter, version: int) -> None:
    """A packet over the Maximum Packet Size we announced (MQTT 5) or configured (3.1.1):
    0x95 Packet too large: the server may not send it [MQTT-3.1.2-24] (section 3.1.2.11.4)."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send(Publish(topic="big", payload=b"x" * 1000))

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, version, properties={"maximum_packet_size": 256}) as client,
    ):
        client.connect()
        error = engine_error(wait_lost(client))
        assert isinstance(error, PacketTooLarge)
        assert error.reason_code == ReasonCode.PACKET_TOO_LARGE
        conn = _closed_with(server, version, ReasonCode.PACKET_TOO_LARGE)
        if version == 5:
            assert conn.received[0].properties.maximum_packet_size == 256  # type: ignore[union-attr]


def test_largest_remaining_length_is_refused_from_the_fixed_header(
    adapter: Adapter, version: int
) -> None:
    """A remaining length of 268,435,455 announced, and nothing more: with a Maximum Packet
    Size the client refuses it from the fixed header alone, buffering nothing."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send_raw(b"\x30\xff\xff\xff\x7f")

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, version, properties={"maximum_packet_size": 65536}) as client,
    ):
        client.connect()
        error = engine_error(wait_lost(client))
        assert isinstance(error, PacketTooLarge)
        _closed_with(server, version, ReasonCode.PACKET_TOO_LARGE)


def test_largest_remaining_length_then_silence_ends_by_keepalive(adapter: Adapter) -> None:
    """The same announcement without a Maximum Packet Size (the protocol's own maximum
    applies): the client waits for the body, buffering only what arrived, and keepalive ends
    the wait (no PINGRESP can come while the server is stuck in a packet)."""
    body_sent = 1000

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send_raw(b"\x30\xff\xff\xff\x7f" + b"\x00\x03a/b" + b"x" * (body_sent - 5))
        conn.hold()

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, 4, keep_alive=1, ping_timeout=0.25) as client,
    ):
        client.connect()
        lost = wait_lost(client)
        assert isinstance(engine_error(lost), KeepAliveTimeout)
        # The script holds: read what the client sent up to its close, here.
        conn = server.connection()
        conn.read_until_closed()
        assert conn.eof.is_set()
        assert conn.packets(PingReq) == [PingReq()]


def test_server_never_answers_pingreq(adapter: Adapter, version: int) -> None:
    """No PINGRESP within ping_timeout after PINGREQ: the client closes the connection
    (section 3.1.2.10 of both versions) and reports ConnectionLost caused by
    KeepAliveTimeout."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.expect(PingReq)
        conn.read_until_closed()

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, version, keep_alive=1, ping_timeout=0.25) as client,
    ):
        client.connect()
        lost = wait_lost(client)
        assert isinstance(engine_error(lost), KeepAliveTimeout)
        conn = server.wait_closed()
        assert conn.eof.is_set()
        assert conn.packets(PingReq) == [PingReq()]
        assert client.status == "closed"


def test_server_closes_mid_packet(adapter: Adapter, version: int) -> None:
    """Half a PUBLISH, then the end of the stream: ConnectionLost; the half message is not
    delivered."""
    data = encode(Publish(topic="half/way", payload=b"y" * 100), version)

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send_raw(data[: len(data) // 2])
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        client.connect()
        lost = wait_lost(client)
        assert isinstance(engine_error(lost), EngineConnectionLost)
        assert lost.reason_code is None  # no DISCONNECT came: the stream just ended
        assert not lost.by_server  # who closed the stream is not known
        assert client.status == "closed"
        assert server.connection().disconnects == []


def test_server_closes_before_connack(adapter: Adapter, version: int) -> None:
    """The server reads CONNECT and closes: ConnectionFailed, nothing retried."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed):
            client.connect()
        assert client.status == "closed"
        assert len(server.connections) == 1


def test_server_closes_mid_connack(adapter: Adapter, version: int) -> None:
    """Half a CONNACK, then the end of the stream: ConnectionFailed (no connection was
    established)."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send_raw(encode(ConnAck(), version)[:2])
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed):
            client.connect()
        assert client.status == "closed"


WRONG_ACKS: dict[str, tuple[int, Callable[[int], Packet]]] = {
    # Our publish's QoS, and the acknowledgement the server answers with instead.
    "pubrec-for-qos-1": (1, lambda pid: PubRec(packet_id=pid)),
    "pubcomp-for-qos-1": (1, lambda pid: PubComp(packet_id=pid)),
    "puback-for-qos-2": (2, lambda pid: PubAck(packet_id=pid)),
    "pubcomp-before-pubrec": (2, lambda pid: PubComp(packet_id=pid)),
}


@pytest.mark.parametrize("case", sorted(WRONG_ACKS))
def test_wrong_acknowledgement_for_our_publish(adapter: Adapter, version: int, case: str) -> None:
    """An acknowledgement of the wrong kind for a message in flight (section 4.3): a protocol
    error; the waiting publish() fails with ConnectionLost."""
    qos, answer = WRONG_ACKS[case]

    def script(conn: ServerConnection) -> None:
        accept(conn)
        publish = conn.expect(Publish)
        assert publish.packet_id is not None
        conn.send(answer(publish.packet_id))

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        client.connect()
        with pytest.raises(ConnectionLost) as raised:
            client.publish("wrong/ack", b"x", qos=qos)
        error = engine_error(raised.value)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.PROTOCOL_ERROR
        _closed_with(server, version, ReasonCode.PROTOCOL_ERROR)


def test_server_disconnect_is_reported_with_its_reason(adapter: Adapter) -> None:
    """An MQTT 5 server DISCONNECT: ConnectionLost with its reason code and ``by_server``;
    the client answers nothing [MQTT-3.14.4-1] and closes the connection."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send(Disconnect(reason_code=ReasonCode.SERVER_SHUTTING_DOWN))

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        client.connect()
        lost = wait_lost(client)
        assert lost.reason_code == ReasonCode.SERVER_SHUTTING_DOWN
        assert lost.by_server
        conn = server.wait_closed()
        assert conn.eof.is_set()
        assert conn.disconnects == []


def test_subscription_identifier_0_in_a_publish(adapter: Adapter) -> None:
    """A Subscription Identifier of 0 is a protocol error (section 3.3.2.3.8)."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send_raw(b"\x30\x09\x00\x03a/b\x02\x0b\x00x")

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        client.connect()
        error = engine_error(wait_lost(client))
        assert isinstance(error, ProtocolError)
        _closed_with(server, 5, error.reason_code)
        assert error.reason_code in (ReasonCode.PROTOCOL_ERROR, ReasonCode.MALFORMED_PACKET)


def test_suback_with_a_return_code_3_1_1_does_not_have(adapter: Adapter) -> None:
    """MQTT 3.1.1 SUBACK return codes are 0x00, 0x01, 0x02 and 0x80 [MQTT-3.9.3-2]."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        subscribe = conn.expect(Subscribe)
        conn.send_raw(b"\x90\x03" + subscribe.packet_id.to_bytes(2, "big") + b"\x03")

    with ScriptedServer(script) as server, new_client(adapter, server, 4) as client:
        client.connect()
        with pytest.raises(ConnectionLost) as raised:
            client.subscribe("a/b", qos=1)
        assert isinstance(engine_error(raised.value), ProtocolError)
        _closed_with(server, 4, ReasonCode.MALFORMED_PACKET)


def test_the_client_respects_the_server_receive_maximum(adapter: Adapter) -> None:
    """Receive Maximum 2 in CONNACK: of ten QoS 1 messages started at once, never more than
    two await PUBACK [MQTT-3.3.4-7]; each acknowledgement lets the next one go, in order."""
    window = 2
    most_unacknowledged = 0

    def script(conn: ServerConnection) -> None:
        nonlocal most_unacknowledged
        accept(conn, properties={"receive_maximum": window})
        unacknowledged: list[int] = []
        for _ in range(10):
            publish = conn.expect(Publish)
            assert publish.packet_id is not None
            unacknowledged.append(publish.packet_id)
            most_unacknowledged = max(most_unacknowledged, len(unacknowledged))
            if len(unacknowledged) == window:
                conn.send(PubAck(packet_id=unacknowledged.pop(0)))
        conn.send(*(PubAck(packet_id=packet_id) for packet_id in unacknowledged))

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        client.connect()
        payloads = [b"%d" % n for n in range(10)]
        results = client.publish_many("window/out", payloads, qos=1)
        assert [r.reason_code for r in results] == [ReasonCode.SUCCESS] * 10
        conn = server.connection()
        assert [p.payload for p in conn.packets(Publish)] == payloads
    assert most_unacknowledged == window
