"""Hand-encoded MQTT 3.1.1 packets for tests that drive sockets and transports directly.

Deliberately independent of ``emqtt_core``: infrastructure and transport tests should not
depend on the codec they will later help to test.
"""

from __future__ import annotations

from typing import Protocol

#: CONNECT, MQTT 3.1.1, clean session, keepalive 60 s, empty client id (the broker assigns one).
CONNECT_311 = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
#: CONNACK, session not present, accepted.
CONNACK_ACCEPTED = b"\x20\x02\x00\x00"
#: DISCONNECT (MQTT 3.1.1).
DISCONNECT = b"\xe0\x00"
#: PINGREQ and PINGRESP.
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


def remaining_length(length: int) -> bytes:
    """The variable byte integer encoding of a remaining length."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _string(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def connect(client_id: str, *, clean_session: bool = True, keepalive: int = 60) -> bytes:
    """A CONNECT packet (MQTT 3.1.1) with the given client id."""
    body = (
        _string("MQTT")
        + bytes([4, 0x02 if clean_session else 0x00])
        + keepalive.to_bytes(2, "big")
        + _string(client_id)
    )
    return b"\x10" + remaining_length(len(body)) + body


def subscribe(packet_id: int, topic: str, qos: int = 0) -> bytes:
    """A SUBSCRIBE packet for one topic filter."""
    body = packet_id.to_bytes(2, "big") + _string(topic) + bytes([qos])
    return b"\x82" + remaining_length(len(body)) + body


def publish(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH packet."""
    body = _string(topic) + payload
    return b"\x30" + remaining_length(len(body)) + body


def split_packet(buffer: bytes | bytearray) -> tuple[bytes, bytes] | None:
    """Split one complete packet off the front of ``buffer``: ``(packet, rest)``, or None."""
    multiplier, length, index = 1, 0, 1
    while True:
        if index >= len(buffer):
            return None
        byte = buffer[index]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        index += 1
        if not byte & 0x80:
            break
        if index > 4:
            raise ValueError("malformed remaining length")
    end = index + length
    if len(buffer) < end:
        return None
    return bytes(buffer[:end]), bytes(buffer[end:])


def publish_payload(packet: bytes) -> tuple[str, bytes]:
    """Topic and payload of a QoS 0 PUBLISH packet."""
    if packet[0] >> 4 != 3 or packet[0] & 0x06:
        raise ValueError("not a QoS 0 PUBLISH")
    index = 1
    while packet[index] & 0x80:
        index += 1
    index += 1
    topic_length = int.from_bytes(packet[index : index + 2], "big")
    topic = packet[index + 2 : index + 2 + topic_length].decode()
    return topic, packet[index + 2 + topic_length :]


class PacketReader:
    """Reads whole MQTT packets from a blocking socket-like object (``recv(n) -> bytes``)."""

    def __init__(self, sock: _Receiver) -> None:
        self._sock = sock
        self._buffer = b""

    def read(self) -> bytes:
        """The next packet; raises ``EOFError`` when the peer closed before a whole packet."""
        while True:
            split = split_packet(self._buffer)
            if split is not None:
                packet, self._buffer = split
                return packet
            data = self._sock.recv(65536)
            if not data:
                raise EOFError("connection closed by the peer")
            self._buffer += data


class _Receiver(Protocol):
    def recv(self, size: int, /) -> bytes: ...
