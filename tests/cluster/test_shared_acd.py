"""Several nodes, one ACD: every node's copy agrees, each offer is acted on once, by the
node whose session holds the call, and the cluster goes on when a node, the leader or
Redis itself goes away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from acd.agent_events import AgentState, Answered, HungUp, Login
from acd.calls import IncomingCall
from acd.events import CallEnded, CallQueued
from acd.offer import Offer
from center.service import CallTicket
from tests.center.support import wait_until as until

from .rig import Node, RedisServer

AGENTS = ("a1", "a2", "a3")


@pytest.fixture
async def nodes(redis_server: RedisServer) -> AsyncIterator[list[Node]]:
    made = [Node(n, redis_server, AGENTS, lease_s=0.6, node_ttl_s=1.0) for n in "ABC"]
    for node in made:
        await node.start()
    try:
        yield made
    finally:
        for node in made:
            await node.stop()


def call(n: int, queue: str = "support") -> IncomingCall:
    return IncomingCall(f"call-{n}", queue, line=f"PJSIP/trunk-{n:08d}")


def taken(ticket: CallTicket) -> list[Offer]:
    got = []
    while not ticket.offers.empty():
        got.append(ticket.offers.get_nowait())
    return got


async def agree(nodes: list[Node]) -> None:
    """Every node has applied the same changes and holds the same picture."""
    await until(lambda: len({n.cluster.applied for n in nodes}) == 1)
    assert len({n.picture() for n in nodes}) == 1


async def test_each_offer_is_dialled_once_by_the_node_that_holds_the_call(
    nodes: list[Node],
) -> None:
    a, b, c = nodes
    for agent in AGENTS:
        b.service.agent_event(Login(agent))  # the agents' desktops are on node B
    tickets = [(a if i % 2 else c).service.call_arrived(call(i)) for i in range(5)]
    await until(lambda: sum(len(n.offers()) for n in nodes) == 3 * len(nodes))
    offered = {t.call_id: taken(t) for t in tickets}
    assert sum(len(o) for o in offered.values()) == 3  # three agents, three offers, once each
    assert len({o[0].agent_id for o in offered.values() if o}) == 3
    await agree(nodes)
    assert a.log() == b.log() == c.log()  # the same events at the same times on every node

    # the owner's session tells Asterisk's facts; the agents hang up; the next two calls go
    for ticket in tickets:
        owner = a if ticket in tickets[1::2] else c
        for offer in offered[ticket.call_id]:
            owner.service.fact(Answered(offer.agent_id, ticket.call_id))
            owner.service.fact(HungUp(offer.agent_id, ticket.call_id))
    await until(lambda: len(b.records(CallEnded)) == 3)
    await until(lambda: sum(len(n.offers()) for n in nodes) == 5 * len(nodes), timeout_s=5)
    later = {t.call_id: taken(t) for t in tickets}
    assert sum(len(o) for o in later.values()) == 2
    await agree(nodes)
    assert a.log() == b.log() == c.log()


async def test_a_new_leader_ticks_within_two_seconds_and_keeps_the_queue_order(
    nodes: list[Node],
) -> None:
    leader = next(n for n in nodes if n.cluster.leads)
    rest = [n for n in nodes if n is not leader]
    rest[0].service.agent_event(Login("a1"))
    first = rest[1].service.call_arrived(call(1))
    await until(lambda: not first.offers.empty())
    offer = first.offers.get_nowait()
    rest[1].service.fact(Answered("a1", offer.call_id))
    for i in (2, 3, 4):  # they wait, in the order the log gives them, on two nodes
        rest[i % 2].service.call_arrived(call(i))
    await agree(nodes)
    order = [e.call_id for e in rest[0].records(CallQueued)][1:]

    await leader.stop(crash=True)  # its lease and heartbeat expire; nobody says goodbye
    killed = time.monotonic()
    await until(lambda: any(n.cluster.leads for n in rest), timeout_s=3)
    assert time.monotonic() - killed <= 2.0
    # the wrap-up's end needs the timer: only a leader ticks it
    rest[1].service.fact(HungUp("a1", offer.call_id))
    seen = [offer.call_id]

    def offered_anew() -> bool:
        view = rest[0].service.distributor.book.view("a1")
        return view.state is AgentState.OFFERED and view.call_id != seen[-1]

    for expected in order:
        await until(offered_anew, 3)
        assert rest[0].service.distributor.book.view("a1").call_id == expected
        holder = rest[int(expected[-1]) % 2]
        holder.service.fact(Answered("a1", expected))
        holder.service.fact(HungUp("a1", expected))
        seen.append(expected)
    nodes.remove(leader)
    await agree(nodes)


async def test_a_lost_node_s_calls_leave_the_acd_and_its_agents_are_free(
    nodes: list[Node],
) -> None:
    a, b, c = nodes
    for agent in ("a1", "a2"):
        a.service.agent_event(Login(agent))
    on_c = [c.service.call_arrived(call(i)) for i in (1, 2, 3)]
    await until(lambda: sum(not t.offers.empty() for t in on_c) == 2)
    talking = on_c[0].offers.get_nowait()
    c.service.fact(Answered(talking.agent_id, talking.call_id))
    await agree(nodes)

    await c.stop(crash=True)  # its sessions went with it: its callers are in the fallback
    nodes.remove(c)
    lost = [e for e in a.abandoned() if e.reason == "node lost"]
    await until(lambda: len([e for e in a.abandoned() if e.reason == "node lost"]) == 2, 5)
    await until(lambda: len(a.records(CallEnded)) == 1)
    lost = [e for e in a.abandoned() if e.reason == "node lost"]
    assert {e.call_id for e in lost} == {"call-2", "call-3"}
    await agree(nodes)
    # none stuck: free again after the wrap-up
    await until(lambda: {a.state("a1"), a.state("a2")} == {AgentState.AVAILABLE}, 3)
    ticket = b.service.call_arrived(call(9))
    await until(lambda: not ticket.offers.empty())


async def test_changes_made_while_redis_restarts_are_applied_once(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    a, b, c = nodes
    a.service.agent_event(Login("a1"))
    first = b.service.call_arrived(call(1))
    await until(lambda: not first.offers.empty())
    await agree(nodes)

    redis_server.stop()
    await asyncio.sleep(0.3)
    b.service.fact(Answered("a1", "call-1"))  # told while Redis is down: waits in B's outbox
    c.service.agent_event(Login("a2"))
    redis_server.start()  # empty: the next leader writes its copy as a new generation

    await until(lambda: all(n.state("a1") is AgentState.ON_CALL for n in nodes), timeout_s=8)
    await until(lambda: all(n.state("a2") is AgentState.AVAILABLE for n in nodes), timeout_s=8)
    second = c.service.call_arrived(call(2))
    await until(lambda: not second.offers.empty(), timeout_s=5)
    assert second.offers.get_nowait().agent_id == "a2"
    await agree(nodes)
    for n in nodes:
        assert [e.call_id for e in n.offers()].count("call-1") == 1


async def test_a_record_with_a_wrong_signature_is_not_applied(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    import redis.asyncio as aioredis

    a = nodes[0]
    stranger = aioredis.Redis.from_url(redis_server.url)
    await stranger.xadd(
        "test:acd:log", {"k": "c", "n": "X.1", "q": 1, "e": 0, "d": b"\x00" * 40 + b"junk"}
    )
    await stranger.aclose()
    a.service.agent_event(Login("a1"))
    await until(lambda: all(n.state("a1") is AgentState.AVAILABLE for n in nodes))
    await agree(nodes)
