"""Who calls the demo hotline and what happened to each call: pure decisions, no I/O.

The mix is what a real contact center hears: people who say why they call, keypad callers,
Arabic speakers, repeat callers, key accounts and loyal customers known by their caller ID,
callers who give up while waiting and callers who ask to be called back. ``hotline.demo``
turns each ``DemoCall`` into an emulated caller and tallies the ``Outcome`` of each, and
the outcome the history records for it (``history.outcomes``: ``recorded_outcome``), which
the summary counts: the demo's figures and the history's are in the same words.
"""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from acd.events import CALLER_GONE_REASONS
from history.outcomes import Outcome as Recorded
from telephony.emulator import Caller, CallResult, Customer
from telephony.emulator.model import CustomerBehaviour

#: What keypad callers press through the shipped flow (config/ivr.yaml): the language, then
#: (the open question hears silence and falls back to the keypad) a main-menu choice.
KEYPRESSES = (
    "10",  # English, an agent
    "120",  # English, the latest offers, then an agent
    "110",  # English, the price of fibre, then an agent
    "13123456#",  # English, billing with an account number
    "14654321#",  # English, a fault with an account number
    "1",  # English, says nothing more: the menu times out to an agent
)
#: (No Arabic fault by keys: config/agents.yaml has no Arabic-speaking problem solver, so
#: such a call waits for queues.yaml's relaxation step at 60 s.)
ARABIC_KEYPRESSES = ("20", "23123456#")


@dataclass(frozen=True)
class Utterance:
    """A sentence a speaking caller says to the open question, and the keys around it:
    ``keys`` are the language digit, then whatever the branch the intent leads to asks."""

    text: str
    intent: str
    keys: str


#: The "reason" node's open question (config/ivr.yaml), which speakers may answer over.
QUESTION = "how-can-we-help"
#: Each reaches a real intent of config/intents.yaml through the "reason" question.
UTTERANCES = (
    Utterance("I want to know the price of fibre", "price_question", "10"),  # price, agent
    Utterance("what are your latest offers", "latest_offers", "10"),  # offers, agent
    Utterance("my internet is down since this morning", "technical_fault", "1654321#"),
    Utterance("I want to complain about my bill", "complaint", "1"),
    Utterance("can I speak to an agent please", "speak_to_agent", "1"),
)


@dataclass(frozen=True)
class KnownCustomer:
    """A customer seeded in the history at demo start, identified by caller ID."""

    number: str
    name: str
    tier: str
    language: str | None
    keys: str  # a profile language skips the language menu


KNOWN_CUSTOMERS = (
    KnownCustomer("+971501110101", "Gulf Logistics (key account)", "key_account", None, "10"),
    KnownCustomer("+971501110102", "Desert Bank (key account)", "key_account", None, "14654321#"),
    KnownCustomer("+971501110103", "Layla Haddad", "loyal", "ar", "0"),
    KnownCustomer("+971501110104", "Omar Farouk", "loyal", None, "13123456#"),
)

#: The key a caller presses when the survey asks after the agent hung up ("": no answer).
RATINGS = ("5", "4", "3", "2", "1", "")
RATING_WEIGHTS = (40, 28, 12, 6, 4, 10)

#: Numbers that call again and again: from their second call they are repeat contacts.
REPEAT_NUMBERS = tuple(f"+97150222{n:04d}" for n in range(1, 7))


class Kind(enum.StrEnum):
    SPEAKER = "speaker"
    KEYPAD = "keypad"
    ARABIC = "arabic"
    REPEAT = "repeat"
    KNOWN = "key account or loyal"
    ABANDON = "abandons"
    CALLBACK = "asks for a callback"


#: How often each kind calls (relative weights).
MIX: Mapping[Kind, float] = {
    Kind.SPEAKER: 3,
    Kind.KEYPAD: 3,
    Kind.ARABIC: 1,
    Kind.REPEAT: 2,
    Kind.KNOWN: 1,
    Kind.ABANDON: 1,
    Kind.CALLBACK: 1,
}


@dataclass(frozen=True)
class DemoCall:
    kind: Kind
    caller: Caller
    intent: str | None = None  # what a speaker means


@dataclass(frozen=True)
class CallerMix:
    """Draws the next caller. ``voices``: an utterance's text -> its wav (empty: nobody
    speaks, speakers use the keypad); ``callback_digit``: the waiting caller's key."""

    voices: Mapping[str, Path] = field(default_factory=dict)
    callback_digit: str | None = None
    repeat_numbers: Sequence[str] = REPEAT_NUMBERS
    known_customers: Sequence[KnownCustomer] = KNOWN_CUSTOMERS
    weights: Mapping[Kind, float] = field(default_factory=lambda: dict(MIX))

    def next(self, rng: random.Random) -> DemoCall:
        kinds = [k for k in self.weights if self._possible(k)]
        if not kinds:  # e.g. only speakers wanted, and nobody can speak yet
            return self.call(Kind.KEYPAD, rng)
        kind = rng.choices(kinds, [self.weights[k] for k in kinds])[0]
        return self.call(kind, rng)

    def _possible(self, kind: Kind) -> bool:
        if kind is Kind.SPEAKER:
            return bool(self.voices)
        if kind is Kind.CALLBACK:
            return bool(self.callback_digit)
        return True

    def call(self, kind: Kind, rng: random.Random) -> DemoCall:
        drawn = self._call(kind, rng)
        rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
        return replace(drawn, caller=replace(drawn.caller, after_call_dtmf=rating))

    def _call(self, kind: Kind, rng: random.Random) -> DemoCall:
        new = new_number(rng)
        if kind is Kind.SPEAKER:
            spoken = [u for u in UTTERANCES if u.text in self.voices]
            said = rng.choice(spoken)
            voice = self.voices[said.text]
            # Half of them do not wait for the beep: they answer over the question.
            over = QUESTION if rng.random() < 0.5 else ""
            caller = Caller(
                number=new, dtmf=said.keys, speech=voice, speaks_over=over, barge_in=False
            )
            return DemoCall(kind, caller, said.intent)
        if kind is Kind.ARABIC:
            return DemoCall(kind, _keypad(new, rng.choice(ARABIC_KEYPRESSES)))
        if kind is Kind.REPEAT:
            return DemoCall(kind, _keypad(rng.choice(self.repeat_numbers), rng.choice(KEYPRESSES)))
        if kind is Kind.KNOWN:
            customer = rng.choice(self.known_customers)
            return DemoCall(kind, _keypad(customer.number, customer.keys))
        if kind is Kind.ABANDON:
            # Gives up after 20-90 s: mostly while waiting for an agent, some in the menus.
            patience = rng.uniform(20.0, 90.0)
            caller = Caller(number=new, dtmf="10", barge_in=False, hangup_after_s=patience)
            return DemoCall(kind, caller)
        if kind is Kind.CALLBACK:
            keys = "10" + (self.callback_digit or "")
            return DemoCall(kind, _keypad(new, keys))
        return DemoCall(kind, _keypad(new, rng.choice(KEYPRESSES)))


def _keypad(number: str, keys: str) -> Caller:
    # The open question hears silence (no barge-in), then the keys answer the menus.
    return Caller(number=number, name="Demo caller", dtmf=keys, barge_in=False)


def new_number(rng: random.Random) -> str:
    """A first-time caller's number (the UK's drama range: never a real subscriber)."""
    return "+4416329" + "".join(rng.choice("0123456789") for _ in range(5))


#: How a caller's phone answers when the hotline calls back (relative weights): most pick
#: up, some are on another call, a few let it ring out.
CALLBACK_ANSWERS: Mapping[CustomerBehaviour, float] = {"answer": 7, "busy": 2, "noanswer": 1}


def callers_phone(number: str, rng: random.Random) -> Customer:
    """The caller's own phone, as the emulator's trunk reaches it for a callback."""
    behaviours = list(CALLBACK_ANSWERS)
    behaviour = rng.choices(behaviours, [CALLBACK_ANSWERS[b] for b in behaviours])[0]
    return Customer(number, behaviour, ring_s=rng.uniform(2.0, 8.0), talk_s=rng.uniform(20.0, 60.0))


class Outcome(enum.StrEnum):
    ANSWERED = "answered by an agent"
    ABANDONED = "abandoned"
    FALLBACK = "went to fallback"
    #: Still in the service when the demo stopped it: handed to Asterisk's own queue, as
    #: in production when hotline stops (the dialplan fallback).
    AT_STOP = "handed to Asterisk's queue at the stop"
    CALLBACK = "callbacks requested"
    IN_IVR = "ended in the IVR"  # self-service, voicemail, the menus' goodbye
    CUT = "cut off by the end of the demo"
    #: The caller was waiting and did not hang up, yet the ACD lost them (the service's
    #: session for the call ended): a lost call, like LOST.
    DROPPED = "dropped while waiting"
    LOST = "lost"  # no result at all: must stay 0


#: Printed only when they happened (they never should).
_ONLY_IF_ANY = frozenset({Outcome.LOST, Outcome.DROPPED})

#: ``CallAbandoned.reason`` of a caller who pressed the callback key while waiting.
CALLBACK_REQUESTED = "callback requested"


def outcome(
    result: CallResult | None, left_reason: str | None, *, service_stopped: bool = False
) -> Outcome:
    """What happened to one call, from the emulator's record and the ACD's exit reason
    (``service_stopped``: the call ended after the demo began stopping the service)."""
    if result is None:
        return Outcome.LOST
    if result.fallback_used:
        return Outcome.AT_STOP if service_stopped else Outcome.FALLBACK
    if any(dial.status == "ANSWER" for dial in result.dials):
        return Outcome.ANSWERED
    if left_reason == CALLBACK_REQUESTED:
        return Outcome.CALLBACK
    if result.hung_up_by == "caller":
        return Outcome.ABANDONED
    if left_reason in CALLER_GONE_REASONS and result.hung_up_by != "shutdown":
        return Outcome.DROPPED
    if result.hung_up_by == "shutdown":
        return Outcome.CUT
    return Outcome.IN_IVR


#: Where the shipped config (waiting.yaml, the IVR's voicemail node) records messages.
VOICEMAIL_DIR = "/var/spool/asterisk/hotline-voicemail"


def recorded_outcome(
    result: CallResult | None,
    left_reason: str | None,
    *,
    queued: bool,
    outcome: Outcome,
    voicemail_dir: str = VOICEMAIL_DIR,
) -> Recorded:
    """The outcome the history records for the call, from what the demo saw of it
    (``outcome``, the emulator's record, the ACD's exit reason, whether it was queued).

    One thing the demo cannot see: a caller gone from the queue within ``short_abandon_s``
    is ``abandoned_short`` in the history (its wait is the ACD's), ``abandoned_queue`` here.
    """
    if outcome is Outcome.ANSWERED:
        return Recorded.ANSWERED
    if outcome is Outcome.CALLBACK:
        return Recorded.CALLBACK_REQUESTED
    if outcome in (Outcome.FALLBACK, Outcome.AT_STOP, Outcome.CUT):
        return Recorded.FALLBACK  # the service stopping hands its calls to the fallback
    if outcome in (Outcome.LOST, Outcome.DROPPED) or result is None:
        return Recorded.FAILED
    voicemail = any(c.startswith(f"RECORD FILE {voicemail_dir}/") for c in result.commands)
    if outcome is Outcome.ABANDONED:
        if voicemail:
            return Recorded.VOICEMAIL
        if not queued and left_reason is None:
            return Recorded.ABANDONED_IVR
        if any(dial.status == "CANCEL" for dial in result.dials):
            return Recorded.ABANDONED_RINGING
        return Recorded.ABANDONED_QUEUE
    if voicemail:
        return Recorded.VOICEMAIL
    if left_reason is not None and left_reason not in CALLER_GONE_REASONS:
        return Recorded.OVERFLOWED  # a queue's rule ended it with a goodbye
    return Recorded.SELF_SERVICE


@dataclass(frozen=True)
class Queued:
    """What the ACD was told about a call when it was queued."""

    priority: float
    tier: str | None
    intent: str | None
    repeat: bool


@dataclass
class Tally:
    """Every placed call, its kind, what the ACD saw and how it ended."""

    kinds: dict[str, Kind] = field(default_factory=dict)  # by uniqueid
    intents: dict[str, str] = field(default_factory=dict)  # a speaker's meaning
    queued: dict[str, Queued] = field(default_factory=dict)
    left: dict[str, str] = field(default_factory=dict)  # ACD exit reasons
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    #: What the history records for each call (``history.outcomes``).
    recorded: dict[str, Recorded] = field(default_factory=dict)
    #: Where messages are recorded (a RECORD FILE there is a voicemail).
    voicemail_dir: str = VOICEMAIL_DIR
    #: Set when the demo begins stopping the service.
    service_stopped: bool = False

    @property
    def placed(self) -> int:
        return len(self.kinds)

    def placed_call(self, call_id: str, call: DemoCall) -> None:
        self.kinds[call_id] = call.kind
        if call.intent is not None:
            self.intents[call_id] = call.intent

    def ended(self, call_id: str, result: CallResult | None) -> Outcome:
        left = self.left.get(call_id)
        ended = outcome(result, left, service_stopped=self.service_stopped)
        self.outcomes[call_id] = ended
        self.recorded[call_id] = recorded_outcome(
            result,
            left,
            queued=call_id in self.queued,
            outcome=ended,
            voicemail_dir=self.voicemail_dir,
        )
        return ended

    def recorded_counts(self) -> Counter[Recorded]:
        """Calls per outcome as the history records them; a call never finished is
        ``failed``."""
        counts = Counter(self.recorded.values())
        counts[Recorded.FAILED] += self.placed - len(self.recorded)
        return counts

    def counts(self) -> Counter[Outcome]:
        counts = Counter(self.outcomes.values())
        counts[Outcome.LOST] += self.placed - len(self.outcomes)
        return counts

    def of_kind(self, kind: Kind) -> list[str]:
        return [call_id for call_id, k in self.kinds.items() if k is kind]

    def speakers_recognised(self) -> int:
        """Speakers queued with the intent they meant."""
        return sum(
            1
            for call_id, meant in self.intents.items()
            if (queued := self.queued.get(call_id)) is not None and queued.intent == meant
        )

    def repeats_recognised(self) -> int:
        return sum(1 for q in self.queued.values() if q.repeat)

    def summary(self) -> str:
        """Calls per outcome in the history's words (``history.outcomes``), then the demo's
        own checks (a lost or dropped call is printed only when there is one)."""
        counts, recorded = self.counts(), self.recorded_counts()
        parts = [f"{self.placed} placed"]
        parts += [f"{recorded[o]} {o}" for o in Recorded if recorded[o]]
        parts += [f"{counts[o]} {o}" for o in _ONLY_IF_ANY if counts[o]]
        speakers = len(self.intents)
        parts.append(f"{self.speakers_recognised()}/{speakers} speech callers recognised")
        parts.append(f"{self.repeats_recognised()} repeat callers recognised")
        return ", ".join(parts)


def priorities_by_kind(tally: Tally, kinds: Sequence[Kind]) -> dict[Kind, list[float]]:
    """Queued priorities per caller kind (to show who was put first)."""
    found: dict[Kind, list[float]] = {k: [] for k in kinds}
    for call_id, queued in tally.queued.items():
        kind = tally.kinds.get(call_id)
        if kind in found:
            found[kind].append(queued.priority)
    return found
