"""PrometheusReporter, checked by scraping its real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import telemetry
from telemetry import metrics as tm
from telemetry.reporters.prometheus import PrometheusReporter, prometheus_name

RECV = ("emqtt", "socket", "recv_data")
SEND_FAILED = ("emqtt", "socket", "send_data_failed")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def reporter() -> Iterator[PrometheusReporter]:
    metrics = [
        tm.counter("emqtt.socket.received.packets", event_name=RECV, measurement="data_size",
                   tags=["client_id", "socket_type"]),
        tm.sum("emqtt.socket.received.bytes", event_name=RECV, measurement="data_size",
               tags=["client_id"], description="Bytes received"),
        tm.sum("emqtt.inflight.delta", event_name=("q",), measurement="d",
               reporter_options={"prometheus_type": "gauge"}),
        tm.last_value("emqtt.queue.length", event_name=("q",), measurement="len"),
        tm.summary("emqtt.socket.received.size", event_name=RECV, measurement="data_size"),
        tm.distribution("emqtt.socket.received.hist.bytes", event_name=RECV,
                        measurement="data_size", reporter_options={"buckets": [10, 100]}),
        tm.counter("emqtt.socket.send_failures", event_name=SEND_FAILED, measurement="data_size",
                   tags=lambda md: {"reason": type(md["reason"]).__name__}),
    ]
    with PrometheusReporter(metrics) as reporter:
        yield reporter


def test_every_metric_type_over_http(reporter: PrometheusReporter) -> None:
    port = reporter.start_http_server(0)
    for size in (5, 50, 500):
        telemetry.execute(RECV, {"data_size": size}, {"client_id": "c1", "socket_type": "tcp"})
    telemetry.execute(RECV, {"data_size": 7}, {"client_id": "c2", "socket_type": "ssl"})
    telemetry.execute(("q",), {"d": 3, "len": 4})
    telemetry.execute(("q",), {"d": -1, "len": 2})
    telemetry.execute(SEND_FAILED, {"data_size": 9}, {"reason": BrokenPipeError()})
    samples = scrape(port)
    c1 = (("client_id", "c1"), ("socket_type", "tcp"))
    assert samples[("emqtt_socket_received_packets_total", c1)] == 3
    assert samples[("emqtt_socket_received_packets_total",
                    (("client_id", "c2"), ("socket_type", "ssl")))] == 1
    assert samples[("emqtt_socket_received_bytes_total", (("client_id", "c1"),))] == 555
    assert samples[("emqtt_inflight_delta", ())] == 2
    assert samples[("emqtt_queue_length", ())] == 2
    assert samples[("emqtt_socket_received_size_count", ())] == 4
    assert samples[("emqtt_socket_received_size_sum", ())] == 562
    assert samples[("emqtt_socket_received_hist_bytes_bucket", (("le", "10.0"),))] == 2
    assert samples[("emqtt_socket_received_hist_bytes_bucket", (("le", "100.0"),))] == 3
    assert samples[("emqtt_socket_received_hist_bytes_bucket", (("le", "+Inf"),))] == 4
    assert samples[("emqtt_socket_send_failures_total", (("reason", "BrokenPipeError"),))] == 1
    with pytest.raises(RuntimeError):
        reporter.start_http_server(0)


def test_remove_series_of_a_client_that_went_away(reporter: PrometheusReporter) -> None:
    for client in ("c1", "c2"):
        telemetry.execute(RECV, {"data_size": 1}, {"client_id": client, "socket_type": "tcp"})
    assert reporter.remove_series(client_id="c1") == 2  # packets and bytes
    text = reporter.generate_latest().decode()
    assert 'client_id="c1"' not in text
    assert 'client_id="c2"' in text
    assert reporter.remove_series(client_id="c1") == 0
    # A returning client starts from zero.
    telemetry.execute(RECV, {"data_size": 4}, {"client_id": "c1", "socket_type": "tcp"})
    assert 'emqtt_socket_received_bytes_total{client_id="c1"} 4.0' in (
        reporter.generate_latest().decode()
    )


def test_bad_values_are_skipped_not_detached(reporter: PrometheusReporter) -> None:
    telemetry.execute(("q",), {"d": "x", "len": None})
    telemetry.execute(RECV, {"data_size": -5}, {"client_id": "c1", "socket_type": "tcp"})
    telemetry.execute(SEND_FAILED, {"data_size": 1}, {})  # the tags function raises KeyError
    assert len(telemetry.list_handlers()) == 3
    skips = reporter.skips()
    assert skips[("emqtt.socket.received.bytes", "ValueError")] == 1  # a counter cannot go down
    assert skips[("emqtt.queue.length", "missing measurement")] == 1
    assert skips[("emqtt.socket.send_failures", "KeyError")] == 1


def test_close_stops_the_http_server() -> None:
    reporter = PrometheusReporter([tm.counter("a.b.c")]).start()
    port = reporter.start_http_server(0)
    scrape(port)
    reporter.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_registry_is_private_unless_given_and_duplicates_are_clear_errors() -> None:
    metrics = [tm.counter("a.b.c")]
    # Two reporters with the same definitions do not collide in their own registries.
    with PrometheusReporter(metrics), PrometheusReporter(metrics):
        pass
    shared = CollectorRegistry()
    with PrometheusReporter(metrics, registry=shared, namespace="app") as reporter:
        telemetry.execute(("a", "b"), {"c": 1})
        assert reporter.registry is shared
        assert shared.get_sample_value("app_a_b_c_total") == 1
    with pytest.raises(ValueError, match=r"cannot register a\.b\.c"):
        PrometheusReporter(metrics, registry=shared, namespace="app")


def test_distribution_without_buckets_warns_and_uses_defaults(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with PrometheusReporter([tm.distribution("a.b.c")]) as reporter:
        telemetry.execute(("a", "b"), {"c": 0.2})
        assert 'a_b_c_bucket{le="0.25"} 1.0' in reporter.generate_latest().decode()
    assert "no reporter_options['buckets']" in caplog.text


def test_names_and_labels_are_sanitised() -> None:
    assert prometheus_name(["emqtt", "socket-x", "1st"]) == "emqtt_socket_x_1st"
    assert prometheus_name(["9lives"]) == "_9lives"
    metric = tm.counter("weird.name", event_name=("w",), measurement="n", tags=["client-id"])
    with PrometheusReporter([metric]) as reporter:
        telemetry.execute(("w",), {"n": 1}, {"client-id": b"\xffbytes"})
        text = reporter.generate_latest().decode()
        assert 'weird_name_total{client_id="\ufffdbytes"} 1.0' in text


def test_series_per_metric_are_bounded() -> None:
    metric = tm.counter("b.c", event_name=("b",), measurement="n", tags=["client_id"])
    with PrometheusReporter([metric], max_series=3) as reporter:
        for i in range(5):
            telemetry.execute(("b",), {"n": 1}, {"client_id": f"c{i}"})
        telemetry.execute(("b",), {"n": 1}, {"client_id": "c0"})  # existing series still count
        text = reporter.generate_latest().decode()
        assert 'b_c_total{client_id="c0"} 2.0' in text
        assert 'client_id="c3"' not in text
        assert reporter.skips() == {("b.c", "OverflowError"): 2}
        reporter.remove_series(client_id="c1")
        telemetry.execute(("b",), {"n": 1}, {"client_id": "c4"})
        assert 'b_c_total{client_id="c4"} 1.0' in reporter.generate_latest().decode()
    with pytest.raises(ValueError):
        PrometheusReporter([metric], max_series=0)
