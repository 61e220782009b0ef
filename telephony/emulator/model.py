"""Public data of the emulator: phones, callers and what happened to a call.

These are the knobs a test turns (`AgentPhone`, `Caller`) and the record it asserts on
(`CallResult`). Durations here are *virtual* seconds: the emulator sleeps them times its
`time_scale`, while the values it reports on the wire (endpos, ANSWEREDTIME) stay realistic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Behaviour = Literal["answer", "busy", "noanswer", "unavailable", "congestion"]
CustomerBehaviour = Literal["answer", "busy", "noanswer"]
HungUpBy = Literal["caller", "agi", "dialplan", "ami", "agent", "shutdown", ""]


@dataclass(frozen=True)
class AgentPhone:
    """A simulated SIP softphone the emulator rings on Dial, Originate and the fallback Queue.

    `answer`: rings `ring_s`, answers, talks `talk_s`, then hangs up (BYE).
    `busy` (486), `congestion` (503), `unavailable` (UNREACHABLE peer): instant failure.
    `noanswer`: rings until the caller's timeout. A phone already in a call answers BUSY.
    """

    endpoint: str  # "SIP/agent1001" or "PJSIP/agent1001"
    behaviour: Behaviour = "answer"
    ring_s: float = 1.0
    talk_s: float = 5.0
    member_name: str = ""  # queue member name; default "Agent 1001" style from the endpoint

    @property
    def tech(self) -> str:
        return self.endpoint.partition("/")[0]

    @property
    def peer(self) -> str:
        return self.endpoint.partition("/")[2]

    @property
    def display_name(self) -> str:
        if self.member_name:
            return self.member_name
        digits = "".join(c for c in self.peer if c.isdigit())
        return f"Agent {digits}" if digits else self.peer


@dataclass(frozen=True)
class Customer:
    """A customer's phone beyond the trunk, reached by number (a callback's second leg).

    `Dial(PJSIP/<number>@trunk)` rings it on a `PJSIP/trunk-…` channel: `answer` rings
    `ring_s`, answers, talks `talk_s` and hangs up; `noanswer` rings until Dial's timeout;
    `busy` (486) fails at once. A number nobody configured is CHANUNAVAIL.
    """

    number: str
    behaviour: CustomerBehaviour = "answer"
    ring_s: float = 2.0
    talk_s: float = 10.0

    def line_phone(self, trunk: str) -> AgentPhone:
        """The trunk leg as a ringing phone (the Dial machinery rings phones)."""
        return AgentPhone(trunk, self.behaviour, ring_s=self.ring_s, talk_s=self.talk_s)


@dataclass(frozen=True)
class Caller:
    """A scripted caller.

    `dtmf` is a queue of keypresses consumed "when asked": a command that listens for digits
    takes the next queued digit `dtmf_delay_s` after it starts (`inter_digit_s` between the
    digits of one GET DATA). Asking commands (GET DATA, WAIT FOR DIGIT, GET OPTION, EXEC
    Background) always listen; prompts with escape digits (STREAM FILE, SAY *, RECORD FILE)
    listen only if `barge_in`, and only take a digit that is one of their escapes. A `,` is
    silence for one listening command (it times out or plays to the end), and right after
    some digits it ends that GET DATA: `dtmf="1,,12,34"` answers "1", stays silent once, then
    answers two 4-digit GET DATA with 12 and 34 (both "(timeout)").
    `timed_dtmf` presses digits at fixed virtual times after the call starts; a digit no
    command is reading then is lost, as on a real channel. `Call.press()` presses now.
    `speech` is what the caller says to RECORD FILE (`speech_delay_s` after recording starts):
    one wav for every recording, or a sequence consumed one per recording (silence after).
    With `speaks_over` (a part of a prompt's name) the caller starts their next answer
    `speech_delay_s` into that prompt instead, once, as impatient callers do: Asterisk's
    TALK_DETECT, when set, raises ChannelTalkingStart then; the prompt plays on until the AGI
    script stops it, and the next recording hears only what is left of the answer.
    `after_call_dtmf` is queued when an agent hangs up on the caller first (the caller is
    still there: a satisfaction survey's key).
    `hangup_on_command=N` hangs up `hangup_delay_s` into the N-th AGI command (1-based;
    deterministic positions); `hangup_after_s` at a virtual time after the call starts.
    """

    number: str = "caller"
    name: str = ""
    language: str = "en"
    peer: str = "caller"  # channel name SIP/<peer>-0000000a
    dtmf: str = ""
    dtmf_delay_s: float = 0.5
    inter_digit_s: float = 0.3
    barge_in: bool = True
    after_call_dtmf: str = ""
    timed_dtmf: Sequence[tuple[float, str]] = ()
    speech: Path | Sequence[Path] | None = None
    speech_delay_s: float = 0.5
    speaks_over: str = ""
    sends_audio: bool = True  # False: no RTP at all (RECORD FILE gets a header-only wav)
    hangup_after_s: float | None = None
    hangup_on_command: int | None = None
    hangup_delay_s: float = 0.0


@dataclass(frozen=True)
class DialRecord:
    """One Dial (EXEC Dial, or a ring inside the fallback Queue) and how it ended."""

    targets: str  # the Dial string, e.g. "SIP/agent1001"
    status: str  # ANSWER BUSY NOANSWER CHANUNAVAIL CONGESTION CANCEL
    answered_by: str | None = None  # endpoint of the phone that answered
    peer_channel: str | None = None
    talk_s: float = 0.0
    result: int = 0  # what the application returned (-1 when bridged or cancelled)


@dataclass(frozen=True)
class CallResult:
    """Everything a test may want to know once the caller's channel is gone."""

    channel: str
    uniqueid: str
    commands: tuple[str, ...]  # AGI command lines as received, without the newline
    agi_status: str  # SUCCESS, HANGUP, FAILURE, or "" if no AGI ran
    after_agi: tuple[str, str, int] | None  # where the dialplan continued after the AGI
    visited: tuple[tuple[str, str, int, str], ...]  # (context, exten, priority, app) run
    fallback_used: bool
    fallback_phone: str | None  # endpoint that answered in the fallback queue
    dials: tuple[DialRecord, ...]
    hangup_cause: int
    hung_up_by: HungUpBy
    recordings: tuple[Path, ...]
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def final_position(self) -> tuple[str, str, int] | None:
        """The last dialplan step that ran (context, exten, priority)."""
        return self.visited[-1][:3] if self.visited else None
