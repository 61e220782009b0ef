"""Several nodes, one ACD: every node's copy agrees, each offer is acted on once, by the
node whose session holds the call, and the cluster goes on when a node, the leader or
Redis itself goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from acd.agent_events import AgentState, Answered, HungUp, Login
from acd.calls import CallFacts, IncomingCall
from acd.events import CallEnded
from acd.offer import Offer
from acd.router import RoutingError
from center.service import CallTicket
from tests.center.support import wait_until as until

from .rig import Cable, Node, RedisServer, forge_records

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


def offered(ticket: CallTicket) -> Callable[[], bool]:
    return lambda: not ticket.offers.empty()


def taken(ticket: CallTicket) -> list[Offer]:
    got = []
    while not ticket.offers.empty():
        got.append(ticket.offers.get_nowait())
    return got


async def agree(nodes: list[Node]) -> None:
    """Every node's changes are in the log, every node has applied the same ones and holds
    the same picture."""
    await until(lambda: all(n.cluster.caught_up for n in nodes))
    await until(lambda: len({n.cluster.position for n in nodes}) == 1)
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


async def test_a_new_leader_takes_over_the_timer_and_the_queue_order_is_kept(
    nodes: list[Node],
) -> None:
    leader = next(n for n in nodes if n.cluster.leads)
    rest = [n for n in nodes if n is not leader]
    rest[0].service.agent_event(Login("a1"))
    first = rest[1].service.call_arrived(call(1))
    await until(lambda: not first.offers.empty())
    offer = first.offers.get_nowait()
    rest[1].service.fact(Answered("a1", offer.call_id))
    kinds = {2: "how_to", 3: "complaint", 4: "billing"}
    for i, kind in kinds.items():  # they wait on two nodes, the most urgent last
        rest[i % 2].service.call_arrived(replace(call(i), facts=CallFacts(call_type=kind)))
    await agree(nodes)
    order = ["call-3", "call-4", "call-2"]  # complaint 30, billing 15, how-to 0

    await leader.stop(crash=True)  # its lease and heartbeat expire; nobody says goodbye
    # a new leader within the lease's 4/3 (0.8 s here; bench/cluster_bench.py measures it)
    await until(lambda: any(n.cluster.leads for n in rest), timeout_s=10)
    # the wrap-up's end needs the timer: only a leader ticks it
    rest[1].service.fact(HungUp("a1", offer.call_id))
    seen = [offer.call_id]

    def offered_anew() -> bool:
        view = rest[0].service.distributor.book.view("a1")
        return view.state is AgentState.OFFERED and view.call_id != seen[-1]

    for expected in order:
        await until(offered_anew, 10)
        assert rest[0].service.distributor.book.view("a1").call_id == expected
        holder = rest[int(expected[-1]) % 2]
        holder.service.fact(Answered("a1", expected))
        holder.service.fact(HungUp("a1", expected))
        seen.append(expected)
    nodes.remove(leader)
    await agree(nodes)


async def test_a_new_leader_runs_the_timer_though_nothing_else_changes(
    nodes: list[Node],
) -> None:
    """The wrap-up's end is due when the leader dies; the new one ticks it with no other
    change to wake its timer (the dead leader held no call: none is declared lost)."""
    leader = next(n for n in nodes if n.cluster.leads)
    a, b = [n for n in nodes if n is not leader]
    a.service.agent_event(Login("a1"))
    first = b.service.call_arrived(call(1))
    await until(offered(first))
    b.service.fact(Answered("a1", "call-1"))
    second = b.service.call_arrived(call(2))
    await agree(nodes)

    await leader.stop(crash=True)
    nodes.remove(leader)
    b.service.fact(HungUp("a1", "call-1"))  # applied before a new leader: nobody ticks yet
    await until(lambda: a.state("a1") is AgentState.WRAP_UP)
    await until(lambda: any(n.cluster.leads for n in nodes), timeout_s=10)
    await until(offered(second), timeout_s=10)
    assert second.offers.get_nowait().agent_id == "a1"


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

    assert b.cluster.problem() is None  # ready (hotline's /readyz: shared_acd)
    redis_server.stop()
    await until(lambda: "unreachable" in (b.cluster.problem() or ""))
    b.service.fact(Answered("a1", "call-1"))  # told while Redis is down: waits in B's outbox
    c.service.agent_event(Login("a2"))
    redis_server.start()  # empty: the next leader writes its copy as a new generation

    await until(lambda: all(n.state("a1") is AgentState.ON_CALL for n in nodes), timeout_s=8)
    await until(lambda: all(n.state("a2") is AgentState.AVAILABLE for n in nodes), timeout_s=8)
    second = c.service.call_arrived(call(2))
    await until(lambda: not second.offers.empty(), timeout_s=5)
    assert b.cluster.problem() is None
    assert second.offers.get_nowait().agent_id == "a2"
    await agree(nodes)
    for n in nodes:
        assert [e.call_id for e in n.offers()].count("call-1") == 1


async def test_a_record_with_a_wrong_signature_is_not_applied(
    nodes: list[Node], redis_server: RedisServer
) -> None:
    a = nodes[0]
    await forge_records(redis_server.url)
    a.service.agent_event(Login("a1"))
    await until(lambda: all(n.state("a1") is AgentState.AVAILABLE for n in nodes))
    await agree(nodes)
    assert any(n.cluster.leads for n in nodes)  # the forged leader was not believed


async def test_a_node_cut_off_is_lost_then_queues_its_waiting_callers_again_when_back(
    redis_server: RedisServer,
) -> None:
    cable = Cable(redis_server.port)
    await cable.start()
    settings = {"lease_s": 0.6, "node_ttl_s": 1.0}
    a = Node("A", redis_server, AGENTS, **settings)
    c = Node("C", cable, AGENTS, **settings)  # reaches Redis through a cable the test cuts
    await a.start()
    await c.start()
    try:
        a.service.agent_event(Login("a1"))
        talking = c.service.call_arrived(call(1))
        waiting = c.service.call_arrived(call(2))
        await until(lambda: not talking.offers.empty())
        c.service.fact(Answered("a1", "call-1"))
        await agree([a, c])

        cable.cut()  # C's callers stay on hold on C; the others cannot see C
        await until(lambda: len(a.abandoned()) == 1, timeout_s=5)
        assert a.abandoned()[0].call_id == "call-2"
        assert a.abandoned()[0].reason == "node lost"
        assert a.state("a1") is AgentState.WRAP_UP  # C's connected call ended with C
        c.service.agent_event(Login("a2"))  # told while cut off: waits in C's outbox
        cable.mend()

        # back: C learns it was lost; its waiting caller's session queues the call again,
        # its place (entry time) kept, as after any drop by the ACD (center.gateway)
        await until(lambda: waiting.gone.is_set(), timeout_s=5)
        assert waiting.gone_reason == "node lost"
        c.service.release(waiting)
        again = c.service.call_arrived(replace(call(2), entry_time=waiting.entry_time))
        await until(lambda: not again.offers.empty(), timeout_s=5)
        offered = again.offers.get_nowait().agent_id
        await agree([a, c])
        assert a.state(offered) is AgentState.OFFERED
        assert [e.call_id for e in a.offers()].count("call-2") == 1
    finally:
        await c.stop()
        await a.stop()
        await cable.close()


async def test_a_node_that_starts_late_joins_from_the_newest_snapshot(
    redis_server: RedisServer,
) -> None:
    import redis.asyncio as aioredis

    settings = {"lease_s": 0.6, "node_ttl_s": 1.0, "snapshot_every": 20}
    a = Node("A", redis_server, AGENTS, **settings)
    await a.start()
    late: Node | None = None
    try:
        a.service.agent_event(Login("a1"))
        for i in range(12):  # calls answered and ended: more changes than two snapshots
            ticket = a.service.call_arrived(call(i))
            await until(offered(ticket))
            a.service.fact(Answered("a1", ticket.call_id))
            a.service.fact(HungUp("a1", ticket.call_id))
            a.service.release(ticket)
        a.service.call_arrived(call(99))  # waits: a1 is in wrap-up
        await until(lambda: a.cluster.caught_up)
        r = aioredis.Redis.from_url(redis_server.url)
        await until(lambda: a.cluster.applied > 2 * 20)
        length = await r.xlen("test:acd:log")
        await r.aclose()
        assert length < a.cluster.applied  # the log was trimmed behind the snapshots

        late = Node("L", redis_server, AGENTS, **settings)
        await late.start()
        await agree([a, late])
        assert late.service.distributor.call("call-99") is not None
    finally:
        if late is not None:
            await late.stop()
        await a.stop()


async def test_a_call_the_acd_would_refuse_is_refused_at_once_not_later(
    nodes: list[Node],
) -> None:
    """An unknown queue or a call id already queued: refused before it goes into the log,
    as one node refuses it (the session sends the caller on at once)."""
    a = nodes[0]
    with pytest.raises(RoutingError, match="unknown queue"):
        a.service.call_arrived(call(1, queue="nowhere"))
    a.service.call_arrived(call(2))
    await agree(nodes)
    with pytest.raises(RoutingError, match="already queued"):
        nodes[1].service.call_arrived(call(2))
