"""The raw-socket reference: pre-encoded MQTT 3.1.1 packets, written in large batches.

It does the least work a Python process can do to drive each scenario (no parsing beyond
counting acknowledgements), so its rate is the ceiling the clients are compared with.
The packets come from ``tests/support/raw_mqtt.py`` where it has them.
"""

from __future__ import annotations

import asyncio
import socket
import time

from support.raw_mqtt import CONNACK_ACCEPTED, DISCONNECT, connect, remaining_length, subscribe

#: Bytes written per ``sendall``: large enough that syscalls are not the cost.
BATCH_BYTES = 256 * 1024
PUBACK, PUBREC, PUBCOMP = 0x40, 0x50, 0x70
#: Topic of the QoS 1 message that closes a QoS 0 run (nobody subscribes to it).
FENCE_TOPIC = b"bench/fence"


def publish(topic: bytes, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    """A PUBLISH packet (MQTT 3.1.1)."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += packet_id.to_bytes(2, "big")
    body += payload
    return bytes([0x30 | qos << 1]) + remaining_length(len(body)) + body


def pubrel(packet_id: int) -> bytes:
    """A PUBREL packet."""
    return b"\x62\x02" + packet_id.to_bytes(2, "big")


def open_session(host: str, port: int, client_id: str) -> socket.socket:
    """A connected socket with an accepted MQTT 3.1.1 session (clean)."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect(client_id))
    reply = _read_exactly(sock, 4)
    if reply != CONNACK_ACCEPTED:
        raise RuntimeError(f"CONNACK refused: {reply!r}")
    return sock


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def _packet_ids(count: int) -> list[int]:
    return [i % 65535 + 1 for i in range(count)]


def pub_qos0(
    host: str, port: int, topic: str, payload: bytes, *, count: int, client_id: str = "raw-pub0"
) -> float:
    """Publish ``count`` QoS 0 messages then a QoS 1 fence (on its own topic, so subscribers
    of ``topic`` see exactly ``count`` messages); return seconds until the fence's PUBACK."""
    sock = open_session(host, port, client_id)
    packet = publish(topic.encode(), payload)
    per_batch = max(1, BATCH_BYTES // len(packet))
    start = time.perf_counter()
    sent = 0
    while sent < count:
        n = min(per_batch, count - sent)
        sock.sendall(packet * n)
        sent += n
    sock.sendall(publish(FENCE_TOPIC, payload, 1, 1))
    buffer = b""
    while b"\x40\x02\x00\x01" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buffer = buffer[-3:] + chunk
    elapsed = time.perf_counter() - start
    sock.sendall(DISCONNECT)
    sock.close()
    return elapsed


def pub_qos1(host: str, port: int, topic: str, payload: bytes, *, count: int, window: int) -> float:
    """Publish ``count`` QoS 1 messages, at most ``window`` unacknowledged; seconds to the last
    PUBACK. PUBACKs are 4 bytes on 3.1.1, so counting bytes counts acknowledgements."""
    sock = open_session(host, port, "raw-pub1")
    packets = [publish(topic.encode(), payload, 1, pid) for pid in _packet_ids(count)]
    start = time.perf_counter()
    sent = acked = 0
    received = 0
    while acked < count:
        if sent - acked < window and sent < count:
            n = min(window - (sent - acked), count - sent)
            sock.sendall(b"".join(packets[sent : sent + n]))
            sent += n
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        received += len(chunk)
        acked = received // 4
    elapsed = time.perf_counter() - start
    sock.sendall(DISCONNECT)
    sock.close()
    return elapsed


def pub_qos2(host: str, port: int, topic: str, payload: bytes, *, count: int, window: int) -> float:
    """Publish ``count`` QoS 2 messages (PUBLISH, PUBREC, PUBREL, PUBCOMP), at most ``window``
    flows open; seconds to the last PUBCOMP."""
    sock = open_session(host, port, "raw-pub2")
    packets = [publish(topic.encode(), payload, 2, pid) for pid in _packet_ids(count)]
    start = time.perf_counter()
    sent = min(window, count)
    sock.sendall(b"".join(packets[:sent]))
    done = 0
    pending = b""
    while done < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        pending += chunk
        usable = len(pending) - len(pending) % 4
        out = []
        for offset in range(0, usable, 4):
            kind = pending[offset]
            if kind == PUBREC:
                out.append(b"\x62\x02" + pending[offset + 2 : offset + 4])
            elif kind == PUBCOMP:
                done += 1
        pending = pending[usable:]
        if sent - done < window and sent < count:
            n = min(window - (sent - done), count - sent)
            out.extend(packets[sent : sent + n])
            sent += n
        if out:
            sock.sendall(b"".join(out))
    elapsed = time.perf_counter() - start
    sock.sendall(DISCONNECT)
    sock.close()
    return elapsed


class RawSubscriber:
    """A subscriber that counts QoS 0 PUBLISH packets with the least work possible: the flood
    sends identical packets, so counting bytes counts messages."""

    def __init__(self, host: str, port: int, topic: str, payload: bytes) -> None:
        self.sock = open_session(host, port, "raw-sub")
        self.sock.sendall(subscribe(1, topic, 0))
        _read_exactly(self.sock, 5)  # SUBACK for one filter: 90 03 00 01 rc
        self.packet_size = len(publish(topic.encode(), payload))

    def receive(self, count: int, idle_timeout: float) -> tuple[int, float]:
        """Count messages until ``count`` arrived or the flow stops for ``idle_timeout`` s.

        Returns:
            (messages received, seconds from the first to the last one).
        """
        sock = self.sock
        sock.settimeout(idle_timeout)
        expected = count * self.packet_size
        size = 0
        first = last = 0.0
        buffer = bytearray(1 << 20)
        while size < expected:
            try:
                n = sock.recv_into(buffer)
            except TimeoutError:
                break
            if not n:
                break
            if not size:
                first = time.perf_counter()
            size += n
            last = time.perf_counter()
        return size // self.packet_size, last - first

    def close(self) -> None:
        """Disconnect cleanly."""
        self.sock.sendall(DISCONNECT)
        self.sock.close()


def flood(host: str, port: int, topic: str, payload: bytes, count: int) -> None:
    """Publish ``count`` QoS 0 messages as fast as possible, then a QoS 1 fence."""
    pub_qos0(host, port, topic, payload, count=count, client_id="raw-flood")


def connect_cycles(host: str, port: int, count: int) -> float:
    """``count`` sequential connect + CONNACK + DISCONNECT cycles; seconds taken."""
    start = time.perf_counter()
    for _ in range(count):
        sock = open_session(host, port, "raw-conn")
        sock.sendall(DISCONNECT)
        sock.close()
    return time.perf_counter() - start


class _ConnackProtocol(asyncio.Protocol):
    """The least an asyncio client can do per connection: wait for the CONNACK bytes."""

    def __init__(self, connack: asyncio.Future[bytes]) -> None:
        self.connack = connack

    def data_received(self, data: bytes) -> None:
        if not self.connack.done():
            self.connack.set_result(data)


async def asyncio_connect_cycles(host: str, port: int, count: int) -> float:
    """``count`` sequential connections through asyncio's own machinery and nothing else
    (``create_connection``, a pre-encoded CONNECT, CONNACK, DISCONNECT, close): the floor of
    any asyncio client for the connect scenario."""
    loop = asyncio.get_running_loop()
    packet = connect("asyncio-floor")
    start = time.perf_counter()
    for _ in range(count):
        connack: asyncio.Future[bytes] = loop.create_future()
        protocol = _ConnackProtocol(connack)
        transport, _ = await loop.create_connection(lambda p=protocol: p, host, port)
        transport.write(packet)
        await connack
        transport.write(DISCONNECT)
        transport.close()
    return time.perf_counter() - start
