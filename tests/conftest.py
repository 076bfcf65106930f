"""Suite-wide pytest setup: import paths, markers, and the real-broker fixtures.

Fixtures (all start real processes on free loopback ports):

- ``tls_material`` (session): a trustme CA with server and client certificates on disk.
- ``mosquitto``: the session's private mosquitto with TCP, TLS, ws and wss listeners
  (`support.broker.Mosquitto`). Tests may stop and restart it; it is running when handed out.
- ``mosquitto_factory`` (function): ``mosquitto_factory(extra_conf=[...], ...)`` starts one
  more broker with extra configuration; it is stopped after the test.
- ``quic_relay``: the session's QUIC listener (ALPN mqtt) relaying streams to ``mosquitto``'s
  TCP port (`support.quic_relay.QuicRelay`).

The helpers live in ``tests/support`` and are importable as ``support``.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
# The packages under test import from the repository root, the helpers from tests/ (as
# ``support``); pytest's import mode may not put either on sys.path by itself.
for _path in (str(ROOT), str(TESTS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from support.broker import Mosquitto, MosquittoError, MosquittoFactory  # noqa: E402
from support.certs import TLSMaterial  # noqa: E402
from support.quic_relay import QuicRelay  # noqa: E402

MARKERS = (
    "quic: uses the QUIC relay (aioquic) in front of the private broker",
)


#: Fixtures that start real processes; tests using them get the ``broker`` marker, so
#: ``-m "not broker"`` runs only the in-memory tests.
BROKER_FIXTURES = frozenset({"mosquitto", "mosquitto_factory", "quic_relay"})


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if BROKER_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.broker)
        if "quic_relay" in fixtures:
            item.add_marker(pytest.mark.quic)


@pytest.fixture(scope="session")
def _broker_root() -> Iterator[Path]:
    # Not tmp_path_factory: its 0700 parents would stop the unprivileged broker user (mosquitto
    # drops root before reading certificates) from reaching the files.
    root = Path(tempfile.mkdtemp(prefix="emqtt-tests-"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_material(_broker_root: Path) -> TLSMaterial:
    """A CA, a server certificate (localhost, 127.0.0.1, ::1) and a client certificate."""
    return TLSMaterial.create(_broker_root / "tls")


@pytest.fixture(scope="session")
def _mosquitto_session(_broker_root: Path, tls_material: TLSMaterial) -> Iterator[Mosquitto]:
    broker = Mosquitto(_broker_root / "mosquitto", tls_material)
    broker.start()
    try:
        yield broker
    finally:
        # Killed if it hangs on SIGTERM; the graceful stop is tested on its own.
        with contextlib.suppress(MosquittoError):
            broker.stop()


@pytest.fixture
def mosquitto(_mosquitto_session: Mosquitto) -> Mosquitto:
    """The suite's private mosquitto (TCP, TLS, ws, wss), shared by the whole session.

    A test may stop or restart it; if one leaves it stopped (a failure half-way through a
    restart test), it is started again, on the same ports, before the next test uses it.
    """
    if not _mosquitto_session.running:
        _mosquitto_session.start()
    return _mosquitto_session


@pytest.fixture
def mosquitto_factory(
    _broker_root: Path, tls_material: TLSMaterial
) -> Iterator[MosquittoFactory]:
    """Start extra brokers: ``mosquitto_factory(extra_conf=["max_inflight_messages 5"])``.

    Keyword arguments are those of `Mosquitto` (``extra_conf``, ``allow_anonymous``,
    ``require_certificate``); every broker started here is stopped after the test.
    """
    started: list[Mosquitto] = []

    def factory(
        *,
        extra_conf: Iterable[str] = (),
        allow_anonymous: bool = True,
        require_certificate: bool = False,
    ) -> Mosquitto:
        directory = Path(tempfile.mkdtemp(prefix="mosquitto-", dir=_broker_root))
        broker = Mosquitto(
            directory,
            tls_material,
            extra_conf=extra_conf,
            allow_anonymous=allow_anonymous,
            require_certificate=require_certificate,
        )
        started.append(broker)
        broker.start()
        return broker

    try:
        yield factory
    finally:
        for broker in started:
            # A throwaway broker that hung on SIGTERM (seen with the dynamic-security plugin)
            # has been killed by stop(): what the test checked is not affected.
            with contextlib.suppress(MosquittoError):
                broker.stop()
            shutil.rmtree(broker.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def _quic_relay_session(
    _mosquitto_session: Mosquitto, tls_material: TLSMaterial
) -> Iterator[QuicRelay]:
    broker = _mosquitto_session
    with QuicRelay(broker.host, broker.tcp_port, tls_material) as relay:
        yield relay


@pytest.fixture
def quic_relay(_quic_relay_session: QuicRelay, mosquitto: Mosquitto) -> QuicRelay:
    """A QUIC (ALPN mqtt) listener on 127.0.0.1 relaying each stream to ``mosquitto``'s TCP port
    (shared by the session; ``mosquitto`` is running when a test gets it)."""
    return _quic_relay_session
