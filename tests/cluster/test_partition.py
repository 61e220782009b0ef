"""A node cut off from the others by the network: a real partition between two processes,
one in a network namespace of the test's own joined by a veth link the test takes down
(link-local addresses only: nothing leaves the machine). Skipped, with the reason, without
root or iproute2."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Login
from tests.center.support import wait_until

from .netns import Host, NamespaceUnavailable
from .rig import AGENTS_CLUSTER, REDIS, Node, RedisServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def host() -> Iterator[Host]:
    try:
        with Host() as made:
            yield made
    except NamespaceUnavailable as why:
        pytest.skip(f"no network namespace: {why}")


async def test_a_node_partitioned_by_the_network_is_lost_and_its_caller_served_when_back(
    host: Host, tmp_path: Path
) -> None:
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    redis = RedisServer(tmp_path, bind=f"127.0.0.1 {host.peer}", password="a-test-password")
    redis.start()
    a = Node("A", redis, AGENTS_CLUSTER, lease_s=0.6, node_ttl_s=1.0)
    await a.start()  # first: it leads
    child = await asyncio.create_subprocess_exec(
        *host.command(sys.executable, "-m", "tests.cluster.netns_node", redis.url_at(host.peer)),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        ready = await _said(child)
        assert str(ready["ready"]).startswith("C.")
        await wait_until(lambda: a.service.distributor.call("call-1") is not None, 10)
        assert not a.cluster.owns("call-1")  # it waits on the node in the namespace

        host.cut()  # the link goes down: node C can reach neither Redis nor anyone
        await wait_until(lambda: [e.reason for e in a.abandoned()] == ["node lost"], 10)
        host.mend()

        assert await _said(child) == {"gone": "node lost"}
        a.service.agent_event(Login("a1"))
        assert await _said(child) == {"offered": "a1", "entry_time": True}
        # once, to the one agent (A's copy reads the log on its own: wait for it)
        await wait_until(lambda: [e.call_id for e in a.offers()] == ["call-1"])
        assert [e.agent_id for e in a.offers()] == ["a1"]
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), timeout=10)
        except TimeoutError:
            child.kill()
            await child.wait()
        await a.stop()
        redis.stop()


async def _said(child: asyncio.subprocess.Process) -> dict[str, Any]:
    """The next thing the node in the namespace says."""
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=20)
    assert line, "the node in the namespace ended"
    said: dict[str, Any] = json.loads(line)
    return said
