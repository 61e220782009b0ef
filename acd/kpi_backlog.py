"""The backlog of the running KPIs (``acd.kpi``): the tasks waiting now by queue and channel,
how many and since when the oldest, kept as tasks join and leave in constant time (a heap
per queue and channel, stale entries dropped when they reach its top).

``Backlog`` is one run's (``acd.kpi_aggregate`` folds each run apart); ``EdgeBacklogs``
keeps, for each interval edge, what every run's backlog was just before it (the figure of
a closed interval), taken by each run's first event at or after the edge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from heapq import heapify, heappop, heappush

__all__ = ["Backlog", "EdgeBacklogs", "Key", "Waiting", "combine"]

Key = tuple[str, str]  # (queue, channel)
#: Tasks waiting and the entry time of the oldest of them.
Waiting = tuple[int, float]
#: A heap this much longer than its live entries is rebuilt from them.
_SLACK = 64


class Backlog:
    def __init__(self) -> None:
        self._where: dict[str, tuple[Key, float]] = {}
        self._count: dict[Key, int] = {}
        self._heaps: dict[Key, list[tuple[float, str]]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def join(self, task_id: str, key: Key, entry: float) -> None:
        """``task_id`` waits in ``key`` from now (entered at ``entry``)."""
        self.leave(task_id)
        self._where[task_id] = (key, entry)
        self._count[key] = self._count.get(key, 0) + 1
        heap = self._heaps.setdefault(key, [])
        heappush(heap, (entry, task_id))
        if len(heap) > 2 * self._count[key] + _SLACK:
            live = [(e, t) for t, (k, e) in self._where.items() if k == key]
            heapify(live)
            self._heaps[key] = live

    def leave(self, task_id: str) -> None:
        """It no longer waits (answered, gone, or queued again elsewhere)."""
        found = self._where.pop(task_id, None)
        if found is not None:
            self._count[found[0]] -= 1

    def move(self, task_id: str, key: Key) -> None:
        found = self._where.get(task_id)
        if found is not None and found[0] != key:
            self.join(task_id, key, found[1])

    def now(self) -> dict[Key, Waiting]:
        """Each queue and channel with tasks waiting: how many, and the oldest's entry."""
        out: dict[Key, Waiting] = {}
        for key, count in self._count.items():
            if count:
                out[key] = (count, self._oldest(key))
        return out

    def _oldest(self, key: Key) -> float:
        heap = self._heaps[key]
        while heap:
            entry, task_id = heap[0]
            if self._where.get(task_id) == (key, entry):
                return entry
            heappop(heap)
        return math.inf  # not reached while the count is above 0


class EdgeBacklogs:
    """The backlog just before each interval edge ``(k + 1) * size``, by interval ``k``, all
    runs together."""

    def __init__(self, size: float) -> None:
        self.size = size
        self._at: dict[int, dict[Key, Waiting]] = {}

    def first_edge(self, at: float) -> float:
        """The first edge after a run's first event at ``at``."""
        return (math.floor(at / self.size) + 1) * self.size

    def take(self, backlog: Backlog, edge: float, at: float) -> float:
        """A run's event at ``at`` reached ``edge`` (or later ones): its backlog (unchanged
        since its previous event) was so at each edge up to ``at``. Returns its next edge."""
        figures = backlog.now() if len(backlog) else {}
        while edge <= at:
            k = round(edge / self.size) - 1
            if figures:
                self._at[k] = combine((self._at.get(k, {}), figures))
            edge += self.size
        return edge

    def of(self, k: int) -> Mapping[Key, Waiting]:
        return self._at.get(k, {})

    def forget_before(self, day_start: float) -> None:
        for k in [k for k in self._at if (k + 1) * self.size <= day_start]:
            del self._at[k]


def combine(parts: Iterable[Mapping[Key, Waiting]]) -> dict[Key, Waiting]:
    """Backlogs added up: counts summed, the oldest of the oldest."""
    out: dict[Key, Waiting] = {}
    for part in parts:
        for key, (count, oldest) in part.items():
            had = out.get(key)
            out[key] = (count, oldest) if had is None else (had[0] + count, min(had[1], oldest))
    return out
