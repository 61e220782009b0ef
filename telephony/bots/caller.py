"""The caller bot: dials a number, follows a script of pauses, speech and keys, records
everything it hears, and hangs up (or notices the far end did)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyVoIP.VoIP import CallState

from telephony.bots.audio import dtmf, read_wav, silence, write_wav
from telephony.bots.phone import FRAME, Account, play, registered, wait_for_state

log = logging.getLogger(__name__)

__all__ = ["CallerBot", "CallerOutcome", "Press", "Say", "Wait", "parse_script"]


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Say:
    wav: Path


@dataclass(frozen=True)
class Press:
    digits: str


Step = Wait | Say | Press


def parse_script(text: str) -> list[Step]:
    """``"wait:3,press:1,wait:2,say:fault.wav,press:123456#,wait:20"`` as steps."""
    steps: list[Step] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, value = item.partition(":")
        if kind == "wait":
            steps.append(Wait(float(value)))
        elif kind == "say":
            steps.append(Say(Path(value)))
        elif kind == "press":
            steps.append(Press(value))
        else:
            raise ValueError(f"script step {item!r}: wait:S, say:FILE.wav or press:DIGITS")
    return steps


@dataclass
class CallerOutcome:
    number: str
    answered: bool = False
    far_end_hung_up: bool = False
    heard_s: float = 0.0
    recording: Path | None = None
    error: str | None = None
    options_answered: int = 0  # Asterisk's qualify OPTIONS, answered 200 OK during the call
    notes: list[str] = field(default_factory=list)


@dataclass
class CallerBot:
    account: Account
    record_dir: Path | None = None

    def call(
        self, number: str, script: Sequence[Step], *, answer_timeout_s: float = 30.0
    ) -> CallerOutcome:
        """Blocking: run it in a thread."""
        outcome = CallerOutcome(number)
        heard = bytearray()
        phone = registered(self.account)
        try:
            call = phone.call(number)
            state = wait_for_state(call, {CallState.ANSWERED, CallState.ENDED}, answer_timeout_s)
            outcome.answered = state == CallState.ANSWERED
            if not outcome.answered:
                outcome.error = f"not answered ({state.value})"
                return outcome
            for step in script:
                if call.state != CallState.ANSWERED:
                    break
                play(call, self._audio(step), heard)
            outcome.far_end_hung_up = call.state != CallState.ANSWERED
            if not outcome.far_end_hung_up:
                call.hangup()
        except (OSError, TimeoutError, ValueError) as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            outcome.options_answered = phone.answered_count("OPTIONS")
            phone.stop()
            outcome.heard_s = len(heard) / 8000
            if self.record_dir is not None and heard:
                name = f"{self.account.username}-{number}-{int(time.time())}.wav"
                outcome.recording = self.record_dir / name
                write_wav(outcome.recording, bytes(heard))
        return outcome

    @staticmethod
    def _audio(step: Step) -> bytes:
        if isinstance(step, Wait):
            return silence(step.seconds)
        if isinstance(step, Press):
            return dtmf(step.digits)
        samples = read_wav(step.wav)
        return samples + silence((FRAME - len(samples) % FRAME) / 8000)
