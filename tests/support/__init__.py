"""Importable test helpers: a private mosquitto broker, its TLS material and a QUIC relay.

The pytest fixtures in ``tests/conftest.py`` are thin wrappers around these classes, so tests
that need an unusual setup (a second broker, a relay in front of it) can build one directly.
"""

from __future__ import annotations

from support.broker import Mosquitto, MosquittoError, mosquitto_executable
from support.certs import TLSMaterial
from support.net import free_tcp_port, free_tcp_ports, port_accepts
from support.quic_relay import QuicRelay

__all__ = [
    "Mosquitto",
    "MosquittoError",
    "QuicRelay",
    "TLSMaterial",
    "free_tcp_port",
    "free_tcp_ports",
    "mosquitto_executable",
    "port_accepts",
]
