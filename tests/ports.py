"""TCP ports for a test's servers, chosen before the servers start (UDP ports for SIP are
the kernel's: ``tests.asterisk.rig.free_udp_port``).

A port is taken below the kernel's ephemeral range (``ip_local_port_range``) and checked
free. A port the kernel hands out for port 0 would not do: it is free when chosen, and
between that moment and the server's bind, any socket bound to port 0 (this test's own web
server, another worker's client connection) may be given the very same port.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["unused_port"]

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000
#: Ports this process has handed out: two chosen in a row are never the same.
_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def unused_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now, outside the ephemeral range when there is room."""
    high = _ephemeral_low()
    for _ in range(100 if high - _LOWEST > 1000 else 0):
        port = random.randrange(_LOWEST, high)
        if port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _given.add(port)
        return port
    with socket.socket() as sock:  # no room below it: the kernel's choice
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
