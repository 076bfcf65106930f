"""The README's first command runs examples/demo.py: it must succeed for every adapter and
transport against the broker and relay it starts itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


@pytest.mark.timeout(300)
def test_demo_round_trips_every_adapter_and_transport() -> None:
    result = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=280, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "20/20 adapter x transport round trips succeeded" in result.stdout
    assert " 0 failed sends." in result.stdout
