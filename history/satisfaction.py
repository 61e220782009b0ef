"""Customer satisfaction: the callers' after-call survey scores (1-5) over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from history.inputs import Channel
from history.models import InteractionRow

__all__ = ["CsatSummary", "csat_summary"]


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
