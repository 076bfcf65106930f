"""End-to-end throughput of the asyncio client against paho-mqtt, gmqtt and a raw-socket
reference, through one private mosquitto on loopback.

Usage::

    .venv/bin/python benchmarks/throughput.py            # full run (about 5 minutes)
    .venv/bin/python benchmarks/throughput.py --quick    # smaller counts, 3 rounds
    .venv/bin/python benchmarks/throughput.py --clients raw,emqtt --scenarios pub_qos1

Scenarios (MQTT 3.1.1, 64-byte payloads):

- ``pub_qos0``: N QoS 0 publishes, then a QoS 1 fence; the time runs to the fence's PUBACK.
- ``pub_qos1`` / ``pub_qos2``: N publishes, pipelined, until every PUBACK / PUBCOMP.
- ``recv_qos0``: a raw publisher floods N QoS 0 messages to the client's subscription; the
  rate runs from the first to the last message received.
- ``connect``: sequential connect + CONNACK + DISCONNECT cycles. The ``floor`` column is
  asyncio's own connection machinery with a pre-encoded CONNECT and nothing else: the bound
  of any asyncio client.

Each measurement runs in a fresh worker process. Clients alternate within each round (A B C D,
then D C B A) and the table shows, per cell, the median rate over the rounds and the median of
the per-round ratios to the raw-socket reference. The broker is started by this script with
``max_inflight_messages`` and ``max_queued_messages`` raised, so deep pipelines are delivered
instead of dropped (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _emqtt  # noqa: E402
import _emqtt_adapters  # noqa: E402
import _peers  # noqa: E402
import _raw  # noqa: E402
from support.broker import Mosquitto  # noqa: E402
from support.certs import TLSMaterial  # noqa: E402

TOPIC = "bench/throughput"
PAYLOAD = bytes(range(64))
#: Unacknowledged publishes the raw reference and the asyncio client keep in flight: the
#: windows that gave the raw reference its best rates (deeper QoS 2 pipelines slow mosquitto).
QOS1_WINDOW = 1000
QOS2_WINDOW = 100
#: A receive flow that stops for this long is over (QoS 0 may be dropped by the broker).
IDLE_TIMEOUT = 3.0
CLIENTS = ("raw", "emqtt", "paho", "gmqtt")
#: The threading client, and the anyio client on asyncio and on trio (see _emqtt_adapters).
ADAPTERS = tuple(_emqtt_adapters.CLIENTS)
#: The connect scenario also runs "floor": asyncio's own connection machinery with a
#: pre-encoded CONNECT and nothing else, the bound of any asyncio client.
FLOOR = "floor"
SCENARIOS = ("pub_qos0", "pub_qos1", "pub_qos2", "recv_qos0", "connect")
COUNTS = {
    "pub_qos0": 60_000,
    "pub_qos1": 40_000,
    "pub_qos2": 15_000,
    "recv_qos0": 60_000,
    "connect": 400,
}
BROKER_CONF = (
    # 0 means no limit for both: the clients' own windows bound what is in flight.
    "max_inflight_messages 0",
    "max_queued_messages 0",
)


# -- worker side: one measurement in this process ----------------------------------------------


def run_worker(client: str, scenario: str, host: str, port: int, count: int) -> dict[str, float]:
    """Measure one (client, scenario) here and return ``{"count", "seconds"}``."""
    if scenario == "recv_qos0":
        received, seconds = _receive(client, host, port, count)
        return {"count": received, "seconds": seconds}
    if scenario == "connect":
        return {"count": count, "seconds": _connect(client, host, port, count)}
    qos = int(scenario[-1])
    return {"count": count, "seconds": _publish(client, host, port, count, qos)}


def _publish(client: str, host: str, port: int, count: int, qos: int) -> float:
    if client == "raw":
        if qos == 0:
            return _raw.pub_qos0(host, port, TOPIC, PAYLOAD, count=count)
        if qos == 1:
            return _raw.pub_qos1(host, port, TOPIC, PAYLOAD, count=count, window=QOS1_WINDOW)
        return _raw.pub_qos2(host, port, TOPIC, PAYLOAD, count=count, window=QOS2_WINDOW)
    if client == "paho":
        return _peers.paho_publish(host, port, TOPIC, PAYLOAD, count=count, qos=qos)
    if client == "gmqtt":
        return asyncio.run(_peers.gmqtt_publish(host, port, TOPIC, PAYLOAD, count=count, qos=qos))
    window = QOS2_WINDOW if qos == 2 else QOS1_WINDOW
    if client in ADAPTERS:
        return _emqtt_adapters.publish(
            client, host, port, TOPIC, PAYLOAD, count=count, qos=qos, window=window
        )
    return asyncio.run(
        _emqtt.publish(host, port, TOPIC, PAYLOAD, count=count, qos=qos, window=window)
    )


def _ready() -> None:
    # The coordinator starts the flood as soon as it reads this line.
    print("READY", flush=True)


def _receive(client: str, host: str, port: int, count: int) -> tuple[int, float]:
    if client in ("raw", "paho"):
        if client == "raw":
            sub: _raw.RawSubscriber | _peers.PahoSubscriber = _raw.RawSubscriber(
                host, port, TOPIC, PAYLOAD
            )
        else:
            sub = _peers.PahoSubscriber(host, port, TOPIC)
        _ready()
        result = sub.receive(count, IDLE_TIMEOUT)
        sub.close()
        return result
    if client in ADAPTERS:
        return _emqtt_adapters.receive(
            client, host, port, TOPIC, count=count, idle_timeout=IDLE_TIMEOUT, ready=_ready
        )

    async def run_async() -> tuple[int, float]:
        if client == "gmqtt":
            gsub = _peers.GmqttSubscriber()
            await gsub.start(host, port, TOPIC)
            _ready()
            result = await gsub.receive(count, IDLE_TIMEOUT)
            await gsub.close()
            return result
        return await _emqtt.receive(
            host, port, TOPIC, count=count, idle_timeout=IDLE_TIMEOUT, ready=_ready
        )

    return asyncio.run(run_async())


def _connect(client: str, host: str, port: int, count: int) -> float:
    if client == FLOOR:
        return asyncio.run(_raw.asyncio_connect_cycles(host, port, count))
    if client == "raw":
        return _raw.connect_cycles(host, port, count)
    if client == "paho":
        return _peers.paho_connect_cycles(host, port, count)
    if client == "gmqtt":
        return asyncio.run(_peers.gmqtt_connect_cycles(host, port, count))
    if client in ADAPTERS:
        return _emqtt_adapters.connect_cycles(client, host, port, count)
    return asyncio.run(_emqtt.connect_cycles(host, port, count))


# -- coordinator side --------------------------------------------------------------------------


@dataclass
class Sample:
    """One measurement."""

    client: str
    scenario: str
    round: int
    count: int
    seconds: float
    expected: int

    @property
    def rate(self) -> float:
        """Messages (or connections) per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


def measure(client: str, scenario: str, host: str, port: int, count: int) -> dict[str, float]:
    """Run one measurement in a fresh worker process."""
    command = [sys.executable, __file__, "--worker", client, scenario, host, str(port), str(count)]
    worker = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        if scenario == "recv_qos0":
            line = worker.stdout.readline()
            if line.strip() != "READY":
                raise RuntimeError(f"{client} worker failed before subscribing: {line!r}")
            _raw.flood(host, port, TOPIC, PAYLOAD, count)
        out, _ = worker.communicate(timeout=180)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    if worker.returncode:
        raise RuntimeError(f"{client} {scenario} worker exited with {worker.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _format_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def report(samples: Sequence[Sample], clients: Sequence[str], scenarios: Sequence[str]) -> str:
    """The table of medians (rate, and ratio to raw in brackets) as Markdown."""
    lines = ["| scenario | " + " | ".join(clients) + " |", "|---|" + "---:|" * len(clients)]
    for scenario in scenarios:
        cells = []
        for client in clients:
            mine = [s for s in samples if s.client == client and s.scenario == scenario]
            if not mine:
                cells.append("n/a")
                continue
            rate = statistics.median(s.rate for s in mine)
            ratios = []
            for s in mine:
                raw = [
                    r
                    for r in samples
                    if r.client == "raw" and r.scenario == scenario and r.round == s.round
                ]
                if raw and raw[0].rate:
                    ratios.append(s.rate / raw[0].rate)
            lost = sum(s.expected - s.count for s in mine)
            cell = _format_rate(rate)
            if ratios and client != "raw":
                cell += f" ({statistics.median(ratios):.2f})"
            if lost:
                cell += f" [lost {lost}]"
            cells.append(cell)
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Start a private mosquitto, run every (round, scenario, client), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the counts, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5, quick 3)")
    parser.add_argument("--clients", default=",".join((*CLIENTS, *ADAPTERS, FLOOR)))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--scale", type=float, default=None, help="multiply every count")
    parser.add_argument(
        "--worker",
        nargs=5,
        metavar=("CLIENT", "SCENARIO", "HOST", "PORT", "N"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args(argv)
    if args.worker:
        client, scenario, host, port, count = args.worker
        result = run_worker(client, scenario, host, int(port), int(count))
        print(json.dumps(result), flush=True)
        return 0

    clients = [c for c in args.clients.split(",") if c]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for name in clients:
        if name not in (*CLIENTS, *ADAPTERS, FLOOR):
            parser.error(f"unknown client {name!r}")
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    rounds = args.rounds or (3 if args.quick else 5)
    scale = args.scale if args.scale is not None else (0.2 if args.quick else 1.0)
    counts = {s: max(10, int(n * scale)) for s, n in COUNTS.items()}

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="emqtt-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)
        broker = Mosquitto(
            root / "broker", TLSMaterial.create(root / "tls"), extra_conf=BROKER_CONF
        )
        samples: list[Sample] = []
        with broker:
            for round_ in range(rounds):
                order = clients if round_ % 2 == 0 else list(reversed(clients))
                for scenario in scenarios:
                    for client in order:
                        if client == FLOOR and scenario != "connect":
                            continue
                        count = counts[scenario]
                        result = measure(client, scenario, broker.host, broker.tcp_port, count)
                        sample = Sample(
                            client,
                            scenario,
                            round_,
                            int(result["count"]),
                            float(result["seconds"]),
                            count,
                        )
                        samples.append(sample)
                        print(
                            f"round {round_ + 1}/{rounds} {scenario:9} {client:6} "
                            f"{_format_rate(sample.rate):>7}/s",
                            file=sys.stderr,
                            flush=True,
                        )
    print()
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {rounds} rounds, counts "
        + ", ".join(f"{s}={counts[s]}" for s in scenarios)
        + f", {time.monotonic() - started:.0f} s"
    )
    print()
    print(report(samples, clients, scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
