"""StreamTransport (tcp, ssl), create_ssl_context and the TLS error mapping, on real mosquitto."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from support.broker import Mosquitto, MosquittoFactory
from support.certs import TLSMaterial
from support.driver import TIMEOUT, TransportDriver
from support.raw_mqtt import CONNACK_ACCEPTED, CONNECT_311, DISCONNECT

from adapters.transports import (
    HandshakeFailed,
    StreamTransport,
    TLSVerificationFailed,
    TransportClosed,
    create_ssl_context,
    tls_error_from_ssl,
)
from adapters.transports.base import SOCKET_RECV_DATA, Transport


def _tls_socket(
    broker: Mosquitto, context: ssl.SSLContext, server_hostname: str = "localhost"
) -> ssl.SSLSocket:
    raw = socket.create_connection((broker.host, broker.ssl_port), timeout=TIMEOUT)
    try:
        return context.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


# -- the layer on its own ---------------------------------------------------------------------


def test_stream_transport_is_a_transport() -> None:
    transport: Transport = StreamTransport()
    assert transport.socket_type == "tcp"
    assert StreamTransport(tls=True).socket_type == "ssl"
    assert transport.recv_event_name == SOCKET_RECV_DATA
    assert transport.passthrough and not transport.datagram
    assert transport.connection_module == "adapters.transports.tcp"


def test_bytes_pass_through_unchanged_and_in_order() -> None:
    transport = StreamTransport()
    transport.start(0.0)
    assert transport.established
    transport.send(b"\x10\x0c", 0.0)
    transport.send(b"", 0.0)
    transport.send(b"rest", 0.0)
    assert transport.wire_to_send(0.0) == [b"\x10\x0c", b"rest"]
    assert transport.wire_to_send(0.0) == []
    transport.receive_wire(b"\x20\x02", 0.0)
    transport.receive_wire(b"\x00\x00", 0.0)
    assert transport.receive() == CONNACK_ACCEPTED
    assert transport.receive() == b""
    assert transport.get_timer() is None


def test_single_chunk_is_returned_without_a_copy() -> None:
    transport = StreamTransport()
    chunk = bytes(range(256)) * 64
    transport.receive_wire(chunk, 0.0)
    assert transport.receive() is chunk


def test_eof_ends_the_stream_and_closes() -> None:
    transport = StreamTransport()
    transport.start(0.0)
    transport.receive_wire(b"\xd0", 0.0)
    transport.receive_wire_eof(0.0)
    assert transport.eof_received and transport.closed and transport.error is None
    assert transport.receive() == b"\xd0"
    transport.receive_wire(b"late", 0.0)
    assert transport.receive() == b""
    with pytest.raises(TransportClosed):
        transport.send(b"\xc0\x00", 0.0)


def test_close_keeps_pending_bytes_for_the_adapter() -> None:
    transport = StreamTransport()
    transport.start(0.0)
    transport.send(DISCONNECT, 0.0)
    transport.close(0.0)
    assert transport.closed
    assert transport.wire_to_send(0.0) == [DISCONNECT]
    with pytest.raises(TransportClosed):
        transport.send(b"\xc0\x00", 0.0)


# -- against mosquitto ------------------------------------------------------------------------


def test_tcp_connect_answered_by_connack(mosquitto: Mosquitto) -> None:
    sock = socket.create_connection((mosquitto.host, mosquitto.tcp_port), timeout=TIMEOUT)
    driver = TransportDriver(StreamTransport(), sock)
    driver.start()
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    driver.send(DISCONNECT)
    driver.close()


def test_ssl_connect_answered_by_connack(mosquitto: Mosquitto) -> None:
    context = create_ssl_context(cafile=mosquitto.ca_file)
    driver = TransportDriver(StreamTransport(tls=True), _tls_socket(mosquitto, context))
    driver.start()
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    # The broker closes the connection after DISCONNECT: the layer sees the end of stream.
    driver.send(DISCONNECT)
    driver.wait_until(lambda: driver.transport.eof_received)
    assert driver.transport.error is None
    driver.sock.close()


def test_ssl_mutual_tls_with_client_certificate(
    mosquitto_factory: MosquittoFactory, tls_material: TLSMaterial
) -> None:
    broker = mosquitto_factory(require_certificate=True)
    context = create_ssl_context(
        cafile=tls_material.ca_file,
        certfile=tls_material.client_cert_file,
        keyfile=tls_material.client_key_file,
    )
    driver = TransportDriver(StreamTransport(tls=True), _tls_socket(broker, context))
    driver.start()
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    driver.close()


def test_ssl_refuses_a_server_signed_by_another_ca(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    other = TLSMaterial.create(tmp_path / "other-ca")
    context = create_ssl_context(cafile=other.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _tls_socket(mosquitto, context)
    error = tls_error_from_ssl(caught.value)
    assert isinstance(error, TLSVerificationFailed)
    assert not error.hostname_mismatch
    assert error.__cause__ is caught.value


def test_ssl_refuses_a_host_name_mismatch(mosquitto: Mosquitto) -> None:
    context = create_ssl_context(cafile=mosquitto.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _tls_socket(mosquitto, context, server_hostname="broker.example.org")
    error = tls_error_from_ssl(caught.value)
    assert isinstance(error, TLSVerificationFailed)
    assert error.hostname_mismatch


def test_ssl_system_trust_store_refuses_the_test_ca(mosquitto: Mosquitto) -> None:
    # Verification is on by default: a context without a CA option uses the system's CAs.
    with pytest.raises(ssl.SSLCertVerificationError):
        _tls_socket(mosquitto, create_ssl_context())


def test_ssl_verification_can_be_disabled_explicitly(mosquitto: Mosquitto) -> None:
    context = create_ssl_context(verify=False)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    with _tls_socket(mosquitto, context, server_hostname="anything.example") as sock:
        sock.sendall(CONNECT_311)
        sock.settimeout(TIMEOUT)
        assert sock.recv(4) == CONNACK_ACCEPTED


# -- create_ssl_context and tls_error_from_ssl --------------------------------------------------


def test_create_ssl_context_defaults_are_secure() -> None:
    context = create_ssl_context(alpn_protocols=["mqtt"])
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_create_ssl_context_rejects_contradictions() -> None:
    with pytest.raises(ValueError, match="check_hostname"):
        create_ssl_context(verify=False, check_hostname=True)
    with pytest.raises(ValueError, match="certfile"):
        create_ssl_context(keyfile="client.key")


def test_create_ssl_context_missing_ca_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        create_ssl_context(cafile=f"{tmp_path}/missing.pem")


def test_other_ssl_errors_are_handshake_failures() -> None:
    error = tls_error_from_ssl(ssl.SSLError(1, "sslv3 alert handshake failure"))
    assert type(error) is HandshakeFailed
