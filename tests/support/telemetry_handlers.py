"""Handler hygiene for the telemetry tests: a conftest that imports `restore_handlers` makes
every test of its directory end with the handlers that were attached before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import telemetry


@pytest.fixture(autouse=True)
def restore_handlers() -> Iterator[None]:
    """Detach, after the test, every handler the test attached and left attached."""
    before = {handler.id for handler in telemetry.list_handlers()}
    yield
    for handler_id in {handler.id for handler in telemetry.list_handlers()} - before:
        telemetry.detach(handler_id)
