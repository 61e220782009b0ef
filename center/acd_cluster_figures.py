"""What one node of the shared ACD (``center.acd_cluster``) says of itself, for ``/metrics``:
a value read off the node's own state, the same the readiness probe reads
(``AcdCluster.problem``), nothing asked of Redis at the scrape.

The figures that need Redis (the nodes alive, the log's end) are the node's last look, taken
with its heartbeat (every third of ``node_ttl_s``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClusterFigures", "RelayFigures", "log_seconds"]


@dataclass(frozen=True, slots=True)
class RelayFigures:
    """The node's conversation relay (``center.conversation_relay``): notices since it
    started."""

    #: published to the other nodes; heard from them; refused (a wrong signature)
    sent: int
    heard: int
    refused: int
    #: dropped, the oldest first, while Redis could not be reached and the outbox was full
    dropped: int
    #: waiting in the outbox now
    waiting: int


@dataclass(frozen=True, slots=True)
class ClusterFigures:
    node: str
    #: this node leads the shared ACD now (lease held and the log says so)
    leads: bool
    #: the leader's epoch and name as this node's copy has them from the log
    epoch: int
    leader: str | None
    #: joined (a snapshot read) and the log reachable at its last read: readiness
    joined: bool
    reachable: bool
    #: nodes whose heartbeat key was alive at this node's last look (None: not looked yet)
    nodes_alive: int | None
    #: the log's time (its record ids' milliseconds, as seconds) of the last record this
    #: node's copy includes, and of the log's last record at this node's last look
    position_s: float
    end_s: float | None
    #: changes this node's copy applied since it started; records refused: a wrong
    #: signature; records skipped: a field missing or a bad number
    applied: int
    refused: int
    skipped: int
    #: this node's changes waiting to be appended
    waiting: int
    #: snapshots this node wrote (as the leader), the last one's size and time to write
    snapshots: int
    snapshot_bytes: int | None
    snapshot_write_s: float | None
    #: the conversation relay's, when the node carries conversations across nodes
    relay: RelayFigures | None = None

    @property
    def lag_s(self) -> float | None:
        """How far this copy is behind the log's end (in the log's time), at the last look."""
        if self.end_s is None:
            return None
        return max(0.0, self.end_s - self.position_s)


def log_seconds(entry_id: str) -> float:
    """A stream record id's time (``<ms>-<seq>``) as seconds."""
    return int(entry_id.split("-", 1)[0]) / 1000
