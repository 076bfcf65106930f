"""ClientSession gives the same events and output however the input is split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emqtt_core.codec import encode
from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.events import Event
from emqtt_core.packets import ConnAck, Packet, Publish, PubRel
from emqtt_core.properties import Properties
from emqtt_core.session import ClientSession

V5 = ProtocolVersion.MQTT_5

publishes = st.builds(
    Publish,
    topic=st.sampled_from(["a", "b/c", "sensors/x"]),
    payload=st.binary(max_size=40),
    qos=st.sampled_from(list(QoS)),
    retain=st.booleans(),
    packet_id=st.integers(min_value=1, max_value=20),
).map(lambda p: p if p.qos else Publish(topic=p.topic, payload=p.payload, retain=p.retain))
server_packets = st.lists(
    st.one_of(publishes, st.builds(PubRel, packet_id=st.integers(1, 20))), max_size=12
)


def run(packets: list[Packet], cuts: list[int]) -> tuple[list[Event], bytes]:
    session = ClientSession(ClientConfig(client_id="c", topic_alias_maximum=4))
    session.connect()
    session.data_to_send(0.0)
    data = encode(ConnAck(properties=Properties(receive_maximum=5)), V5)
    data += b"".join(encode(p, V5) for p in packets)
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        session.receive_data(data[start:cut], 1.0)
        start = max(start, cut)
    session.receive_data(data[start:], 1.0)
    events: list[Event] = []
    while (event := session.next_event()) is not None:
        events.append(event)
    return events, session.data_to_send(2.0)


@settings(max_examples=200, deadline=None)
@given(packets=server_packets, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_split_of_the_input_gives_the_same_result(
    packets: list[Packet], cuts: list[int]
) -> None:
    assert run(packets, cuts) == run(packets, [])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    session = ClientSession(ClientConfig(client_id="c"))
    session.connect()
    session.data_to_send(0.0)
    session.receive_data(encode(ConnAck(), V5) + data, 1.0)
    session.receive_data(data, 1.0)
    session.data_to_send(1.0)
    while session.next_event() is not None:
        pass
