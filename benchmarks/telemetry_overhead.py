"""What the emqtt telemetry events cost the asyncio client: publish throughput with telemetry
off, on with no handler attached, and on with one counter handler, against a private mosquitto
on loopback started by this script.

Usage::

    .venv/bin/python benchmarks/telemetry_overhead.py              # 5 rounds (under a minute)
    .venv/bin/python benchmarks/telemetry_overhead.py --quick      # smaller counts, 3 rounds
    .venv/bin/python benchmarks/telemetry_overhead.py --profile    # call counts under cProfile

Modes:

- ``off``: ``Client(..., telemetry=False)``, the default;
- ``on``: ``telemetry=True`` and no handler attached (the events are resolved, never built);
- ``counter``: ``telemetry=True`` and one handler on the four events that counts events and
  adds up ``data_size``.

Scenarios (MQTT 3.1.1, 64-byte payloads, as in ``benchmarks/throughput.py``): ``pub_qos0``
(N publishes, then a QoS 1 fence) and ``pub_qos1`` (N publishes, 1,000 in flight, until every
PUBACK). Each measurement runs in a fresh worker process; within a round the modes alternate
(off on counter, then counter on off). The table shows the median rate per mode and the median
of the per-round ratios to ``off``, for the wall-clock rate and for the client process's CPU
time per message (less sensitive to other load on a shared machine; the ratio is then the
inverse of the CPU cost ratio).

``--profile`` runs N QoS 0 publishes in this process under cProfile, once per mode, and prints
how many times each function of the emission path was called, and all function calls per
publish.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from support.broker import Mosquitto  # noqa: E402
from support.certs import TLSMaterial  # noqa: E402

import telemetry  # noqa: E402
from adapters.asyncio import TELEMETRY_EVENTS, Client, PublishResult  # noqa: E402

TOPIC = "bench/telemetry"
PAYLOAD = bytes(range(64))
WINDOW = 1000
MODES = ("off", "on", "counter")
SCENARIOS = ("pub_qos0", "pub_qos1")
COUNTS = {"pub_qos0": 60_000, "pub_qos1": 40_000}
BROKER_CONF = ("max_inflight_messages 0", "max_queued_messages 0")
#: The emission path, as cProfile names its functions: (file suffix, function name).
EMISSION_PATH = (
    ("adapters/_telemetry.py", "received"),
    ("adapters/_telemetry.py", "sent"),
    ("adapters/_telemetry.py", "send_failed"),
    ("adapters/_telemetry.py", "_metadata"),
    ("adapters/_telemetry.py", "redact"),
    ("emqtt_core/session.py", "take_sent_packets"),
    ("telemetry/_core.py", "execute"),
    ("benchmarks/telemetry_overhead.py", "count_event"),
)


# -- worker side -------------------------------------------------------------------------------


def count_event(
    event: tuple[str, ...], measurements: Mapping[str, Any], metadata: Any, totals: list[int]
) -> None:
    """The counter handler: events and bytes."""
    totals[0] += 1
    totals[1] += measurements["data_size"]


async def publish(host: str, port: int, *, count: int, qos: int, mode: str) -> tuple[float, float]:
    """Pipelined publishes (at most `WINDOW` unfinished); QoS 0 ends with a QoS 1 fence.

    Returns:
        The wall-clock seconds and the CPU seconds of this process.
    """
    async with Client(
        host,
        port,
        protocol_version=4,
        client_id=f"bench-telemetry-{mode}-{qos}",
        max_inflight=WINDOW,
        telemetry=mode != "off",
    ) as client:
        pending: deque[asyncio.Future[PublishResult]] = deque()
        start = time.perf_counter()
        cpu_start = time.process_time()
        for _ in range(count):
            pending.append(client.publish_nowait(TOPIC, PAYLOAD, qos=qos))
            if len(pending) >= WINDOW:
                await pending.popleft()
        while pending:
            await pending.popleft()
        if qos == 0:
            await client.publish("bench/fence", PAYLOAD, qos=1)
        return time.perf_counter() - start, time.process_time() - cpu_start


def run_worker(mode: str, scenario: str, host: str, port: int, count: int) -> dict[str, Any]:
    """One measurement in this process."""
    totals = [0, 0]
    if mode == "counter":
        telemetry.attach_many("bench-counter", TELEMETRY_EVENTS, count_event, totals)
    qos = int(scenario[-1])
    seconds, cpu = asyncio.run(publish(host, port, count=count, qos=qos, mode=mode))
    if mode == "counter" and totals[0] < count:
        raise RuntimeError(f"the counter handler saw {totals[0]} events for {count} publishes")
    return {"count": count, "seconds": seconds, "cpu": cpu, "events": totals[0]}


# -- coordinator side --------------------------------------------------------------------------


def measure(mode: str, scenario: str, host: str, port: int, count: int) -> dict[str, Any]:
    """Run one measurement in a fresh worker process."""
    command = [sys.executable, __file__, "--worker", mode, scenario, host, str(port), str(count)]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    if result.returncode:
        raise RuntimeError(f"{mode} {scenario} worker failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _rate(sample: Mapping[str, Any]) -> float:
    return float(sample["count"]) / float(sample["seconds"])


def _cpu_rate(sample: Mapping[str, Any]) -> float:
    return float(sample["count"]) / float(sample["cpu"])


def report(samples: Sequence[dict[str, Any]], scenarios: Sequence[str]) -> str:
    """Markdown table per scenario: the median of messages per second (wall clock) and of the
    client's CPU microseconds per message, each with the median per-round ratio to ``off``."""
    lines = [
        "| scenario | measure | " + " | ".join(MODES) + " |",
        "|---|---|" + "---:|" * len(MODES),
    ]
    for scenario in scenarios:
        for measure_name, rate_of, unit in (
            ("throughput", _rate, "msg/s"),
            ("client CPU", _cpu_rate, "us/msg"),
        ):
            cells = []
            for mode in MODES:
                mine = [s for s in samples if s["scenario"] == scenario and s["mode"] == mode]
                rate = statistics.median(rate_of(s) for s in mine)
                cell = f"{rate / 1000:.1f}k" if unit == "msg/s" else f"{1e6 / rate:.2f}"
                if mode != "off":
                    ratios = []
                    for s in mine:
                        [base] = [
                            b
                            for b in samples
                            if b["scenario"] == scenario
                            and b["mode"] == "off"
                            and b["round"] == s["round"]
                        ]
                        ratios.append(rate_of(s) / rate_of(base))
                    cell += f" ({statistics.median(ratios):.1%})"
                cells.append(cell)
            lines.append(f"| {scenario} | {measure_name} ({unit}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def profile(host: str, port: int, count: int) -> str:
    """Call counts of the emission path for ``count`` QoS 0 publishes, per mode."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    totals: dict[str, int] = {}
    counter = [0, 0]
    for mode in MODES:
        if mode == "counter":
            telemetry.attach_many("bench-counter", TELEMETRY_EVENTS, count_event, counter)
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(publish(host, port, count=count, qos=0, mode=mode))
        profiler.disable()
        if mode == "counter":
            telemetry.detach("bench-counter")
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        totals[mode] = sum(entry[1] for entry in stats.values())
        for (filename, _line, function), entry in stats.items():
            for suffix, name in EMISSION_PATH:
                if function == name and filename.replace(os.sep, "/").endswith(suffix):
                    rows.setdefault((suffix, name), {})[mode] = entry[1]
            if function in ("flush", "receive_wire") and filename.endswith("_driver.py"):
                rows.setdefault(("adapters/_driver.py", function), {})[mode] = entry[1]
    lines = [
        f"{count} QoS 0 publishes (+1 QoS 1 fence), calls per mode:",
        "",
        "| function | " + " | ".join(MODES) + " |",
        "|---|" + "---:|" * len(MODES),
    ]
    order = [("adapters/_driver.py", "flush"), ("adapters/_driver.py", "receive_wire")]
    order += [key for key in EMISSION_PATH if key not in order]
    for key in order:
        calls = rows.get(key, {})
        cells = [f"{calls.get(mode, 0):,}" for mode in MODES]
        lines.append(f"| `{key[0]}:{key[1]}` | " + " | ".join(cells) + " |")
    lines.append(
        "| all function calls, per publish | "
        + " | ".join(f"{totals[mode] / count:.1f}" for mode in MODES)
        + " |"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Start a private mosquitto, then measure (or profile) every mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a quarter of the counts, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5, quick 3)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--profile", action="store_true", help="call counts under cProfile")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        mode, scenario, host, port, count = args.worker
        print(json.dumps(run_worker(mode, scenario, host, int(port), int(count))), flush=True)
        return 0
    scenarios = [s for s in args.scenarios.split(",") if s]
    for name in scenarios:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}")
    rounds = args.rounds or (3 if args.quick else 5)
    scale = 0.25 if args.quick else 1.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="emqtt-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o711)
        tls = TLSMaterial.create(root / "tls")
        broker = Mosquitto(root / "broker", tls, extra_conf=BROKER_CONF)
        with broker:
            if args.profile:
                print(profile(broker.host, broker.tcp_port, int(20_000 * scale)))
                return 0
            samples: list[dict[str, Any]] = []
            for round_ in range(rounds):
                order = MODES if round_ % 2 == 0 else tuple(reversed(MODES))
                for scenario in scenarios:
                    count = int(COUNTS[scenario] * scale)
                    for mode in order:
                        sample = measure(mode, scenario, broker.host, broker.tcp_port, count)
                        sample.update(mode=mode, scenario=scenario, round=round_)
                        samples.append(sample)
                        print(
                            f"round {round_ + 1}/{rounds} {scenario} {mode:7} "
                            f"{_rate(sample) / 1000:7.1f}k/s "
                            f"{1e6 / _cpu_rate(sample):6.2f} us/msg CPU",
                            file=sys.stderr,
                            flush=True,
                        )
    print()
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {rounds} rounds, counts "
        + ", ".join(f"{s}={int(COUNTS[s] * scale)}" for s in scenarios)
        + f", {time.monotonic() - started:.0f} s"
    )
    print()
    print(report(samples, scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
