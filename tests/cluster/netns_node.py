"""A node of the shared ACD in a process of its own (run inside a network namespace by
tests/cluster/test_partition.py): one caller waits on it; when the cluster declares this
node lost, the caller's session queues the call again with its place kept (as
``center.gateway`` does), and is offered an agent. Says what happens as JSON lines."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace

from acd.calls import IncomingCall
from tests.cluster.rig import AGENTS_CLUSTER as AGENTS
from tests.cluster.rig import Node


def say(**what: object) -> None:
    print(json.dumps(what), flush=True)


async def main(url: str) -> None:
    node = Node("C", url, AGENTS, lease_s=0.6, node_ttl_s=1.0)
    await node.start()
    call = IncomingCall("call-1", "support", line="PJSIP/trunk-1")
    ticket = node.service.call_arrived(call)
    say(ready=node.cluster.member)
    await ticket.gone.wait()
    say(gone=ticket.gone_reason)
    node.service.release(ticket)
    again = node.service.call_arrived(replace(call, entry_time=ticket.entry_time))
    offer = await again.offers.get()
    say(offered=offer.agent_id, entry_time=again.entry_time == ticket.entry_time)
    await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin
    await node.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
