"""The ``emqtt`` grammar: mosquitto's short flags, emqtt's long ones, URLs and usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters._cli_args import (
    ConnectCommand,
    PubCommand,
    SubCommand,
    UsageError,
    parse_command,
)


def pub(*argv: str) -> PubCommand:
    command = parse_command(["pub", *argv])
    assert isinstance(command, PubCommand)
    return command


def sub(*argv: str) -> SubCommand:
    command = parse_command(["sub", *argv])
    assert isinstance(command, SubCommand)
    return command


def usage(*argv: str) -> str:
    with pytest.raises(UsageError) as info:
        parse_command(list(argv))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_mosquitto_pub_flags() -> None:
    command = pub("-h", "broker.test", "-p", "1884", "-t", "a/b", "-m", "hello", "-q", "1",
                  "-r", "-i", "me", "-u", "user", "-P", "secret", "-k", "30")
    conn = command.connection
    assert (conn.host, conn.port, conn.client_id) == ("broker.test", 1884, "me")
    assert (conn.username, conn.password, conn.keepalive) == ("user", "secret", 30)
    assert (command.topic, command.message, command.qos, command.retain) == (
        "a/b", b"hello", 1, True)
    assert conn.transport == "tcp"


def test_emqtt_long_flags() -> None:
    command = pub("--host", "h", "--port", "1", "--topic", "t", "--payload", "x",
                  "--clientid", "cid", "--password", "pw", "--username", "u",
                  "--repeat", "5", "--repeat-delay", "0.5")
    assert command.connection.client_id == "cid"
    assert (command.message, command.repeat, command.repeat_delay) == (b"x", 5, 0.5)


@pytest.mark.parametrize(
    ("spelling", "level"),
    [("mqttv31", 3), ("v3.1", 3), ("31", 3), ("mqttv311", 4), ("v3.1.1", 4), ("311", 4),
     ("mqttv5", 5), ("v5", 5), ("5", 5), ("MQTTv5", 5)],
)
def test_protocol_version_spellings(spelling: str, level: int) -> None:
    assert sub("-t", "x", "-V", spelling).connection.protocol_version == level


def test_defaults() -> None:
    conn = sub("-t", "x").connection
    assert (conn.host, conn.port, conn.protocol_version, conn.keepalive) == (
        "localhost", 1883, 5, 60)
    assert conn.clean_start and conn.tls is None and conn.client_id is None


def test_sub_count_timeout_and_formats() -> None:
    command = sub("-t", "a/#", "-t", "b/+", "-C", "3", "-W", "2.5", "-v", "-N", "-R")
    assert command.topics == ("a/#", "b/+")
    assert (command.count, command.timeout) == (3, 2.5)
    assert command.output == "verbose" and not command.show_properties
    assert not command.end_of_line and command.skip_retained
    assert sub("-t", "x", "-vv").show_properties
    assert sub("-t", "x", "--json").output == "json"
    assert sub("-t", "x", "--format", "json").output == "json"
    assert sub("-t", "x", "--print", "size").output == "size"


@pytest.mark.parametrize(
    ("url", "transport", "host", "port", "topic"),
    [
        ("mqtt://h/a/b", "tcp", "h", 1883, "a/b"),
        ("mqtts://h/sensors/#", "ssl", "h", 8883, "sensors/#"),
        ("mqtts://h:9999/x/%23", "ssl", "h", 9999, "x/#"),
        ("quic://h/t", "quic", "h", 14567, "t"),
        ("mqtt://[::1]:1884/t", "tcp", "::1", 1884, "t"),
    ],
)
def test_urls(url: str, transport: str, host: str, port: int, topic: str) -> None:
    command = sub(url)
    conn = command.connection
    assert (conn.transport, conn.host, conn.port, command.topics) == (
        transport, host, port, (topic,))


def test_url_credentials_and_option_form() -> None:
    conn = pub("-L", "mqtt://al%40ce:p%3Ass@h/t", "-n").connection
    assert (conn.username, conn.password) == ("al@ce", "p:ss")


def test_websocket_url_path_is_the_websocket_path() -> None:
    command = sub("wss://h/custom", "-t", "a")
    conn = command.connection
    assert (conn.transport, conn.port, conn.ws_path, command.topics) == (
        "wss", 8084, "/custom", ("a",))
    assert sub("ws://h", "-t", "a").connection.ws_path == "/mqtt"


@pytest.mark.parametrize(
    ("flags", "transport"),
    [
        (["--enable-ssl"], "ssl"),
        (["--enable-websocket"], "ws"),
        (["--enable-websocket", "--enable-ssl"], "wss"),
        (["--enable-quic"], "quic"),
        (["--ws", "--tls"], "wss"),
    ],
)
def test_transport_flags(flags: list[str], transport: str) -> None:
    conn = sub("-t", "x", *flags).connection
    assert conn.transport == transport
    assert (conn.tls is not None) == (transport in ("ssl", "wss", "quic"))


def test_cafile_implies_tls(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    conn = sub("-t", "x", "--cafile", str(ca), "--insecure").connection
    assert conn.transport == "ssl" and conn.port == 8883
    assert conn.tls is not None and conn.tls.cafile == ca
    assert conn.tls.verify and not conn.tls.check_hostname
    no_verify = sub("mqtts://h/x", "--no-verify").connection.tls
    assert no_verify is not None and not no_verify.verify and not no_verify.check_hostname


def test_pub_message_sources(tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"\x00\xffdata")
    assert pub("-t", "t", "-f", str(payload)).message == b"\x00\xffdata"
    assert pub("-t", "t", "-n").source == "null"
    assert pub("-t", "t", "-l").source == "lines"
    assert pub("-t", "t", "-s").source == "stdin"


def test_will() -> None:
    will = sub("-t", "x", "--will-topic", "w", "--will-payload", "bye", "--will-qos", "1",
               "--will-retain").connection.will
    assert will is not None and (will.topic, will.payload, will.qos, will.retain) == (
        "w", b"bye", 1, True)


def test_connect_command() -> None:
    command = parse_command(["connect", "-h", "h", "-W", "1", "-V", "v3.1.1"])
    assert isinstance(command, ConnectCommand)
    assert command.timeout == 1 and command.connection.protocol_version == 4


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["pub", "-t", "a/+", "-m", "x"], "wildcards"),  # [MQTT-3.3.2-2]
        (["pub", "-t", "a", "-t", "b", "-m", "x"], "one topic"),
        (["pub", "-t", "a"], "no message"),
        (["pub", "-m", "x"], "no topic"),
        (["pub", "-t", "a", "-m", "x", "-n"], "not allowed with"),
        (["pub", "-t", "a", "-f", "/nonexistent/file"], "no such file"),
        (["pub", "-t", "a", "-l", "--repeat", "2"], "-l"),
        (["sub"], "no topic filter"),
        (["sub", "-t", "a/#/b"], "'#'"),  # [MQTT-4.7.1-2]
        (["sub", "-t", "a+/b"], "'+'"),  # [MQTT-4.7.1-3]
        (["sub", "-t", ""], "empty"),  # [MQTT-4.7.3-1]
        (["sub", "-t", "a", "-q", "3"], "QoS"),
        (["sub", "-t", "a", "-V", "v4.2"], "unknown protocol version"),
        (["sub", "-t", "a", "-p", "70000"], "port"),
        (["sub", "-t", "a", "-C", "0"], "positive"),
        (["sub", "-t", "a", "-W", "-1"], "seconds"),
        (["sub", "-t", "a", "--ws", "--quic"], "exclude"),
        (["sub", "-t", "a", "--insecure"], "needs TLS"),
        (["sub", "-t", "a", "-P", "pw"], "username"),
        (["sub", "-t", "a", "-c"], "client id"),
        (["sub", "-t", "a", "-V", "311", "--no-local"], "MQTT 5"),
        (["sub", "-t", "a", "-V", "311", "-x", "60"], "MQTT 5"),
        (["sub", "-t", "a", "--will-qos", "1"], "--will-topic"),
        (["sub", "http://h/a"], "unsupported URL scheme"),
        (["sub", "mqtt://h:0/a"], "port"),
        (["sub", "-t", "a", "--cafile", "/nonexistent/ca.pem"], "no such file"),
        (["sub", "-t", "a", "-v", "--json"], "conflicts"),
        (["sub", "mqtt://h/a", "-L", "mqtt://h/b"], "once"),
        (["nope"], "invalid choice"),
        ([], "COMMAND"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], fragment: str) -> None:
    assert fragment in usage(*argv)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_command(["sub", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--count" in out and "-W SECONDS" in out and "--enable-quic" in out


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--tls-version", "tlsv1.2"], "TLS 1.3"),
        (["--tls-alpn", "x"], "ALPN"),
        (["--insecure"], "host-name check"),
    ],
)
def test_quic_tls_limits(flags: list[str], fragment: str) -> None:
    assert fragment in usage("sub", "quic://h/t", *flags)


def test_mqtt5_properties_like_mosquitto() -> None:
    command = pub("-t", "t", "-m", "x",
                  "-D", "publish", "content-type", "text/plain",
                  "-D", "publish", "user-property", "k", "v",
                  "-D", "PUBLISH", "User-Property", "k", "w",
                  "-D", "publish", "correlation-data", "id-1",
                  "-D", "publish", "payload-format-indicator", "1",
                  "-D", "connect", "request-problem-information", "false",
                  "-D", "disconnect", "reason-string", "bye")
    assert command.properties == {
        "content_type": "text/plain",
        "user_property": [("k", "v"), ("k", "w")],
        "correlation_data": b"id-1",
        "payload_format_indicator": 1,
    }
    assert command.connection.connect_properties == {"request_problem_information": False}
    assert command.connection.disconnect_properties == {"reason_string": "bye"}
    assert sub("-t", "t", "-D", "subscribe", "subscription-identifier", "9").properties == {
        "subscription_identifier": (9,)}
    will = sub("-t", "t", "--will-topic", "w", "-D", "will", "will-delay-interval", "5",
               ).connection.will
    assert will is not None and will.properties == {"will_delay_interval": 5}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "topic-alias", "1"], "not a property"),
        # [MQTT-3.3.4-6]: no Subscription Identifier in a client's PUBLISH.
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "subscription-identifier", "1"],
         "not a property"),
        (["pub", "-t", "t", "-m", "x", "-D", "subscribe", "user-property", "a", "b"],
         "sends no SUBSCRIBE"),
        (["sub", "-t", "t", "-D", "publish", "content-type", "x"], "sends no PUBLISH"),
        (["pub", "-t", "t", "-m", "x", "-D", "auth", "reason-string", "x"], "the packets are"),
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "content-type"], "COMMAND NAME VALUE"),
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "user-property", "a"], "key and a value"),
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "content-type", "a", "mqtt://h/t"],
         "before -D"),
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "message-expiry-interval", "-1"],
         "integer from 0"),
        (["pub", "-t", "t", "-m", "x", "-D", "connect", "receive-maximum", "65536"],
         "integer from 0 to 65535"),
        (["pub", "-t", "t", "-m", "x", "-D", "connect", "request-problem-information", "2"],
         "0 or 1"),
        (["pub", "-t", "t", "-m", "x", "-D", "publish", "content-type", "a",
          "-D", "publish", "content-type", "b"], "twice"),
        (["pub", "-t", "t", "-m", "x", "-V", "311", "-D", "publish", "content-type", "a"],
         "mqttv5"),
        (["pub", "-t", "t", "-m", "x", "-D", "will", "content-type", "a"], "--will-topic"),
        (["pub", "-t", "t", "-m", "x", "-x", "5", "-D", "connect", "session-expiry-interval",
          "5"], "once"),
    ],
)
def test_property_errors(argv: list[str], fragment: str) -> None:
    assert fragment in usage(*argv)
