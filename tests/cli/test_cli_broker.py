"""``emqtt pub``, ``sub`` and ``connect`` against the private mosquitto, in subprocesses.

Every check goes through the real program: arguments, the asyncio client, a real transport, the
broker, and what a user sees on stdout, stderr and in the exit status. A background ``sub`` is
known to be subscribed when it logs ``subscribed to`` (``--log-level info``), so nothing sleeps.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_runner import ROOT, Running, cli_env, emqtt
from support.broker import Mosquitto
from support.quic_relay import QuicRelay

pytestmark = pytest.mark.broker


def _transport_args(mosquitto: Mosquitto, quic_relay: QuicRelay | None,
                    transport: str) -> list[str]:
    host, ca = mosquitto.host, str(mosquitto.ca_file)
    if transport == "tcp":
        return ["-h", host, "-p", str(mosquitto.tcp_port)]
    if transport == "ssl":
        return ["-h", host, "-p", str(mosquitto.ssl_port), "--cafile", ca]
    if transport == "ws":
        return ["-h", host, "-p", str(mosquitto.ws_port), "--enable-websocket"]
    if transport == "wss":
        return [f"wss://{host}:{mosquitto.wss_port}/mqtt", "--cafile", ca]
    assert quic_relay is not None
    return [f"quic://{host}:{quic_relay.port}", "--cafile", ca]


def _one_line(stderr: bytes) -> str:
    """The single ``emqtt: ...`` line an expected failure prints (no traceback)."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, stderr.decode()
    assert lines[0].startswith("emqtt: ")
    assert "Traceback" not in stderr.decode()
    return lines[0]


@pytest.fixture
def tcp(mosquitto: Mosquitto) -> list[str]:
    return _transport_args(mosquitto, None, "tcp")


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ssl", "ws", "wss"])
def test_round_trip_over_each_transport(mosquitto: Mosquitto, topic: str, transport: str) -> None:
    args = _transport_args(mosquitto, None, transport)
    published = emqtt("pub", *args, "-t", topic, "-m", f"over {transport}", "-r", "-q", "1")
    assert published.returncode == 0, published.stderr.decode()
    received = emqtt("sub", *args, "-t", topic, "-C", "1", "-W", "20")
    assert received.returncode == 0, received.stderr.decode()
    assert received.stdout == f"over {transport}\n".encode()


def test_round_trip_over_quic(mosquitto: Mosquitto, quic_relay: QuicRelay, topic: str) -> None:
    args = _transport_args(mosquitto, quic_relay, "quic")
    published = emqtt("pub", *args, "-t", topic, "-m", "over quic", "-r", "-q", "1")
    assert published.returncode == 0, published.stderr.decode()
    received = emqtt("sub", *args, "-t", topic, "-C", "1", "-W", "20")
    assert received.returncode == 0, received.stderr.decode()
    assert received.stdout == b"over quic\n"


@pytest.mark.parametrize("version", ["mqttv31", "v3.1.1", "5"])
def test_round_trip_with_each_protocol_version(tcp: list[str], topic: str, version: str) -> None:
    assert emqtt("pub", *tcp, "-V", version, "-t", topic, "-m", "v", "-r").returncode == 0
    received = emqtt("sub", *tcp, "-V", version, "-t", topic, "-C", "1", "-W", "20")
    assert (received.returncode, received.stdout) == (0, b"v\n"), received.stderr.decode()


def test_url_names_transport_host_port_and_topic(mosquitto: Mosquitto, topic: str) -> None:
    url = f"mqtt://{mosquitto.host}:{mosquitto.tcp_port}/{topic}"
    assert emqtt("pub", url + "/leaf", "-m", "by url", "-r").returncode == 0
    received = emqtt("sub", url + "/#", "-C", "1", "-W", "20", "-v")
    assert received.returncode == 0, received.stderr.decode()
    assert received.stdout == f"{topic}/leaf by url\n".encode()


def test_live_messages_lines_from_stdin(tcp: list[str], topic: str, running: type[Running]) -> None:
    sub = running("sub", *tcp, "-t", topic, "-C", "4", "-W", "20", "-q", "1",
                  "--log-level", "info")
    sub.wait_for_stderr(b"subscribed to")
    published = emqtt("pub", *tcp, "-t", topic, "-l", "-q", "1",
                      input=b"one\ntwo\r\n\nlast, without a newline")
    assert published.returncode == 0, published.stderr.decode()
    status, stdout, _ = sub.finish()
    assert (status, stdout) == (0, b"one\ntwo\n\nlast, without a newline\n")


def test_null_message_and_file_and_stdin(tcp: list[str], topic: str, tmp_path: Path,
                                         running: type[Running]) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\x01binary\xff")
    sub = running("sub", *tcp, "-t", topic, "-C", "3", "-W", "20", "--json",
                  "--log-level", "info")
    sub.wait_for_stderr(b"subscribed to")
    assert emqtt("pub", *tcp, "-t", topic, "-n").returncode == 0
    assert emqtt("pub", *tcp, "-t", topic, "-f", str(payload)).returncode == 0
    assert emqtt("pub", *tcp, "-t", topic, "-s", input=b"whole\nstdin\n").returncode == 0
    status, stdout, _ = sub.finish()
    assert status == 0
    records = [json.loads(line) for line in stdout.splitlines()]
    assert [r["payloadlen"] for r in records] == [0, 9, 12]
    assert records[0]["payload"] == ""
    assert records[1]["payload_base64"] == "AAFiaW5hcnn/"
    assert records[2]["payload"] == "whole\nstdin\n"


def test_json_lines_output(tcp: list[str], topic: str) -> None:
    assert emqtt("pub", *tcp, "-t", topic, "-m", "21.5", "-r", "-q", "1").returncode == 0
    received = emqtt("sub", *tcp, "-t", topic, "-q", "1", "-C", "1", "-W", "20", "--json")
    assert received.returncode == 0, received.stderr.decode()
    record = json.loads(received.stdout)
    assert (record["topic"], record["payload"], record["qos"], record["retain"]) == (
        topic, "21.5", 1, True)
    assert record["tst"].endswith("Z")


def test_verbose_and_size_formats(tcp: list[str], topic: str) -> None:
    assert emqtt("pub", *tcp, "-t", topic, "-m", "hello", "-r").returncode == 0
    verbose = emqtt("sub", *tcp, "-t", topic, "-C", "1", "-W", "20", "-vv")
    assert verbose.stdout == f"{topic} [qos=0 retain] hello\n".encode()
    size = emqtt("sub", *tcp, "-t", topic, "-C", "1", "-W", "20", "--print", "size")
    assert size.stdout == b"Received 5 bytes\n"


def test_skip_retained(tcp: list[str], topic: str) -> None:
    assert emqtt("pub", *tcp, "-t", topic, "-m", "stale", "-r").returncode == 0
    result = emqtt("sub", *tcp, "-t", topic, "-R", "-C", "1", "-W", "1")
    assert result.returncode == 6 and result.stdout == b""


def test_count_with_timeout_exits_6_when_short(tcp: list[str], topic: str) -> None:
    assert emqtt("pub", *tcp, "-t", topic, "-m", "only one", "-r").returncode == 0
    result = emqtt("sub", *tcp, "-t", topic, "-C", "2", "-W", "1")
    assert result.returncode == 6
    assert result.stdout == b"only one\n"
    assert _one_line(result.stderr) == "emqtt: timed out after 1 s with 1 of 2 messages"


def test_repeat_publishes_every_message(tcp: list[str], topic: str,
                                        running: type[Running]) -> None:
    sub = running("sub", *tcp, "-t", topic, "-C", "500", "-W", "30", "-q", "1",
                  "--print", "size", "--log-level", "info")
    sub.wait_for_stderr(b"subscribed to")
    published = emqtt("pub", *tcp, "-t", topic, "-m", "x" * 10, "-q", "1", "--repeat", "500")
    assert published.returncode == 0, published.stderr.decode()
    assert published.stderr == b""  # not a terminal: no progress bar
    status, stdout, _ = sub.finish()
    assert status == 0
    assert stdout == b"Received 10 bytes\n" * 500


def test_progress_bar_on_a_terminal(tcp: list[str], topic: str) -> None:
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "pub", *tcp, "-t", topic,
             "-m", "p", "-q", "1", "--repeat", "200"],
            cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        follower = -1
        seen = bytearray()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert process.wait(30) == 0, seen.decode(errors="replace")
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    text = seen.decode(errors="replace")
    assert "\r[" in text and "200/200 published" in text and "msg/s" in text


def test_telemetry_counters_at_exit(tcp: list[str], topic: str) -> None:
    result = emqtt("pub", *tcp, "-t", topic, "-m", "counted", "--telemetry")
    assert result.returncode == 0, result.stderr.decode()
    line = result.stderr.decode().strip()
    # CONNECT, PUBLISH and DISCONNECT went out; at least the CONNACK came in.
    assert line.startswith("telemetry: sent 3 packets (")
    received = int(line.split("received ")[1].split(" chunks")[0])
    assert received >= 1
    assert line.endswith(", 0 failed sends")


def test_connect_reports_the_connack_and_exits_0_after_w(tcp: list[str]) -> None:
    result = emqtt("connect", *tcp, "-W", "0.5", "-i", "cli-connect-check")
    assert result.returncode == 0, result.stderr.decode()
    first = result.stdout.decode().splitlines()[0]
    assert first.startswith("connected to 127.0.0.1:")
    assert "MQTT 5, session present: no" in first


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_disconnect_cleanly(tcp: list[str], topic: str, running: type[Running],
                                    signum: int, status: int) -> None:
    watcher = running("sub", *tcp, "-t", topic + "/will", "-W", "20", "-C", "1",
                      "--log-level", "info")
    watcher.wait_for_stderr(b"subscribed to")
    sub = running("sub", *tcp, "-t", topic, "--will-topic", topic + "/will",
                  "--will-payload", "abnormal", "--log-level", "info")
    sub.wait_for_stderr(b"subscribed to")
    sub.process.send_signal(signum)
    assert sub.finish()[0] == status
    # A clean DISCONNECT: the broker drops the will. Prove it with a message published after.
    assert emqtt("pub", *tcp, "-t", topic + "/will", "-m", "after").returncode == 0
    assert watcher.finish()[:2] == (0, b"after\n")


# --- failures: one line, a distinct status -----------------------------------------------------


def test_bad_arguments_exit_2() -> None:
    result = emqtt("pub", "-t", "a/#", "-m", "x")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[0] == (
        "emqtt: wildcards (+, #) are not allowed in a topic to publish to: 'a/#'")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (held bound, not listening, so nobody takes it)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def test_refused_connection_exits_3(closed_port: int) -> None:
    result = emqtt("pub", "-h", "127.0.0.1", "-p", str(closed_port), "-t", "t", "-m", "x")
    assert result.returncode == 3
    assert _one_line(result.stderr) == (
        f"emqtt: connection refused by 127.0.0.1:{closed_port} (is a broker listening there?)")


def test_connack_refusal_exits_4(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    result = emqtt("pub", "-h", broker.host, "-p", str(broker.tcp_port), "-t", "t", "-m", "x")
    assert result.returncode == 4
    line = _one_line(result.stderr)
    assert line.startswith(f"emqtt: connection refused by the broker at {broker.host}:")
    assert line.endswith("not authorized (0x87)")


def test_connack_refusal_v311_is_named_like_mqtt5(
    mosquitto_factory: Callable[..., Mosquitto],
) -> None:
    broker = mosquitto_factory(allow_anonymous=False)
    result = emqtt("pub", "-h", broker.host, "-p", str(broker.tcp_port), "-V", "mqttv311",
                   "-t", "t", "-m", "x")
    assert result.returncode == 4
    # The engine reports the 3.1.1 return code 5 as its MQTT 5 equivalent.
    assert _one_line(result.stderr).endswith("not authorized (0x87)")


def test_untrusted_certificate_exits_5(mosquitto: Mosquitto) -> None:
    result = emqtt("pub", f"mqtts://{mosquitto.host}:{mosquitto.ssl_port}/t",
                   "-m", "x")
    assert result.returncode == 5
    assert _one_line(result.stderr).startswith("emqtt: TLS: cannot verify the certificate")


def test_wrong_host_name_exits_5(mosquitto: Mosquitto) -> None:
    result = emqtt("pub", "-h", mosquitto.host, "-p", str(mosquitto.ssl_port),
                   "--cafile", str(mosquitto.ca_file), "--sni", "other.example",
                   "-t", "t", "-m", "x")
    assert result.returncode == 5
    assert "not valid for that host name" in _one_line(result.stderr)


def test_no_verify_accepts_an_untrusted_certificate(mosquitto: Mosquitto, topic: str) -> None:
    result = emqtt("pub", f"mqtts://{mosquitto.host}:{mosquitto.ssl_port}/{topic}",
                   "-m", "x", "--no-verify")
    assert result.returncode == 0, result.stderr.decode()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()


def test_connect_timeout_exits_6(silent_server: int) -> None:
    result = emqtt("connect", "-h", "127.0.0.1", "-p", str(silent_server),
                   "--connect-timeout", "0.5")
    assert result.returncode == 6
    assert _one_line(result.stderr) == f"emqtt: timed out connecting to 127.0.0.1:{silent_server}"


def test_lost_connection_exits_7(mosquitto_factory: Callable[..., Mosquitto], topic: str,
                                 running: type[Running]) -> None:
    broker = mosquitto_factory()
    sub = running("sub", "-h", broker.host, "-p", str(broker.tcp_port), "-t", topic,
                  "--log-level", "info")
    sub.wait_for_stderr(b"subscribed to")
    broker.stop(kill=True)
    status, _, stderr = sub.finish()
    assert status == 7, stderr.decode()
    assert stderr.decode().splitlines()[-1].startswith("emqtt: connection lost")


def _dynamic_security_plugin() -> Path:
    """mosquitto's dynamic security plugin, shipped with Debian's mosquitto package."""
    name = "mosquitto_dynamic_security.so"
    found = [path for root in (Path("/usr/lib"), Path("/usr/local/lib"))
             for path in (root / name, *sorted(root.glob(f"*/{name}"))) if path.is_file()]
    if not found:
        pytest.fail("mosquitto's dynamic security plugin is missing (package mosquitto)")
    return found[0]


@pytest.fixture
def denying_broker(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A broker whose dynamic-security plugin denies every subscription and publish."""
    plugin = _dynamic_security_plugin()
    probe = mosquitto_factory()
    config = probe.write_file("dynsec.json", json.dumps({
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": True,
                             "subscribe": False, "unsubscribe": True},
        "clients": [], "groups": [], "roles": [],
    }))
    probe.stop()
    probe.extra_conf = (f"plugin {plugin}", f"plugin_opt_config_file {config}")
    probe.start()
    return probe


@pytest.mark.parametrize(
    ("version", "reason"), [("5", "not authorized (0x87)"), ("311", "unspecified error (0x80)")]
)
def test_rejected_subscription_exits_8(denying_broker: Mosquitto, version: str,
                                       reason: str) -> None:
    result = emqtt("sub", "-h", denying_broker.host, "-p", str(denying_broker.tcp_port),
                   "-V", version, "-t", "denied/#", "-W", "5")
    assert result.returncode == 8, result.stderr.decode()
    assert _one_line(result.stderr) == (
        f"emqtt: the broker refused the subscription to 'denied/#': {reason}")


@pytest.mark.parametrize("qos", ["1", "2"])
def test_rejected_publish_exits_8(denying_broker: Mosquitto, qos: str) -> None:
    result = emqtt("pub", "-h", denying_broker.host, "-p", str(denying_broker.tcp_port),
                   "-t", "denied", "-m", "x", "-q", qos)
    assert result.returncode == 8, result.stderr.decode()
    assert _one_line(result.stderr) == (
        "emqtt: the broker refused the message to 'denied': not authorized (0x87)")


def test_rejected_publish_in_a_repeat_window_exits_8(denying_broker: Mosquitto) -> None:
    result = emqtt("pub", "-h", denying_broker.host, "-p", str(denying_broker.tcp_port),
                   "-t", "denied", "-m", "x", "-q", "1", "--repeat", "50")
    assert result.returncode == 8, result.stderr.decode()
    assert "refused the message to 'denied'" in _one_line(result.stderr)


# --- sessions and wills ------------------------------------------------------------------------


def test_will_is_published_when_the_connection_dies(tcp: list[str], topic: str,
                                                    running: type[Running]) -> None:
    watcher = running("sub", *tcp, "-t", topic, "-C", "1", "-W", "20", "-v",
                      "--log-level", "info")
    watcher.wait_for_stderr(b"subscribed to")
    doomed = running("connect", *tcp, "--will-topic", topic, "--will-payload", "gone",
                     "--will-qos", "1", "--log-level", "info")
    doomed.wait_for_stderr(b"connected to")
    doomed.kill()  # no DISCONNECT: the broker publishes the will
    status, stdout, _ = watcher.finish()
    assert (status, stdout) == (0, f"{topic} gone\n".encode())


def test_disable_clean_session_resumes_and_receives_what_was_queued(
    tcp: list[str], topic: str
) -> None:
    session = ["-c", "-i", f"resume-{topic.rsplit('/', 1)[1][:12]}", "-x", "300", "-q", "1"]
    first = emqtt("sub", *tcp, *session, "-t", topic, "-W", "0.2")
    assert first.returncode == 6, first.stderr.decode()  # nothing arrived: the session stays
    assert emqtt("pub", *tcp, "-t", topic, "-m", "while away", "-q", "1").returncode == 0
    second = emqtt("sub", *tcp, *session, "-t", topic, "-C", "1", "-W", "20")
    assert (second.returncode, second.stdout) == (0, b"while away\n"), second.stderr.decode()


def test_client_id_prefix(tcp: list[str]) -> None:
    result = emqtt("connect", *tcp, "-I", "probe-", "-W", "0.2")
    assert result.returncode == 0, result.stderr.decode()
    first = result.stdout.decode().splitlines()[0]
    client_id = first.split(" as ", 1)[1].split()[0]
    assert client_id.startswith("probe-") and len(client_id) == len("probe-") + 8


def test_client_certificate_mutual_tls(mosquitto_factory: Callable[..., Mosquitto],
                                       topic: str) -> None:
    broker = mosquitto_factory(require_certificate=True)
    tls = broker.tls
    base = [f"mqtts://{broker.host}:{broker.ssl_port}/{topic}", "--cafile", str(tls.ca_file),
            "-m", "with a certificate", "-q", "1"]
    accepted = emqtt("pub", *base, "--cert", str(tls.client_cert_file),
                     "--key", str(tls.client_key_file))
    assert accepted.returncode == 0, accepted.stderr.decode()
    refused = emqtt("pub", *base)
    assert refused.returncode == 5, refused.stderr.decode()
    assert _one_line(refused.stderr).startswith("emqtt: TLS")


def test_mqtt5_properties_round_trip(tcp: list[str], topic: str) -> None:
    published = emqtt("pub", *tcp, "-t", topic, "-m", "{}", "-q", "1", "-r",
                      "-D", "publish", "content-type", "application/json",
                      "-D", "publish", "user-property", "source", "cli",
                      "-D", "publish", "correlation-data", "req-1",
                      "-D", "connect", "user-property", "client", "emqtt",
                      "-D", "disconnect", "reason-string", "done")
    assert published.returncode == 0, published.stderr.decode()
    received = emqtt("sub", *tcp, "-t", topic, "-C", "1", "-W", "20", "--json",
                     "-D", "subscribe", "subscription-identifier", "42")
    assert received.returncode == 0, received.stderr.decode()
    assert json.loads(received.stdout)["properties"] == {
        "content_type": "application/json",
        "correlation_data": "req-1",
        "subscription_identifier": [42],
        "user_property": [["source", "cli"]],
    }


def test_will_properties(tcp: list[str], topic: str, running: type[Running]) -> None:
    watcher = running("sub", *tcp, "-t", topic, "-C", "1", "-W", "20", "--json",
                      "--log-level", "info")
    watcher.wait_for_stderr(b"subscribed to")
    doomed = running("connect", *tcp, "--will-topic", topic, "--will-payload", "gone",
                     "-D", "will", "content-type", "text/plain", "--log-level", "info")
    doomed.wait_for_stderr(b"connected to")
    doomed.kill()
    status, stdout, _ = watcher.finish()
    assert status == 0
    record = json.loads(stdout)
    assert (record["payload"], record["properties"]) == ("gone", {"content_type": "text/plain"})


def test_console_script(tcp: list[str]) -> None:
    """The ``emqtt`` entry point of pyproject.toml, as installed into the environment."""
    script = Path(sys.executable).parent / "emqtt"
    assert script.is_file(), "the project is not installed: run scripts/setup.sh"
    result = subprocess.run([str(script), "connect", *tcp, "-W", "0.1", "-V", "v3.1"],
                            capture_output=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"(MQTT 3.1, session present: no)" in result.stdout


def test_repeat_reports_its_rate_in_the_log(tcp: list[str], topic: str) -> None:
    result = emqtt("pub", *tcp, "-t", topic, "-m", "r", "--repeat", "20", "--log-level", "info")
    assert result.returncode == 0
    assert b"published 20 messages in " in result.stderr and b" msg/s)" in result.stderr


def test_closed_stdout_ends_quietly_with_141(tcp: list[str], topic: str) -> None:
    sub = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "sub", *tcp, "-t", topic, "-C", "2", "-W", "20",
         "--log-level", "info"],
        cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert sub.stdout is not None and sub.stderr is not None
    sub.stdout.close()  # the reader is gone before anything is printed
    for line in sub.stderr:
        if b"subscribed to" in line:
            break
    assert emqtt("pub", *tcp, "-t", topic, "-m", "into the void").returncode == 0
    rest = sub.stderr.read()
    assert sub.wait(30) == 141
    assert b"Traceback" not in rest and b"emqtt:" not in rest


def test_interrupt_while_reading_lines_from_a_terminal(tcp: list[str], topic: str,
                                                       running: type[Running]) -> None:
    """Ctrl-C ends ``pub -l`` at once even while it waits for the user to type a line."""
    leader, follower = pty.openpty()
    try:
        pub = running("pub", *tcp, "-t", topic, "-l", "--log-level", "info", stdin=follower)
        pub.wait_for_stderr(b"connected to")
        pub.process.send_signal(signal.SIGINT)
        assert pub.finish(timeout=10)[0] == 130
    finally:
        os.close(leader)
        os.close(follower)


def test_progress_line_ends_before_an_error(denying_broker: Mosquitto) -> None:
    result = emqtt("pub", "-h", denying_broker.host, "-p", str(denying_broker.tcp_port),
                   "-t", "denied", "-m", "x", "-q", "1", "--repeat", "5", "--progress")
    assert result.returncode == 8
    last = result.stderr.decode().split("\n")[-2]  # the error has a line of its own
    assert last.startswith("emqtt: the broker refused the message")
    assert "\r[" in result.stderr.decode()


def test_connect_json_is_one_stream_of_json_lines(tcp: list[str]) -> None:
    result = emqtt("connect", *tcp, "-W", "0.2", "--json", "-i", "json-connect")
    assert result.returncode == 0, result.stderr.decode()
    record = json.loads(result.stdout.decode().splitlines()[0])
    assert record["connected"].startswith("127.0.0.1:")
    assert (record["mqtt"], record["session_present"], record["client_id"]) == (
        "5", False, "json-connect")
    assert isinstance(record["properties"], dict)


def test_main_in_process(tcp: list[str], topic: str, capsysbinary: pytest.CaptureFixture[bytes],
                         ) -> None:
    from adapters.cli import main

    assert main(["pub", *tcp, "-t", topic, "-m", "in process", "-r", "-q", "1"]) == 0
    assert main(["sub", *tcp, "-t", topic, "-C", "1", "-W", "20"]) == 0
    assert capsysbinary.readouterr().out == b"in process\n"
    assert main(["sub"]) == 2
