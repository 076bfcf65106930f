"""Small socket helpers for the test fixtures: free loopback ports and a reachability probe."""

from __future__ import annotations

import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_tcp_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct TCP ports that were free on ``host`` a moment ago.

    The ports are released before returning, so another process may take one before the caller
    binds it: callers retry with fresh ports when a bind fails.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_tcp_port(host: str = LOOPBACK) -> int:
    """Return one TCP port that was free on ``host`` a moment ago (see `free_tcp_ports`)."""
    return free_tcp_ports(1, host)[0]


def port_accepts(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

