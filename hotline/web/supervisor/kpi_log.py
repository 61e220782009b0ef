"""The supervisor hub's ``KpiLog``: today's ACD events read back from the history store.

Rows come from ``history.event_log.events_since`` (in ``seq`` order, in batches), only of
the kinds the KPIs fold, and are turned back into wall-clock records by
``acd.logged_events.logged_record``; each is tagged with the run that logged it (its key's
prefix) and its position in the log (the row's ``seq``: where a rebuild cut short by an
outage resumes). A row this version cannot read is skipped and counted.

While the history writer is ``spooling`` the log is behind: writes an earlier run spooled
(the store was down as it stopped) are still to be replayed, and would land after the
rebuild has read past them. ``since`` then raises ``LogBehind``: the hub shows its figures
as stale and tries again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.events import EventRecord
from acd.kpi_aggregate import FOLDED_EVENTS
from acd.logged_events import kind_of, record_of, run_of
from history.event_log import BATCH, events_since

log = logging.getLogger(__name__)

__all__ = ["KPI_KINDS", "EventLogKpis", "LogBehind"]

#: The kinds of event the KPIs fold, as the log names them.
KPI_KINDS = tuple(kind_of(t) for t in FOLDED_EVENTS)


class LogBehind(RuntimeError):
    """Spooled writes are still to reach the event log."""


class EventLogKpis:
    def __init__(
        self,
        engine: AsyncEngine,
        run: str,
        *,
        batch: int = BATCH,
        spooling: Callable[[], bool] = lambda: False,
    ) -> None:
        self._engine = engine
        self.run = run
        self._batch = batch
        self._spooling = spooling
        self.unreadable = 0

    async def since(
        self, start: datetime, *, after: int = 0
    ) -> AsyncIterator[list[tuple[int, str, EventRecord]]]:
        if self._spooling():
            raise LogBehind("writes spooled while the store was down are not replayed yet")
        batches = events_since(
            self._engine, start, kinds=KPI_KINDS, batch=self._batch, after_seq=after
        )
        async for rows in batches:
            out = []
            for row in rows:
                record = record_of(row)
                if record is None:
                    self.unreadable += 1
                    if self.unreadable == 1:
                        log.warning("event %d (%s) not readable by the KPIs", row.seq, row.kind)
                    continue
                out.append((row.seq, run_of(row.key), record))
            yield out
