"""The real-broker fixtures themselves: listeners, TLS material, restarts, extra configuration."""

from __future__ import annotations

import socket
import ssl

import pytest
from support.broker import Mosquitto, MosquittoFactory
from support.raw_mqtt import CONNACK_ACCEPTED, CONNECT_311, PacketReader, connect, subscribe

TIMEOUT = 10.0


def _tcp(broker: Mosquitto) -> socket.socket:
    return socket.create_connection((broker.host, broker.tcp_port), timeout=TIMEOUT)


def _connack_over_tcp(broker: Mosquitto, packet: bytes = CONNECT_311) -> bytes:
    with _tcp(broker) as sock:
        sock.sendall(packet)
        return PacketReader(sock).read()


def test_tcp_listener_answers_connect(mosquitto: Mosquitto) -> None:
    assert _connack_over_tcp(mosquitto) == CONNACK_ACCEPTED


def test_ssl_listener_verifies_with_the_exposed_ca(mosquitto: Mosquitto) -> None:
    context = mosquitto.client_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    raw = socket.create_connection((mosquitto.host, mosquitto.ssl_port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(CONNECT_311)
        assert PacketReader(sock).read() == CONNACK_ACCEPTED


def test_server_certificate_covers_the_loopback_addresses(mosquitto: Mosquitto) -> None:
    context = mosquitto.client_ssl_context()
    raw = socket.create_connection((mosquitto.host, mosquitto.ssl_port), timeout=TIMEOUT)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        certificate = sock.getpeercert()
    assert certificate is not None
    names = {str(entry[1]) for entry in certificate["subjectAltName"]}
    # Python prints IPv6 addresses in a SAN in full: 0:0:0:0:0:0:0:1 is ::1.
    assert {"localhost", "127.0.0.1", "0:0:0:0:0:0:0:1"} <= names


def test_websocket_listeners_bind_loopback_only(mosquitto: Mosquitto) -> None:
    # socket_domain ipv4 keeps the websockets listeners off [::] and other interfaces.
    for port in (mosquitto.ws_port, mosquitto.wss_port):
        with pytest.raises(OSError):
            socket.create_connection(("::1", port), timeout=TIMEOUT).close()


def test_restart_refuses_while_down_and_accepts_after(mosquitto: Mosquitto) -> None:
    ports = (mosquitto.tcp_port, mosquitto.ssl_port, mosquitto.ws_port, mosquitto.wss_port)
    mosquitto.stop()
    try:
        assert not mosquitto.running
        with pytest.raises(ConnectionRefusedError):
            _tcp(mosquitto)
    finally:
        mosquitto.start()
    assert (mosquitto.tcp_port, mosquitto.ssl_port, mosquitto.ws_port, mosquitto.wss_port) == ports
    assert _connack_over_tcp(mosquitto) == CONNACK_ACCEPTED


def _persistent_session(broker: Mosquitto, client_id: str) -> bytes:
    """Connect with clean session 0 and return the CONNACK."""
    with _tcp(broker) as sock:
        sock.sendall(connect(client_id, clean_session=False))
        reader = PacketReader(sock)
        connack = reader.read()
        sock.sendall(subscribe(1, "fixture/persist", qos=1))
        assert reader.read()[0] == 0x90  # SUBACK before we leave
        return connack


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_restart_keeps_sessions_only_when_graceful(mosquitto: Mosquitto, kill: bool) -> None:
    client_id = f"fixture-persist-{'kill' if kill else 'term'}"
    _persistent_session(mosquitto, client_id)
    mosquitto.restart(kill=kill)
    connack = _persistent_session(mosquitto, client_id)
    # CONNACK flags byte: session present [MQTT-3.2.2-2]. Only a graceful stop saves the
    # in-memory database (persistence true); SIGKILL loses what was not saved.
    assert connack[2] == (0 if kill else 1)


def test_factory_applies_extra_configuration(
    mosquitto_factory: MosquittoFactory, mosquitto: Mosquitto
) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    assert broker.tcp_port != mosquitto.tcp_port
    # Return code 5: not authorized, anonymous clients refused.
    assert _connack_over_tcp(broker) == b"\x20\x02\x00\x05"


def test_factory_mutual_tls(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory(require_certificate=True)
    with_cert = broker.client_ssl_context(client_cert=True)
    raw = socket.create_connection((broker.host, broker.ssl_port), timeout=TIMEOUT)
    with with_cert.wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(CONNECT_311)
        assert PacketReader(sock).read() == CONNACK_ACCEPTED

    without_cert = broker.client_ssl_context()
    raw = socket.create_connection((broker.host, broker.ssl_port), timeout=TIMEOUT)
    with (
        pytest.raises((ssl.SSLError, ConnectionError, EOFError)),
        without_cert.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        # TLS 1.3: the refusal arrives after the client's handshake completes.
        sock.sendall(CONNECT_311)
        PacketReader(sock).read()
