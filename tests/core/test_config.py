"""ClientConfig: defaults and validation."""

from __future__ import annotations

import dataclasses
import os

import pytest

from emqtt_core.config import ClientConfig
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.exceptions import UsageError
from emqtt_core.packets import Will
from emqtt_core.properties import Properties

V3, V4 = ProtocolVersion.MQTT_3_1, ProtocolVersion.MQTT_3_1_1


def test_defaults() -> None:
    config = ClientConfig()
    assert config.protocol_version is ProtocolVersion.MQTT_5
    assert (config.keep_alive, config.clean_start, config.auto_ack) == (60, True, True)
    assert (config.max_inflight, config.max_queued) == (None, 10_000)
    assert config.session_lost_policy == "requeue" and config.resubscribe
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.keep_alive = 5  # type: ignore[misc]


def test_protocol_version_accepts_plain_integers() -> None:
    assert ClientConfig(client_id="c", protocol_version=4).protocol_version is V4  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocol_version": 6},
        {"keep_alive": -1},
        {"keep_alive": 65536},
        {"keep_alive": True},
        {"keep_alive": 1.5},
        {"ping_timeout": 0},
        {"connect_timeout": -1},
        {"session_expiry_interval": 2**32},
        {"receive_maximum": 0},
        {"topic_alias_maximum": 65536},
        {"maximum_packet_size": 1},
        {"max_inflight": 0},
        {"max_queued": -1},
        {"session_lost_policy": "drop"},
        {"client_id": "x" * 65536},
        {"will": Will(topic="a/+")},
        {"will": Will(topic="a", qos=3)},  # type: ignore[arg-type]
        {"authentication_data": b"x"},
    ],
)
def test_bad_values_raise_usage_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        ClientConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"session_expiry_interval": 10},
        {"receive_maximum": 10},
        {"request_response_information": True},
        {"request_problem_information": False},
        {"user_properties": (("a", "b"),)},
        {"authentication_method": "SCRAM"},
        {"will": Will(topic="a", properties=Properties(will_delay_interval=5))},
    ],
)
def test_mqtt5_features_on_mqtt3_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        ClientConfig(client_id="c", protocol_version=V4, **kwargs)  # type: ignore[arg-type]


def test_mqtt31_client_id_limit_and_password_rules() -> None:
    ClientConfig(client_id="x" * 23, protocol_version=V3)
    with pytest.raises(UsageError):
        ClientConfig(client_id="x" * 24, protocol_version=V3)
    with pytest.raises(UsageError):
        ClientConfig(client_id="c", protocol_version=V4, password=b"p")
    ClientConfig(client_id="c", password=b"p")  # MQTT 5 allows a password alone


@pytest.mark.parametrize(
    ("version", "clean", "needed"),
    [
        (V3, True, True),
        (V4, False, True),
        (V4, True, False),
        (ProtocolVersion.MQTT_5, False, False),
    ],
)
def test_empty_client_id_needs_randomness_when_it_cannot_be_sent(
    version: ProtocolVersion, clean: bool, needed: bool
) -> None:
    config = ClientConfig(protocol_version=version, clean_start=clean, random_bytes=os.urandom)
    assert config.needs_generated_client_id() is needed
    if needed:
        with pytest.raises(UsageError):
            ClientConfig(protocol_version=version, clean_start=clean)
    else:
        ClientConfig(protocol_version=version, clean_start=clean)


def test_will_with_valid_qos() -> None:
    will = Will(topic="a", qos=QoS.EXACTLY_ONCE)
    assert ClientConfig(will=will).will is will


def test_repr_never_shows_the_password() -> None:
    config = ClientConfig(username="u", password=b"s3cr3t-pass")
    assert "s3cr3t-pass" not in repr(config)
    assert "username='u'" in repr(config)
