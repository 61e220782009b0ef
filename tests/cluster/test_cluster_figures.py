"""A shared ACD node's figures (``AcdCluster.figures``, on ``/metrics``) against what the
cluster did: one leader and the same epoch on every node, the nodes alive, every copy at the
log's end with the same changes applied, forged and malformed records counted, the leader's
snapshots with their size and time; and ``/metrics`` says the same numbers."""

from __future__ import annotations

from acd.agent_events import Answered, HungUp, Login
from acd.calls import IncomingCall
from hotline.web.metrics import render
from hotline.web.supervisor.hub import SupervisorHub
from tests.center.support import wait_until as until

from .rig import Node, RedisServer, forge_records

AGENTS = ("a1", "a2", "a3")
EVERY = 20


def position(node: Node) -> float:
    return int(node.cluster.position.split("-")[0]) / 1000


def metric(text: str, name: str) -> float:
    [value] = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(value)


async def test_each_nodes_figures_say_what_the_cluster_did(redis_server: RedisServer) -> None:
    settings = {"lease_s": 0.6, "node_ttl_s": 1.0, "snapshot_every": EVERY}
    nodes = [Node(n, redis_server, AGENTS, **settings) for n in "ABC"]
    for node in nodes:
        await node.start()
    try:
        a = nodes[0]
        await forge_records(redis_server.url)
        a.service.agent_event(Login("a1"))
        for i in range(8):  # more changes than a snapshot's worth
            ticket = a.service.call_arrived(IncomingCall(f"call-{i}", "support", line=f"L/{i}"))
            await until(lambda t=ticket: not t.offers.empty())  # type: ignore[misc]
            a.service.fact(Answered("a1", ticket.call_id))
            a.service.fact(HungUp("a1", ticket.call_id))
            a.service.release(ticket)
        await until(lambda: all(n.cluster.caught_up for n in nodes))
        await until(lambda: len({n.cluster.position for n in nodes}) == 1)
        # each copy at the log's end as its heartbeat last saw it
        await until(lambda: all(n.cluster.figures().end_s == position(n) for n in nodes))
        await until(lambda: all(n.cluster.figures().nodes_alive == 3 for n in nodes))

        figures = {n.name: n.cluster.figures() for n in nodes}
        [leader] = [n for n in nodes if figures[n.name].leads]
        for node in nodes:
            f = figures[node.name]
            assert f.node == node.cluster.member
            assert (f.leader, f.epoch) == (leader.cluster.member, figures[leader.name].epoch)
            assert (f.joined, f.reachable) == (True, True)
            assert node.cluster.problem() is None  # readiness says the same
            assert (f.refused, f.skipped) == (2, 1)
            assert f.applied == a.cluster.applied > EVERY
            assert f.lag_s == 0.0
            assert f.waiting == 0
            if node is not leader:
                assert (f.snapshots, f.snapshot_bytes, f.snapshot_write_s) == (0, None, None)
        lead = figures[leader.name]
        assert lead.snapshots >= 2  # the log's first record, then one every EVERY changes
        assert lead.snapshot_bytes is not None
        assert lead.snapshot_bytes > 0
        assert lead.snapshot_write_s is not None
        assert lead.snapshot_write_s > 0

        # /metrics: the same numbers
        hub = SupervisorHub(leader.service, leader.sink.subscribe)
        await hub.start()
        try:
            text = render(hub, leader.cluster.figures())
        finally:
            await hub.close()
        assert metric(text, "hotline_cluster_leader") == 1
        assert metric(text, "hotline_cluster_leader_epoch") == lead.epoch
        assert metric(text, "hotline_cluster_nodes_alive") == 3
        assert metric(text, "hotline_cluster_changes_applied_total") == lead.applied
        assert metric(text, "hotline_cluster_records_refused_total") == 2
        assert metric(text, "hotline_cluster_records_skipped_total") == 1
        assert metric(text, "hotline_cluster_log_lag_seconds") == 0
        assert metric(text, "hotline_cluster_log_position_seconds") == lead.position_s
        assert metric(text, "hotline_cluster_snapshots_written_total") == lead.snapshots
        assert metric(text, "hotline_cluster_snapshot_bytes") == lead.snapshot_bytes
        info = f'hotline_cluster_node_info{{node="{lead.node}",leader="{lead.node}"}} 1'
        assert info in text.splitlines()

        # a node that leaves: the others count one node fewer
        gone = nodes.pop()
        await gone.stop()
        await until(lambda: all(n.cluster.figures().nodes_alive == 2 for n in nodes))
        assert gone.cluster.figures().nodes_alive == 3  # its last look, kept
    finally:
        for node in nodes:
            await node.stop()
