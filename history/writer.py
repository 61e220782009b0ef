"""HistoryWriter: how the voice side writes history without ever waiting on the database.

**Group commit.** Writes queue in the order they are called: a write method queues its
write at once and returns a future of its answer, so writes called in order are applied in
order. One committer task takes everything queued, up to ``max_batch``, and commits it in
one transaction (``HistoryRepository.write_batch``); what arrives meanwhile forms the next
batch. A single write on an idle store is its own batch at once: no collecting delay, and a
batch is never older than the commit before it took.

**Health, not queueing, decides an outage.** The store is judged unavailable when the
batch in flight has had no answer, no write applied and no commit, for ``timeout_s``. A
write that waits in the queue behind a working batch is not a sign of an outage, however
long the queue. Then that batch and everything after it go to the on-disk
:class:`~history.spool.Spool` instead and callers carry on; a background task replays the
spool, in order and in batches, when the store answers again. While anything is spooled,
later writes queue behind it in the spool too, so an update never overtakes the append it
updates. A batch that got no answer may still land later: its spooled copies then find
their rows by idempotency key, which is why every spooled write carries one.

**Refusals** (``HistoryError``, bad data: not an outage) roll their batch back; the batch
is then retried one write at a time, so only the refused write fails: it is raised to its
caller and logged. Found on replay, it goes to the spool's rejected file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import exc

from history.access_log import NewAccess
from history.batch import BatchWrite, InteractionChange, Written
from history.errors import HistoryError
from history.inputs import InteractionRef, InteractionUpdate, NewEvent, NewInteraction, NewNote
from history.masking import mask_text
from history.recordings import RecordingWrite
from history.records import Event, Interaction, Note
from history.repository import HistoryRepository
from history.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

APPEND_INTERACTION = "interaction.append"
UPDATE_INTERACTION = "interaction.update"
ADD_NOTE = "note.add"
APPEND_EVENT = "event.append"
RECORD_ACCESS = "access.record"
WRITE_RECORDING = "recording.write"

#: PostgreSQL error classes that mean "try again later": connection (08), resources (53),
#: operator intervention (57: shutdown, statement timeout), serialization/deadlock (40).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")

#: How many times the writer waits again when its own event loop, not the store, was late.
LOOP_LAG_ROUNDS = 4

#: What a write can fail with: an outage (``is_outage``) or a refusal of that write.
_FAILURES = (HistoryError, ValueError, KeyError, TypeError, OSError, exc.SQLAlchemyError)


def is_outage(error: BaseException) -> bool:
    """True when the store could not take the write now (as opposed to refusing it)."""
    if isinstance(error, (OSError, TimeoutError, exc.TimeoutError, exc.DisconnectionError)):
        return True  # ... and SQLAlchemy's pool timeout (all connections busy) is one too
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated or isinstance(
            error, (exc.OperationalError, exc.InterfaceError)
        ):
            return True
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return isinstance(state, str) and state[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


def decode(op: str, data: dict[str, Any]) -> BatchWrite:
    """A journalled write back as the repository's input (``ValueError`` if malformed)."""
    if op == APPEND_INTERACTION:
        return NewInteraction.model_validate(data)
    if op == UPDATE_INTERACTION:
        raw = data["target"]
        target = raw if isinstance(raw, int) else InteractionRef.model_validate(raw)
        return InteractionChange(target, InteractionUpdate.model_validate(data["change"]))
    if op == ADD_NOTE:
        return NewNote.model_validate(data)
    if op == APPEND_EVENT:
        return NewEvent.model_validate(data)
    if op == RECORD_ACCESS:
        return NewAccess.model_validate(data)
    if op == WRITE_RECORDING:
        return RecordingWrite.model_validate(data)
    raise HistoryError(f"unknown spool operation {op!r}")


def encode(write: BatchWrite) -> dict[str, Any]:
    """A write as JSON values, for the spool (``decode`` undoes it)."""
    if isinstance(write, InteractionChange):
        target = write.target
        ref = target if isinstance(target, int) else target.model_dump(mode="json")
        return {"target": ref, "change": write.change.model_dump(mode="json", exclude_unset=True)}
    return write.model_dump(mode="json")


def describe(op: str, data: dict[str, Any]) -> str:
    """Which write this is, for a log line: the operation and its key."""
    key = data.get("key") or data.get("idempotency_key") or data.get("target")
    key = key or data.get("call_id")
    if isinstance(key, dict):
        key = f"{key.get('source')}/{key.get('idempotency_key')}"
    return f"{op} {key}" if key is not None else op


@dataclass
class _Pending:
    """A write waiting for its batch; ``done`` gets the record, None (spooled) or a refusal.

    It keeps the caller's (validated, frozen) input: the batch takes it as it is, and only
    a write that is spooled or logged is turned into JSON (``data``).
    """

    op: str
    write: BatchWrite
    done: asyncio.Future[Written | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def data(self) -> dict[str, Any]:
        """The write as the spool journals it (``decode`` reads it back)."""
        return encode(self.write)

    def settle(self, result: Written | None) -> None:
        if not self.done.done():  # the caller may have given up (cancelled)
            self.done.set_result(result)

    def refuse(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class _NoAnswer(Exception):
    """The store did not answer within the timeout (the batch may still land)."""


class HistoryWriter:
    def __init__(
        self,
        repository: HistoryRepository,
        spool: Spool,
        *,
        timeout_s: float = 0.5,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        max_batch: int = 500,
    ) -> None:
        self.repository = repository
        self.spool = spool
        #: How long the store may go without answering the batch in flight.
        self.timeout_s = timeout_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.max_batch = max(1, max_batch)
        self._lock = asyncio.Lock()  # the spool's journal vs. replay's "drained" decision
        self._spooling = False
        self._closed = False
        self._queue: deque[_Pending] = deque()
        self._queued = asyncio.Event()
        self._busy = False  # the committer holds a batch
        self._flushed = asyncio.Event()  # nothing queued, no batch held
        self._flushed.set()
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._committer: asyncio.Task[None] | None = None
        self._replayer: asyncio.Task[None] | None = None

    @property
    def spooling(self) -> bool:
        """True while writes are going to the spool (the store is unavailable or catching up)."""
        return self._spooling

    @property
    def backlog(self) -> int:
        """Writes queued for the next batches (not counting the one being committed)."""
        return len(self._queue)

    async def start(self) -> None:
        """Start the replay task; anything left in the spool by a previous run is replayed."""
        self._spooling = not await asyncio.to_thread(lambda: self.spool.empty)
        if self._spooling:
            log.warning("history spool %s holds writes from a previous run", self.spool.path)
            self._idle.clear()
            self._work.set()
        self._replayer = asyncio.create_task(self._replay_forever(), name="history-spool-replay")
        self._start_committer()

    async def close(self) -> None:
        """Commit (or spool) everything queued, then stop replaying; what is still spooled
        stays on disk for the next start."""
        self._closed = True
        await self.flush()
        tasks = [t for t in (self._committer, self._replayer, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.spool.close()

    async def flush(self) -> None:
        """Wait until every write queued so far is committed, spooled or refused."""
        await self._flushed.wait()

    async def drained(self) -> None:
        """Wait until nothing is queued, spooled or in flight."""
        await self._idle.wait()

    async def forget(self, values: Collection[str]) -> int:
        """After an erasure: the spool's rejected writes that name the customer removed."""
        return await asyncio.to_thread(self.spool.forget, values)

    # Each write is queued when it is called and answered by the future it returns (await
    # it, or hand it on: ``center.history_outbox`` reads a batch's answers without a task
    # or a callback per write). Writes called in order are committed in that order.

    def append_interaction(self, new: NewInteraction) -> asyncio.Future[Interaction | None]:
        """The interaction if the store took it now, None if it was spooled.

        An ``idempotency_key`` is required (the call's uniqueid is the natural one): it is
        what later updates refer to, and what makes a replay safe.
        """
        if new.idempotency_key is None:
            raise ValueError("HistoryWriter needs an idempotency_key on every interaction")
        return cast("asyncio.Future[Interaction | None]", self._write(APPEND_INTERACTION, new))

    def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> asyncio.Future[Interaction | None]:
        write = InteractionChange(target, change)
        return cast("asyncio.Future[Interaction | None]", self._write(UPDATE_INTERACTION, write))

    def add_note(self, new: NewNote) -> asyncio.Future[Note | None]:
        if new.idempotency_key is None:
            new = new.model_copy(update={"idempotency_key": f"note-{uuid4().hex}"})
        return cast("asyncio.Future[Note | None]", self._write(ADD_NOTE, new))

    def append_event(self, new: NewEvent) -> asyncio.Future[Event | None]:
        return cast("asyncio.Future[Event | None]", self._write(APPEND_EVENT, new))

    def record_access(self, new: NewAccess) -> None:
        """Queue a record of who read a customer's data (``history.access_log``) and return
        at once: the read it records never waits for the store. It is committed with the
        next batch, or spooled while the store is down; a refusal is logged."""
        self._write(RECORD_ACCESS, new).add_done_callback(_log_refused_access)

    def write_recording(self, change: RecordingWrite) -> asyncio.Future[Written | None]:
        """Queue a change to a call's recording (``history.recordings``) and return at once
        (a call never waits for the store); committed with the next batch, spooled while the
        store is down. The future settles when it is written (or spooled, or refused)."""
        return self._write(WRITE_RECORDING, change)

    # the queue (a write is queued when it is called: that is what keeps callers' order)

    def _write(self, op: str, write: BatchWrite) -> asyncio.Future[Written | None]:
        if self._closed:
            raise RuntimeError("the history writer is closed")
        pending = _Pending(op, write)
        self._queue.append(pending)
        self._idle.clear()
        self._flushed.clear()
        self._queued.set()
        self._start_committer()
        return pending.done

    def _start_committer(self) -> None:
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_forever(), name="history-commit")

    async def _commit_forever(self) -> None:
        while True:
            await self._queued.wait()
            count = min(len(self._queue), self.max_batch)
            batch = [self._queue.popleft() for _ in range(count)]
            if not self._queue:
                self._queued.clear()
            if not batch:
                continue
            self._busy = True
            try:
                await self._settle(batch)
            except Exception as error:  # the committer's boundary: never leave a caller hanging
                log.exception("history writer: a batch of %d writes failed", len(batch))
                for pending in batch:
                    pending.refuse(error)
            finally:
                self._busy = False
                self._check_idle()

    async def _settle(self, batch: list[_Pending]) -> None:
        """Commit the batch, or spool it; a refused write is isolated from the rest."""
        async with self._lock:
            if self._spooling:
                await self._journal(batch)
                return
        try:
            results = await self._attempt(batch)
        except _NoAnswer:
            return await self._spool(batch, f"no answer within {self.timeout_s}s")
        except _FAILURES as error:
            if is_outage(error):
                return await self._spool(batch, _reason(error))
            if len(batch) == 1:
                return self._refused(batch[0], error)
            log.info("history batch of %d refused (%s): retrying one by one", len(batch), error)
            return await self._one_by_one(batch)
        for pending, result in zip(batch, results, strict=True):
            pending.settle(result)

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        for index, pending in enumerate(batch):
            try:
                (result,) = await self._attempt([pending])
            except _NoAnswer:
                return await self._spool(batch[index:], f"no answer within {self.timeout_s}s")
            except _FAILURES as error:
                if is_outage(error):
                    return await self._spool(batch[index:], _reason(error))
                self._refused(pending, error)
                continue
            pending.settle(result)

    def _refused(self, pending: _Pending, error: Exception) -> None:
        log.error(
            "history write refused: %s: %s",
            describe(pending.op, pending.data),
            mask_text(f"{type(error).__name__}: {error}".splitlines()[0]),
        )
        pending.refuse(error)

    async def _attempt(self, batch: list[_Pending]) -> list[Written]:
        """One transaction; ``_NoAnswer`` once the store has been silent for ``timeout_s``.

        Silence is measured from the batch's start or the last write the store applied, so
        a big batch on a slow-but-working store is never mistaken for an outage.
        """
        writes = [p.write for p in batch]
        loop = asyncio.get_running_loop()
        answered = loop.time()

        def progress() -> None:
            nonlocal answered
            answered = loop.time()

        task = asyncio.create_task(self.repository.write_batch(writes, answered=progress))
        try:
            await self._watch(task, lambda: answered)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():
            # Still running: it may land yet. Replay waits for it, then applies the copies.
            self._in_flight.add(task)
            task.add_done_callback(self._settled)
            raise _NoAnswer
        return task.result()

    async def _watch(self, task: asyncio.Task[Any], answered: Callable[[], float]) -> None:
        """Return when the task is done or the store has been silent for ``timeout_s``.

        A busy event loop is not a silent store: an answer that has arrived may still be
        waiting its turn on the loop, so at the deadline the loop runs what is ready first,
        and a deadline the loop itself overslept (by half the timeout or more) is given
        another round, up to ``LOOP_LAG_ROUNDS`` times.
        """
        loop = asyncio.get_running_loop()
        overslept = 0
        wake = loop.time()
        while not task.done():
            due = answered() + self.timeout_s
            if due > loop.time():
                wake = due
                await asyncio.wait({task}, timeout=due - loop.time())
                continue
            late = loop.time() - wake
            for _ in range(3):  # the answer's callback, the task's step, its progress call
                await asyncio.sleep(0)
            if task.done() or answered() + self.timeout_s > loop.time():
                continue
            if late < self.timeout_s / 2 or overslept >= LOOP_LAG_ROUNDS:
                return
            overslept += 1
            wake = loop.time() + self.timeout_s
            await asyncio.wait({task}, timeout=self.timeout_s)

    async def _spool(self, batch: list[_Pending], reason: str) -> None:
        async with self._lock:
            if not self._spooling:
                log.warning(
                    "history store unavailable (%s): spooling to %s", reason, self.spool.path
                )
            await self._journal(batch)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("a timed-out history batch failed too; its spooled copy will be replayed")
        self._check_idle()

    def _check_idle(self) -> None:
        if not (self._queue or self._busy):
            self._flushed.set()
        if not (self._spooling or self._in_flight or self._queue or self._busy):
            self._idle.set()

    async def _journal(self, batch: list[_Pending]) -> None:
        """Journal the batch (one fsync); each caller is told "spooled" (None)."""
        writes = [(p.op, p.data) for p in batch]
        try:
            await asyncio.to_thread(self.spool.append_many, writes)
        except ValueError:  # one oversized write: journal the others, refuse that one
            for pending in batch:
                try:
                    await asyncio.to_thread(self.spool.append, pending.op, pending.data)
                except ValueError as error:
                    self._refused(pending, error)
                else:
                    pending.settle(None)
        else:
            for pending in batch:
                pending.settle(None)
        self._spooling = True
        self._idle.clear()
        self._work.set()

    # replay

    async def _replay_forever(self) -> None:
        delay = self.retry_min_s
        while True:
            await self._work.wait()
            try:
                replayed = await self._replay()
            except Exception as error:
                if is_outage(error):
                    log.debug("history store still unavailable: %s", mask_text(str(error)))
                else:
                    log.exception("history spool replay failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            delay = self.retry_min_s
            log.warning("history store back: %d spooled writes replayed", replayed)

    async def _replay(self) -> int:
        replayed = 0
        while True:
            if self._in_flight:
                await asyncio.wait(set(self._in_flight))
            entries = await asyncio.to_thread(self.spool.pending)
            if not entries:
                async with self._lock:
                    if await asyncio.to_thread(self.spool.reset_if_drained):
                        self._spooling = False
                        self._work.clear()
                        self._check_idle()
                        return replayed
                continue
            for first in range(0, len(entries), self.max_batch):
                chunk = entries[first : first + self.max_batch]
                await self._replay_batch(chunk)
                replayed += len(chunk)

    async def _replay_batch(self, chunk: list[SpoolEntry]) -> None:
        """The chunk in one transaction; if it is refused, entry by entry to set aside the
        refused ones. An outage is raised: replay starts again from the mark later."""
        try:
            writes = [decode(entry.op, entry.data) for entry in chunk]
            await self.repository.write_batch(writes)
        except _FAILURES as error:
            if is_outage(error):
                raise
            for entry in chunk:
                await self._replay_one(entry)
            return
        await asyncio.to_thread(self.spool.mark_applied, chunk[-1])

    async def _replay_one(self, entry: SpoolEntry) -> None:
        try:
            await self.repository.write_batch([decode(entry.op, entry.data)])
        except (HistoryError, ValueError, KeyError, TypeError, exc.DBAPIError) as error:
            if is_outage(error):
                raise
            reason = f"{type(error).__name__}: {error}"
            log.error("history spool entry %s refused on replay: %s", entry.op, mask_text(reason))
            await asyncio.to_thread(self.spool.reject, entry, reason)
            return
        await asyncio.to_thread(self.spool.mark_applied, entry)


def _log_refused_access(done: asyncio.Future[Written | None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("an access record was refused: %s", done.exception())


def _reason(error: BaseException) -> str:
    return mask_text(f"{type(error).__name__}: {error}".splitlines()[0])
