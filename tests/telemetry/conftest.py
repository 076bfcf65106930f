"""Every test starts and ends with the handlers that were attached before it."""

from __future__ import annotations

from support.telemetry_handlers import restore_handlers

__all__ = ["restore_handlers"]
