"""Golden vectors: the byte examples of the MQTT specifications (tests/core/vectors/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emqtt_core._primitives import (
    encode_string,
    read_string,
    read_variable_byte_integer,
    variable_byte_integer,
)
from emqtt_core.codec import Decoder, encode
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.exceptions import UsageError
from emqtt_core.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Will,
)
from emqtt_core.properties import Properties
from emqtt_core.reason_codes import ReasonCode

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "spec_examples.json").read_text(encoding="utf-8")
)


def unhex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


EXPECTED: dict[str, Packet] = {
    "connect_v5": Connect(
        protocol_version=ProtocolVersion.MQTT_5,
        client_id="c",
        clean_start=True,
        keep_alive=10,
        username="u",
        password=b"p",
        will=Will(topic="w", qos=QoS.AT_LEAST_ONCE),
        properties=Properties(session_expiry_interval=10),
    ),
    "connect_v4": Connect(
        protocol_version=ProtocolVersion.MQTT_3_1_1,
        client_id="c",
        keep_alive=10,
        username="u",
        password=b"p",
        will=Will(topic="w", qos=QoS.AT_LEAST_ONCE),
    ),
    "connect_v3": Connect(protocol_version=ProtocolVersion.MQTT_3_1, client_id="cid", keep_alive=0),
    "publish_v4": Publish(topic="a/b", payload=b"hi", qos=QoS.AT_LEAST_ONCE, packet_id=10),
    "publish_v5": Publish(topic="a/b", payload=b"hi", qos=QoS.AT_LEAST_ONCE, packet_id=10),
    "pingreq": PingReq(),
    "pingresp": PingResp(),
    "disconnect_v4": Disconnect(),
    "disconnect_v5_success": Disconnect(),
    "puback_v5_success": PubAck(packet_id=1),
    "connack_v4_accepted": ConnAck(session_present=True),
    "connack_v3_refused": ConnAck(reason_code=ReasonCode.NOT_AUTHORIZED),
    "suback_v4_failure": SubAck(
        packet_id=10, reason_codes=(ReasonCode.GRANTED_QOS_1, ReasonCode.UNSPECIFIED_ERROR)
    ),
}


@pytest.mark.parametrize(
    "case", VECTORS["variable_byte_integer"], ids=lambda case: str(case["value"])
)
def test_variable_byte_integer_table(case: dict[str, Any]) -> None:
    # MQTT 5.0 1.5.5, table 1-1: the boundaries of 1, 2, 3 and 4 byte encodings.
    data = unhex(case["hex"])
    assert variable_byte_integer(case["value"]) == data
    assert read_variable_byte_integer(data, 0, len(data)) == (case["value"], len(data))


@pytest.mark.parametrize("value", [-1, 268_435_456])
def test_variable_byte_integer_range(value: int) -> None:
    with pytest.raises(UsageError, match="variable byte integer"):
        variable_byte_integer(value)


@pytest.mark.parametrize("case", VECTORS["utf8_string"], ids=lambda case: case["section"])
def test_utf8_string_example(case: dict[str, Any]) -> None:
    data = unhex(case["hex"])
    assert case["text"] == "A\U0002a6d4"
    assert encode_string(case["text"], "example") == data
    assert read_string(data, 0, len(data)) == (case["text"], len(data))
    # The same string as a topic name goes through the PUBLISH fast path.
    packet = Publish(topic=case["text"])
    encoded = encode(packet, 4)
    assert encoded[2:] == data
    decoder = Decoder(4)
    decoder.feed(encoded)
    assert decoder.next_packet() == packet


@pytest.mark.parametrize("case", VECTORS["packets"], ids=lambda case: case["name"])
def test_packet_examples(case: dict[str, Any]) -> None:
    data = unhex(case["hex"])
    expected = EXPECTED[case["name"]]
    if "example" in case:
        offset = case["example_offset"]
        example = unhex(case["example"])
        assert data[offset : offset + len(example)] == example
    decoder = Decoder(case["version"])
    decoder.feed(data)
    assert decoder.next_packet() == expected
    assert decoder.next_packet() is None
    assert encode(expected, case["version"]) == data


def test_every_expected_packet_has_a_vector() -> None:
    assert {case["name"] for case in VECTORS["packets"]} == set(EXPECTED)
