"""Fixtures of the hostile-server suite: the client under test (each adapter, each anyio
backend) and the protocol version. The clients are driven through the parity suite's blocking
facade, so each scenario is written once for every adapter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from anyio.from_thread import BlockingPortal

# The parity suite's facade (one blocking API over the three clients) is reused as it is.
_PARITY = str(Path(__file__).resolve().parent.parent / "adapters" / "parity")
if _PARITY not in sys.path:
    sys.path.insert(0, _PARITY)

from parity_facade import ADAPTERS, VERSIONS, Adapter, portals  # noqa: E402


@pytest.fixture(scope="session")
def _hostile_portals() -> Iterator[dict[str, BlockingPortal]]:
    with portals() as running:
        yield running


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, _hostile_portals: dict[str, BlockingPortal]) -> Adapter:
    """The client under test: asyncio, threading, anyio on asyncio, anyio on trio."""
    name: str = request.param
    if name == "threading":
        return Adapter(name, None)
    backend = "trio" if name == "anyio-trio" else "asyncio"
    return Adapter(name, _hostile_portals[backend])


@pytest.fixture(params=VERSIONS, ids=lambda v: f"v{v}")
def version(request: pytest.FixtureRequest) -> int:
    """The MQTT protocol version: 4 (3.1.1) or 5."""
    value: int = request.param
    return value
