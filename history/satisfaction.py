"""Customer satisfaction: the callers' after-call survey scores (1-5) over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from history.inputs import Channel
from history.models import InteractionRow
from history.records import FcrRate

__all__ = ["FCR_WINDOW_DAYS", "CsatSummary", "QualityStore", "csat_summary"]

#: The FCR window the pages and reports use: a resolved contact not followed by another of
#: the same customer within it counts as resolved at first contact.
FCR_WINDOW_DAYS = 7.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CsatSummary:
    """The scores given for contacts that started in [since, until)."""

    since: datetime
    until: datetime
    #: How many contacts were scored (a contact with no score is not a response).
    responses: int
    #: Mean score, None with no response.
    average: float | None


async def csat_summary(
    session: AsyncSession, since: datetime, until: datetime, channel: Channel | None = None
) -> CsatSummary:
    """One aggregate over the interactions' ``started_at`` index (both backends)."""
    query = select(func.count(InteractionRow.csat), func.avg(InteractionRow.csat)).where(
        InteractionRow.started_at >= since,
        InteractionRow.started_at < until,
        InteractionRow.csat.is_not(None),
    )
    if channel is not None:
        query = query.where(InteractionRow.channel == channel.value)
    responses, average = (await session.execute(query)).one()
    return CsatSummary(
        since=since,
        until=until,
        responses=int(responses or 0),
        average=None if not responses else float(average),
    )


class QualityStore(Protocol):
    """The FCR and CSAT queries of ``history.repository.HistoryRepository`` (what the
    supervisor's live quality boxes and the reports read)."""

    async def fcr_by_channel(
        self,
        since: datetime,
        until: datetime,
        *,
        window_days: float = FCR_WINDOW_DAYS,
        now: datetime | None = None,
    ) -> dict[str, FcrRate]: ...

    async def csat(
        self, since: datetime, until: datetime, *, channel: Channel | None = None
    ) -> CsatSummary: ...
