"""Contacts a stopped service left open, closed at its next start.

A crash or ``kill -9`` ends a node's calls with nothing written: their interactions stay
without an end or an outcome. At start, before it takes a call, the node closes its own:
voice interactions of its ``source`` that are still without ``ended_at`` and started before
this start. Each becomes ``failed`` (``history.outcomes``), ended at the last thing known of
it (its last ACD event, else its start), with the ``INTERRUPTED_NOTE`` as a note. Another
module's open contacts (a chat or an e-mail waiting for an answer, another source) are not
touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from history.context import Context
from history.inputs import Channel
from history.models import EventRow, InteractionRow, NoteRow
from history.outcomes import DEFAULT_STATUS, INTERRUPTED_NOTE, Outcome

__all__ = ["NOTE_AUTHOR", "close_interrupted"]

#: Who the note is by.
NOTE_AUTHOR = "hotline"
_CHUNK = 500


async def close_interrupted(
    session: AsyncSession, ctx: Context, *, source: str, before: datetime
) -> list[int]:
    """Close ``source``'s open voice interactions started before ``before``; their ids."""
    found = await session.execute(
        select(InteractionRow)
        .where(
            InteractionRow.source == source,
            InteractionRow.channel == Channel.VOICE.value,
            InteractionRow.ended_at.is_(None),
            InteractionRow.started_at < before,
        )
        .order_by(InteractionRow.id)
    )
    rows = list(found.scalars())
    if not rows:
        return []
    last = await _last_events(session, [r.external_id for r in rows if r.external_id])
    now = ctx.now()
    for row in rows:
        known = last.get(row.external_id or "")
        row.ended_at = row.started_at if known is None else max(known, row.started_at)
        row.outcome = Outcome.FAILED.value
        row.status = DEFAULT_STATUS[Outcome.FAILED]
        row.updated_at = now
        session.add(
            NoteRow(
                customer_id=row.customer_id,
                interaction_id=row.id,
                author=NOTE_AUTHOR,
                body=INTERRUPTED_NOTE,
                source=source,
                idempotency_key=f"interrupted-{row.id}",
                created_at=now,
            )
        )
    await session.flush()
    return [row.id for row in rows]


async def _last_events(session: AsyncSession, call_ids: Sequence[str]) -> dict[str, datetime]:
    last: dict[str, datetime] = {}
    unique = sorted(set(call_ids))
    for start in range(0, len(unique), _CHUNK):
        found = await session.execute(
            select(EventRow.call_id, func.max(EventRow.at))
            .where(EventRow.call_id.in_(unique[start : start + _CHUNK]))
            .group_by(EventRow.call_id)
        )
        for call_id, at in found:
            if call_id is not None and at is not None:
                last[call_id] = at
    return last
