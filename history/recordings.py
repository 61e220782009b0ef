"""Call recordings in the history: the reference to the file, the caller's consent, agents'
pauses, retention (``call_recordings``), and the store of the files themselves.

The voice side writes a call's recording as it goes, through the history writer (group
committed, spooled while the store is down): each ``RecordingWrite`` *upserts* the call's
one row by ``(source, call_id)`` and may append one pause/resume mark (by its key, so a
replayed write lands once). A recording belongs to the interaction with the same
``(source, idempotency_key)``: the export and the erasure of a customer reach it through their
interactions, whichever was written first.

The files are Asterisk's (MixMonitor's), in one directory shared with hotline
(``RecordingFiles``): a path from the database is resolved inside that directory before it
is read or deleted, never trusted as it stands. Retention: ``expired`` lists recordings past
their ``expires_at``; their files are deleted, then ``forget`` keeps the row as a tombstone
(no path, ``deleted_reason``) so the history still says a recording existed and when it went.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from history.models import CallRecordingRow, InteractionRow

__all__ = [
    "CallRecording",
    "RecordingFiles",
    "RecordingMark",
    "RecordingWrite",
    "erase_of_customer",
    "expired",
    "forget",
    "of_customer",
    "write",
]

Status = Literal["recording", "recorded", "empty", "not_recorded", "deleted"]
Consent = Literal["not_asked", "given", "opted_out"]
MarkAction = Literal["paused", "resumed"]
#: The most rows one query returns.
MAX_READ = 10_000


def _cut(limit: int) -> Any:
    return Field(min_length=1, max_length=limit)


class RecordingMark(BaseModel):
    """An agent paused or resumed the recording (who, when)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Annotated[str, _cut(64)]
    at: dt.datetime
    action: MarkAction
    agent: Annotated[str, Field(max_length=64)] | None = None
    #: The signed-in user who clicked (their name).
    by: Annotated[str, Field(max_length=64)] | None = None


class RecordingWrite(BaseModel):
    """One change to a call's recording; fields left None are left as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Annotated[str, _cut(32)]
    call_id: Annotated[str, _cut(128)]
    at: dt.datetime
    status: Status | None = None
    consent: Consent | None = None
    path: Annotated[str, Field(max_length=512)] | None = None
    format: Annotated[str, Field(max_length=8)] | None = None
    queue: Annotated[str, Field(max_length=64)] | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    #: Clear the path (the file is gone: ``empty``).
    drop_path: bool = False
    deleted_reason: Annotated[str, Field(max_length=32)] | None = None
    mark: RecordingMark | None = None


@dataclass(frozen=True, slots=True)
class CallRecording:
    id: int
    source: str
    call_id: str
    status: str
    consent: str
    path: str | None
    format: str
    queue: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    expires_at: dt.datetime | None
    marks: tuple[dict[str, Any], ...]
    deleted_at: dt.datetime | None
    deleted_reason: str | None

    @property
    def playable(self) -> bool:
        return self.path is not None and self.status in ("recording", "recorded")

    def as_json(self) -> dict[str, Any]:
        """For an export or a page: the reference, never the audio."""

        def when(value: dt.datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "call_id": self.call_id,
            "status": self.status,
            "consent": self.consent,
            "path": self.path,
            "format": self.format,
            "queue": self.queue,
            "started_at": when(self.started_at),
            "ended_at": when(self.ended_at),
            "expires_at": when(self.expires_at),
            "marks": [dict(m) for m in self.marks],
            "deleted_at": when(self.deleted_at),
            "deleted_reason": self.deleted_reason,
        }


def record(row: CallRecordingRow) -> CallRecording:
    return CallRecording(
        row.id,
        row.source,
        row.call_id,
        row.status,
        row.consent,
        row.path,
        row.format,
        row.queue,
        row.started_at,
        row.ended_at,
        row.expires_at,
        tuple(row.marks or ()),
        row.deleted_at,
        row.deleted_reason,
    )


async def write(session: AsyncSession, change: RecordingWrite) -> CallRecording:
    """Upsert the call's recording with ``change`` (and its mark, once)."""
    row = await session.scalar(
        select(CallRecordingRow).where(
            CallRecordingRow.source == change.source, CallRecordingRow.call_id == change.call_id
        )
    )
    if row is None:
        row = CallRecordingRow(
            source=change.source,
            call_id=change.call_id,
            status="recording",
            consent="not_asked",
            format=change.format or "wav",
            started_at=change.started_at or change.at,
            marks=[],
            updated_at=change.at,
        )
        session.add(row)
    if row.status == "deleted":  # retention or erasure came first: nothing comes back
        return record(row)
    for name in ("status", "consent", "path", "format", "queue", "started_at", "ended_at"):
        value = getattr(change, name)
        if value is not None:
            setattr(row, name, value)
    if change.expires_at is not None:
        row.expires_at = change.expires_at
    if change.drop_path:
        row.path = None
        row.deleted_at = change.at
        row.deleted_reason = change.deleted_reason
    if change.mark is not None and all(m.get("key") != change.mark.key for m in row.marks):
        row.marks = [*row.marks, change.mark.model_dump(mode="json")]
    row.updated_at = change.at
    await session.flush()
    return record(row)


def _of_interactions(customer_id: int) -> Any:
    """The recordings of a customer's interactions (joined on source and call id)."""
    return (
        select(CallRecordingRow)
        .join(
            InteractionRow,
            and_(
                InteractionRow.source == CallRecordingRow.source,
                InteractionRow.idempotency_key == CallRecordingRow.call_id,
            ),
        )
        .where(InteractionRow.customer_id == customer_id)
    )


async def of_customer(session: AsyncSession, customer_id: int) -> list[CallRecording]:
    rows = await session.scalars(
        _of_interactions(customer_id)
        .order_by(CallRecordingRow.started_at, CallRecordingRow.id)
        .limit(MAX_READ)
    )
    return [record(row) for row in rows]


async def of_call(session: AsyncSession, source: str, call_id: str) -> CallRecording | None:
    row = await session.scalar(
        select(CallRecordingRow).where(
            CallRecordingRow.source == source, CallRecordingRow.call_id == call_id
        )
    )
    return None if row is None else record(row)


async def by_id(session: AsyncSession, recording_id: int) -> CallRecording | None:
    row = await session.get(CallRecordingRow, recording_id)
    return None if row is None else record(row)


async def customer_of(session: AsyncSession, recording: CallRecording) -> int | None:
    """The customer whose interaction the recording belongs to (None: anonymous, or not
    written yet)."""
    found = await session.scalar(
        select(InteractionRow.customer_id).where(
            InteractionRow.source == recording.source,
            InteractionRow.idempotency_key == recording.call_id,
        )
    )
    return None if found is None else int(found)


async def erase_of_customer(session: AsyncSession, customer_id: int, now: dt.datetime) -> list[str]:
    """Erasure: the customer's recordings lose their file reference (tombstones kept with
    their times and consent, which identify no one); returns the paths to delete."""
    rows = list(await session.scalars(_of_interactions(customer_id)))
    paths = sorted({row.path for row in rows if row.path is not None})
    for row in rows:
        if row.status != "deleted" or row.path is not None:
            row.path = None
            row.status = "deleted"
            row.deleted_at = now
            row.deleted_reason = "erasure"
            row.updated_at = now
    await session.flush()
    return paths


async def expired(
    session: AsyncSession, now: dt.datetime, limit: int = 1000
) -> list[CallRecording]:
    """Recordings whose retention ended (oldest first), file or not."""
    rows = await session.scalars(
        select(CallRecordingRow)
        .where(
            CallRecordingRow.status.in_(("recording", "recorded", "empty", "not_recorded")),
            CallRecordingRow.expires_at.is_not(None),
            CallRecordingRow.expires_at <= now,
        )
        .order_by(CallRecordingRow.expires_at, CallRecordingRow.id)
        .limit(limit)
    )
    return [record(row) for row in rows]


async def forget(session: AsyncSession, ids: Sequence[int], now: dt.datetime, reason: str) -> int:
    """Tombstone these recordings: no path, status ``deleted``, when and why."""
    if not ids:
        return 0
    result = await session.execute(
        update(CallRecordingRow)
        .where(CallRecordingRow.id.in_(list(ids)))
        .values(path=None, status="deleted", deleted_at=now, deleted_reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class RecordingFiles:
    """The directory MixMonitor writes into, as hotline sees it: paths from the store are
    resolved inside it (symlinks followed) before any read or delete."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def resolve(self, path: str) -> Path | None:
        """The file at ``path`` if it lies inside the directory, else None."""
        if not path or "\x00" in path:
            return None
        root = self.directory.resolve()
        try:
            found = Path(path).resolve()
        except (OSError, RuntimeError):
            return None
        return found if found.is_relative_to(root) and found != root else None

    def open_file(self, path: str) -> Path | None:
        """A regular file inside the directory, or None."""
        found = self.resolve(path)
        return found if found is not None and found.is_file() else None

    async def delete(self, path: str) -> bool:
        """Delete the file (True also when it was already gone); False: outside the
        directory (left alone) or not removable."""
        found = self.resolve(path)
        if found is None:
            return False
        return await asyncio.to_thread(_unlink, found)


def _unlink(path: Path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
