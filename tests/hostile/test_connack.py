"""Servers that answer CONNECT wrongly: garbage, malformed or repeated CONNACKs, refusals.

Each scenario runs on every adapter and on MQTT 3.1.1 and 5, and asserts what the application
sees (the documented exception and its engine cause), what the client sent last (the
DISCONNECT reason code on MQTT 5) and that the client closed the socket.
"""

from __future__ import annotations

from typing import Any

import pytest
from hostile_facade import accept, engine_error, new_client, wait_lost
from hostile_server import ScriptedServer, ServerConnection
from parity_facade import Adapter

from adapters._reconnect import MAX_REDIRECTS
from adapters.errors import ConnackRefused, ConnectError, ConnectionFailed, ConnectTimeout
from emqtt_core.exceptions import ConnectRefused, MalformedPacket, ProtocolError
from emqtt_core.packets import (
    Auth,
    ConnAck,
    Disconnect,
    Packet,
    PingResp,
    PubAck,
    Publish,
    SubAck,
)
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode, from_connack_return_code


def _assert_closed_with(server: ScriptedServer, version: int, code: ReasonCode | None) -> None:
    """The client closed the connection; on MQTT 5 its last packet was DISCONNECT ``code``
    (None: no DISCONNECT at all); MQTT 3.1.1 clients never send one for an error."""
    conn = server.wait_closed()
    assert conn.eof.is_set()
    if version == 5 and code is not None:
        assert [d.reason_code for d in conn.disconnects] == [code]
        assert conn.received[-1] is conn.disconnects[-1]
    else:
        assert conn.disconnects == []


HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 40\r\n\r\nThis port speaks HTTP, not MQTT. Bye!\r\n"
)


def test_garbage_instead_of_connack(adapter: Adapter, version: int) -> None:
    """An HTTP answer where CONNACK belongs: "HT" reads as a PUBACK with reserved flags set
    [MQTT-2.2.2-2] and 84 bytes of body, all there: a malformed packet."""
    assert len(HTTP_ANSWER) >= 2 + HTTP_ANSWER[1]

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send_raw(HTTP_ANSWER)

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), MalformedPacket)
        assert client.status == "closed"
        _assert_closed_with(server, version, ReasonCode.MALFORMED_PACKET)


def test_truncated_garbage_instead_of_connack(adapter: Adapter, version: int) -> None:
    """Garbage whose first bytes announce a packet longer than what follows: the client
    cannot tell it from a slow CONNACK, and gives up at ``connect_timeout``."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send_raw(HTTP_ANSWER[:20])
        conn.hold()

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, version, connect_timeout=0.5) as client,
    ):
        with pytest.raises(ConnectTimeout):
            client.connect()
        assert client.status == "closed"
        # The script holds (reads nothing): read what is left here, up to the client's close.
        conn = server.connection()
        conn.read_until_closed()
        assert conn.eof.is_set()


def test_connack_with_reserved_flags(adapter: Adapter, version: int) -> None:
    """CONNACK flags other than Session Present are reserved [MQTT-3.2.2-1]."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        # Flags 0x02; on MQTT 5 an empty property length follows the reason code.
        conn.send_raw(b"\x20\x03\x02\x00\x00" if version == 5 else b"\x20\x02\x02\x00")

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), MalformedPacket)
        _assert_closed_with(server, version, ReasonCode.MALFORMED_PACKET)


def test_second_connack(adapter: Adapter, version: int) -> None:
    """A server sends CONNACK once per connection [MQTT-3.2.0-2]: a second one is a protocol
    error that ends the established connection."""

    def script(conn: ServerConnection) -> None:
        accept(conn)
        conn.send(ConnAck())

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        client.connect()
        lost = wait_lost(client)
        error = engine_error(lost)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.PROTOCOL_ERROR
        _assert_closed_with(server, version, ReasonCode.PROTOCOL_ERROR)


@pytest.mark.parametrize("return_code", [1, 2, 3, 4, 5])
def test_v311_refusal_return_codes(adapter: Adapter, return_code: int) -> None:
    """MQTT 3.1.1 return codes 1 to 5 [MQTT-3.2.2-5]: ConnackRefused with the return code
    translated to its MQTT 5 reason code; the server closes, the client does too."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send_raw(bytes([0x20, 0x02, 0x00, return_code]))
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, 4) as client:
        with pytest.raises(ConnackRefused) as raised:
            client.connect()
        assert raised.value.reason_code == from_connack_return_code(return_code)
        assert isinstance(engine_error(raised.value), ConnectRefused)
        assert client.status == "closed"
        assert server.connection().disconnects == []


#: Every CONNACK failure code of MQTT 5 (section 3.2.2.2).
V5_REFUSALS = [
    ReasonCode.UNSPECIFIED_ERROR,
    ReasonCode.MALFORMED_PACKET,
    ReasonCode.PROTOCOL_ERROR,
    ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
    ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
    ReasonCode.BAD_USER_NAME_OR_PASSWORD,
    ReasonCode.NOT_AUTHORIZED,
    ReasonCode.SERVER_UNAVAILABLE,
    ReasonCode.SERVER_BUSY,
    ReasonCode.BANNED,
    ReasonCode.BAD_AUTHENTICATION_METHOD,
    ReasonCode.TOPIC_NAME_INVALID,
    ReasonCode.PACKET_TOO_LARGE,
    ReasonCode.QUOTA_EXCEEDED,
    ReasonCode.PAYLOAD_FORMAT_INVALID,
    ReasonCode.RETAIN_NOT_SUPPORTED,
    ReasonCode.QOS_NOT_SUPPORTED,
    ReasonCode.USE_ANOTHER_SERVER,
    ReasonCode.SERVER_MOVED,
    ReasonCode.CONNECTION_RATE_EXCEEDED,
]


@pytest.mark.parametrize("code", V5_REFUSALS, ids=lambda code: code.name)
def test_v5_refusal_reason_codes(adapter: Adapter, code: ReasonCode) -> None:
    """Every MQTT 5 CONNACK failure code (section 3.2.2.2): ConnackRefused carrying it, and
    no DISCONNECT from the client (the server ends the connection [MQTT-3.2.2-7])."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send(ConnAck(reason_code=code))
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        with pytest.raises(ConnackRefused) as raised:
            client.connect()
        assert raised.value.reason_code == code
        assert isinstance(raised.value, ConnectError)
        assert server.connection().disconnects == []


def test_connack_refusal_with_an_unknown_code(adapter: Adapter, version: int) -> None:
    """A CONNACK code the protocol does not define for CONNACK (return code 6 on 3.1.1,
    0x8F Topic Filter invalid on 5) makes a malformed packet, not a refusal."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send_raw(b"\x20\x03\x00\x8f\x00" if version == 5 else b"\x20\x02\x00\x06")

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), MalformedPacket)
        _assert_closed_with(server, version, ReasonCode.MALFORMED_PACKET)


# CONNACK properties an MQTT 5 server may not send, as bytes: flags, reason code, properties.
BAD_CONNACK_PROPERTIES = {
    "receive-maximum-0": (b"\x21\x00\x00", ReasonCode.PROTOCOL_ERROR),  # section 3.2.2.3.3
    "maximum-packet-size-0": (b"\x27\x00\x00\x00\x00", ReasonCode.PROTOCOL_ERROR),  # 3.2.2.3.6
    "maximum-qos-2": (b"\x24\x02", ReasonCode.PROTOCOL_ERROR),  # section 3.2.2.3.4: 0 or 1
    "retain-available-2": (b"\x25\x02", ReasonCode.PROTOCOL_ERROR),  # section 3.2.2.3.5
    "property-twice": (b"\x21\x00\x05\x21\x00\x05", ReasonCode.PROTOCOL_ERROR),  # 3.2.2.3.3
    "will-delay-interval": (b"\x18\x00\x00\x00\x05", ReasonCode.MALFORMED_PACKET),  # not CONNACK's
}


@pytest.mark.parametrize("case", sorted(BAD_CONNACK_PROPERTIES))
def test_connack_with_a_forbidden_property(adapter: Adapter, case: str) -> None:
    """A CONNACK property with a value the protocol forbids, repeated, or not CONNACK's:
    the connection attempt fails with the engine's error, and the client says why in a
    DISCONNECT."""
    properties, code = BAD_CONNACK_PROPERTIES[case]

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        body = b"\x00\x00" + bytes([len(properties)]) + properties
        conn.send_raw(bytes([0x20, len(body)]) + body)

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        error = engine_error(raised.value)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == code
        _assert_closed_with(server, 5, code)


def test_connack_resuming_a_session_after_clean_start(adapter: Adapter, version: int) -> None:
    """Session Present after a Clean Start is a protocol error [MQTT-3.2.2-2] (3.1.1:
    [MQTT-3.2.2-1]): the client cannot trust what the server says it kept."""

    def script(conn: ServerConnection) -> None:
        accept(conn, session_present=True)

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), ProtocolError)
        _assert_closed_with(server, version, ReasonCode.PROTOCOL_ERROR)


def test_connack_without_the_client_identifier_it_must_assign(adapter: Adapter) -> None:
    """MQTT 5 CONNECT with an empty client identifier: the CONNACK must assign one
    [MQTT-3.2.2-16]."""

    def script(conn: ServerConnection) -> None:
        connect = conn.expect_connect()
        assert connect.client_id == ""
        conn.send(ConnAck())

    with ScriptedServer(script) as server, new_client(adapter, server, 5, client_id="") as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), ProtocolError)
        _assert_closed_with(server, 5, ReasonCode.PROTOCOL_ERROR)


def test_auth_before_connack_without_authentication(adapter: Adapter) -> None:
    """AUTH when CONNECT named no authentication method (section 4.12): a protocol error
    during the connection attempt."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send(
            Auth(
                reason_code=ReasonCode.CONTINUE_AUTHENTICATION,
                properties=Properties(authentication_method="SCRAM-SHA-1"),
            )
        )

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), ProtocolError)
        _assert_closed_with(server, 5, ReasonCode.PROTOCOL_ERROR)


BEFORE_CONNACK: dict[str, tuple[Packet, tuple[int, ...]]] = {
    "publish": (Publish(topic="early/bird", payload=b"x"), (4, 5)),
    "pingresp": (PingResp(), (4, 5)),
    "puback": (PubAck(packet_id=1), (4, 5)),
    "suback": (SubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_0,)), (4, 5)),
    # [MQTT-3.14.0-1] no DISCONNECT before a successful CONNACK.
    "disconnect": (Disconnect(reason_code=ReasonCode.SERVER_BUSY), (5,)),
}


@pytest.mark.parametrize(
    ("case", "version"),
    [
        pytest.param(case, version, id=f"{case}-v{version}")
        for case, (_, versions) in sorted(BEFORE_CONNACK.items())
        for version in versions
    ],
)
def test_packet_before_connack(adapter: Adapter, case: str, version: int) -> None:
    """CONNACK is the first packet a server sends [MQTT-3.2.0-1]: anything else first is a
    protocol error, and the attempt fails."""
    packet, _ = BEFORE_CONNACK[case]

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        conn.send(packet)

    with ScriptedServer(script) as server, new_client(adapter, server, version) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        error = engine_error(raised.value)
        assert isinstance(error, ProtocolError)
        assert error.reason_code == ReasonCode.PROTOCOL_ERROR
        _assert_closed_with(server, version, ReasonCode.PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "code", [ReasonCode.USE_ANOTHER_SERVER, ReasonCode.SERVER_MOVED], ids=lambda c: c.name
)
def test_server_redirecting_to_itself(adapter: Adapter, code: ReasonCode) -> None:
    """A server whose CONNACK sends the client back to itself, for ever (0x9C / 0x9D with a
    Server Reference, section 4.11): the client follows a bounded number of redirections
    (`adapters._reconnect.MAX_REDIRECTS`), then reports the refusal instead of looping."""
    ports: list[int] = []

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        reference = f"127.0.0.1:{ports[0]}"
        conn.send(ConnAck(reason_code=code, properties=Properties(server_reference=reference)))
        conn.close()

    with ScriptedServer(script) as server, new_client(adapter, server, 5) as client:
        ports.append(server.port)
        with pytest.raises(ConnackRefused) as raised:
            client.connect()
        assert raised.value.reason_code == code
        assert raised.value.server_reference == f"127.0.0.1:{server.port}"
        assert len(server.connections) == 1 + MAX_REDIRECTS


def _auth_client_options() -> dict[str, Any]:
    return {
        "properties": {"authentication_method": "SCRAM-SHA-1", "authentication_data": b"first"},
        "auth_handler": lambda packet: b"again",
    }


def test_authentication_exchange_that_never_ends(adapter: Adapter) -> None:
    """A server that answers every AUTH with another AUTH 0x18 (section 4.12): the exchange
    is bounded by ``connect_timeout``, which covers it [docs/engine.md]."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        continue_auth = Auth(
            reason_code=ReasonCode.CONTINUE_AUTHENTICATION,
            properties=Properties(authentication_method="SCRAM-SHA-1", authentication_data=b"?"),
        )
        conn.send(continue_auth)
        while conn.read_packet() is not None:
            conn.send(continue_auth)

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, 5, connect_timeout=0.5, **_auth_client_options()) as client,
    ):
        with pytest.raises(ConnectTimeout):
            client.connect()
        conn = server.wait_closed()
        assert len(conn.packets(Auth)) >= 1
        assert client.status == "closed"


@pytest.mark.parametrize("where", ["auth", "connack"])
def test_authentication_method_changed_by_the_server(adapter: Adapter, where: str) -> None:
    """The authentication method stays the one of CONNECT [MQTT-4.12.0-5]: an AUTH or a
    successful CONNACK naming another (or none) is a protocol error."""

    def script(conn: ServerConnection) -> None:
        conn.expect_connect()
        if where == "auth":
            conn.send(
                Auth(
                    reason_code=ReasonCode.CONTINUE_AUTHENTICATION,
                    properties=Properties(authentication_method="PLAIN"),
                )
            )
        else:
            conn.send(ConnAck())  # no Authentication Method

    with (
        ScriptedServer(script) as server,
        new_client(adapter, server, 5, **_auth_client_options()) as client,
    ):
        with pytest.raises(ConnectionFailed) as raised:
            client.connect()
        assert isinstance(engine_error(raised.value), ProtocolError)
        _assert_closed_with(server, 5, ReasonCode.PROTOCOL_ERROR)
