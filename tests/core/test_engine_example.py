"""The engine example of docs/engine.md runs against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.broker import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "engine_selectors.py"


def test_engine_selectors_example_against_mosquitto(mosquitto: Mosquitto) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "127.0.0.1", str(mosquitto.tcp_port)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received b'hello qos 2' (QoS 2)" in result.stdout
    assert result.stdout.strip().endswith("disconnected")


def test_engine_doc_holds_the_example() -> None:
    doc = (ROOT / "docs" / "engine.md").read_text(encoding="utf-8")
    body = EXAMPLE.read_text(encoding="utf-8")
    assert body.strip() in doc
