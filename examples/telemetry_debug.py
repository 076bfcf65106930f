"""Print every emqtt telemetry event: the debug handler, attached to ``("emqtt", "_", "_")``.

The ``"_"`` segment matches any single segment (an extension over Erlang's telemetry, which
matches names exactly), so this one handler sees all four events of the client. The CONNECT
packet shown on ``send_data`` has its password redacted. Run it against a broker::

    python examples/telemetry_debug.py --host localhost --transport wss --cafile ca.pem

(see ``telemetry_workload.py`` for the options).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from telemetry_workload import SessionSummary, main_with

import telemetry


def debug_handler(
    event: tuple[str, ...],
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
    config: Any,
) -> None:
    """Print the event, its measurements and its metadata."""
    print(f"Event: {event!r}\nMeasurements: {dict(measurements)!r}\nMetadata: {dict(metadata)!r}")


def report(args: argparse.Namespace, summary: SessionSummary) -> None:
    """Say what the session did once it is over."""
    print(f"client {summary.client_id} published {summary.published}, received {summary.received}")


def main() -> int:
    """Attach the debug handler, run the session, detach."""
    telemetry.attach("debug-handler", ("emqtt", "_", "_"), debug_handler)
    try:
        return main_with(__doc__.splitlines()[0], report)
    finally:
        telemetry.detach("debug-handler")


if __name__ == "__main__":
    sys.exit(main())
