"""Today's pause counts of earlier runs, read back from the event log at start.

An agent's own pause counted against its reason's daily limit is logged as a
``PauseCounted`` (``acd.agent_day``). A restarted service reads today's (local day) back
and folds those of other runs into its ``AgentDay``; this run's own are already folded (it
logged them), so a pause taken while the log is read is counted once. While spooled writes
of an earlier run are still to be replayed the log is behind: the read waits for them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.agent_day import AgentDay
from acd.events import PauseCounted
from acd.logged_events import kind_of, run_of
from history.event_log import events_since

log = logging.getLogger(__name__)

__all__ = ["restore_pause_counts"]

KIND = kind_of(PauseCounted)


async def restore_pause_counts(
    engine: AsyncEngine,
    day: AgentDay,
    today: dt.date,
    run: str,
    *,
    spooling: Callable[[], bool] = lambda: False,
    poll_s: float = 1.0,
) -> int:
    """Fold today's ``PauseCounted`` rows of runs other than ``run`` into ``day``; the
    number folded. Database errors propagate."""
    while spooling():  # noqa: ASYNC110 (the writer has no event for its spool's end)
        await asyncio.sleep(poll_s)
    midnight = dt.datetime.combine(today, dt.time()).astimezone()  # local midnight
    folded = 0
    async for rows in events_since(engine, midnight, kinds=(KIND,)):
        for row in rows:
            reason = row.payload.get("reason")
            if run_of(row.key) == run or row.agent_id is None or not isinstance(reason, str):
                continue
            day.count(row.agent_id, reason, today)
            folded += 1
    return folded
