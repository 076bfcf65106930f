"""The adapters.transports package: its exports and the optional-dependency imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters import transports


def test_every_export_resolves() -> None:
    for name in transports.__all__:
        assert getattr(transports, name) is not None, name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchTransport"):
        transports.NoSuchTransport  # noqa: B018


def test_missing_optional_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forget the names cached by earlier imports, and make the modules unimportable.
    for name in ("WebSocketTransport", "QuicTransport"):
        monkeypatch.delattr(transports, name, raising=False)
    monkeypatch.setitem(sys.modules, "adapters.transports.websocket", None)
    monkeypatch.setitem(sys.modules, "adapters.transports.quic", None)
    with pytest.raises(ImportError, match=r"emqtt\[websocket\]"):
        transports.WebSocketTransport  # noqa: B018
    with pytest.raises(ImportError, match=r"emqtt\[quic\]"):
        transports.QuicTransport  # noqa: B018


def test_layers_are_usable_without_the_optional_libraries() -> None:
    # tcp and ssl need only the standard library: the package must not import websockets or
    # aioquic until those layers are asked for.
    code = (
        "import sys; import adapters.transports as t; t.StreamTransport(); "
        "assert 'websockets' not in sys.modules and 'aioquic' not in sys.modules"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(root)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
