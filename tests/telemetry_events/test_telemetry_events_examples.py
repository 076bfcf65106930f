"""The telemetry examples (``examples/telemetry_*.py``) run against the real broker, and what
they print is checked against the byte counts of their session, computed with the codec."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from events_session import (
    ALL_EVENTS,
    PASSWORD,
    SEND_DATA_FAILED,
    BrokerEndpoint,
    close_layer,
    make_endpoint,
    named,
    publish_after,
)
from prometheus_client.parser import text_string_to_metric_families

import telemetry
from emqtt_core.codec import encode
from emqtt_core.enums import ProtocolVersion, QoS
from emqtt_core.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    Subscription,
)
from emqtt_core.reason_codes import ReasonCode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from telemetry_workload import PAYLOAD  # noqa: E402

#: Seconds an example may run (it talks to a local broker: anything slower is a hang).
EXAMPLE_TIMEOUT = 60
COUNT = 3


def expected_bytes(client_id: str, topic: str, count: int) -> dict[str, int]:
    """The MQTT 3.1.1 bytes of the examples' session, both ways.

    Sent: CONNECT, SUBSCRIBE, ``count`` PUBLISH (QoS 1), one PUBACK per message received back,
    DISCONNECT. Received: CONNACK, SUBACK, ``count`` PUBACK, ``count`` PUBLISH.
    """

    def size(packet: Packet) -> int:
        return len(encode(packet, 4))

    publish = size(Publish(topic=topic, payload=PAYLOAD, qos=QoS.AT_LEAST_ONCE, packet_id=2))
    puback = size(PubAck(packet_id=2))
    subscription = Subscription(topic_filter=topic, qos=QoS.AT_LEAST_ONCE)
    sent = [
        size(Connect(protocol_version=ProtocolVersion.MQTT_3_1_1, client_id=client_id)),
        size(Subscribe(packet_id=1, subscriptions=(subscription,))),
        *[publish] * count,
        *[puback] * count,
        size(Disconnect()),
    ]
    received = [
        size(ConnAck()),
        size(SubAck(packet_id=1, reason_codes=(ReasonCode.GRANTED_QOS_1,))),
        *[puback] * count,
        *[publish] * count,
    ]
    return {
        "bytes_sent": sum(sent),
        "packets_sent": len(sent),
        "bytes_received": sum(received),
        "packets_received": len(received),
    }


def example_args(endpoint: BrokerEndpoint, client_id: str, topic: str) -> list[str]:
    """Command-line options pointing an example at ``endpoint`` (MQTT 3.1.1, `COUNT` messages)."""
    args = [
        "--host", endpoint.host,
        "--port", str(endpoint.port),
        "--transport", endpoint.transport,
        "--client-id", client_id,
        "--topic", topic,
        "--protocol-version", "4",
        "--count", str(COUNT),
    ]  # fmt: skip
    if endpoint.ssl_context is not None:
        args += ["--cafile", str(_ca_file(endpoint))]
    return args


def _ca_file(endpoint: BrokerEndpoint) -> Path:
    ca = os.environ.get("_TELEMETRY_EVENTS_CA")
    assert ca is not None
    return Path(ca)


@pytest.fixture(autouse=True)
def _ca_in_environment(mosquitto: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.broker import Mosquitto

    assert isinstance(mosquitto, Mosquitto)
    monkeypatch.setenv("_TELEMETRY_EVENTS_CA", str(mosquitto.tls.ca_file))


def run_example(
    name: str, args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/telemetry_<name>.py`` to completion."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"telemetry_{name}.py"), *args],
        env=_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
        check=False,
    )


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMQTT_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def _ids(request: pytest.FixtureRequest, stem: str) -> tuple[str, str]:
    client_id = f"{stem}-{os.getpid()}"
    return client_id, f"telemetry-examples/{request.node.name}"


COUNTER_LINE = re.compile(r"^client '(?P<id>[^']*)': (?P<values>.*)$", re.MULTILINE)


def parse_counters(stdout: str) -> dict[str, dict[str, int]]:
    """The counters example's output: ``{client_id: {counter: value}}``."""
    result = {}
    for match in COUNTER_LINE.finditer(stdout):
        pairs = (item.split("=") for item in match["values"].split())
        result[match["id"]] = {name: int(value) for name, value in pairs}
    return result


@pytest.mark.parametrize(
    "transport", ["tcp", "ssl", "ws", "wss", pytest.param("quic", marks=pytest.mark.quic)]
)
def test_counters_example_counts_every_byte(
    request: pytest.FixtureRequest, mosquitto: object, transport: str
) -> None:
    endpoint = make_endpoint(request, transport)
    client_id, topic = _ids(request, f"counters-{transport}")
    result = run_example("counters", example_args(endpoint, client_id, topic))

    assert result.returncode == 0, result.stderr
    counters = parse_counters(result.stdout)
    assert list(counters) == [client_id], result.stdout
    mine = counters[client_id]
    expected = expected_bytes(client_id, topic, COUNT)
    assert mine["bytes_sent"] == expected["bytes_sent"]
    assert mine["packets_sent"] == expected["packets_sent"]
    assert mine["bytes_received"] == expected["bytes_received"]
    # A chunk holds whole packets, several packets or part of one.
    assert 1 <= mine["chunks_received"] <= expected["packets_received"]
    assert mine["send_failures"] == 0


def test_counters_example_reads_the_broker_from_the_environment(
    request: pytest.FixtureRequest, mosquitto: object
) -> None:
    endpoint = make_endpoint(request, "ssl")
    client_id, topic = _ids(request, "counters-env")
    env = {
        "EMQTT_HOST": endpoint.host,
        "EMQTT_PORT": str(endpoint.port),
        "EMQTT_TRANSPORT": "ssl",
        "EMQTT_CAFILE": str(_ca_file(endpoint)),
        "EMQTT_CLIENT_ID": client_id,
    }
    result = run_example("counters", ["--topic", topic, "--count", "1"], env)

    assert result.returncode == 0, result.stderr
    assert list(parse_counters(result.stdout)) == [client_id]


def test_an_example_exits_non_zero_when_the_broker_is_unreachable() -> None:
    from support.net import free_tcp_port

    result = run_example("counters", ["--host", "127.0.0.1", "--port", str(free_tcp_port())])

    assert result.returncode == 1
    assert result.stderr.startswith("error: ConnectionRefused")
    assert "client '" not in result.stdout


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_logging_example_logs_each_event(
    request: pytest.FixtureRequest, mosquitto: object, transport: str
) -> None:
    endpoint = make_endpoint(request, transport)
    client_id, topic = _ids(request, f"logging-{transport}")
    result = run_example("logging", example_args(endpoint, client_id, topic))

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    if transport == "ws":
        received = [line for line in lines if "WebSocket received" in line]
    else:
        received = [line for line in lines if "Socket (tcp) received" in line]
    sent = [line for line in lines if "Successfully sent" in line]
    expected = expected_bytes(client_id, topic, COUNT)
    assert len(sent) == expected["packets_sent"]
    assert all(line.endswith(f"from client {client_id}") for line in sent + received)
    sizes = [int(re.search(r"(\d+) bytes", line)[1]) for line in received]  # type: ignore[index]
    assert sum(sizes) == expected["bytes_received"]
    assert f"client {client_id} published {COUNT} and received {COUNT} messages" in lines[-1]


def test_prometheus_example_is_scraped_over_http(
    request: pytest.FixtureRequest, mosquitto: object
) -> None:
    endpoint = make_endpoint(request, "tcp")
    client_id, topic = _ids(request, "prometheus")
    command = [
        sys.executable,
        str(EXAMPLES / "telemetry_prometheus.py"),
        "--hold",
        *example_args(endpoint, client_id, topic),
    ]
    process = subprocess.Popen(
        command,
        env=_environment(None),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        url = None
        for line in process.stdout:  # ends when the example exits: never blocks for ever
            if line.startswith("metrics at "):
                url = line.split()[-1]
                break
        assert url is not None and url.startswith("http://127.0.0.1:"), process.stderr
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        process.stdin.close()  # the example stops holding and exits
        assert process.wait(timeout=EXAMPLE_TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    labels = (("client_id", client_id), ("socket_type", "tcp"))
    expected = expected_bytes(client_id, topic, COUNT)
    assert values[("emqtt_bytes_sent_total", labels)] == expected["bytes_sent"]
    assert values[("emqtt_bytes_received_total", labels)] == expected["bytes_received"]
    assert not [key for key in values if key[0] == "emqtt_send_failures_total"]


def test_debug_example_prints_every_event_without_the_password(
    request: pytest.FixtureRequest, mosquitto: object
) -> None:
    endpoint = make_endpoint(request, "wss")
    client_id, topic = _ids(request, "debug")
    args = [*example_args(endpoint, client_id, topic), "--username", "u", "--password", PASSWORD]
    result = run_example("debug", args)

    assert result.returncode == 0, result.stderr
    events = re.findall(r"^Event: (.*)$", result.stdout, re.MULTILINE)
    expected = expected_bytes(client_id, topic, COUNT)
    send, recv = "('emqtt', 'socket', 'send_data')", "('emqtt', 'websocket', 'recv_data')"
    assert events.count(send) == expected["packets_sent"]
    assert set(events) == {send, recv}
    assert "password=<redacted>" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_prometheus_example_scrapes_itself_without_hold(
    request: pytest.FixtureRequest, mosquitto: object
) -> None:
    endpoint = make_endpoint(request, "ws")
    client_id, topic = _ids(request, "prometheus-once")
    result = run_example("prometheus", example_args(endpoint, client_id, topic))

    assert result.returncode == 0, result.stderr
    expected = expected_bytes(client_id, topic, COUNT)
    labels = f'{{client_id="{client_id}",socket_type="websocket"}}'
    assert f"emqtt_bytes_sent_total{labels} {float(expected['bytes_sent'])}" in result.stdout
    assert f"emqtt_bytes_received_total{labels} {float(expected['bytes_received'])}" in (
        result.stdout
    )


def test_the_example_handlers_report_a_failed_send(
    request: pytest.FixtureRequest, mosquitto: object, caplog: pytest.LogCaptureFixture
) -> None:
    # The handlers of the examples, attached in this process, see a real failed send: the
    # client's WebSocket layer is closed under it before a publish goes out.
    import telemetry_counters
    import telemetry_logging
    import telemetry_prometheus

    endpoint = make_endpoint(request, "ws")
    client_id = f"failing-{os.getpid()}"
    collector = telemetry_counters.MetricsCollector()
    collector.attach("test-counters")
    telemetry.attach_many("test-logging", telemetry_logging.EVENTS, telemetry_logging.handle_event)
    telemetry.attach_many("test-prometheus", ALL_EVENTS, telemetry_prometheus.handle_event)
    caplog.set_level(logging.INFO, logger=telemetry_logging.logger.name)

    events, size, error = asyncio.run(publish_after(endpoint, close_layer, client_id=client_id))

    assert error is not None
    [failed] = named(events, SEND_DATA_FAILED)
    reason = failed.metadata["reason"]
    assert collector.get(client_id, "send_failures") == 1
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == telemetry_logging.logger.name
    ]
    assert warnings == [f"Failed to send {size} bytes from client {client_id}: {reason!r}"]
    labels = {"client_id": client_id, "reason": type(reason).__name__}
    sample = telemetry_prometheus.registry.get_sample_value("emqtt_send_failures_total", labels)
    assert sample == 1.0
