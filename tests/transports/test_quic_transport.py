"""QuicTransport: against mosquitto behind the QUIC relay, and against an in-memory aioquic
server (virtual time) for what the relay never does (ALPN refusal, server streams, resets)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from support.broker import Mosquitto
from support.certs import TLSMaterial
from support.driver import TransportDriver
from support.net import free_tcp_port
from support.quic_relay import QuicRelay
from support.raw_mqtt import (
    CONNACK_ACCEPTED,
    CONNECT_311,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    publish,
    publish_payload,
    subscribe,
)

from adapters.transports import (
    SOCKET_RECV_DATA,
    HandshakeFailed,
    QuicTransport,
    TLSVerificationFailed,
    TransportClosed,
    create_ssl_context,
    open_udp_socket,
    quic_configuration,
)
from adapters.transports.base import Transport

SERVER_ADDRESS = ("127.0.0.1", 14567)

# -- helpers ----------------------------------------------------------------------------------


def _driver(relay: QuicRelay, configuration: QuicConfiguration | None = None) -> TransportDriver:
    configuration = configuration or quic_configuration("localhost", cafile=relay.ca_file)
    address = (relay.host, relay.port)
    return TransportDriver(QuicTransport(configuration, address), open_udp_socket(address))


def _connected(driver: TransportDriver) -> TransportDriver:
    driver.start()
    assert driver.transport.established, driver.transport.error
    driver.send(CONNECT_311)
    assert driver.read_packet() == CONNACK_ACCEPTED
    return driver


def _closed(transport: Transport) -> bool:
    # A call, not an attribute read: mypy would keep an earlier assert's narrowing.
    return transport.closed


class MemoryQuicServer:
    """An aioquic server connection wired to a client transport in memory, in virtual time."""

    def __init__(
        self, client: QuicTransport, tls: TLSMaterial, alpn: str | None = "mqtt"
    ) -> None:
        configuration = QuicConfiguration(
            is_client=False, alpn_protocols=None if alpn is None else [alpn]
        )
        configuration.load_cert_chain(tls.server_cert_file, tls.server_key_file)
        self.client = client
        self.server: QuicConnection | None = None
        self.server_configuration = configuration
        self.events: list[events.QuicEvent] = []
        self.now = 0.0

    def exchange(self, rounds: int = 6) -> None:
        """Move datagrams both ways a few times (enough for a handshake)."""
        for _ in range(rounds):
            for datagram in self.client.wire_to_send(self.now):
                if self.server is None:
                    client_cid = self.client.connection.original_destination_connection_id
                    self.server = QuicConnection(
                        configuration=self.server_configuration,
                        original_destination_connection_id=client_cid,
                    )
                self.server.receive_datagram(datagram, ("127.0.0.1", 50000), now=self.now)
            if self.server is not None:
                while (event := self.server.next_event()) is not None:
                    self.events.append(event)
                for datagram, _ in self.server.datagrams_to_send(now=self.now):
                    self.client.receive_wire(datagram, self.now)
            self.now += 0.01

    def handshake(self) -> None:
        self.client.start(self.now)
        self.exchange()

    @property
    def quic(self) -> QuicConnection:
        assert self.server is not None
        return self.server


# -- configuration ----------------------------------------------------------------------------


def _client(tls_material: TLSMaterial, **configuration: Any) -> QuicTransport:
    """A client transport for `MemoryQuicServer`, trusting the test CA."""
    return QuicTransport(
        quic_configuration("localhost", cafile=tls_material.ca_file, **configuration),
        SERVER_ADDRESS,
    )


def _streaming(tls_material: TLSMaterial) -> tuple[QuicTransport, MemoryQuicServer]:
    """A client past its handshake whose CONNECT reached the server on stream 0."""
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material)
    pair.handshake()
    client.send(CONNECT_311, pair.now)
    pair.exchange()
    return client, pair


def test_quic_transport_is_a_transport(tls_material: TLSMaterial) -> None:
    transport: Transport = QuicTransport(
        quic_configuration("localhost", cafile=tls_material.ca_file), SERVER_ADDRESS
    )
    assert transport.socket_type == "quic"
    assert transport.recv_event_name == SOCKET_RECV_DATA
    assert transport.datagram and not transport.passthrough
    assert transport.connection_module == "adapters.transports.quic"


def test_configuration_defaults_follow_emqtt() -> None:
    configuration = quic_configuration("broker.example.org")
    assert configuration.alpn_protocols == ["mqtt"]
    assert configuration.is_client
    assert configuration.server_name == "broker.example.org"  # SNI and the name checked
    assert configuration.verify_mode == ssl.CERT_REQUIRED
    assert configuration.idle_timeout == 180.0  # 3 x the 60 s keepalive, as emqtt
    assert quic_configuration("h", keepalive=30).idle_timeout == 90.0
    assert quic_configuration("h", keepalive=0).idle_timeout == 180.0
    assert quic_configuration("h", idle_timeout=5).idle_timeout == 5
    assert quic_configuration("h", server_name="other").server_name == "other"
    assert quic_configuration("h", verify_mode=ssl.CERT_NONE).verify_mode == ssl.CERT_NONE
    assert quic_configuration("h", verify_mode=ssl.CERT_REQUIRED).verify_mode == ssl.CERT_REQUIRED


def test_configuration_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        quic_configuration("h", idle_timeout=0)
    with pytest.raises(ValueError, match="certfile"):
        quic_configuration("h", keyfile="client.key")
    with pytest.raises(ValueError, match="client"):
        QuicTransport(QuicConfiguration(is_client=False), SERVER_ADDRESS)


def test_configuration_takes_cas_from_an_ssl_context(tls_material: TLSMaterial) -> None:
    context = create_ssl_context(cafile=tls_material.ca_file)
    configuration = quic_configuration("localhost", ssl_context=context)
    assert configuration.cadata is not None and b"BEGIN CERTIFICATE" in configuration.cadata
    insecure = quic_configuration("localhost", ssl_context=create_ssl_context(verify=False))
    assert insecure.verify_mode == ssl.CERT_NONE


def test_send_before_start_is_refused(tls_material: TLSMaterial) -> None:
    transport = QuicTransport(quic_configuration("localhost"), SERVER_ADDRESS)
    with pytest.raises(TransportClosed):
        transport.send(CONNECT_311, 0.0)


def test_open_udp_socket_binds_loopback_for_a_loopback_server() -> None:
    with open_udp_socket(SERVER_ADDRESS) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
        assert sock.getpeername() == SERVER_ADDRESS
        assert sock.gettimeout() == 0.0
    with pytest.raises(ValueError, match="resolved"):
        open_udp_socket(("localhost", 14567))


def test_close_before_start_needs_nothing_sent() -> None:
    transport = QuicTransport(quic_configuration("localhost"), SERVER_ADDRESS)
    transport.close(0.0)
    assert transport.closed and transport.error is None
    assert transport.wire_to_send(0.0) == []


def test_close_during_the_handshake_sends_connection_close() -> None:
    transport = QuicTransport(quic_configuration("localhost"), SERVER_ADDRESS)
    transport.start(0.0)
    transport.wire_to_send(0.0)
    transport.close(0.1)
    assert not _closed(transport)
    assert transport.wire_to_send(0.1)  # the CONNECTION_CLOSE
    assert _closed(transport) and transport.error is None
    assert transport.get_timer() is None


# -- virtual time, no server ------------------------------------------------------------------


def test_unanswered_handshake_times_out_in_virtual_time() -> None:
    transport = QuicTransport(
        quic_configuration("localhost", idle_timeout=5.0), SERVER_ADDRESS
    )
    transport.start(0.0)
    datagrams = transport.wire_to_send(0.0)
    assert datagrams and all(len(d) >= 1200 for d in datagrams)  # padded Initial packets
    now, steps = 0.0, 0
    while not transport.closed and steps < 100:
        timer = transport.get_timer()
        assert timer is not None and timer >= now
        now = timer
        transport.handle_timer(now)
        transport.wire_to_send(now)
        steps += 1
    assert transport.closed and transport.eof_received
    assert isinstance(transport.error, HandshakeFailed)
    assert 5.0 <= now < 6.0  # the idle timeout, not before


# -- in memory, against an aioquic server -----------------------------------------------------


def test_alpn_other_than_mqtt_is_refused(tls_material: TLSMaterial) -> None:
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material, alpn="h3")
    pair.handshake()
    assert not client.established
    assert isinstance(client.error, HandshakeFailed)
    assert client.closed


def test_server_without_alpn_is_refused(tls_material: TLSMaterial) -> None:
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material, alpn=None)
    pair.handshake()
    assert not client.established
    assert isinstance(client.error, HandshakeFailed)
    assert "ALPN" in str(client.error)
    pair.exchange(rounds=1)
    assert client.closed


def test_idle_timeout_after_the_handshake(tls_material: TLSMaterial) -> None:
    client = _client(tls_material, idle_timeout=30.0)
    pair = MemoryQuicServer(client, tls_material)
    pair.handshake()
    assert client.established
    now = pair.now
    while not client.closed:  # the server went silent
        timer = client.get_timer()
        assert timer is not None
        now = timer
        client.handle_timer(now)
        client.wire_to_send(now)
    assert isinstance(client.error, TransportClosed)
    assert "idle" in str(client.error).lower()
    assert now >= 30.0


def test_data_before_the_handshake_waits_in_the_stream(tls_material: TLSMaterial) -> None:
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material)
    client.start(0.0)
    client.send(CONNECT_311, 0.0)
    pair.exchange()
    assert client.established and client.stream_id == 0
    received = [e for e in pair.events if isinstance(e, events.StreamDataReceived)]
    assert [(e.stream_id, e.data) for e in received] == [(0, CONNECT_311)]


def test_server_opened_streams_are_refused(tls_material: TLSMaterial) -> None:
    client, pair = _streaming(tls_material)
    stream = pair.quic.get_next_available_stream_id()  # 1: server-initiated bidirectional
    pair.quic.send_stream_data(stream, b"\x30\x03\x00\x01x")
    pair.quic.send_stream_data(0, CONNACK_ACCEPTED)
    pair.exchange()
    assert client.receive() == CONNACK_ACCEPTED  # only the control stream's bytes
    stops = [e for e in pair.events if isinstance(e, events.StopSendingReceived)]
    assert [e.stream_id for e in stops] == [stream]
    assert client.error is None and not client.closed


def test_server_stream_reset_closes_with_an_error(tls_material: TLSMaterial) -> None:
    client, pair = _streaming(tls_material)
    pair.quic.reset_stream(0, 0x42)
    pair.exchange()
    assert isinstance(client.error, TransportClosed)
    assert "0x42" in str(client.error)
    assert client.eof_received and client.closed
    with pytest.raises(TransportClosed):
        client.send(PINGREQ, pair.now)


def test_server_stop_sending_closes_with_an_error(tls_material: TLSMaterial) -> None:
    client, pair = _streaming(tls_material)
    pair.quic.stop_stream(0, 0x7)
    pair.exchange()
    assert isinstance(client.error, TransportClosed)
    assert client.closed


def test_server_connection_close_is_known_at_once(tls_material: TLSMaterial) -> None:
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material)
    pair.handshake()
    pair.quic.close(error_code=0x0A, reason_phrase="protocol violation")
    pair.exchange(rounds=1)
    # Not after aioquic's draining period (three probe timeouts): on the datagram itself.
    assert client.eof_received
    assert client.wire_to_send(pair.now) == []  # draining: nothing more to send
    assert client.closed
    assert client.error is not None and "protocol violation" in str(client.error)


def test_graceful_close_ends_the_stream_then_the_connection(tls_material: TLSMaterial) -> None:
    client = _client(tls_material)
    pair = MemoryQuicServer(client, tls_material)
    pair.handshake()
    client.send(DISCONNECT, pair.now)
    client.close(pair.now)
    pair.exchange(rounds=1)
    fins = [e for e in pair.events if isinstance(e, events.StreamDataReceived) and e.end_stream]
    assert fins and fins[-1].stream_id == 0
    assert not _closed(client)  # waiting for the server to end its side
    pair.quic.send_stream_data(0, b"", end_stream=True)
    pair.exchange(rounds=2)
    assert _closed(client) and client.error is None
    # The server got our CONNECTION_CLOSE (no error): it reports it after its draining period.
    timer = pair.quic.get_timer()
    assert timer is not None
    pair.quic.handle_timer(timer)
    terminated = pair.quic.next_event()
    assert isinstance(terminated, events.ConnectionTerminated)
    assert terminated.error_code == 0


def test_graceful_close_gives_up_after_the_close_timeout(tls_material: TLSMaterial) -> None:
    client = QuicTransport(
        quic_configuration("localhost", cafile=tls_material.ca_file),
        SERVER_ADDRESS,
        close_timeout=1.5,
    )
    pair = MemoryQuicServer(client, tls_material)
    pair.handshake()
    start = pair.now
    client.close(start)
    client.wire_to_send(start)
    while not client.closed:
        timer = client.get_timer()
        assert timer is not None and timer <= start + 1.5
        client.handle_timer(timer)
        client.wire_to_send(timer)
    assert client.error is None


# -- against mosquitto behind the relay -------------------------------------------------------


def test_connect_answered_by_connack(quic_relay: QuicRelay) -> None:
    driver = _connected(_driver(quic_relay))
    driver.send(PINGREQ)
    assert driver.read_packet() == PINGRESP
    driver.send(DISCONNECT)
    driver.close()
    assert driver.transport.error is None


def test_one_megabyte_message_round_trip(quic_relay: QuicRelay) -> None:
    driver = _connected(_driver(quic_relay))
    topic = "transports/quic/big"
    driver.send(subscribe(1, topic))
    assert driver.read_packet() == b"\x90\x03\x00\x01\x00"
    payload = bytes(range(256)) * 4096
    driver.send(publish(topic, payload))
    assert publish_payload(driver.read_packet(timeout=30.0)) == (topic, payload)
    driver.send(DISCONNECT)
    driver.close()


def test_refuses_a_server_signed_by_another_ca(quic_relay: QuicRelay, tmp_path: Path) -> None:
    other = TLSMaterial.create(tmp_path / "other-ca")
    driver = _driver(quic_relay, quic_configuration("localhost", cafile=other.ca_file))
    driver.start()
    error = driver.transport.error
    assert isinstance(error, TLSVerificationFailed) and not error.hostname_mismatch
    assert not driver.transport.established
    driver.sock.close()


def test_refuses_a_host_name_mismatch(quic_relay: QuicRelay) -> None:
    configuration = quic_configuration(
        "localhost", server_name="broker.example.org", cafile=quic_relay.ca_file
    )
    driver = _driver(quic_relay, configuration)
    driver.start()
    error = driver.transport.error
    assert isinstance(error, TLSVerificationFailed) and error.hostname_mismatch
    driver.sock.close()


def test_verifies_an_ip_address_server_name(quic_relay: QuicRelay) -> None:
    configuration = quic_configuration("127.0.0.1", cafile=quic_relay.ca_file)
    driver = _connected(_driver(quic_relay, configuration))
    driver.close()


def test_verification_can_be_disabled_explicitly(quic_relay: QuicRelay, tmp_path: Path) -> None:
    other = TLSMaterial.create(tmp_path / "other-ca")
    configuration = quic_configuration("localhost", cafile=other.ca_file, verify=False)
    driver = _connected(_driver(quic_relay, configuration))
    driver.close()


def test_client_fin_reaches_the_broker_and_its_close_comes_back(quic_relay: QuicRelay) -> None:
    driver = _connected(_driver(quic_relay))
    transport = driver.transport
    # End the stream without DISCONNECT: the relay half-closes TCP, mosquitto closes the
    # connection, and the relay ends the stream in the other direction.
    transport.close(driver.now())
    driver.flush()
    driver.wait_until(lambda: transport.eof_received, timeout=10.0)
    driver.wait_closed()
    assert transport.error is None
    driver.sock.close()


def test_broker_close_reaches_the_client_as_fin(quic_relay: QuicRelay) -> None:
    driver = _connected(_driver(quic_relay))
    transport = driver.transport
    driver.send(CONNECT_311)  # a second CONNECT is a protocol violation [MQTT-3.1.0-2]
    driver.wait_until(lambda: transport.eof_received)
    assert transport.error is None and not _closed(transport)
    driver.close()
    assert transport.error is None


def test_client_reset_is_mirrored_by_the_relay(quic_relay: QuicRelay) -> None:
    driver = _connected(_driver(quic_relay))
    transport = driver.transport
    assert isinstance(transport, QuicTransport)
    # An abrupt end (RESET_STREAM) aborts the relay's TCP connection, which resets the
    # stream back: unlike a FIN (see above), the client sees an error.
    transport.connection.reset_stream(0, 0x5)
    driver.flush()
    driver.wait_until(lambda: transport.eof_received)
    assert isinstance(transport.error, TransportClosed)
    assert "reset" in str(transport.error)
    driver.sock.close()


def test_one_tcp_connection_per_stream(quic_relay: QuicRelay) -> None:
    before = quic_relay.tcp_connections_opened
    first = _connected(_driver(quic_relay))
    second = _connected(_driver(quic_relay))
    assert quic_relay.tcp_connections_opened == before + 2
    first.close()
    second.close()


def test_relay_opens_one_tcp_connection_per_stream_of_a_connection(
    quic_relay: QuicRelay,
) -> None:
    driver = _connected(_driver(quic_relay))
    transport = driver.transport
    assert isinstance(transport, QuicTransport)
    before = quic_relay.tcp_connections_opened
    data_stream = transport.connection.get_next_available_stream_id()
    assert data_stream == 4  # the next client-initiated bidirectional stream
    transport.connection.send_stream_data(data_stream, CONNECT_311)
    driver.flush()
    driver.wait_until(lambda: quic_relay.tcp_connections_opened == before + 1)
    driver.send(PINGREQ)  # the control stream is unaffected
    assert driver.read_packet() == PINGRESP
    driver.close()


def test_relay_reaches_a_restarted_broker(quic_relay: QuicRelay, mosquitto: Mosquitto) -> None:
    first = _connected(_driver(quic_relay))
    mosquitto.restart()
    # The broker's end of the relayed TCP connection is gone: the stream ends.
    first.wait_until(lambda: first.transport.eof_received)
    first.close()
    second = _connected(_driver(quic_relay))
    second.close()


def test_broker_down_resets_the_stream(tls_material: TLSMaterial) -> None:
    # Nothing listens on the target port: the relay's TCP connect is refused and it resets
    # the stream, as EMQX does when it cannot serve one.
    with QuicRelay("127.0.0.1", free_tcp_port(), tls_material) as relay:
        driver = _driver(relay)
        driver.start()
        driver.send(CONNECT_311)
        driver.wait_until(lambda: driver.transport.closed)
        assert isinstance(driver.transport.error, TransportClosed)
        driver.sock.close()


def test_session_ticket_resumes_with_0rtt(quic_relay: QuicRelay) -> None:
    first = _connected(_driver(quic_relay))
    first_transport = first.transport
    assert isinstance(first_transport, QuicTransport)
    first.wait_until(lambda: first_transport.session_ticket is not None)
    ticket = first_transport.session_ticket
    first.send(DISCONNECT)
    first.close()

    configuration = quic_configuration(
        "localhost", cafile=quic_relay.ca_file, session_ticket=ticket
    )
    address = (quic_relay.host, quic_relay.port)
    transport = QuicTransport(configuration, address)
    second = TransportDriver(transport, open_udp_socket(address))
    transport.start(second.now())
    transport.send(CONNECT_311, second.now())  # before the handshake: 0-RTT early data
    second.flush()
    assert second.read_packet() == CONNACK_ACCEPTED
    assert transport.session_resumed and transport.early_data_accepted
    second.send(DISCONNECT)
    second.close()


def test_relay_survives_a_client_vanishing(quic_relay: QuicRelay) -> None:
    vanished = _connected(_driver(quic_relay))
    vanished.sock.close()  # no FIN, no CONNECTION_CLOSE: the relay's idle timer handles it
    driver = _connected(_driver(quic_relay))
    driver.close()


def test_udp_socket_for_ipv4_server_is_not_wildcard(quic_relay: QuicRelay) -> None:
    with open_udp_socket((quic_relay.host, quic_relay.port), socket.AF_INET) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
