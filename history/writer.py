"""HistoryWriter: how the voice side writes history without ever waiting on the database.

Each write tries the store for at most ``timeout_s``. If the store is down, locked or slow,
the write goes to the on-disk :class:`~history.spool.Spool` instead and the call carries on;
a background task replays the spool, in order, when the store answers again. While
anything is spooled, later writes queue behind it in the spool too, so an update never
overtakes the append it updates. A write that timed out may still land later: its spooled
copy then finds it by idempotency key, which is why every spooled write carries one.

Refusals (``HistoryError``: bad data, not an outage) are raised to the caller when the store
answered directly; found on replay, they go to the spool's rejected file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import exc

from history.errors import HistoryError
from history.inputs import InteractionRef, InteractionUpdate, NewEvent, NewInteraction, NewNote
from history.masking import mask_text
from history.records import Event, Interaction, Note
from history.repository import HistoryRepository
from history.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)
T = TypeVar("T")

APPEND_INTERACTION = "interaction.append"
UPDATE_INTERACTION = "interaction.update"
ADD_NOTE = "note.add"
APPEND_EVENT = "event.append"

#: PostgreSQL error classes that mean "try again later": connection (08), resources (53),
#: operator intervention (57: shutdown, statement timeout), serialization/deadlock (40).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")


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


class HistoryWriter:
    def __init__(
        self,
        repository: HistoryRepository,
        spool: Spool,
        *,
        timeout_s: float = 0.5,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self.repository = repository
        self.spool = spool
        self.timeout_s = timeout_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._lock = asyncio.Lock()
        self._spooling = False
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._replayer: asyncio.Task[None] | None = None

    @property
    def spooling(self) -> bool:
        """True while writes are going to the spool (the store is unavailable or catching up)."""
        return self._spooling

    async def start(self) -> None:
        """Start the replay task; anything left in the spool by a previous run is replayed."""
        self._spooling = not await asyncio.to_thread(lambda: self.spool.empty)
        if self._spooling:
            log.warning("history spool %s holds writes from a previous run", self.spool.path)
            self._work.set()
        else:
            self._idle.set()
        self._replayer = asyncio.create_task(self._replay_forever(), name="history-spool-replay")

    async def close(self) -> None:
        """Stop replaying; what is still spooled stays on disk for the next start."""
        tasks = [t for t in (self._replayer, *self._in_flight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.spool.close()

    async def drained(self) -> None:
        """Wait until nothing is spooled or in flight."""
        await self._idle.wait()

    async def append_interaction(self, new: NewInteraction) -> Interaction | None:
        """The interaction if the store took it now, None if it was spooled.

        An ``idempotency_key`` is required (the call's uniqueid is the natural one): it is
        what later updates refer to, and what makes a replay safe.
        """
        if new.idempotency_key is None:
            raise ValueError("HistoryWriter needs an idempotency_key on every interaction")
        data = new.model_dump(mode="json")
        return await self._write(APPEND_INTERACTION, data, self._append_interaction)

    async def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> Interaction | None:
        ref = target if isinstance(target, int) else target.model_dump(mode="json")
        data = {"target": ref, "change": change.model_dump(mode="json", exclude_unset=True)}
        return await self._write(UPDATE_INTERACTION, data, self._update_interaction)

    async def add_note(self, new: NewNote) -> Note | None:
        if new.idempotency_key is None:
            new = new.model_copy(update={"idempotency_key": f"note-{uuid4().hex}"})
        return await self._write(ADD_NOTE, new.model_dump(mode="json"), self._add_note)

    async def append_event(self, new: NewEvent) -> Event | None:
        return await self._write(APPEND_EVENT, new.model_dump(mode="json"), self._append_event)

    # applying one write (the same code runs directly and on replay)

    async def _append_interaction(self, data: dict[str, Any]) -> Interaction:
        return await self.repository.append_interaction(NewInteraction.model_validate(data))

    async def _update_interaction(self, data: dict[str, Any]) -> Interaction:
        raw = data["target"]
        target = raw if isinstance(raw, int) else InteractionRef.model_validate(raw)
        change = InteractionUpdate.model_validate(data["change"])
        return await self.repository.update_interaction(target, change)

    async def _add_note(self, data: dict[str, Any]) -> Note:
        return await self.repository.add_note(NewNote.model_validate(data))

    async def _append_event(self, data: dict[str, Any]) -> Event:
        return await self.repository.append_event(NewEvent.model_validate(data))

    def _apply(self, op: str) -> Callable[[dict[str, Any]], Awaitable[object]]:
        appliers: dict[str, Callable[[dict[str, Any]], Awaitable[object]]] = {
            APPEND_INTERACTION: self._append_interaction,
            UPDATE_INTERACTION: self._update_interaction,
            ADD_NOTE: self._add_note,
            APPEND_EVENT: self._append_event,
        }
        if op not in appliers:
            raise HistoryError(f"unknown spool operation {op!r}")
        return appliers[op]

    # the direct path and the fall-back to the spool

    async def _write(
        self,
        op: str,
        data: dict[str, Any],
        apply: Callable[[dict[str, Any]], Coroutine[Any, Any, T]],
    ) -> T | None:
        async with self._lock:
            if self._spooling:
                await self._journal(op, data)
                return None
            attempt = asyncio.create_task(apply(data))
        try:
            return await asyncio.wait_for(asyncio.shield(attempt), self.timeout_s)
        except TimeoutError:
            # Still running: it may land yet. Replay waits for it, then applies the copy.
            self._in_flight.add(attempt)
            attempt.add_done_callback(self._settled)
            reason = f"no answer within {self.timeout_s}s"
        except (OSError, exc.SQLAlchemyError) as error:
            if not is_outage(error):
                raise
            reason = mask_text(f"{type(error).__name__}: {error}".splitlines()[0])
        async with self._lock:
            if not self._spooling:
                log.warning(
                    "history store unavailable (%s): spooling to %s", reason, self.spool.path
                )
            await self._journal(op, data)
        return None

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("a timed-out history write failed too; its spooled copy will be replayed")
        if not self._spooling and not self._in_flight:
            self._idle.set()

    async def _journal(self, op: str, data: dict[str, Any]) -> None:
        await asyncio.to_thread(self.spool.append, op, data)
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
                        if not self._in_flight:
                            self._idle.set()
                        return replayed
                continue
            for entry in entries:
                await self._replay_one(entry)
                replayed += 1

    async def _replay_one(self, entry: SpoolEntry) -> None:
        try:
            await self._apply(entry.op)(entry.data)
        except (HistoryError, ValueError, KeyError, TypeError, exc.DBAPIError) as error:
            if is_outage(error):
                raise
            reason = f"{type(error).__name__}: {error}"
            log.error("history spool entry %s refused on replay: %s", entry.op, mask_text(reason))
            await asyncio.to_thread(self.spool.reject, entry, reason)
            return
        await asyncio.to_thread(self.spool.mark_applied, entry)
