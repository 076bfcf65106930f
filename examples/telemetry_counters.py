"""Count bytes and packets per client from the emqtt telemetry events.

One handler keeps five counters per client identifier: bytes and chunks received, bytes and
packets sent, failed sends. It is attached with the ``"_"`` wildcard, so
``("emqtt", "_", "recv_data")`` covers both the socket and the WebSocket receive events. Run it
against a broker::

    python examples/telemetry_counters.py --host localhost --transport ws

(see ``telemetry_workload.py`` for the options). Events sent before the CONNACK carry the
configured client identifier, which is empty when the server assigns one (MQTT 5): pass
``--client-id`` to count the whole session under one name.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from telemetry_workload import SessionSummary, main_with

import telemetry

COUNTERS = ("bytes_received", "chunks_received", "bytes_sent", "packets_sent", "send_failures")


class MetricsCollector:
    """Counters per ``(client_id, counter)``, safe to update from several client threads."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def _add(self, client_id: str, received: str, size: int, count: str) -> None:
        with self._lock:
            self.counts[client_id, received] += size
            self.counts[client_id, count] += 1

    def handle_event(
        self,
        event: tuple[str, ...],
        measurements: Mapping[str, Any],
        metadata: Mapping[str, Any],
        config: Any,
    ) -> None:
        """The handler: one event updates the counters of its client."""
        client_id = metadata["client_id"]
        if event[2] == "recv_data":
            self._add(client_id, "bytes_received", measurements["data_size"], "chunks_received")
        elif event == ("emqtt", "socket", "send_data"):
            self._add(client_id, "bytes_sent", measurements["data_size"], "packets_sent")
        elif event == ("emqtt", "socket", "send_data_failed"):
            with self._lock:
                self.counts[client_id, "send_failures"] += 1

    def attach(self, handler_id: str) -> None:
        """Attach `handle_event` to every emqtt event."""
        telemetry.attach_many(
            handler_id,
            [
                ("emqtt", "_", "recv_data"),
                ("emqtt", "socket", "send_data"),
                ("emqtt", "socket", "send_data_failed"),
            ],
            self.handle_event,
        )

    def get(self, client_id: str, counter: str) -> int:
        """The value of one counter (0 if it never moved)."""
        with self._lock:
            return self.counts[client_id, counter]

    def client_ids(self) -> list[str]:
        """The client identifiers seen, sorted."""
        with self._lock:
            return sorted({client_id for client_id, _ in self.counts})


collector = MetricsCollector()


def report(args: argparse.Namespace, summary: SessionSummary) -> None:
    """Print one line of counters per client identifier seen."""
    for client_id in collector.client_ids():
        values = " ".join(f"{name}={collector.get(client_id, name)}" for name in COUNTERS)
        print(f"client {client_id!r}: {values}")


def main() -> int:
    """Attach the collector, run the session, print the counters."""
    collector.attach("emqtt-metrics-collector")
    try:
        return main_with(__doc__.splitlines()[0], report)
    finally:
        telemetry.detach("emqtt-metrics-collector")


if __name__ == "__main__":
    sys.exit(main())
