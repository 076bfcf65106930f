"""Every package's public names resolve, and `__all__` lists exactly what each package exports."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["emqtt_core", "telemetry"])
def test_all_names_resolve(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    for name in exported:
        assert getattr(module, name) is not None, name


def test_core_exports_every_public_name_of_its_modules() -> None:
    import emqtt_core

    for sub in ("codec", "enums", "events", "exceptions", "packets", "session", "config", "state"):
        module = importlib.import_module(f"emqtt_core.{sub}")
        missing = {n for n in module.__all__ if n not in emqtt_core.__all__}
        # Tables and per-packet helpers stay in their modules on purpose.
        missing -= {"PACKET_CLASSES", "TRANSITIONS", "Input"}
        assert not missing, f"emqtt_core.{sub}: {sorted(missing)}"
