"""StatsdReporter, checked by reading the datagrams it sends to a real UDP socket on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import telemetry
from telemetry import metrics as tm
from telemetry.reporters.statsd import StatsdReporter

RECV = ("emqtt", "socket", "recv_data")


@pytest.fixture
def server() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    try:
        yield sock
    finally:
        sock.close()


def receive_lines(server: socket.socket, count: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < count:
        datagram, _ = server.recvfrom(65536)
        lines.extend(datagram.decode().split("\n"))
    return lines


def all_types() -> list[tm.Metric]:
    return [
        tm.counter("emqtt.received.packets", event_name=RECV, measurement="data_size"),
        tm.sum("emqtt.received.bytes", event_name=RECV, measurement="data_size",
               tags=["socket_type"]),
        tm.sum("emqtt.received.total", event_name=RECV, measurement="data_size",
               reporter_options={"report_as": "counter"}),
        tm.last_value("emqtt.last", event_name=RECV, measurement="data_size",
                      tags=["socket_type", "client_id"]),
        tm.summary("emqtt.summary", event_name=RECV, measurement="data_size"),
        tm.distribution("emqtt.dist", event_name=RECV, measurement="data_size",
                        unit=("byte", "kilobyte")),
    ]


def test_standard_formatter_every_metric_type(server: socket.socket) -> None:
    port = server.getsockname()[1]
    with StatsdReporter(all_types(), port=port, prefix="app", flush_interval=0.01):
        telemetry.execute(RECV, {"data_size": 1500}, {"socket_type": "tcp", "client_id": "c:1"})
        lines = receive_lines(server, 6)
    assert lines == [
        "app.emqtt.received.packets:1|c",
        "app.emqtt.received.bytes.tcp:+1500|g",
        "app.emqtt.received.total:1500|c",
        "app.emqtt.last.tcp.c_1:1500|g",  # ':' would break the line: replaced
        "app.emqtt.summary:1500|ms",
        "app.emqtt.dist:2|ms",  # 1.5 kB rounded: the standard format is integers
    ]


def test_datadog_formatter_with_tags_and_global_tags(server: socket.socket) -> None:
    port = server.getsockname()[1]
    reporter = StatsdReporter(all_types(), port=port, formatter="datadog",
                              global_tags={"client_id": "global"}, flush_interval=0.01)
    with reporter:
        telemetry.execute(RECV, {"data_size": 1500}, {"socket_type": "tcp"})
        lines = receive_lines(server, 6)
    assert lines == [
        "emqtt.received.packets:1|c",
        "emqtt.received.bytes:1500|c|#socket_type:tcp",
        "emqtt.received.total:1500|c",
        "emqtt.last:1500|g|#socket_type:tcp,client_id:global",
        "emqtt.summary:1500|h",
        "emqtt.dist:1.5|d",
    ]


def test_negative_values(server: socket.socket) -> None:
    port = server.getsockname()[1]
    metrics = [
        tm.sum("q.delta", event_name=("q",), measurement="d"),
        tm.last_value("q.level", event_name=("q",), measurement="d"),
        tm.sum("q.count", event_name=("q",), measurement="d",
               reporter_options={"report_as": "counter"}),
    ]
    with StatsdReporter(metrics, port=port, flush_interval=0.01) as reporter:
        telemetry.execute(("q",), {"d": -3})
        lines = receive_lines(server, 3)
    # A signed plain StatsD gauge is a delta: a negative last value is set from 0.
    assert lines == ["q.delta:-3|g", "q.level:0|g", "q.level:-3|g"]
    assert reporter.skips() == {("q.count", "ValueError"): 1}


def test_lines_are_batched_into_datagrams_of_at_most_mtu(server: socket.socket) -> None:
    port = server.getsockname()[1]
    metric = tm.counter("batch.count", event_name=("batch",), measurement="n")
    reporter = StatsdReporter([metric], port=port, mtu=64, flush_interval=60).start()
    for _ in range(20):
        telemetry.execute(("batch",), {"n": 1})
    reporter.flush()
    datagrams = []
    lines = 0
    while lines < 20:
        datagram, _ = server.recvfrom(65536)
        datagrams.append(datagram)
        lines += datagram.count(b"\n") + 1
    reporter.close()
    assert lines == 20
    assert all(len(d) <= 64 for d in datagrams)
    assert len(datagrams) == 5  # 17-byte lines: 3 per 64-byte datagram (3*17 + 2 = 53)
    assert reporter.packets_sent == 5 and reporter.lines_sent == 20


def test_overflow_and_oversized_lines_are_counted_not_raised(server: socket.socket) -> None:
    port = server.getsockname()[1]
    metric = tm.counter("o.count", event_name=("o",), measurement="n", tags=["client_id"])
    reporter = StatsdReporter([metric], port=port, buffer_size=5, flush_interval=60).start()
    try:
        for _ in range(8):
            telemetry.execute(("o",), {"n": 1}, {"client_id": "c"})
        telemetry.execute(("o",), {"n": 1}, {"client_id": "x" * 600})
        assert reporter.dropped == 3
        assert reporter.oversized == 1
        assert len(telemetry.list_handlers(("o",))) == 1
        reporter.flush()
        assert receive_lines(server, 5) == ["o.count.c:1|c"] * 5
    finally:
        reporter.close()


def test_sampling_rate_and_bad_values(server: socket.socket) -> None:
    port = server.getsockname()[1]
    metrics = [
        tm.counter("s.always", event_name=("s",), measurement="n",
                   reporter_options={"sampling_rate": 1.0}),
        tm.counter("s.never", event_name=("s",), measurement="n",
                   reporter_options={"sampling_rate": 0.0}),
        tm.summary("s.value", event_name=("s",), measurement="n", tags=["t"]),
    ]
    with StatsdReporter(metrics, port=port, flush_interval=0.01) as reporter:
        telemetry.execute(("s",), {"n": "not a number"}, {"t": "a"})
        telemetry.execute(("s",), {"n": 2}, {"t": ""})  # an empty name segment
        telemetry.execute(("s",), {"n": 3}, {"t": "b"})
        lines = receive_lines(server, 4)
    assert lines == ["s.always:1|c", "s.always:1|c", "s.always:1|c", "s.value.b:3|ms"]
    assert reporter.skips()[("s.value", "ValueError")] == 1
    assert reporter.skips()[("s.value", "measurement is not a finite number")] == 1


def test_partial_sampling_appends_the_rate(server: socket.socket) -> None:
    port = server.getsockname()[1]
    metric = tm.counter("r.c", event_name=("r",), measurement="n", tags=["k"],
                        reporter_options={"sampling_rate": 0.5})
    with StatsdReporter([metric], port=port, formatter="datadog", flush_interval=0.01):
        for _ in range(200):
            telemetry.execute(("r",), {"n": 1}, {"k": "v"})
        first = receive_lines(server, 1)[0]
    assert first == "r.c:1|c|@0.5|#k:v"


def test_send_errors_are_counted() -> None:
    metric = tm.counter("e.c", event_name=("e",), measurement="n")
    reporter = StatsdReporter([metric], socket_path="/nonexistent/statsd.sock").start()
    telemetry.execute(("e",), {"n": 1})
    reporter.close()
    assert reporter.send_errors == 1
    assert reporter.packets_sent == 0


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(ValueError):
        StatsdReporter([], formatter="graphite")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StatsdReporter([], mtu=0)
