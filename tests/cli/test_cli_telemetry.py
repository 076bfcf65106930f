"""``--telemetry`` counters: metric definitions over the client's events, summed in memory."""

from __future__ import annotations

import telemetry
from adapters._cli_telemetry import TrafficCounters


def test_counts_every_transport_and_detaches_on_close() -> None:
    with TrafficCounters() as counters:
        telemetry.execute(("emqtt", "socket", "send_data"), {"data_size": 10}, {})
        telemetry.execute(("emqtt", "socket", "send_data"), {"data_size": 2}, {})
        telemetry.execute(("emqtt", "socket", "recv_data"), {"data_size": 5}, {})
        telemetry.execute(("emqtt", "websocket", "recv_data"), {"data_size": 4}, {})
        telemetry.execute(("emqtt", "socket", "send_data_failed"), {"data_size": 7}, {})
    telemetry.execute(("emqtt", "socket", "send_data"), {"data_size": 100}, {})
    assert counters.totals == {
        "emqtt.sent.packets": 2, "emqtt.sent.bytes": 12,
        "emqtt.received.chunks": 2, "emqtt.received.bytes": 9,
        "emqtt.failed.sends": 1, "emqtt.failed.bytes": 7,
    }
    assert counters.summary() == (
        "telemetry: sent 2 packets (12 bytes), received 2 chunks (9 bytes), 1 failed sends"
    )
    assert not telemetry.list_handlers(("emqtt",))
