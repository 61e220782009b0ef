"""First-contact resolution and satisfaction for the supervisor page, read off the ACD's path.

The figures live in the history store (``HistoryRepository.fcr_by_channel`` and ``.csat``), so
they are fetched by the hub's own task every ``every_s`` seconds, never per snapshot and never
by the ACD. FCR is given overall and by the channel of the first contact (a repeat on any
channel undoes it): one query for both. When the store is down or slow the last figures are
kept, marked ``stale``, and the page goes on; the next good fetch clears the flag.

Periods are wall-clock: *today* from local midnight, and the *last interval*, the latest
complete ``interval_s`` slot (15 minutes), the same slots as the interval charts.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from history.records import FcrRate
from history.satisfaction import FCR_WINDOW_DAYS, CsatSummary, QualityStore

log = logging.getLogger(__name__)

__all__ = ["ContactQuality", "day_start", "fcr_figures", "last_interval"]


def day_start(now: datetime) -> datetime:
    """Local midnight of ``now``'s day (``now`` carries its time zone)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def last_interval(now: datetime, interval_s: float) -> tuple[datetime, datetime]:
    """The latest complete interval before ``now``, on edges aligned to the epoch."""
    edge = math.floor(now.timestamp() / interval_s) * interval_s
    end = datetime.fromtimestamp(edge, now.tzinfo)
    return end - timedelta(seconds=interval_s), end


def fcr_figures(fcr: FcrRate) -> dict[str, Any]:
    """What the page and /metrics show of an FCR rate."""
    return {
        "fcr": fcr.rate,
        # resolved and not (yet) followed by another contact, over all contacts
        "fcr_so_far": (fcr.achieved + fcr.pending) / fcr.contacts if fcr.contacts else None,
        "fcr_contacts": fcr.contacts,
        "fcr_pending": fcr.pending,
    }


@dataclass(frozen=True, slots=True)
class _Period:
    fcr: FcrRate
    by_channel: dict[str, FcrRate]
    csat: CsatSummary

    def as_dict(self) -> dict[str, Any]:
        fcr, csat = self.fcr, self.csat
        return {
            "since": fcr.since.isoformat(),
            "until": fcr.until.isoformat(),
            **fcr_figures(fcr),
            "fcr_by_channel": {ch: fcr_figures(r) for ch, r in self.by_channel.items()},
            "csat": csat.average,
            "csat_responses": csat.responses,
        }


class ContactQuality:
    def __init__(
        self,
        store: QualityStore,
        *,
        wall: Callable[[], datetime] | None = None,
        every_s: float = 15.0,
        interval_s: float = 900.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._store = store
        self._wall = wall or (lambda: datetime.now().astimezone())
        self.every_s = every_s
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._today: _Period | None = None
        self._last: _Period | None = None
        self._as_of: datetime | None = None
        self.stale = False

    def figures(self) -> dict[str, Any]:
        """What the snapshot carries: the last fetched figures and whether they are stale."""
        return {
            "today": None if self._today is None else self._today.as_dict(),
            "last_interval": None if self._last is None else self._last.as_dict(),
            "as_of": None if self._as_of is None else self._as_of.isoformat(),
            "stale": self.stale,
        }

    async def refresh(self) -> bool:
        """One fetch; False (and the last figures kept, marked stale) when it failed."""
        now = self._wall()
        midnight = day_start(now)
        lo, hi = last_interval(now, self._interval_s)
        try:
            async with asyncio.timeout(self._timeout_s):
                today = await self._period(midnight, now, now)
                last = await self._period(lo, hi, now)
        except Exception as error:  # noqa: BLE001 (any store failure: keep the page going)
            if not self.stale:
                log.warning("supervisor page: FCR/CSAT not refreshed (%s); showing the last", error)
            self.stale = True
            return False
        self._today, self._last, self._as_of, self.stale = today, last, now, False
        return True

    async def run(self) -> None:
        """Refresh every ``every_s`` until cancelled (the hub owns the task)."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.every_s)

    async def _period(self, since: datetime, until: datetime, now: datetime) -> _Period:
        by_channel = await self._store.fcr_by_channel(
            since, until, window_days=FCR_WINDOW_DAYS, now=now
        )
        fcr = FcrRate.total(since, until, FCR_WINDOW_DAYS, by_channel.values())
        return _Period(fcr, by_channel, await self._store.csat(since, until))
