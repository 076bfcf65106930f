"""Cost of the transport layers alone: no sockets, the layers fed in memory.

Run (the normal test run ignores tests/benchmarks)::

    .venv/bin/python -m pytest tests/benchmarks/test_transports_bench.py --benchmark-only \
        --benchmark-columns=median,iqr,ops --benchmark-sort=name

Each round moves ``BATCH`` small MQTT packets (a 64-byte QoS 0 PUBLISH) through a layer in both
directions, the way an adapter's pump does: ``send`` + ``wire_to_send`` outbound, and
``receive_wire`` + ``receive`` inbound, one packet per call (the worst case: real reads often
carry many packets). The median divided by ``BATCH`` is the layer's cost per packet per
direction pair. The 1 MiB cases measure the per-byte cost (masking, framing, encryption).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import StreamDataReceived
from support.certs import TLSMaterial
from websockets.frames import Frame, Opcode

from adapters.transports import (
    QuicTransport,
    StreamTransport,
    WebSocketTransport,
    quic_configuration,
)

BATCH = 1000
PACKET = b"\x30\x4b\x00\x09bench/top" + b"x" * 64
BIG = b"\x30" + b"\x8d\x80\x40" + b"\x00\x03big" + bytes(1024 * 1024 - 5)
SERVER = ("127.0.0.1", 14567)


def _open_websocket() -> WebSocketTransport:
    from websockets.http11 import Request
    from websockets.server import ServerProtocol
    from websockets.typing import Subprotocol

    client = WebSocketTransport("localhost", 8083)
    server = ServerProtocol(subprotocols=[Subprotocol("mqtt")])
    client.start(0.0)
    for chunk in client.wire_to_send(0.0):
        server.receive_data(chunk)
    request = next(e for e in server.events_received() if isinstance(e, Request))
    server.send_response(server.accept(request))
    for chunk in server.data_to_send():
        client.receive_wire(chunk, 0.0)
    assert client.established
    return client


def test_stream_passthrough_small_packets(benchmark: Callable[..., object]) -> None:
    transport = StreamTransport()
    transport.start(0.0)

    def round_trip() -> None:
        for _ in range(BATCH):
            transport.send(PACKET, 0.0)
            transport.wire_to_send(0.0)
            transport.receive_wire(PACKET, 0.0)
            transport.receive()

    benchmark(round_trip)


def test_websocket_small_packets(benchmark: Callable[..., object]) -> None:
    transport = _open_websocket()
    frame = Frame(Opcode.BINARY, PACKET).serialize(mask=False)

    def round_trip() -> None:
        for _ in range(BATCH):
            transport.send(PACKET, 0.0)
            transport.wire_to_send(0.0)
            transport.receive_wire(frame, 0.0)
            transport.receive()

    benchmark(round_trip)


def test_websocket_one_megabyte(benchmark: Callable[..., object]) -> None:
    transport = _open_websocket()
    frame = Frame(Opcode.BINARY, BIG).serialize(mask=False)

    def round_trip() -> None:
        transport.send(BIG, 0.0)
        transport.wire_to_send(0.0)
        transport.receive_wire(frame, 0.0)
        assert len(transport.receive()) == len(BIG)

    benchmark(round_trip)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    return TLSMaterial.create(tmp_path_factory.mktemp("tls"))


def _open_quic(tls: TLSMaterial) -> tuple[QuicTransport, QuicConnection, list[float]]:
    client = QuicTransport(quic_configuration("localhost", cafile=tls.ca_file), SERVER)
    configuration = QuicConfiguration(is_client=False, alpn_protocols=["mqtt"])
    configuration.load_cert_chain(tls.server_cert_file, tls.server_key_file)
    server = QuicConnection(
        configuration=configuration,
        original_destination_connection_id=client.connection.original_destination_connection_id,
    )
    clock = [0.0]
    client.start(0.0)
    for _ in range(6):
        for datagram in client.wire_to_send(clock[0]):
            server.receive_datagram(datagram, ("127.0.0.1", 50000), now=clock[0])
        for datagram, _ in server.datagrams_to_send(now=clock[0]):
            client.receive_wire(datagram, clock[0])
        clock[0] += 0.001
    assert client.established
    client.send(PACKET, clock[0])  # opens stream 0, so the server can answer on it
    _exchange(client, server, clock)
    return client, server, clock


def _exchange(client: QuicTransport, server: QuicConnection, clock: list[float]) -> int:
    """Move datagrams both ways a few times; return the stream bytes the server received."""
    received = 0
    for _ in range(4):
        for datagram in client.wire_to_send(clock[0]):
            server.receive_datagram(datagram, ("127.0.0.1", 50000), now=clock[0])
        while (event := server.next_event()) is not None:
            if isinstance(event, StreamDataReceived):
                received += len(event.data)
        for datagram, _ in server.datagrams_to_send(now=clock[0]):
            client.receive_wire(datagram, clock[0])
        clock[0] += 0.0001
    return received


def test_quic_small_packets(benchmark: Callable[..., object], tls: TLSMaterial) -> None:
    client, server, clock = _open_quic(tls)

    def round_trip() -> None:
        for _ in range(BATCH // 10):
            for _ in range(10):
                client.send(PACKET, clock[0])
                server.send_stream_data(0, PACKET)
            _exchange(client, server, clock)
            client.receive()

    benchmark(round_trip)


def test_quic_one_megabyte(benchmark: Callable[..., object], tls: TLSMaterial) -> None:
    client, server, clock = _open_quic(tls)

    def one_way() -> None:
        client.send(BIG, clock[0])
        received = 0
        while received < len(BIG):
            received += _exchange(client, server, clock)
        assert received == len(BIG)

    benchmark.pedantic(one_way, rounds=3, iterations=1)  # type: ignore[attr-defined]
