"""Voicemails as tasks of the one ACD: a caller's recording becomes work an agent is given.

A caller leaves a voicemail two ways: the IVR's ``voicemail`` step (the flow ends
``voicemail``, the file's path in the call's ``voicemail`` attribute) and a queue's overflow
to voicemail (``center.gateway``: the call's interaction ends ``voicemail`` with the
recording's path). Both reach the place where the call's interaction is recorded:
``VoicemailRecorder`` wraps the service's ``HistoryInteractions`` there (the gateway's
``InteractionRecorder`` and the IVR's report sink) and, once the call's ending is written,
hands the voicemail to ``VoicemailTasks``, which in the background (``WorkIntake``):

1. reads the WAV (only a ``.wav`` file under a configured voicemail directory, within the
   attachment cap of ``messages`` in ``hotline.yaml``) and its length from its header;
2. opens a conversation on the ``voicemail`` channel for the caller (the customer the IVR
   found, else the caller ID's holder, else a new customer for a withheld number) with the
   call's queue, intent and call type, the call's id as its external id (the link between
   the call and its voicemail, both ways in the history) and ``voicemail-<call>`` as its
   idempotency key;
3. hands the conversation desk the caller's message, "Voicemail, 23.4 s" and which call,
   queue and intent it came from, with the recording attached (``audio/wav``, copied into
   the attachment store by its hash): kept, then routed in the call's queue (a work channel
   of the desk: no written reply, the queue kept);
4. points the call's ``recording_ref`` at the attachment (written after the call's ending,
   in order) and deletes the WAV from the voicemail directory: the history's copy is the one
   export and erasure cover.

A recording that cannot be copied (missing, outside the directories, over the cap) still
makes the task: the message says so and names the file, which is kept, as is the call's
reference to it. A recording under ``MIN_SECONDS`` is no message (the caller hung up at the
beep): no task; the file is deleted and the call's reference cleared. A store that is down
is tried again with back-off; the WAV stays until its copy is stored, and the call's
interaction names it meanwhile (a stop before then leaves the file and that reference, and
no task: nothing replays it yet). A failure after the message is kept but before its task
is queued leaves the conversation open: the next start queues it (``resume``).

No transcript: the IVR's speech service is built for callers' short turns (a few seconds,
a time limit of ``speech.timeout_s``, admission control that sends callers to DTMF when
busy); a two-minute voicemail would take its workers from live callers, and usually time
out. Transcribing voicemails needs a pool of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import wave
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from center.call_interactions import InteractionRecorder
from center.conversations import ConversationDesk
from center.work_intake import Owner, WorkIntake
from history.attachments import AttachmentData
from history.conversations import Conversations
from history.identities import IdentityNormaliser
from history.inputs import Channel, IdentityIn, NewConversation
from history.outcomes import Outcome
from ivr.flow.handoff import CallAttributes
from ivr.flow.state import CallReport, WellKnown

log = logging.getLogger(__name__)

__all__ = [
    "MIN_SECONDS",
    "VOICEMAIL_SOURCE",
    "LeftVoicemail",
    "VoicemailRecorder",
    "VoicemailTasks",
    "voicemail_text",
]

#: The interaction source of voicemail conversations.
VOICEMAIL_SOURCE = "voicemail"
#: A recording shorter than this is no message.
MIN_SECONDS = 1.0
CONTENT_TYPE = "audio/wav"
_SUFFIX = ".wav"


@dataclass(frozen=True, slots=True)
class LeftVoicemail:
    """A voicemail a caller left: which call, whose, where it would have waited, the file
    (as Asterisk wrote it)."""

    call_id: str
    path: str
    caller_number: str | None = None
    customer_id: str | None = None
    queue: str | None = None
    intent: str | None = None
    call_type: str | None = None
    left_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def of_call(cls, call: CallAttributes, queue: str | None, path: str) -> LeftVoicemail:
        """A queued call a queue's rule sent to voicemail (``center.gateway``)."""
        return cls(
            call.call_id,
            path,
            call.caller_number,
            call.customer_id,
            queue or call.queue,
            call.intent,
            call.call_type,
        )

    @classmethod
    def of_report(cls, report: CallReport, path: str) -> LeftVoicemail:
        """A call the IVR's ``voicemail`` step recorded."""
        found: Mapping[str, str] = report.attributes
        return cls(
            report.call_id,
            path,
            report.caller_number,
            found.get(WellKnown.CUSTOMER_ID) or None,
            found.get(WellKnown.QUEUE) or None,
            found.get(WellKnown.INTENT) or None,
            found.get(WellKnown.CALL_TYPE) or None,
        )


def voicemail_text(left: LeftVoicemail, seconds: float | None, *, kept: str | None) -> str:
    """The message an agent reads beside the recording: how long, from which call, where
    it waited, from whom; ``kept`` None: the recording is attached, else why not."""
    lines = [f"Voicemail, {seconds:.1f} s" if seconds is not None else "Voicemail"]
    where = f"Left on call {left.call_id}"
    if left.queue:
        where += f" in queue {left.queue}"
    if left.intent:
        where += f", intent {left.intent}"
    lines.append(where + ".")
    lines.append(
        f"Caller ID: {left.caller_number}." if left.caller_number else "Caller ID withheld."
    )
    if kept is not None:
        lines.append(f"The recording is not attached ({kept}): {left.path}")
    return "\n".join(lines)


class RecordingUnavailable(Exception):
    """The recording cannot be copied (the reason is the message)."""


class VoicemailTasks:
    def __init__(
        self,
        desk: ConversationDesk,
        conversations: Conversations,
        *,
        directories: Callable[[], Collection[str]],
        intake: WorkIntake | None = None,
        identities: IdentityNormaliser | None = None,
        recording_moved: Callable[[str, str | None], None] | None = None,
    ) -> None:
        """``directories``: where voicemails may be read from (``waiting.yaml``'s
        ``voicemail_dir`` and the IVR's voicemail steps', as hotline sees them: the current
        config's); ``recording_moved``: tells the call's interaction where its recording is
        (``HistoryInteractions.recording_moved``)."""
        self._desk = desk
        self._store = conversations
        self._directories = directories
        self.intake = intake or WorkIntake(conversations)
        self._identities = identities or conversations.repository.identities
        self._moved = recording_moved or (lambda call_id, ref: None)
        desk.register_work_channel(Channel.VOICEMAIL.value)

    def left(self, voicemail: LeftVoicemail) -> None:
        """A caller left ``voicemail``: made a task in the background (never raises)."""
        owner = Owner()  # kept across tries: a withheld number's customer is made once
        self.intake.submit(
            f"voicemail of call {voicemail.call_id}", lambda: self._take(voicemail, owner)
        )

    async def _take(self, left: LeftVoicemail, owner: Owner) -> None:
        limit = self._store.limits.max_attachment_bytes
        data: bytes | None = None
        kept: str | None = None
        try:
            data = await asyncio.to_thread(_read, left.path, self._allowed(), limit)
        except RecordingUnavailable as why:
            kept = str(why)
            log.warning("voicemail of call %s not copied: %s", left.call_id, kept)
        seconds = _seconds(data) if data is not None else None
        if seconds is not None and seconds < MIN_SECONDS:
            log.info("call %s left %.1f s of voicemail: no message", left.call_id, seconds)
            await _delete(left.path)
            self._moved(left.call_id, None)
            return
        await self._hand_over(left, owner, data, seconds, kept)
        if data is not None:
            await _delete(left.path)

    async def _hand_over(
        self,
        left: LeftVoicemail,
        owner: Owner,
        data: bytes | None,
        seconds: float | None,
        kept: str | None,
    ) -> None:
        found = self._identities.caller_identity(left.caller_number)
        identity = None if found is None else IdentityIn(kind=found[0], value=found[1])
        owner = await self.intake.owner(owner, left.customer_id, identity)
        opened = await self._store.open_conversation(
            NewConversation(
                channel=Channel.VOICEMAIL,
                customer_id=owner.customer_id,
                identity=owner.identity,
                started_at=left.left_at,
                intent=left.intent,
                call_type=left.call_type,
                queue=left.queue,
                reuse=False,
                source=VOICEMAIL_SOURCE,
                external_id=left.call_id[:128],
                idempotency_key=f"voicemail-{left.call_id}"[:128],
            )
        )
        files: tuple[AttachmentData, ...] = ()
        if data is not None:
            files = (AttachmentData(_file_name(left.call_id), CONTENT_TYPE, data),)
        message = await self._desk.customer_wrote(
            Channel.VOICEMAIL.value,
            voicemail_text(left, seconds, kept=kept),
            conversation_id=opened.conversation.id,
            author_name=left.caller_number,
            external_id=f"voicemail-{left.call_id}"[:255],
            attachments=files,
        )
        log.info("voicemail of call %s is conversation %s", left.call_id, opened.conversation.id)
        if message.attachments:
            self._moved(left.call_id, message.attachments[0].storage_ref)

    def _allowed(self) -> list[Path]:
        return [Path(d) for d in self._directories() if d]


class CallRecords(InteractionRecorder, Protocol):
    """What ``VoicemailRecorder`` wraps: ``center.call_interactions.HistoryInteractions``, the
    gateway's recorder and the IVR's report sink."""

    def ivr_ended(self, report: CallReport) -> None: ...


class VoicemailRecorder:
    """The gateway's ``InteractionRecorder`` and the IVR's report sink: every call is
    recorded by ``inner``; a voicemail is then handed to ``tasks`` (after its ending is
    written, so the recording's new reference follows it)."""

    def __init__(self, inner: CallRecords, tasks: VoicemailTasks) -> None:
        self._inner = inner
        self._tasks = tasks
        #: queued calls (until they end): what the IVR found, and the queue they are in
        self._calls: dict[str, tuple[CallAttributes, str | None]] = {}

    def queued(self, call: CallAttributes, queue: str | None) -> None:
        self._calls[call.call_id] = (call, queue)
        self._inner.queued(call, queue)

    def moved(self, call_id: str, queue: str) -> None:
        if (held := self._calls.get(call_id)) is not None:
            self._calls[call_id] = (held[0], queue)
        self._inner.moved(call_id, queue)

    def transferred(self, call_id: str, *, segment: str, by_agent: str, target: str) -> None:
        self._inner.transferred(call_id, segment=segment, by_agent=by_agent, target=target)

    def answered(self, call_id: str, *, agent_id: str, wait_s: float) -> None:
        self._inner.answered(call_id, agent_id=agent_id, wait_s=wait_s)

    def rated(self, call_id: str, csat: int) -> None:
        self._inner.rated(call_id, csat)

    def ended(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        wait_s: float | None = None,
        priority: float | None = None,
        talk_s: float | None = None,
        recording: str | None = None,
        talk_known: bool = True,
    ) -> None:
        self._inner.ended(
            call_id,
            outcome=outcome,
            wait_s=wait_s,
            priority=priority,
            talk_s=talk_s,
            recording=recording,
            talk_known=talk_known,
        )
        held = self._calls.pop(call_id, None)
        if outcome is Outcome.VOICEMAIL and recording and held is not None:
            self._tasks.left(LeftVoicemail.of_call(held[0], held[1], recording))

    def ivr_ended(self, report: CallReport) -> None:
        self._inner.ivr_ended(report)
        path = report.attributes.get(WellKnown.VOICEMAIL)
        if report.ending == "voicemail" and path:
            self._tasks.left(LeftVoicemail.of_report(report, path))


def _read(path: str, directories: list[Path], limit: int) -> bytes:
    """The recording's bytes, if it is a WAV file under one of ``directories`` within
    ``limit`` bytes (``RecordingUnavailable`` says why not)."""
    file = Path(path)
    if file.suffix.lower() != _SUFFIX:
        raise RecordingUnavailable("not a WAV file")
    try:
        real = file.resolve(strict=True)
    except (OSError, RuntimeError):
        raise RecordingUnavailable("not found") from None
    if not any(real.is_relative_to(d.resolve()) for d in directories):
        raise RecordingUnavailable("outside the voicemail directories")
    if not real.is_file():
        raise RecordingUnavailable("not a file")
    size = real.stat().st_size
    if size > limit:
        raise RecordingUnavailable(f"{size} bytes, over the limit of {limit} a file")
    return real.read_bytes()


def _seconds(data: bytes) -> float | None:
    """The recording's length from its WAV header (None: not a WAV the header tells)."""
    try:
        with wave.open(io.BytesIO(data)) as recording:
            rate = recording.getframerate()
            return recording.getnframes() / rate if rate else None
    except (wave.Error, EOFError):
        return None


async def _delete(path: str) -> None:
    """Remove the original once the history holds it; a file that cannot be removed (its
    directory not writable by hotline) is left, and said so once."""
    try:
        await asyncio.to_thread(Path(path).unlink)
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("voicemail file not deleted (%s): %s", type(error).__name__, path)


def _file_name(call_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in call_id)
    return f"voicemail-{safe}{_SUFFIX}"
