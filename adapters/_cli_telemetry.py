"""``emqtt --telemetry``: byte and packet counters, kept by the telemetry package.

The counters are ordinary metric definitions (`telemetry.metrics`) over the client's telemetry
events, aggregated by a small in-memory reporter; the command prints them when it ends. This is
the same machinery an application would use to feed Prometheus or StatsD, pointed at a summary
line instead.
"""

from __future__ import annotations

from typing import Any

from telemetry import metrics
from telemetry.reporters import Reporter

__all__ = ["TrafficCounters"]

SEND = ("emqtt", "socket", "send_data")
SEND_FAILED = ("emqtt", "socket", "send_data_failed")
RECV = ("emqtt", "socket", "recv_data")
WS_RECV = ("emqtt", "websocket", "recv_data")

_METRICS = (
    metrics.counter("emqtt.sent.packets", event_name=SEND, measurement="data_size"),
    metrics.sum("emqtt.sent.bytes", event_name=SEND, measurement="data_size", unit="byte"),
    metrics.counter("emqtt.received.chunks", event_name=RECV, measurement="data_size"),
    metrics.sum("emqtt.received.bytes", event_name=RECV, measurement="data_size", unit="byte"),
    metrics.counter("emqtt.received.chunks", event_name=WS_RECV, measurement="data_size"),
    metrics.sum("emqtt.received.bytes", event_name=WS_RECV, measurement="data_size", unit="byte"),
    metrics.counter("emqtt.failed.sends", event_name=SEND_FAILED, measurement="data_size"),
    metrics.sum("emqtt.failed.bytes", event_name=SEND_FAILED, measurement="data_size",
                unit="byte"),
)


class TrafficCounters(Reporter):
    """Totals of the client's telemetry events: packets and bytes sent, chunks and bytes
    received (TCP, TLS, QUIC and WebSocket alike), failed sends.

    Use as a context manager around the client's lifetime, then read `totals` or `summary`.
    """

    def __init__(self) -> None:
        super().__init__(_METRICS)
        self.totals: dict[str, int] = dict.fromkeys(
            (metric.full_name for metric in _METRICS), 0
        )

    def record(self, metric: Any, value: Any, tags: dict[str, Any]) -> None:
        """Add one event to the totals (a counter counts it, a sum adds its size)."""
        self.totals[metric.full_name] += 1 if metric.kind == "counter" else int(value)

    def summary(self) -> str:
        """One line for stderr: what went over the wire."""
        t = self.totals
        return (
            f"telemetry: sent {t['emqtt.sent.packets']} packets ({t['emqtt.sent.bytes']} bytes), "
            f"received {t['emqtt.received.chunks']} chunks ({t['emqtt.received.bytes']} bytes), "
            f"{t['emqtt.failed.sends']} failed sends"
        )
