"""A batch of writes in one transaction, in order: all of them or none
(``HistoryRepository.write_batch``, what ``history.writer``'s group commit runs). The
batch's events go first, a statement per chunk; access records in one statement; the
stored rows it updates are read in one query and updated in memory (``history.changes``);
appends gather in a run, inserted in bulk (``history.bulk``) when a write needs them in
place, and an update of one of them waits behind it, in batch order.

A part of ``history.repository.HistoryRepository``, which holds the engine and the sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from history import access_log, bulk, convert, events, interactions, recordings
from history.changes import Changes
from history.inputs import InteractionRef, InteractionUpdate, NewEvent, NewInteraction, NewNote
from history.models import InteractionRow
from history.recordings import CallRecording, RecordingWrite
from history.records import Event, Interaction, Note

if TYPE_CHECKING:
    from history.context import Context

__all__ = ["EVENTS_PER_STATEMENT", "BatchWrite", "BatchWrites", "InteractionChange", "Written"]


@dataclass(frozen=True)
class InteractionChange:
    """``update_interaction``'s arguments, as one write of a batch."""

    target: int | InteractionRef
    change: InteractionUpdate


Ref = tuple[str, str]  # an interaction's (source, idempotency_key)


def _ref_of(new: NewInteraction) -> Ref | None:
    return None if new.idempotency_key is None else (new.source, new.idempotency_key)


@dataclass
class _Run:
    """A batch's appends not inserted yet, and the updates of them that wait behind them.

    Writes on other interactions go ahead of the run: an append changes no existing row.
    Only a write that needs a row of the run, or could see a row the run would return,
    makes the repository insert the run first.
    """

    appends: list[tuple[int, NewInteraction]] = field(default_factory=list)
    changes: list[tuple[int, InteractionChange]] = field(default_factory=list)
    keys: set[Ref] = field(default_factory=set)
    #: The keys ``changes`` update: a repeat of one of those appends must see the update.
    changed: set[Ref] = field(default_factory=set)

    def add(self, index: int, new: NewInteraction) -> None:
        self.appends.append((index, new))
        if (ref := _ref_of(new)) is not None:
            self.keys.add(ref)

    def appended(self, target: int | InteractionRef | None) -> Ref | None:
        """The target's key if an append of the run is its."""
        if not isinstance(target, InteractionRef):
            return None
        ref = (target.source, target.idempotency_key)
        return ref if ref in self.keys else None

    def wait(self, index: int, change: InteractionChange, ref: Ref) -> None:
        self.changes.append((index, change))
        self.changed.add(ref)

    def needed_by(self, write: InteractionChange | NewNote) -> bool:
        """An update by id may be of a row an append of the run returns as it stands; a
        note on an interaction of the run needs it stored."""
        if not self.appends:
            return False
        if isinstance(write, InteractionChange):
            return isinstance(write.target, int)
        return self.appended(write.interaction) is not None

    def clear(self) -> None:
        self.appends.clear()
        self.changes.clear()
        self.keys.clear()
        self.changed.clear()


#: ``write_batch`` inserts a batch's events this many to a statement.
EVENTS_PER_STATEMENT = 100

#: One write of ``HistoryRepository.write_batch`` and what it returns.
BatchWrite = (
    NewInteraction | InteractionChange | NewNote | NewEvent | access_log.NewAccess | RecordingWrite
)
#: What each write gave: its record (an access record gives back what was recorded).
Written = Interaction | Note | Event | access_log.NewAccess | CallRecording


class BatchWrites:
    if TYPE_CHECKING:  # the repository's state these use
        context: Context

    async def _write_batch(
        self,
        sessions: async_sessionmaker[AsyncSession],
        batch: Sequence[BatchWrite],
        answered: Callable[[], None] | None,
    ) -> list[Written]:
        logged: dict[str, Event] = {}
        written: dict[int, Written] = {}
        run = _Run()
        changes = Changes(self.context)
        tick = answered or (lambda: None)
        async with sessions() as session, session.begin():
            news = [w for w in batch if isinstance(w, NewEvent)]
            # The event log's rows first, a statement per chunk: no event depends on the
            # interactions or notes, and none of them on an event.
            for first in range(0, len(news), EVENTS_PER_STATEMENT):
                chunk = news[first : first + EVENTS_PER_STATEMENT]
                logged.update(await self._log_events(session, chunk))
                tick()
            # Access records depend on nothing and nothing on them: one statement.
            reads = [w for w in batch if isinstance(w, access_log.NewAccess)]
            if reads:
                await access_log.append_many(session, self.context.now(), reads)
                tick()
            # The stored rows the batch updates, in one read (its own appends' rows are
            # taken as they are inserted); updates are applied to them in memory.
            appending = {_ref_of(w) for w in batch if isinstance(w, NewInteraction)}
            targets = [
                w.target
                for w in batch
                if isinstance(w, InteractionChange)
                and not (
                    isinstance(w.target, InteractionRef)
                    and (w.target.source, w.target.idempotency_key) in appending
                )
            ]
            if targets:
                await changes.load(session, targets)
                tick()
            # Appends gather in a run, inserted together when something needs them in place;
            # an update of one of them waits for it, behind it, in batch order.
            for index, write in enumerate(batch):
                if isinstance(write, NewEvent):
                    written[index] = logged[write.key]
                elif isinstance(write, access_log.NewAccess):
                    written[index] = write
                elif isinstance(write, NewInteraction):
                    if _ref_of(write) in run.changed:  # a repeat of an append updated since
                        await self._flush(session, run, changes, written, tick)
                    run.add(index, write)
                elif isinstance(write, InteractionChange) and (ref := run.appended(write.target)):
                    run.wait(index, write, ref)
                elif isinstance(write, RecordingWrite):  # depends on no interaction row
                    written[index] = await recordings.write(session, write)
                    tick()
                else:
                    if run.needed_by(write):
                        await self._flush(session, run, changes, written, tick)
                    if isinstance(write, InteractionChange):
                        written[index] = await changes.apply(session, write.target, write.change)
                    else:
                        written[index] = await self._add_note(session, write)
                        tick()
            await self._flush(session, run, changes, written, tick)
            await changes.write_back(session, tick)
        return [written[index] for index in range(len(batch))]

    async def _flush(
        self,
        session: AsyncSession,
        run: _Run,
        changes: Changes,
        written: dict[int, Written],
        tick: Callable[[], None],
    ) -> None:
        """The run's appends in bulk, then the updates that waited for them, in order."""
        if not run.appends:
            return
        rows = await self._append_run(session, [new for _, new in run.appends])
        for (index, _), row in zip(run.appends, rows, strict=True):
            written[index] = changes.know(row)
        tick()
        for index, change in run.changes:
            written[index] = await changes.apply(session, change.target, change.change)
        run.clear()

    async def _append_run(
        self, session: AsyncSession, run: Sequence[NewInteraction]
    ) -> list[InteractionRow | Row[Any]]:
        return await bulk.append_run(session, self.context, run)

    async def _add_note(self, session: AsyncSession, new: NewNote) -> Note:
        return convert.note(await interactions.add_note(session, self.context, new))

    async def _log_events(self, session: AsyncSession, news: list[NewEvent]) -> dict[str, Event]:
        """Events in order, in one insert; those whose key is logged already are skipped
        and read back by key."""
        return await events.append_many_records(session, self.context, news)
