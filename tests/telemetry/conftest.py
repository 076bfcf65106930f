"""Every test starts and ends with the handlers that were attached before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import telemetry


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    before = {h.id for h in telemetry.list_handlers()}
    yield
    for handler_id in {h.id for h in telemetry.list_handlers()} - before:
        telemetry.detach(handler_id)
