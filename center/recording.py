"""Call recording with consent (``center.recording_policy`` decides, this does the I/O).

1. **Consent**, before the caller is queued (``LiveAcd`` calls ``consent`` once per call):
   a recorded call hears the consent announcement; the opt-out key pressed during it (or
   within ``wait_s`` after) means the call is not recorded, and the history says so
   (``call_recordings``: ``not_recorded``, consent ``opted_out``).
2. **Recording on answer**: otherwise the caller's AGI session runs ``MixMonitor <file>,b``
   (``telephony.recording_actions``): Asterisk records the caller's channel only while it
   is bridged, i.e. from the agent's answer, both directions mixed, until the caller hangs
   up (a transferred call's next conversation goes on in the same file). The reference is
   written at once (status ``recording``: a service stopped mid-call leaves no unknown
   file), then ``recorded`` when the call ends; a call no agent ever answered has its
   (empty) file deleted (``empty``); a ``recorded`` call is handed to ``on_recorded``
   (post-call transcription, ``center.transcription``). ``calls`` wraps the FastAGI route
   to see calls end.
3. **Pause / resume** from the agent's desktop (PCI DSS: while a card number is given): AMI
   ``MixMonitorMute`` of both directions on the caller's channel; the file holds silence
   for the paused time. Each is a mark on the recording: who clicked, which agent, when.
4. **Retention**: ``RecordingRetention`` deletes, once a day, the files whose retention
   ended, keeping a tombstone row (``HistoryRepository.purge_recordings``).

The history is written through the history writer (``write_recording``): never waited for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

from sqlalchemy.exc import SQLAlchemyError

from acd.agent_events import AgentState
from acd.contacts import call_of
from acd.events import CallAnswered, EventRecord
from center.call_control import control_refusal
from center.call_controller import CallControlError
from center.recording_policy import (
    RecordingDecision,
    RecordingSettings,
    decide,
    expires_at,
    opted_out,
)
from center.service import AcdService
from center.waiting import PromptResolver, bare_prompt
from history.recordings import (
    CallRecording,
    MarkAction,
    RecordingFiles,
    RecordingMark,
    RecordingWrite,
)
from ivr.flow.handoff import CallAttributes
from telephony.agi_session import AgiCommandError, AgiSession
from telephony.ami_client import AmiClient, AmiError
from telephony.recording_actions import mix_monitor, pause_recording, recording_name

log = logging.getLogger(__name__)

__all__ = [
    "CallRecorder",
    "RecordingHook",
    "RecordingRetention",
    "RecordingState",
    "RecordingWriter",
]

#: Once a day, as the access log's purge.
PURGE_EVERY_S = 24 * 3600.0
NOT_RECORDED = "this call is not being recorded"

AgiHandler = Callable[[AgiSession], Awaitable[None]]


class RecordingWriter(Protocol):
    """``history.writer.HistoryWriter``'s recording side (queued, never waited for)."""

    def write_recording(self, change: RecordingWrite) -> Awaitable[object]: ...


class RecordingHook(Protocol):
    """What the gateway calls before queueing a call (``LiveAcd``)."""

    async def consent(
        self, session: AgiSession, call: CallAttributes, queue: str | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordingState:
    """What the agent's desktop shows of the recording of their call."""

    call_id: str | None
    recording: bool = False
    paused: bool = False


@dataclass
class _Active:
    """A call being recorded, until its AGI session ends."""

    call_id: str
    channel: str  # the caller's: MixMonitor runs on it
    path: str
    decision: RecordingDecision
    language: str | None = None
    answered: bool = False
    paused: bool = False


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallRecorder:
    def __init__(
        self,
        settings: RecordingSettings,
        service: AcdService,
        *,
        writer: RecordingWriter | None = None,
        files: RecordingFiles | None = None,
        resolve_prompt: PromptResolver = bare_prompt,
        source: str = "hotline",
        wall: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._settings = settings
        self._service = service
        self._ami: AmiClient | None = None
        self._writer = writer
        #: Where MixMonitor writes (fixed at start: a new directory needs a restart, so the
        #: files already written stay within reach of retention and erasure).
        self.files = files or RecordingFiles(settings.directory)
        self._resolve = resolve_prompt
        self._source = source
        self._wall = wall
        self._active: dict[str, _Active] = {}
        #: Told of each call recorded whose file is kept (``PostCallTranscriber.recorded``):
        #: ``(source, call_id, path, language)``; must not block.
        self.on_recorded: Callable[[str, str, str, str | None], None] | None = None
        self._writes: set[asyncio.Future[Any]] = set()

    def attach(self, ami: AmiClient) -> None:
        """The AMI link pause and resume go through."""
        self._ami = ami

    @property
    def settings(self) -> RecordingSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: RecordingSettings) -> None:
        """A reload: new calls follow it (mode, consent, retention, rules)."""
        if settings.directory != self._settings.directory:
            log.warning("recording.directory changes at the next restart")
        self._settings = settings

    # 1. consent, and 2. the recording -------------------------------------------------
    async def consent(self, session: AgiSession, call: CallAttributes, queue: str | None) -> None:
        """Ask for consent and start recording, as the policy says for this call. Raises
        ``CallerHangup`` if the caller hangs up meanwhile."""
        decision = decide(self._settings, queue=queue, intent=call.intent, direction=call.direction)
        if not decision.record or call.call_id in self._active:
            return
        consent = "not_asked"
        if decision.prompt is not None:
            consent = "given"
            prompt = self._resolve(decision.prompt, call.language)
            if decision.wait_s > 0:
                heard = await session.get_data(
                    prompt, timeout_ms=round(decision.wait_s * 1000), max_digits=1
                )
                pressed = heard.digits
            else:
                played = await session.stream_file(prompt, decision.opt_out_key or "")
                pressed = played.digit or ""
            if opted_out(decision, pressed):
                log.info("call %s: the caller opted out of recording", call.call_id)
                self._write(
                    call.call_id, decision, queue, status="not_recorded", consent="opted_out"
                )
                return
        name = recording_name(call.call_id, self._settings.format)
        path = str(Path(self.files.directory) / name)
        command = mix_monitor(path)
        try:
            code = await session.exec(command.app, command.data)
        except AgiCommandError as error:  # an answer that is not a result: not recorded
            log.error("call %s: MixMonitor not started: %s", call.call_id, error)
            code = -1
        if code < 0:
            log.error(
                "call %s: MixMonitor refused (%d): the call is not recorded", call.call_id, code
            )
            self._write(call.call_id, decision, queue, status="not_recorded", consent=consent)
            return
        self._active[call.call_id] = _Active(
            call.call_id, session.env.channel, path, decision, call.language
        )
        log.info("call %s: recorded (%s) into %s", call.call_id, decision.rule, path)
        self._write(call.call_id, decision, queue, status="recording", consent=consent, path=path)

    def observe(self, record: EventRecord) -> None:
        """The ACD's events (subscribe this to its sink): an agent answered the call."""
        event = record.event
        if isinstance(event, CallAnswered):
            active = self._active.get(call_of(event.call_id))
            if active is not None:
                active.answered = True

    def calls(self, handler: AgiHandler) -> AgiHandler:
        """``handler`` (the FastAGI route) with each recorded call finished when its
        session ends: ``recorded``, or ``empty`` (file deleted) if no agent answered."""

        async def recorded(session: AgiSession) -> None:
            try:
                await handler(session)
            finally:
                self._finish(session.env.uniqueid)

        return recorded

    def _finish(self, call_id: str) -> None:
        active = self._active.pop(call_id, None)
        if active is None:
            return
        now = self._wall()
        if active.answered:
            self._change(
                RecordingWrite(
                    source=self._source, call_id=call_id, at=now, status="recorded", ended_at=now
                )
            )
            if self.on_recorded is not None:  # post-call transcription: queued, never waited
                self.on_recorded(self._source, call_id, active.path, active.language)
            return
        self._change(
            RecordingWrite(
                source=self._source,
                call_id=call_id,
                at=now,
                status="empty",
                ended_at=now,
                drop_path=True,
                deleted_reason="not_bridged",
            )
        )
        self._track(asyncio.ensure_future(self.files.delete(active.path)))

    # 3. pause and resume --------------------------------------------------------------
    def state(self, agent_id: str) -> RecordingState:
        view = self._service.distributor.book.view(agent_id)
        if view.state is not AgentState.ON_CALL or view.call_id is None:
            return RecordingState(None)
        active = self._active.get(call_of(view.call_id))
        if active is None:
            return RecordingState(view.call_id)
        return RecordingState(view.call_id, recording=True, paused=active.paused)

    async def pause(
        self, agent_id: str, *, paused: bool, by: str | None = None, call_id: str | None = None
    ) -> RecordingState:
        """Pause (or resume) the recording of the agent's own call; ``by``: the user who
        asked (kept on the mark). Raises ``CallControlError``."""
        view = self._service.distributor.book.view(agent_id)
        refusal = control_refusal(view, call_id)
        if refusal is not None:
            raise CallControlError(refusal)
        assert view.call_id is not None
        active = self._active.get(call_of(view.call_id))
        if active is None:
            raise CallControlError(NOT_RECORDED)
        if active.paused != paused:
            if self._ami is None:
                raise CallControlError("no AMI link to Asterisk", refused=False)
            action = pause_recording(active.channel, paused=paused)
            try:
                await self._ami.action(action.name, timeout_s=None, **action.as_kwargs())
            except AmiError as error:
                raise CallControlError(f"Asterisk refused: {error}", refused=False) from error
            active.paused = paused
            now = self._wall()
            what: MarkAction = "paused" if paused else "resumed"
            mark = RecordingMark(key=uuid4().hex, at=now, action=what, agent=agent_id, by=by)
            self._change(
                RecordingWrite(source=self._source, call_id=active.call_id, at=now, mark=mark)
            )
            log.info("call %s: recording %s by agent %s (%s)", active.call_id, what, agent_id, by)
        return self.state(agent_id)

    # history writes -------------------------------------------------------------------
    def _write(
        self,
        call_id: str,
        decision: RecordingDecision,
        queue: str | None,
        *,
        status: str,
        consent: str,
        path: str | None = None,
    ) -> None:
        now = self._wall()
        self._change(
            RecordingWrite.model_validate(
                {
                    "source": self._source,
                    "call_id": call_id,
                    "at": now,
                    "status": status,
                    "consent": consent,
                    "path": path,
                    "format": self._settings.format,
                    "queue": queue,
                    "started_at": now,
                    "expires_at": expires_at(now, decision.retention_days),
                }
            )
        )

    def _change(self, change: RecordingWrite) -> None:
        if self._writer is None:
            return
        written = asyncio.ensure_future(self._writer.write_recording(change))
        written.add_done_callback(_log_refused)
        self._track(written)

    def _track(self, future: asyncio.Future[Any]) -> None:
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for the writes and deletions started so far."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    async def close(self) -> None:
        await self.flush()


def _log_refused(future: asyncio.Future[object]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error("recording not written to the history: %s", error)


class RecordingStore(Protocol):
    """``history.repository.HistoryRepository``'s purge."""

    async def purge_recordings(self, *, batch: int = 1000) -> list[CallRecording]: ...


class RecordingRetention:
    """The daily purge of recordings whose retention ended (file, then reference)."""

    def __init__(self, store: RecordingStore, *, every_s: float = PURGE_EVERY_S) -> None:
        self._store = store
        self._every_s = every_s

    async def purge(self) -> int:
        purged = await self._store.purge_recordings()
        if purged:
            log.info(
                "recordings: %d past their retention deleted (calls %s)",
                len(purged),
                ", ".join(r.call_id for r in purged[:20]) + (" ..." if len(purged) > 20 else ""),
            )
        return len(purged)

    async def run(self) -> None:
        """Purge now, then every ``every_s`` (until cancelled)."""
        while True:
            try:
                await self.purge()
            except (OSError, SQLAlchemyError) as error:
                log.warning("recordings purge failed (%s); trying again later", error)
            await asyncio.sleep(self._every_s)
