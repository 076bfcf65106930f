"""Malformed and unexpected packets from a server after it accepted the connection.

Every scenario: the server accepts, then sends the hostile packet. The application sees
`ConnectionLost` caused by the engine's `ProtocolError` carrying the reason code; on MQTT 5
the client's last packet is a DISCONNECT with that code [MQTT-4.13.1-1]; the client closes
the socket. Nothing hangs (each wait is bounded) and no call raises anything else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hostile_facade import accept, engine_error, new_client, wait_lost
from hostile_server import ScriptedServer, ServerConnection, WebSocketRelay
from parity_facade import Adapter

from emqtt_core.codec import encode
from emqtt_core.exceptions import MalformedPacket, ProtocolError
from emqtt_core.packets import (
    Auth,
    Disconnect,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    SubAck,
    UnsubAck,
)
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode


def _vbi(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def raw_publish(
    topic: bytes,
    payload: bytes = b"",
    *,
    version: int,
    first: int = 0x30,
    packet_id: int | None = None,
) -> bytes:
    """A PUBLISH written byte by byte, so that any field can be wrong."""
    body = len(topic).to_bytes(2, "big") + topic
    if packet_id is not None:
        body += packet_id.to_bytes(2, "big")
    if version == 5:
        body += b"\x00"  # no properties
    body += payload
    return bytes([first]) + _vbi(len(body)) + body


@dataclass(frozen=True)
class Hostile:
    """A hostile packet (as bytes, for a protocol version) and what it must cause."""

    name: str
    data: Callable[[int], bytes]
    error: type[ProtocolError]
    code: ReasonCode
    versions: tuple[int, ...] = (4, 5)


def _packet(packet: object) -> Callable[[int], bytes]:
    return lambda version: encode(packet, version)  # type: ignore[arg-type]


HOSTILE = [
    Hostile(
        "remaining-length-of-five-bytes",  # [MQTT-1.5.5-1] at most four bytes
        lambda v: b"\x30\xff\xff\xff\xff\x01",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "reserved-packet-type-0",
        lambda v: b"\x00\x00",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "topic-invalid-utf8",  # [MQTT-1.5.4-1]
        lambda v: raw_publish(b"a/\xff\xfe", b"x", version=v),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "topic-with-u0000",  # [MQTT-1.5.4-2]
        lambda v: raw_publish(b"a/\x00b", b"x", version=v),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "topic-with-utf16-surrogate",  # [MQTT-1.5.4-1] U+D800 encoded as if it were valid
        lambda v: raw_publish(b"a/\xed\xa0\x80", b"x", version=v),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "topic-with-wildcard",  # [MQTT-3.3.2-2]
        lambda v: raw_publish(b"a/#", b"x", version=v),
        ProtocolError,
        ReasonCode.TOPIC_NAME_INVALID,
    ),
    Hostile(
        "publish-qos-3",  # [MQTT-3.3.1-4]
        lambda v: raw_publish(b"a/b", b"x", version=v, first=0x36, packet_id=1),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "publish-qos-1-packet-id-0",  # [MQTT-2.2.1-3]
        lambda v: raw_publish(b"a/b", b"x", version=v, first=0x32, packet_id=0),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "publish-qos-0-with-dup",  # [MQTT-3.3.1-2]
        lambda v: raw_publish(b"a/b", b"x", version=v, first=0x38),
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "puback-unknown-packet-id",
        _packet(PubAck(packet_id=7)),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "pubrec-unknown-packet-id",
        _packet(PubRec(packet_id=7)),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "pubcomp-unknown-packet-id",
        _packet(PubComp(packet_id=7)),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "suback-unknown-packet-id",
        _packet(SubAck(packet_id=7, reason_codes=(ReasonCode.GRANTED_QOS_0,))),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "unsuback-unknown-packet-id",
        lambda v: encode(
            UnsubAck(packet_id=7, reason_codes=(ReasonCode.SUCCESS,) if v == 5 else ()), v
        ),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "pingresp-without-pingreq",
        _packet(PingResp()),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "pubrel-with-reserved-flags-cleared",  # [MQTT-3.6.1-1] PUBREL flags are 0b0010
        lambda v: b"\x60\x02\x00\x07",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
    ),
    Hostile(
        "connect-from-the-server",
        lambda v: b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "subscribe-from-the-server",
        lambda v: (
            b"\x82\x06\x00\x01\x00\x01a\x00" if v == 4 else b"\x82\x07\x00\x01\x00\x00\x01a\x00"
        ),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
    ),
    Hostile(
        "disconnect-on-3.1.1",  # only an MQTT 5 server sends DISCONNECT
        lambda v: b"\xe0\x00",
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
        versions=(4,),
    ),
    Hostile(
        "unknown-topic-alias",  # [MQTT-3.3.2-8] an alias the server never defined
        _packet(Publish(topic="", payload=b"x", properties=Properties(topic_alias=3))),
        ProtocolError,
        ReasonCode.TOPIC_ALIAS_INVALID,
        versions=(5,),
    ),
    Hostile(
        "topic-alias-above-our-maximum",  # [MQTT-3.3.2-10] topic_alias_maximum is 16
        _packet(Publish(topic="a/b", payload=b"x", properties=Properties(topic_alias=17))),
        ProtocolError,
        ReasonCode.TOPIC_ALIAS_INVALID,
        versions=(5,),
    ),
    Hostile(
        "topic-alias-0",  # [MQTT-3.3.2-8] 0 is not an alias
        lambda v: b"\x30\x09\x00\x03a/b\x03\x23\x00\x00",
        ProtocolError,
        ReasonCode.TOPIC_ALIAS_INVALID,
        versions=(5,),
    ),
    Hostile(
        "auth-without-authentication",  # section 4.12: no method was given at CONNECT
        _packet(
            Auth(
                reason_code=ReasonCode.CONTINUE_AUTHENTICATION,
                properties=Properties(authentication_method="SCRAM-SHA-1"),
            )
        ),
        ProtocolError,
        ReasonCode.PROTOCOL_ERROR,
        versions=(5,),
    ),
    Hostile(
        "unknown-property-identifier",  # section 2.2.2.2
        lambda v: b"\x30\x09\x00\x03a/b\x02\x7f\x00x",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
        versions=(5,),
    ),
    Hostile(
        "property-not-allowed-in-publish",  # Receive Maximum belongs to CONNECT/CONNACK
        lambda v: b"\x30\x0a\x00\x03a/b\x03\x21\x00\x05x",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
        versions=(5,),
    ),
    Hostile(
        "property-length-beyond-the-packet",
        lambda v: b"\x30\x06\x00\x03a/b\x7f",
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
        versions=(5,),
    ),
    Hostile(
        "ack-reason-code-not-defined-for-puback",
        lambda v: b"\x40\x03\x00\x07\x92",  # 0x92 is not a PUBACK code
        MalformedPacket,
        ReasonCode.MALFORMED_PACKET,
        versions=(5,),
    ),
]

CASES = [
    pytest.param(case, version, id=f"{case.name}-v{version}")
    for case in HOSTILE
    for version in case.versions
]


@pytest.mark.parametrize("transport", ["tcp", "ws"])
@pytest.mark.parametrize(("case", "version"), CASES)
def test_hostile_packet_closes_the_connection(
    adapter: Adapter, case: Hostile, version: int, transport: str
) -> None:
    """Over TCP, and over WebSocket (the hostile bytes arrive framed; the client's
    DISCONNECT leaves framed)."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send_raw(case.data(version))

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(ScriptedServer(script))
        relay = stack.enter_context(WebSocketRelay(server)) if transport == "ws" else None
        client = stack.enter_context(new_client(adapter, server, version, via=relay))
        client.connect()
        lost = wait_lost(client)
        error = engine_error(lost)
        assert isinstance(error, case.error), repr(error)
        assert error.reason_code == case.code
        conn = server.wait_closed()
        assert conn.eof.is_set()
        if version == 5:
            assert [d.reason_code for d in conn.disconnects] == [case.code]
            assert conn.received[-1] == Disconnect(reason_code=case.code)
        else:
            assert conn.disconnects == []
        assert client.status == "closed"
        # And it stays lost for every later consumer, with the same cause.
        assert isinstance(engine_error(wait_lost(client)), case.error)
