"""MQTT 5 enhanced authentication and re-authentication (section 4.12) with a scripted server:
mosquitto has no authentication method without plugins."""

from __future__ import annotations

import asyncio

import pytest
from asyncio_support import run
from support.raw_mqtt import split_packet

from adapters.asyncio import Client, ConnectionFailed
from emqtt_core.codec import encode
from emqtt_core.enums import ProtocolVersion
from emqtt_core.packets import Auth, ConnAck
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

pytestmark = pytest.mark.timeout(30)

METHOD = "X-CHALLENGE"
V5 = ProtocolVersion.MQTT_5


def auth(code: ReasonCode, data: bytes) -> bytes:
    return encode(
        Auth(
            reason_code=code,
            properties=Properties(authentication_method=METHOD, authentication_data=data),
        ),
        V5,
    )


class ScriptedServer:
    """Answers CONNECT with a challenge, accepts the right response, and runs one
    re-authentication the same way; records every packet the client sent."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def packet(self, reader: asyncio.StreamReader, buffer: bytearray) -> bytes:
        while (split := split_packet(buffer)) is None:
            data = await reader.read(4096)
            if not data:
                raise EOFError
            buffer += data
        packet, rest = split
        buffer[:] = rest
        self.received.append(packet)
        return packet

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()
        try:
            connect = await self.packet(reader, buffer)
            assert METHOD.encode() in connect
            writer.write(auth(ReasonCode.CONTINUE_AUTHENTICATION, b"challenge-1"))
            answer = await self.packet(reader, buffer)
            if answer[0] != 0xF0 or b"response:challenge-1" not in answer:
                writer.close()
                return
            # CONNACK repeats the method of the exchange it concludes (MQTT 5 3.2.2.3.17).
            writer.write(
                encode(ConnAck(properties=Properties(authentication_method=METHOD)), V5)
            )
            reauth = await self.packet(reader, buffer)  # AUTH 0x19 Re-authenticate
            assert reauth[0] == 0xF0
            writer.write(auth(ReasonCode.CONTINUE_AUTHENTICATION, b"challenge-2"))
            answer = await self.packet(reader, buffer)
            assert b"response:challenge-2" in answer
            writer.write(auth(ReasonCode.SUCCESS, b"welcome-back"))
            await self.packet(reader, buffer)  # DISCONNECT
        except EOFError:
            pass
        writer.close()


def respond(packet: Auth) -> bytes:
    data = packet.properties.authentication_data or b""
    return b"response:" + data


def test_challenge_response_at_connection_and_reauthentication() -> None:
    server = ScriptedServer()

    async def scenario() -> Auth:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            client = Client(
                "127.0.0.1",
                port,
                client_id="auth",
                properties={"authentication_method": METHOD, "authentication_data": b"hi"},
                auth_handler=respond,
            )
            async with client:
                return await client.reauthenticate(b"again")

    final = run(scenario())
    assert final.reason_code == ReasonCode.SUCCESS
    assert final.properties.authentication_data == b"welcome-back"
    assert [packet[0] >> 4 for packet in server.received] == [1, 15, 15, 15, 14]


def test_a_failing_auth_handler_ends_the_attempt() -> None:
    server = ScriptedServer()

    def refuse(packet: Auth) -> bytes:
        raise PermissionError("no credentials for this challenge")

    async def scenario() -> None:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            client = Client(
                "127.0.0.1",
                port,
                client_id="auth",
                properties={"authentication_method": METHOD},
                auth_handler=refuse,
            )
            await client.connect()

    with pytest.raises(ConnectionFailed) as info:
        run(scenario())
    assert isinstance(info.value.__cause__, PermissionError)
    # The client answered the challenge with DISCONNECT 0x80 Unspecified error (no
    # authentication reason code is one a client may send in DISCONNECT).
    assert server.received[-1][0] >> 4 == 14
    assert server.received[-1][2] == ReasonCode.UNSPECIFIED_ERROR
