"""The import directions of ARCHITECTURE.md: emqtt_core imports only the standard library,
telemetry never imports emqtt_core or adapters."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN_IN_CORE = {
    "adapters", "telemetry", "socket", "ssl", "asyncio", "threading", "selectors", "time",
    "uuid", "secrets", "random", "anyio", "trio", "websockets", "aioquic", "os",
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("emqtt_core"), ids=lambda p: p.name)
def test_core_imports_only_the_pure_standard_library(path: Path) -> None:
    roots = _imported_roots(path)
    assert not roots & FORBIDDEN_IN_CORE
    third_party = {r for r in roots if r not in sys.stdlib_module_names and r != "emqtt_core"}
    assert not third_party


@pytest.mark.parametrize("path", _modules("telemetry"), ids=lambda p: p.name)
def test_telemetry_is_standalone(path: Path) -> None:
    assert not _imported_roots(path) & {"emqtt_core", "adapters"}
