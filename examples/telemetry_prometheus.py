"""Export the emqtt telemetry events as Prometheus counters, served over HTTP.

The handler increments three `prometheus_client` counters, labelled as in emqtt's own example:
bytes received and bytes sent (by client identifier and socket type) and failed sends (by
client identifier and the exception's type). The registry is served on ``/metrics`` at a
loopback address. Run it against a broker::

    python examples/telemetry_prometheus.py --host localhost --metrics-port 9568 --hold

``--hold`` keeps serving after the MQTT session until standard input closes (Ctrl+D), so you can
scrape ``http://127.0.0.1:9568/metrics``; without it the script scrapes itself once and prints
the ``emqtt_`` series. See ``telemetry_workload.py`` for the broker options. The declarative
alternative is `telemetry.reporters.prometheus.PrometheusReporter` with metric definitions.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, start_http_server
from telemetry_workload import SessionSummary, main_with

import telemetry

registry = CollectorRegistry()
bytes_received = Counter(
    "emqtt_bytes_received",
    "MQTT bytes received",
    ["client_id", "socket_type"],
    registry=registry,
)
bytes_sent = Counter(
    "emqtt_bytes_sent", "MQTT bytes sent", ["client_id", "socket_type"], registry=registry
)
send_failures = Counter(
    "emqtt_send_failures", "Failed sends", ["client_id", "reason"], registry=registry
)


def handle_event(
    event: tuple[str, ...],
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
    config: Any,
) -> None:
    """The handler: one event increments one counter."""
    if event[2] == "recv_data":
        bytes_received.labels(metadata["client_id"], metadata["socket_type"]).inc(
            measurements["data_size"]
        )
    elif event[2] == "send_data":
        bytes_sent.labels(metadata["client_id"], metadata["socket_type"]).inc(
            measurements["data_size"]
        )
    elif event[2] == "send_data_failed":
        # The exception's type, not its text: label values must stay few.
        send_failures.labels(metadata["client_id"], type(metadata["reason"]).__name__).inc()


def scrape(url: str) -> str:
    """The exposition text served at ``url``."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
    return text


def main() -> int:
    """Serve the registry, attach the handler, run the session, then hold or scrape once."""
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--metrics-port", type=int, default=0, help="0: pick a free port")
    extra.add_argument("--hold", action="store_true")
    options, rest = extra.parse_known_args()
    server, thread = start_http_server(options.metrics_port, addr="127.0.0.1", registry=registry)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    state = {"url": url, "hold": options.hold}

    def report(args: argparse.Namespace, summary: SessionSummary) -> None:
        print(f"client {summary.client_id} published {summary.published} messages", flush=True)
        print(f"metrics at {state['url']}", flush=True)
        if state["hold"]:
            sys.stdin.read()  # until standard input closes
        else:
            for line in scrape(url).splitlines():
                if line.startswith("emqtt_"):
                    print(line)

    telemetry.attach_many(
        "emqtt-prometheus",
        [
            ("emqtt", "websocket", "recv_data"),
            ("emqtt", "socket", "recv_data"),
            ("emqtt", "socket", "send_data"),
            ("emqtt", "socket", "send_data_failed"),
        ],
        handle_event,
    )
    try:
        return main_with(__doc__.splitlines()[0], report, rest)
    finally:
        telemetry.detach("emqtt-prometheus")
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
