"""Where waiting conversations stand in their queue, as the router would serve them.

One pass over the router's waiting tasks per call, for any number of conversations (the
chat hub asks every few seconds for all its waiting visitors at once): within a queue, a
higher effective priority (base plus aging and service-level risk at its wait) goes first,
then the earlier arrival -- the router's order (``center.ewt.position_in_line``), not the
order of arrival.
"""

from __future__ import annotations

from collections.abc import Collection

from center.service import AcdService

__all__ = ["positions"]


def positions(acd: AcdService, task_ids: Collection[str]) -> dict[str, int]:
    """Task id -> place in its queue (1 = next) for those of ``task_ids`` that wait."""
    if not task_ids:
        return {}
    router = acd.distributor.router
    now = acd.now()
    waiting = list(router.waiting())
    queues = {w.queue for w in waiting if w.call_id in task_ids}
    ranked: dict[str, list[tuple[float, float, str]]] = {q: [] for q in queues}
    for w in waiting:
        line = ranked.get(w.queue)
        if line is None:
            continue
        urgency = router.urgency(w.queue, w.channel)
        effective = urgency.effective(w.priority.total, max(0.0, now - w.entry_time))
        line.append((-effective, w.entry_time, w.call_id))
    found: dict[str, int] = {}
    for line in ranked.values():
        line.sort()
        for place, (_, _, task_id) in enumerate(line, start=1):
            if task_id in task_ids:
                found[task_id] = place
    return found
