"""Transcripts of recorded calls (``call_transcripts``), written after the call by the
post-call worker (``center.transcription``), one per recording.

A transcript belongs to its recording (deleted with it: erasure, retention) and, through
it, to the interaction with the same ``(source, idempotency_key)``: the export, the
erasure, the search and the trends reach it by that join. Search matches ``folded`` (the
text in lower case without diacritics, folded by the caller with the same function that
folded the text) so "CANCEL" and "إلغاء" find "cancel" and "الغاء".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from history.models import CallRecordingRow, CallTranscriptRow, CustomerRow, InteractionRow

__all__ = [
    "CallTranscript",
    "TranscriptWrite",
    "TrendDimension",
    "Untranscribed",
    "erase_of_customer",
    "of_customer",
    "pending",
    "search",
    "trends",
    "write",
]

TrendDimension = Literal["intent", "queue", "agent"]
MAX_READ = 10_000


@dataclass(frozen=True, slots=True)
class TranscriptWrite:
    source: str
    call_id: str
    language: str
    model: str
    text: str
    folded: str
    audio_s: float
    decode_s: float
    spotted: Mapping[str, Sequence[str]]
    sentiment: float
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallTranscript:
    id: int
    recording_id: int
    source: str
    call_id: str
    language: str
    model: str
    text: str
    audio_s: float
    decode_s: float
    spotted: dict[str, list[str]]
    sentiment: float
    created_at: dt.datetime
    #: From the call's interaction (None: not written yet, or anonymous).
    customer_id: int | None = None
    intent: str | None = None
    queue: str | None = None
    agent: str | None = None

    @property
    def real_time_factor(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recording_id": self.recording_id,
            "call_id": self.call_id,
            "language": self.language,
            "model": self.model,
            "text": self.text,
            "audio_s": round(self.audio_s, 2),
            "real_time_factor": round(self.real_time_factor, 3),
            "spotted": self.spotted,
            "sentiment": self.sentiment,
            "created_at": self.created_at.isoformat(),
            "customer_id": self.customer_id,
            "intent": self.intent,
            "queue": self.queue,
            "agent": self.agent,
        }


def _record(row: CallTranscriptRow, interaction: InteractionRow | None = None) -> CallTranscript:
    return CallTranscript(
        row.id,
        row.recording_id,
        row.source,
        row.call_id,
        row.language,
        row.model,
        row.text,
        row.audio_s,
        row.decode_s,
        {k: list(v) for k, v in (row.spotted or {}).items()},
        row.sentiment,
        row.created_at,
        None if interaction is None else interaction.customer_id,
        None if interaction is None else interaction.intent,
        None if interaction is None else interaction.queue,
        None if interaction is None else interaction.agent,
    )


async def write(session: AsyncSession, change: TranscriptWrite) -> CallTranscript | None:
    """Store (or replace) the call's transcript; None when its recording is no longer kept
    (erased or purged while it was being transcribed: the transcript goes with it)."""
    recording = await session.scalar(
        select(CallRecordingRow).where(
            CallRecordingRow.source == change.source, CallRecordingRow.call_id == change.call_id
        )
    )
    if recording is None or recording.status == "deleted" or recording.path is None:
        return None
    row = await session.scalar(
        select(CallTranscriptRow).where(CallTranscriptRow.recording_id == recording.id)
    )
    if row is None:
        row = CallTranscriptRow(recording_id=recording.id, source=change.source)
        session.add(row)
    row.call_id = change.call_id
    row.language = change.language
    row.model = change.model[:64]
    row.text = change.text
    row.folded = change.folded
    row.audio_s = change.audio_s
    row.decode_s = change.decode_s
    row.spotted = {k: list(v) for k, v in sorted(change.spotted.items())}
    row.categories = f" {' '.join(sorted(change.spotted))} "[:512]
    row.sentiment = change.sentiment
    row.created_at = change.at
    await session.flush()
    return _record(row)


@dataclass(frozen=True, slots=True)
class Untranscribed:
    """A kept recording with no transcript yet (the worker's scan at start)."""

    source: str
    call_id: str
    path: str
    queue: str | None
    language: str | None


async def pending(session: AsyncSession, limit: int = 500) -> list[Untranscribed]:
    """Recorded calls with a file and no transcript, oldest first, with the customer's
    language when the interaction knows the customer."""
    found = await session.execute(
        select(CallRecordingRow, CustomerRow.language)
        .outerjoin(CallTranscriptRow, CallTranscriptRow.recording_id == CallRecordingRow.id)
        .outerjoin(
            InteractionRow,
            and_(
                InteractionRow.source == CallRecordingRow.source,
                InteractionRow.idempotency_key == CallRecordingRow.call_id,
            ),
        )
        .outerjoin(CustomerRow, CustomerRow.id == InteractionRow.customer_id)
        .where(
            CallRecordingRow.status == "recorded",
            CallRecordingRow.path.is_not(None),
            CallTranscriptRow.id.is_(None),
        )
        .order_by(CallRecordingRow.started_at, CallRecordingRow.id)
        .limit(limit)
    )
    return [
        Untranscribed(r.source, r.call_id, r.path or "", r.queue, language)
        for r, language in found.all()
    ]


def _with_interactions() -> Any:
    return select(CallTranscriptRow, InteractionRow).outerjoin(
        InteractionRow,
        and_(
            InteractionRow.source == CallTranscriptRow.source,
            InteractionRow.idempotency_key == CallTranscriptRow.call_id,
        ),
    )


async def of_customer(session: AsyncSession, customer_id: int) -> list[CallTranscript]:
    found = await session.execute(
        _with_interactions()
        .where(InteractionRow.customer_id == customer_id)
        .order_by(CallTranscriptRow.created_at, CallTranscriptRow.id)
        .limit(MAX_READ)
    )
    return [_record(t, i) for t, i in found.all()]


async def erase_of_customer(session: AsyncSession, customer_id: int) -> int:
    """Erasure: the transcripts of the customer's calls are deleted outright (the text is
    all they are). Call before the interactions' keys could change."""
    ids = list(
        await session.scalars(
            select(CallTranscriptRow.id).join(
                InteractionRow,
                and_(
                    InteractionRow.source == CallTranscriptRow.source,
                    InteractionRow.idempotency_key == CallTranscriptRow.call_id,
                    InteractionRow.customer_id == customer_id,
                ),
            )
        )
    )
    return await forget(session, ids)


async def forget(session: AsyncSession, ids: Sequence[int]) -> int:
    return await _delete(session, CallTranscriptRow.id, ids)


async def forget_recordings(session: AsyncSession, recording_ids: Sequence[int]) -> int:
    """Retention: the transcripts of recordings purged (the database's cascade does it too
    where foreign keys are enforced; SQLite without the pragma needs this)."""
    return await _delete(session, CallTranscriptRow.recording_id, recording_ids)


async def _delete(session: AsyncSession, column: Any, values: Sequence[int]) -> int:
    if not values:
        return 0
    result = await session.execute(
        delete(CallTranscriptRow)
        .where(column.in_(list(values)))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _like(folded: str) -> str:
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(
    session: AsyncSession,
    *,
    folded: str | None = None,
    category: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[CallTranscript]:
    """Transcripts whose folded text holds ``folded`` (already folded by the caller), with
    ``category`` spotted, written in ``[since, until)``; newest first."""
    query = _with_interactions()
    if folded:
        query = query.where(CallTranscriptRow.folded.like(_like(folded), escape="\\"))
    if category:
        query = query.where(CallTranscriptRow.categories.like(_like(f" {category} "), escape="\\"))
    if since is not None:
        query = query.where(CallTranscriptRow.created_at >= since)
    if until is not None:
        query = query.where(CallTranscriptRow.created_at < until)
    found = await session.execute(
        query.order_by(CallTranscriptRow.created_at.desc(), CallTranscriptRow.id.desc()).limit(
            max(1, min(limit, MAX_READ))
        )
    )
    return [_record(t, i) for t, i in found.all()]


async def trends(
    session: AsyncSession,
    by: TrendDimension,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Per intent, queue or agent: calls transcribed, calls with each category spotted,
    mean sentiment (the newest ``MAX_READ`` transcripts of the period)."""
    column = getattr(InteractionRow, by)
    query = select(column, CallTranscriptRow.spotted, CallTranscriptRow.sentiment).outerjoin(
        InteractionRow,
        and_(
            InteractionRow.source == CallTranscriptRow.source,
            InteractionRow.idempotency_key == CallTranscriptRow.call_id,
        ),
    )
    if since is not None:
        query = query.where(CallTranscriptRow.created_at >= since)
    if until is not None:
        query = query.where(CallTranscriptRow.created_at < until)
    rows = (
        await session.execute(query.order_by(CallTranscriptRow.created_at.desc()).limit(MAX_READ))
    ).all()
    calls: dict[str | None, int] = defaultdict(int)
    total: dict[str | None, float] = defaultdict(float)
    spotted: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, categories, score in rows:
        calls[key] += 1
        total[key] += score
        for category in categories or {}:
            spotted[key][category] += 1
    return [
        {
            by: key,
            "calls": calls[key],
            "mean_sentiment": round(total[key] / calls[key], 3),
            "spotted": dict(sorted(spotted[key].items())),
        }
        for key in sorted(calls, key=lambda k: (k is None, k or ""))
    ]
