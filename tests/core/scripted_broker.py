"""A scripted broker for engine tests, built on the codec, with virtual time.

:class:`ScriptedBroker` is the server's end of one connection: it decodes what
the client sent and encodes what the test makes it answer.  It decides
nothing by itself; the test is the script.

:class:`SessionHarness` ties a :class:`~emqtt_core.session.ClientSession` to a
scripted broker and a virtual clock, and pumps them the way an adapter does::

    h = SessionHarness(ClientConfig(client_id="c1"))
    h.connect()                                  # CONNECT out, CONNACK in
    ticket = h.session.publish("a/b", b"x", qos=1)
    [publish] = h.sent()                         # what reached the broker
    h.reply(PubAck(packet_id=publish.packet_id))
    assert h.events() == [PublishCompleted(ticket, QoS.AT_LEAST_ONCE, publish.packet_id)]
"""

from __future__ import annotations

from collections.abc import Iterable

from emqtt_core.codec import Decoder, encode
from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion
from emqtt_core.events import Event
from emqtt_core.packets import ConnAck, Connect, Packet, Publish
from emqtt_core.properties import NO_PROPERTIES, Properties
from emqtt_core.reason_codes import ReasonCode
from emqtt_core.session import ClientSession

__all__ = ["ScriptedBroker", "SessionHarness"]


class ScriptedBroker:
    """The server's end of one connection: decode client bytes, encode replies."""

    def __init__(self, version: ProtocolVersion = ProtocolVersion.MQTT_5) -> None:
        self.version = version
        self._decoder = Decoder(version)
        self.received: list[Packet] = []
        """Every packet decoded so far, in order."""

    def feed(self, data: bytes) -> list[Packet]:
        """Decode client bytes; return the packets they completed."""
        self._decoder.feed(data)
        packets: list[Packet] = []
        while (packet := self._decoder.next_packet()) is not None:
            packets.append(packet)
        self.received.extend(packets)
        return packets

    def encode(self, *packets: Packet) -> bytes:
        """Encode packets as the server sends them."""
        return b"".join(encode(packet, self.version) for packet in packets)


class SessionHarness:
    """A client session, a scripted broker and a virtual clock, pumped together."""

    def __init__(self, config: ClientConfig | None = None, *, now: float = 1000.0) -> None:
        self.config = config if config is not None else ClientConfig(client_id="client")
        self.session = ClientSession(self.config)
        self.session.record_sent_packets = True
        self.now = now
        self.broker = ScriptedBroker(self.config.protocol_version)
        self._events: list[Event] = []

    # -- the wire

    def sent(self) -> list[Packet]:
        """Take what the client queued, as the broker decodes it."""
        return self.broker.feed(self.session.data_to_send(self.now))

    def reply(self, *packets: Packet) -> None:
        """Make the broker send packets to the client."""
        self.session.receive_data(self.broker.encode(*packets), self.now)

    def reply_bytes(self, data: bytes) -> None:
        """Make the broker send raw bytes (for malformed input)."""
        self.session.receive_data(data, self.now)

    def new_connection(self) -> None:
        """Forget the broker's parse state, as a new network connection does."""
        self.broker = ScriptedBroker(self.config.protocol_version)

    # -- events and time

    def events(self) -> list[Event]:
        """Take every event the session has queued."""
        out: list[Event] = []
        while (event := self.session.next_event()) is not None:
            out.append(event)
        return out

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing due timers in order as an adapter does
        (each firing is followed by a write of what it queued)."""
        end = self.now + seconds
        while True:
            timer = self.session.get_timer()
            if timer is None or timer > end:
                break
            self.now = max(self.now, timer)
            self.session.handle_timer(self.now)
            self.sent()
        self.now = end

    # -- common scripts

    def connect(
        self,
        *,
        session_present: bool = False,
        properties: Properties = NO_PROPERTIES,
        clean_start: bool | None = None,
        reason_code: ReasonCode = ReasonCode.SUCCESS,
    ) -> Connect:
        """Run ``connect()``, answer the CONNECT with a CONNACK; return the CONNECT."""
        self.new_connection()
        self.session.connect(clean_start=clean_start)
        packets = self.sent()
        assert len(packets) == 1 and isinstance(packets[0], Connect), packets
        self.reply(
            ConnAck(session_present=session_present, reason_code=reason_code, properties=properties)
        )
        return packets[0]

    def drop(self) -> None:
        """The transport ends without DISCONNECT."""
        self.session.receive_eof(self.now)

    def publishes(self, packets: Iterable[Packet]) -> list[Publish]:
        """Keep only the PUBLISH packets."""
        return [p for p in packets if isinstance(p, Publish)]
