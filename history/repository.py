"""The history store's Python API: what the IVR, the ACD and chat/e-mail modules call.

Every method is one transaction and returns frozen records (``history.records``), never ORM
objects. Identities are normalised on the way in (``history.identities``), so callers pass
what they have. Writes are idempotent where a writer may retry: interactions and notes by
``(source, idempotency_key)``, events by ``key``. Refusals are ``history.errors`` exceptions;
an outage surfaces as SQLAlchemy's errors (``history.writer`` spools around those).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from history import (
    convert,
    customers,
    events,
    interactions,
    interrupted,
    offload,
    privacy,
    queries,
    recordings,
    satisfaction,
    timeline,
    transcripts,
)
from history.attachments import AttachmentStore
from history.batch import BatchWrite, BatchWrites, Written
from history.context import Clock, Context, utc_now
from history.identities import IdentityKind, IdentityNormaliser
from history.inputs import (
    Channel,
    CustomerUpdate,
    IdentityIn,
    InteractionRef,
    InteractionUpdate,
    NewCustomer,
    NewEvent,
    NewInteraction,
    NewNote,
)
from history.recordings import CallRecording, RecordingFiles, RecordingWrite
from history.records import (
    Customer,
    Erasure,
    Event,
    Fcr,
    FcrRate,
    Interaction,
    LastAgent,
    Merge,
    Note,
    TimelinePage,
)
from history.satisfaction import CsatSummary
from history.store import flush_erased, read_page, writing_sessions
from history.transcripts import CallTranscript, TranscriptWrite, TrendDimension, Untranscribed

log = logging.getLogger(__name__)


class HistoryRepository(BatchWrites):
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        identities: IdentityNormaliser | None = None,
        clock: Clock = utc_now,
        attachments: AttachmentStore | None = None,
        recording_files: RecordingFiles | None = None,
    ) -> None:
        self.engine = engine
        #: Where conversations' files are kept (``history.conversations``); erasure deletes
        #: the customer's from it.
        self.attachments = attachments
        #: Where Asterisk writes call recordings (``history.recordings``): erasure and the
        #: retention purge delete files from it.
        self.recording_files = recording_files
        self.context = Context(identities or IdentityNormaliser(), clock)
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    @property
    def identities(self) -> IdentityNormaliser:
        return self.context.identities

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._writes() as session, session.begin():
            yield session

    # customers and identities

    async def find_customer(self, kind: IdentityKind | str, value: str) -> Customer | None:
        """The customer holding this identity (normalised first), or None."""
        async with self._read() as session:
            row = await customers.find(session, self.context, kind, value)
            return None if row is None else convert.customer(row)

    async def get_customer(self, customer_id: int) -> Customer:
        """The customer, or the one it was merged into. ``UnknownCustomer`` if none."""
        async with self._read() as session:
            return convert.customer(await customers.load(session, customer_id))

    async def create_customer(self, new: NewCustomer) -> Customer:
        """``IdentityConflict`` names the customer already holding one of the identities."""
        async with self._write() as session:
            return convert.customer(await customers.create(session, self.context, new))

    async def update_customer(self, customer_id: int, change: CustomerUpdate) -> Customer:
        async with self._write() as session:
            row = await customers.update_fields(session, self.context, customer_id, change)
            return convert.customer(row)

    async def add_identity(self, customer_id: int, identity: IdentityIn) -> Customer:
        """Adding one the customer already holds is a no-op; another's is ``IdentityConflict``."""
        async with self._write() as session:
            row = await customers.add_identity(session, self.context, customer_id, identity)
            return convert.customer(row)

    async def merge_customers(
        self, survivor_id: int, merged_id: int, *, by: str, reason: str
    ) -> Merge:
        """Two records found to be one person: identities, interactions and notes move to
        ``survivor_id``; ``merged_id`` keeps resolving to it; the merge is recorded."""
        async with self._write() as session:
            row = await customers.merge(session, self.context, survivor_id, merged_id, by, reason)
            return convert.merge(row)

    # interactions and notes

    async def append_interaction(self, new: NewInteraction) -> Interaction:
        """A retry with the same ``(source, idempotency_key)`` returns the first one unchanged."""
        async with self._write() as session:
            row, _created = await interactions.append(session, self.context, new)
            return convert.interaction(row)

    async def append_interactions(self, batch: Sequence[NewInteraction]) -> int:
        """Bulk import (one statement); returns how many were new."""
        async with self._write() as session:
            return await interactions.append_many(session, self.context, batch)

    async def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> Interaction:
        async with self._write() as session:
            row = await interactions.update(session, self.context, target, change)
            return convert.interaction(row)

    async def close_interrupted(self, *, source: str, before: datetime) -> list[int]:
        """At start: ``source``'s voice interactions a stopped service left open (started
        before ``before``, no end) become ``failed``, ended at their last known event, with
        a note saying so (``history.interrupted``). Returns their ids."""
        async with self._write() as session:
            return await interrupted.close_interrupted(
                session, self.context, source=source, before=before
            )

    async def get_interaction(self, target: int | InteractionRef) -> Interaction:
        async with self._read() as session:
            return convert.interaction(await interactions.get(session, target))

    async def add_note(self, new: NewNote) -> Note:
        async with self._write() as session:
            return convert.note(await interactions.add_note(session, self.context, new))

    async def customer_notes(self, customer_id: int) -> list[Note]:
        """Notes on the customer rather than on one interaction, newest first."""
        async with self._read() as session:
            rows = await queries.customer_notes(session, customer_id)
            return [convert.note(n) for n in rows]

    # what the next agent needs to know

    async def timeline(
        self,
        customer_id: int,
        *,
        limit: int = 50,
        cursor: str | None = None,
        channels: Collection[Channel] | None = None,
    ) -> TimelinePage:
        """Every channel's interactions with their notes, newest first, ``limit`` per page;
        a conversation with its message count and last message."""

        def read(connection: AsyncConnection) -> Awaitable[TimelinePage]:
            return timeline.page(
                connection, customer_id, limit=limit, cursor=cursor, channels=channels
            )

        lanes = offload.of(self.engine)
        if lanes is None:
            return await read_page(self.engine, read)
        return await lanes.reads.run(read_page(lanes.reads.engine, read))

    async def open_issues(self, customer_id: int, *, limit: int = 50) -> list[Interaction]:
        """Interactions still open or postponed, newest first."""
        async with self._read() as session:
            rows = await queries.open_issues(session, customer_id, limit)
            return [convert.interaction(r) for r in rows]

    async def recent_contacts(
        self, customer_id: int, *, days: float = 7.0, now: datetime | None = None, limit: int = 100
    ) -> list[Interaction]:
        """Contacts on any channel in the last ``days`` (non-empty: a repeat contact)."""
        since = (now or self.context.now()) - timedelta(days=days)
        async with self._read() as session:
            rows = await queries.contacts_since(session, customer_id, since, limit)
            return [convert.interaction(r) for r in rows]

    async def first_contact_resolution(
        self, interaction_id: int, *, window_days: float = 7.0, now: datetime | None = None
    ) -> Fcr:
        async with self._read() as session:
            _row, verdict = await queries.first_contact_resolution(
                session, interaction_id, timedelta(days=window_days), now or self.context.now()
            )
            return verdict

    async def fcr_rate(
        self,
        since: datetime,
        until: datetime,
        *,
        window_days: float = 7.0,
        now: datetime | None = None,
    ) -> FcrRate:
        """FCR over the inbound, identified contacts that started in [since, until)."""
        by_channel = await self.fcr_by_channel(since, until, window_days=window_days, now=now)
        return FcrRate.total(since, until, window_days, by_channel.values())

    async def fcr_by_channel(
        self,
        since: datetime,
        until: datetime,
        *,
        window_days: float = 7.0,
        now: datetime | None = None,
    ) -> dict[str, FcrRate]:
        """FCR over the inbound, identified contacts that started in [since, until), by the
        channel of the contact (the customer's repeat contact may be on any channel)."""
        window = timedelta(days=window_days)
        async with self._read() as session:
            counts = await queries.fcr_counts(
                session, since, until, window, now or self.context.now()
            )
        return {
            channel: FcrRate(
                since=since,
                until=until,
                window_days=window_days,
                contacts=sum(c[v] for v in Fcr if v is not Fcr.UNKNOWN),
                achieved=c[Fcr.ACHIEVED],
                repeated=c[Fcr.REPEATED],
                unresolved=c[Fcr.UNRESOLVED],
                pending=c[Fcr.PENDING],
            )
            for channel, c in sorted(counts.items())
        }

    async def csat(
        self, since: datetime, until: datetime, *, channel: Channel | None = None
    ) -> CsatSummary:
        """Survey scores (1-5) of the contacts that started in [since, until): how many
        were scored, and their mean."""
        async with self._read() as session:
            return await satisfaction.csat_summary(session, since, until, channel)

    async def last_agent(self, customer_id: int) -> LastAgent | None:
        """Who last handled this customer, on any channel."""
        async with self._read() as session:
            row = await queries.last_agent(session, customer_id)
            if row is None:
                return None
            return LastAgent(
                agent=row.agent,
                interaction_id=row.id,
                channel=Channel(row.channel),
                at=row.started_at,
            )

    # the ACD event log

    async def append_event(self, new: NewEvent) -> Event:
        """An event whose ``key`` is already logged is returned, not logged twice."""
        async with self._write() as session:
            return convert.event(await events.append(session, self.context, new))

    async def append_events(self, batch: Sequence[NewEvent]) -> int:
        async with self._write() as session:
            return await events.append_many(session, self.context, batch)

    async def events(
        self,
        *,
        after_seq: int = 0,
        limit: int = 1000,
        call_id: str | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[Event]:
        async with self._read() as session:
            rows = await events.read(
                session, after_seq=after_seq, limit=limit, call_id=call_id, kinds=kinds
            )
            return [convert.event(e) for e in rows]

    # group commit

    async def write_batch(
        self,
        batch: Sequence[BatchWrite],
        *,
        answered: Callable[[], None] | None = None,
    ) -> list[Written]:
        """Several writes in one transaction, in order: all of them or none.

        Each does exactly what its own method does (idempotent appends; refusals raised as
        ``history.errors``, which roll the whole batch back). Appends are inserted in bulk
        (``history.bulk``), a run at a time: a write that needs an appended row inserts the
        run first, and an update of an appended interaction is applied after it, in batch
        order. ``answered()`` is called each time the store has applied a write, a run of
        appends or a chunk of the batch's events: the writer's health check (on a SQLite
        file, from the store's writing thread: ``history.offload``).
        """
        lanes = offload.of(self.engine)
        if lanes is None:
            return await self._write_batch(self._writes, batch, answered)
        return await lanes.writes.run(self._write_batch(lanes.writes.sessions, batch, answered))

    # privacy

    async def export_customer(self, customer_id: int) -> dict[str, Any]:
        """Everything held about the customer as JSON values (the right of access)."""
        async with self._read() as session:
            return await privacy.export(session, self.context, customer_id)

    async def erase_customer(self, customer_id: int, *, by: str, reason: str) -> Erasure:
        """Remove the personal data, keep the KPIs. The result lists the recording refs that
        were dropped (deleting those files is the recording store's job) and the attachment
        files no message refers to any more: deleted here once the erasure is committed
        when the repository has the attachment store, the caller's to delete otherwise."""
        async with self._write() as session:
            erase = await privacy.erase(session, self.context, customer_id, by, reason)
            row, refs, files, call_recordings = erase
        if not await flush_erased(self.engine):
            log.warning(
                "erasure of customer %d: the WAL could not be checkpointed now", customer_id
            )
        if self.attachments is not None:
            for ref in files:
                await self.attachments.delete(ref)
        # Call recordings' files: deleted here when the repository has their directory;
        # any it could not delete is listed with the refs for the caller to delete.
        left = list(call_recordings)
        if self.recording_files is not None:
            left = [p for p in call_recordings if not await self.recording_files.delete(p)]
        return convert.erasure(row, tuple(sorted({*refs, *left})), files)

    # call recordings

    async def call_recordings(self, customer_id: int) -> list[CallRecording]:
        """The recordings of the customer's calls, oldest first."""
        async with self._read() as session:
            return await recordings.of_customer(session, customer_id)

    async def call_recording(self, recording_id: int) -> tuple[CallRecording, int | None] | None:
        """One recording and the customer it belongs to (None: anonymous)."""
        async with self._read() as session:
            found = await recordings.by_id(session, recording_id)
            if found is None:
                return None
            return found, await recordings.customer_of(session, found)

    async def call_recording_of(self, source: str, call_id: str) -> CallRecording | None:
        async with self._read() as session:
            return await recordings.of_call(session, source, call_id)

    async def write_recording(self, change: RecordingWrite) -> CallRecording:
        """One change at once (the voice side writes through ``HistoryWriter``)."""
        async with self._write() as session:
            return await recordings.write(session, change)

    # call transcripts (``history.transcripts``)

    async def write_transcript(self, change: TranscriptWrite) -> CallTranscript | None:
        async with self._write() as session:
            return await transcripts.write(session, change)

    async def untranscribed(self, limit: int = 500) -> list[Untranscribed]:
        async with self._read() as session:
            return await transcripts.pending(session, limit)

    async def search_transcripts(
        self,
        *,
        folded: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[CallTranscript]:
        async with self._read() as session:
            return await transcripts.search(
                session, folded=folded, category=category, since=since, until=until, limit=limit
            )

    async def transcript_trends(
        self,
        by: TrendDimension,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        async with self._read() as session:
            return await transcripts.trends(session, by, since=since, until=until)

    async def purge_recordings(self, *, batch: int = 1000) -> list[CallRecording]:
        """Retention: delete the files of the recordings whose time is up, then keep each
        row as a tombstone (no path). A file that could not be deleted keeps its row for
        the next run. Returns the recordings purged."""
        purged: list[CallRecording] = []
        while True:
            now = self.context.now()
            async with self._read() as session:
                due = await recordings.expired(session, now, limit=batch)
            if not due:
                return purged
            gone = []
            for found in due:
                if found.path is None or (
                    self.recording_files is not None
                    and await self.recording_files.delete(found.path)
                ):
                    gone.append(found)
                else:
                    log.warning("recording %d: file %s not deleted", found.id, found.path)
            async with self._write() as session:
                await recordings.forget(session, [r.id for r in gone], now, "retention")
                await transcripts.forget_recordings(session, [r.id for r in gone])
            purged.extend(gone)
            if len(gone) < len(due) or len(due) < batch:
                return purged
