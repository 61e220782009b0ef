"""What the IVR and the customer history know about a caller, as the ACD sees it."""

from __future__ import annotations

from dataclasses import dataclass

from acd.contacts import VOICE

__all__ = ["CallFacts", "CallerCard", "IncomingCall", "MenuStep"]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """The inputs of priority and skill rules; none of them changes while the call waits."""

    intent: str | None = None
    #: The call type the IVR's intent implies (config/intents.yaml); priority.yaml's
    #: ``intents`` map, when it names the intent, takes precedence.
    call_type: str | None = None
    tier: str | None = None
    #: 0 = trivial; the IVR raises it from the intent hint, its answers and open issues.
    complexity: int = 0
    #: Days since this customer's previous contact on any channel (None: first contact).
    days_since_last_contact: float | None = None
    #: Chronic-issue tags from the history (e.g. "outage-area", "billing-dispute").
    tags: frozenset[str] = frozenset()
    #: The caller's language code ("en", "fr"), if the IVR knows it.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class MenuStep:
    """One node of the IVR the caller went through, and what they did there."""

    node: str
    heard: str | None = None


@dataclass(frozen=True, slots=True)
class CallerCard:
    """Who is calling and what the IVR heard, for people (the supervisor's page, the agent's
    screen-pop); routing never reads it."""

    number: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    intent_confidence: float | None = None
    #: What the caller said, as the recogniser heard it.
    transcript: str | None = None
    menu_path: tuple[MenuStep, ...] = ()
    #: (entity, value) pairs the intent classifier found: (("product", "fibre-500"),).
    entities: tuple[tuple[str, str], ...] = ()
    open_issues: int = 0


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A task handed to the ACD: a call from the IVR (or a callback keeping its place), a
    chat, an e-mail, a voicemail (``channel``)."""

    call_id: str
    queue: str
    facts: CallFacts = CallFacts()
    #: The caller's channel in Asterisk, so a reconcile can tell a vanished call from a
    #: waiting one (None for a task that is not a live call).
    line: str | None = None
    #: The customer's last agent; tried first for the queue's preferred-agent window.
    preferred_agent: str | None = None
    #: A directed task (a colleague's transfer to ``preferred_agent``): it waits for that
    #: agent only, whatever their skills and however long it has waited.
    directed: bool = False
    #: Original entry time; None means "now". A callback or a transfer keeps its place.
    entry_time: float | None = None
    #: For people, not for routing: caller number, customer name, the IVR's findings.
    caller: CallerCard = CallerCard()
    #: The task's channel (``acd.contacts``): voice, callback, chat, email, voicemail...
    channel: str = VOICE
