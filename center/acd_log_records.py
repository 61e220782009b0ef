"""The shared ACD's records and a node's copy of it (``center.acd_cluster``): what the log
holds, what a snapshot carries, the settings, and the clock a copy runs on."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from acd.distributor import CallDistributor

__all__ = ["COMMAND", "LEADER", "SNAPSHOT", "ClusterSettings", "Copy", "LogClock", "NodeLost"]

#: A record's kind in the log: a change, a snapshot of a copy, a leader's announcement.
COMMAND, SNAPSHOT, LEADER = b"c", b"s", b"l"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """``hotline.yaml`` ``cluster:``."""

    redis_url: str
    node_id: str
    #: the cluster's Redis keys start with this
    prefix: str = "hotline:acd"
    #: the leader's lease: a dead leader is replaced within about 4/3 of it
    lease_s: float = 1.0
    #: a node whose heartbeat is this old is lost: its calls leave the ACD
    node_ttl_s: float = 3.0
    #: the leader snapshots its copy every this many changes (and the log keeps two
    #: snapshots' worth)
    snapshot_every: int = 20000


@dataclass(frozen=True, slots=True)
class NodeLost:
    """The leader found ``member``'s heartbeat gone: its calls leave the ACD."""

    member: str


@dataclass(slots=True)
class Copy:
    """A node's copy of the shared ACD: what a snapshot holds."""

    generation: str
    distributor: CallDistributor
    #: call id -> the member whose session holds it
    owners: dict[str, str] = field(default_factory=dict)
    #: member -> the number of its last change applied
    applied: dict[str, int] = field(default_factory=dict)
    epoch: int = 0
    leader: str | None = None
    #: the last log id the state includes ("0-0": none)
    position: str = "0-0"


class LogClock:
    """The ACD's clock on a node of a cluster: while a change is applied, the log's time
    for it (the same on every node); between changes, the wall clock (never behind the
    last change), for views."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._pinned: float | None = None
        self._last = -math.inf

    def __call__(self) -> float:
        if self._pinned is not None:
            return self._pinned
        return max(self._wall(), self._last)

    @contextlib.contextmanager
    def at(self, t: float) -> Iterator[None]:
        t = max(t, self._last)
        self._pinned = self._last = t
        try:
            yield
        finally:
            self._pinned = None
