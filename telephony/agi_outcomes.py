"""What an AGI command ends in, as the session hands it back: its result (a prompt played,
digits read, a recording, a dial's outcome) or why it did not end normally (the caller gone,
Asterisk refusing the command, the protocol broken). Plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from telephony.agi_codec import AgiResponse


class CallerHangup(Exception):
    """The caller is gone, or the connection to Asterisk is (reason says which)."""

    def __init__(self, reason: str = "hangup") -> None:
        super().__init__(reason)
        self.reason = reason


class AgiProtocolFault(Exception):
    """Asterisk's side broke the protocol (over-long or malformed line, unsolicited reply):
    the command's result is unknown; the call should go to the fallback."""


class AgiCommandError(Exception):
    """Asterisk refused a command (510 unknown, 520 bad syntax) or reported it failed."""

    def __init__(self, command: str, response: AgiResponse) -> None:
        detail = response.extra or f"result={response.result} ({response.data})"
        super().__init__(f"{command}: {response.code} {detail}")
        self.command = command
        self.response = response
        self.code = response.code
        self.usage = response.usage


@dataclass(frozen=True)
class Playback:
    digit: str | None  # the escape digit that interrupted the prompt
    endpos: int  # sample offset reached (8 kHz samples)
    played: bool = True  # False when Asterisk could not play the prompt (missing file)


@dataclass(frozen=True)
class DigitInput:
    digits: str
    timed_out: bool


@dataclass(frozen=True)
class Recording:
    path: str  # the file Asterisk wrote: `<path>.<format>`
    reason: Literal["timeout", "dtmf", "hangup"]  # timeout includes silence detection
    digit: str | None
    endpos: int


@dataclass(frozen=True)
class DialOutcome:
    status: str  # DIALSTATUS: ANSWER/BUSY/NOANSWER/CHANUNAVAIL/CONGESTION/CANCEL/...
    result: int  # EXEC's result: -1 after a bridge or a caller hang-up, else 0
    caller_alive: bool
    answered_ms: int | None = None  # talk time (None: not answered)
    dialed_ms: int | None = None
    hangup_cause: int | None = None  # Q.850
    peer_name: str | None = None  # DIALEDPEERNAME, the agent's channel
    peer_number: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == "ANSWER"
