"""The documentation site builds with ``mkdocs build --strict``, and every Python sample in
``docs/*.md`` runs.

How samples are run (the convention every docs page follows):

- Each fenced block whose language is ``python`` (or ``py``) is one sample. It runs on its own, as
  a script in a fresh interpreter, and must exit with status 0 within `SAMPLE_TIMEOUT` seconds.
- Samples talk to a broker on ``localhost`` at the default ports: 1883 (``mqtt://``), 8883
  (``mqtts://``), 8083 (``ws://``), 8084 (``wss://``) and 14567 (``quic://``). Before running a
  sample, the test starts a private mosquitto (and, if the sample mentions QUIC, a QUIC relay in
  front of it) and rewrites ``localhost`` and those port numbers to the private ones. Readers see
  ordinary addresses; the test never touches a real port 1883.
- A sample runs in a directory that holds the test CA as ``ca.pem`` and a client certificate as
  ``client.pem`` / ``client-key.pem``, so TLS samples read those files by those names.
- Shell sessions (```console blocks) are not run, but every ``$ emqtt ...`` command in them must
  parse with the real argument grammar, so the pages cannot drift from the tool's flags.
- A block not meant to run (pseudo-code, another library that is not installed) is preceded by an
  HTML comment ``<!-- skip: why -->`` on the line before its fence. The comment is invisible on
  the site, the reason is required, and `test_few_samples_are_skipped` keeps such blocks rare.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: Seconds a sample may run (it talks to a local broker: anything slower is a hang).
SAMPLE_TIMEOUT = 60
#: Seconds the site build may take.
BUILD_TIMEOUT = 300

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*(?P<reason>\S.*?)\s*-->\s*$")
_PYTHON = {"python", "py", "python3"}
_LOCAL_PORTS = {"1883": "tcp", "8883": "ssl", "8083": "ws", "8084": "wss", "14567": "quic"}


@dataclass(frozen=True)
class Sample:
    """One fenced Python block of a docs page."""

    page: str
    line: int
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def uses_quic(self) -> bool:
        return "quic" in self.code.lower() or "14567" in self.code


def _blocks(path: Path) -> Iterator[Sample]:
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, fence = match["indent"], match["fence"]
        language = (match["info"].split() or [""])[0].lower().lstrip(".{")
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = lines[index].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            text = lines[index]
            body.append(text[len(indent):] if text.startswith(indent) else text.lstrip())
            index += 1
        index += 1
        if language not in _PYTHON:
            continue
        previous = next((line for line in reversed(lines[:start]) if line.strip()), "")
        skip = _SKIP.match(previous)
        yield Sample(
            page=path.name,
            line=start + 1,
            code="\n".join(body) + "\n",
            skip=skip["reason"] if skip else None,
        )


def collect_samples() -> list[Sample]:
    """Every Python sample of the top-level docs pages, in page order."""
    return [sample for page in sorted(DOCS.glob("*.md")) for sample in _blocks(page)]


SAMPLES = collect_samples()


def _rewrite(code: str, host: str, ports: dict[str, int]) -> str:
    """Point a sample's default broker addresses at the private broker."""
    code = re.sub(r"\blocalhost\b", host, code)
    for default, transport in _LOCAL_PORTS.items():
        if transport in ports:
            code = re.sub(rf"(?<![\d.]){default}(?!\d)", str(ports[transport]), code)
    return code


def _emqtt_commands(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``$ emqtt ...`` command lines of a page's console blocks (continuations joined), as
    argument lists without the program name, shell control operators and what follows them."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        number = index + 1
        index += 1
        if not line.startswith("$ emqtt "):
            continue
        command = line[2:]
        while command.endswith("\\") and index < len(lines):
            command = command[:-1] + " " + lines[index].strip()
            index += 1
        words = shlex.split(command, comments=True)
        for operator in ("&", "|", "&&", ";", ">"):
            if operator in words:
                words = words[: words.index(operator)]
        yield number, words[1:]


COMMANDS = [
    (f"{page.name}:{number}", argv)
    for page in sorted(DOCS.glob("*.md"))
    for number, argv in _emqtt_commands(page)
]


def test_commands_were_found() -> None:
    assert any(where.startswith("cli.md") for where, _ in COMMANDS)


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_commands_parse(where: str, argv: list[str]) -> None:
    from adapters._cli_args import UsageError, parse_command

    try:
        parse_command(argv)
    except UsageError as exc:
        pytest.fail(f"{where}: emqtt {shlex.join(argv)}: {exc}")


def test_samples_were_found() -> None:
    assert SAMPLES, "no ```python blocks found under docs/"


def test_few_samples_are_skipped() -> None:
    skipped = [sample.id for sample in SAMPLES if sample.skip]
    assert len(skipped) <= max(3, len(SAMPLES) // 5), skipped


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.id)
def test_sample_runs(sample: Sample, mosquitto_factory: object, tmp_path: Path) -> None:
    if sample.skip:
        pytest.skip(sample.skip)
    from support.broker import Mosquitto
    from support.quic_relay import QuicRelay

    assert callable(mosquitto_factory)
    broker = mosquitto_factory()
    assert isinstance(broker, Mosquitto)
    ports = {transport: broker.port_for(transport) for transport in ("tcp", "ssl", "ws", "wss")}
    relay: QuicRelay | None = None
    if sample.uses_quic:
        relay = QuicRelay(broker.host, broker.tcp_port, broker.tls)
        relay.start()
        ports["quic"] = relay.port
    try:
        shutil.copy(broker.tls.ca_file, tmp_path / "ca.pem")
        shutil.copy(broker.tls.client_cert_file, tmp_path / "client.pem")
        shutil.copy(broker.tls.client_key_file, tmp_path / "client-key.pem")
        script = tmp_path / "sample.py"
        script.write_text(_rewrite(sample.code, broker.host, ports), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PYTHONSTARTUP", None)
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SAMPLE_TIMEOUT,
            check=False,
        )
    finally:
        if relay is not None:
            relay.stop()
    assert result.returncode == 0, (
        f"{sample.id} exited with {result.returncode}\n--- code\n{script.read_text()}"
        f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    )


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page in the nav exists, every link and anchor resolves,
    and mkdocstrings renders the API reference from the docstrings."""
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        # NO_MKDOCS_2_WARNING: mkdocs-material's notice about its successor, not a build issue.
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    assert (site / "cli" / "index.html").is_file()
    reference = (site / "api" / "emqtt_core" / "index.html").read_text(encoding="utf-8")
    assert "doc-heading" in reference  # mkdocstrings rendered something


def test_fence_parser_handles_indent_and_skip(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n"
        "```python\nprint(1)\n```\n\n"
        "=== \"Tab\"\n\n    ```python\n    if True:\n        print(2)\n    ```\n\n"
        "<!-- skip: needs a library that is not installed -->\n"
        "```python\nimport nothing\n```\n\n"
        "```console\n$ emqtt\n```\n",
        encoding="utf-8",
    )
    samples = list(_blocks(page))
    assert [s.code for s in samples] == [
        "print(1)\n", "if True:\n    print(2)\n", "import nothing\n"]
    assert [s.skip for s in samples] == [
        None, None, "needs a library that is not installed"]


def test_rewrite_points_defaults_at_the_private_broker() -> None:
    code = 'Client("localhost", 1883)\nurl = "mqtts://localhost:8883"\nx = 18830\n'
    assert _rewrite(code, "127.0.0.1", {"tcp": 40001, "ssl": 40002}) == (
        'Client("127.0.0.1", 40001)\nurl = "mqtts://127.0.0.1:40002"\nx = 18830\n'
    )
