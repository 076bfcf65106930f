"""Run ``emqtt`` as a user would: ``python -m adapters.cli ...`` in a subprocess."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Seconds any single emqtt invocation may take against the local broker.
RUN_TIMEOUT = 30.0


def cli_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONSTARTUP", None)
    return env


def emqtt(*args: str, input: bytes | None = None,
          timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    """Run ``emqtt ARGS`` to its end and return what it printed and its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=ROOT,
        env=cli_env(),
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


class Running:
    """An ``emqtt`` process running in the background, its stderr read line by line."""

    def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", *args],
            cwd=ROOT,
            env=cli_env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self.stderr_lines: list[bytes] = []
        self._stdout = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            self._stdout += chunk

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(b"")

    def wait_for_stderr(self, fragment: bytes, timeout: float = RUN_TIMEOUT) -> None:
        """Block until a line of stderr contains ``fragment`` (an event, not a sleep)."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no {fragment!r} on stderr within {timeout}s: {self.stderr_lines}"
                ) from None
            if not line:
                raise AssertionError(
                    f"emqtt exited ({self.process.poll()}) before printing {fragment!r}: "
                    f"{self.stderr_lines}"
                )
            self.stderr_lines.append(line)
            if fragment in line:
                return

    def finish(self, timeout: float = RUN_TIMEOUT) -> tuple[int, bytes, bytes]:
        """Wait for the exit; return (status, stdout, the rest of stderr)."""
        try:
            status = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout)
        self._stdout_reader.join(timeout)
        stdout = bytes(self._stdout)
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            self.stderr_lines.append(line)
        return status, stdout, b"".join(self.stderr_lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
