"""The audit log (``audit_log``): who changed what through the admin pages, and how.

One entry per change: a config file written back (with the unified diff of the file), a
recording replaced, a web user added. Entries are only appended, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from history.context import Clock, utc_now
from history.models import AuditRow
from history.store import writing_sessions

__all__ = ["MAX_DIFF_CHARS", "AuditEntry", "AuditLog"]

#: Longer diffs are cut (with a note): a rewritten file says what matters in its first lines.
MAX_DIFF_CHARS = 100_000
_SUMMARY_CHARS = 500  # the column's size
_ACTOR_CHARS = 64
_TARGET_CHARS = 256
_ACTION_CHARS = 32


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    #: What was changed: ``config/queues.yaml``, ``prompts/en/welcome.wav``, ``user:alice``.
    target: str
    action: str
    summary: str
    diff: str | None


class AuditLog:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    async def append(
        self, *, actor: str, target: str, action: str, summary: str, diff: str | None = None
    ) -> AuditEntry:
        if diff is not None and len(diff) > MAX_DIFF_CHARS:
            diff = diff[:MAX_DIFF_CHARS] + "\n... (diff cut)\n"
        row = AuditRow(
            at=self._clock(),
            actor=actor[:_ACTOR_CHARS],
            target=target[:_TARGET_CHARS],
            action=action[:_ACTION_CHARS],
            summary=summary[:_SUMMARY_CHARS],
            diff=diff,
        )
        async with self._writes() as session, session.begin():
            session.add(row)
        return _entry(row)

    async def recent(self, limit: int = 100, *, target: str | None = None) -> list[AuditEntry]:
        """The newest entries first (of one target when given)."""
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        if target is not None:
            query = query.where(AuditRow.target == target)
        async with self._reads() as session:
            rows = await session.execute(query)
            return [_entry(row) for row in rows.scalars()]


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.actor, row.target, row.action, row.summary, row.diff)
