"""Log every emqtt telemetry event with the standard `logging` module.

The handler writes one line per event: bytes received (per transport), bytes sent, and failed
sends at warning level with the reason. Run it against a broker::

    python examples/telemetry_logging.py --host localhost --transport tcp

(see ``telemetry_workload.py`` for the options and their environment variables).
``telemetry.reporters.console.attach_logger`` is the ready-made version of this handler.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from typing import Any

from telemetry_workload import SessionSummary, main_with

import telemetry

logger = logging.getLogger("emqtt_telemetry_handler")

EVENTS = [
    ("emqtt", "websocket", "recv_data"),
    ("emqtt", "socket", "recv_data"),
    ("emqtt", "socket", "send_data"),
    ("emqtt", "socket", "send_data_failed"),
]


def handle_event(
    event: tuple[str, ...],
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
    config: Any,
) -> None:
    """Log one event (the handler attached to `EVENTS`)."""
    size = measurements["data_size"]
    client_id = metadata["client_id"]
    if event == ("emqtt", "websocket", "recv_data"):
        logger.info("WebSocket received %d bytes from client %s", size, client_id)
    elif event == ("emqtt", "socket", "recv_data"):
        logger.info(
            "Socket (%s) received %d bytes from client %s", metadata["socket_type"], size, client_id
        )
    elif event == ("emqtt", "socket", "send_data"):
        logger.info("Successfully sent %d bytes from client %s", size, client_id)
    elif event == ("emqtt", "socket", "send_data_failed"):
        logger.warning(
            "Failed to send %d bytes from client %s: %r", size, client_id, metadata["reason"]
        )


def report(args: argparse.Namespace, summary: SessionSummary) -> None:
    """Say what the session did once it is over."""
    logger.info(
        "client %s published %d and received %d messages",
        summary.client_id,
        summary.published,
        summary.received,
    )


def main() -> int:
    """Attach the handler, run the session, detach."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    telemetry.attach_many("emqtt-telemetry-handler", EVENTS, handle_event)
    try:
        return main_with(__doc__.splitlines()[0], report)
    finally:
        telemetry.detach("emqtt-telemetry-handler")


if __name__ == "__main__":
    sys.exit(main())
