"""Fixtures of the parity suite: the adapter under test, the broker per transport, and extra
servers for the error scenarios (a broker refusing anonymous clients, a server that never
answers).

The matrix is ``adapter x transport x protocol version``; tests take the ``adapter``,
``target`` and ``version`` fixtures, or a subset of them.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal
from parity_facade import ADAPTERS, TRANSPORTS, VERSIONS, Adapter, Target, portals, target_for
from support.broker import Mosquitto
from support.certs import TLSMaterial
from support.net import LOOPBACK
from support.quic_relay import QuicRelay


@pytest.fixture(scope="session")
def _portals() -> Iterator[dict[str, BlockingPortal]]:
    with portals() as running:
        yield running


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, _portals: dict[str, BlockingPortal]) -> Adapter:
    """The client under test: asyncio, threading, anyio on asyncio, anyio on trio."""
    name: str = request.param
    if name == "threading":
        return Adapter(name, None)
    backend = "trio" if name == "anyio-trio" else "asyncio"
    return Adapter(name, _portals[backend])


@pytest.fixture(params=VERSIONS, ids=lambda v: f"v{v}")
def version(request: pytest.FixtureRequest) -> int:
    """The MQTT protocol version: 4 (3.1.1) or 5."""
    value: int = request.param
    return value


@pytest.fixture(params=TRANSPORTS)
def target(request: pytest.FixtureRequest, mosquitto: Mosquitto) -> Target:
    """The session's broker over one transport (QUIC through the relay)."""
    return target_for(request, mosquitto, request.param)


@pytest.fixture(scope="session")
def strict_broker(tls_material: TLSMaterial) -> Iterator[Mosquitto]:
    """A broker that refuses clients without credentials (CONNACK not authorized)."""
    root = Path(tempfile.mkdtemp(prefix="mosquitto-strict-"))
    root.chmod(0o711)
    broker = Mosquitto(root, tls_material, allow_anonymous=False)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def strict_relay(strict_broker: Mosquitto, tls_material: TLSMaterial) -> Iterator[QuicRelay]:
    """A QUIC relay in front of `strict_broker`."""
    with QuicRelay(strict_broker.host, strict_broker.tcp_port, tls_material) as relay:
        yield relay


@pytest.fixture(scope="session")
def silent_server() -> Iterator[tuple[int, int]]:
    """``(tcp_port, udp_port)`` on loopback where nothing is ever answered.

    The TCP listener never accepts (the kernel completes the handshake into its backlog), and
    the UDP socket never reads: CONNECT, a TLS ClientHello, a WebSocket upgrade or a QUIC
    Initial all go unanswered.
    """
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        tcp.bind((LOOPBACK, 0))
        tcp.listen(64)
        udp.bind((LOOPBACK, 0))
        yield tcp.getsockname()[1], udp.getsockname()[1]

