"""Fixtures of the ``emqtt`` command-line tests (the runner itself is in ``cli_runner``)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from cli_runner import Running


@pytest.fixture
def running() -> Iterator[type[Running]]:
    """Start background ``emqtt`` processes; any still running at the end are killed."""
    started: list[Running] = []

    class Tracked(Running):
        def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
            super().__init__(*args, stdin=stdin)
            started.append(self)

    yield Tracked
    for process in started:
        process.kill()


@pytest.fixture
def topic() -> str:
    """A topic no other test uses."""
    return f"cli-test/{uuid.uuid4().hex}"
