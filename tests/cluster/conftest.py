"""A Redis server of each test's own (skipped with the reason when redis-server is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .rig import REDIS, RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
