"""Where a conversation waits and how urgent it is: the ACD's task for a customer who wrote.

Pure. The customer's first message is classified by the IVR's intent model (the same
``config/intents.yaml`` callers are understood by), so a chat saying "my internet is down"
is a ``technical_fault`` as a caller saying it would be; the customer's history gives the
tier, open issues, repeat contact and last agent, as caller ID does for a call. The queue
is the call type's in ``channels.yaml`` (else the default), so the same priority, skills and
strategies route every channel.

A contact that arrives already understood keeps what was found (``KeptRouting``): a
voicemail waits in the queue its call was in, with its intent and call type, whatever the
words of its message ("Voicemail, 23.4 s") would say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.calls import CallerCard, CallFacts, IncomingCall
from ivr.callers import CallerProfile
from ivr.flow.ports import IntentResult

__all__ = ["ConversationRouting", "KeptRouting", "task_of"]

#: How much of the first message the agent's card and the supervisor's page show.
PREVIEW_CHARS = 280


@dataclass(frozen=True, slots=True)
class ConversationRouting:
    #: the queue of a conversation whose call type names none below
    default_queue: str
    #: call type (from the first message's intent) -> queue
    queues: Mapping[str, str] = field(default_factory=dict)
    #: the language a message is classified in when the customer's is unknown
    language: str = "en"

    def queue_for(self, call_type: str | None) -> str:
        return self.queues.get(call_type or "", self.default_queue)


@dataclass(frozen=True, slots=True)
class KeptRouting:
    """The queue, intent and call type a contact brings from where it began (a voicemail's
    call, a callback request): its task is routed by them, its words not classified."""

    queue: str | None = None
    intent: str | None = None
    call_type: str | None = None


def task_of(
    task_id: str,
    channel: str,
    *,
    text: str,
    routing: ConversationRouting,
    match: IntentResult | None,
    profile: CallerProfile | None,
    who: str | None,
    now: dt.datetime,
    kept: KeptRouting | None = None,
) -> IncomingCall:
    """The ACD task for a conversation whose latest customer message is ``text`` (routed by
    ``kept`` instead of ``match`` when given)."""
    days: float | None = None
    if profile is not None and profile.last_contact_at is not None:
        days = max((now - profile.last_contact_at).total_seconds() / 86_400, 0.0)
    known = match is not None and match.known
    call_type = match.call_type if match is not None else None
    intent = match.intent if known and match is not None else None
    queue = routing.queue_for(call_type)
    if kept is not None:
        intent, call_type = kept.intent, kept.call_type
        queue = kept.queue or routing.queue_for(call_type)
    facts = CallFacts(
        intent=intent,
        call_type=call_type,
        tier=profile.tier if profile is not None else None,
        complexity=match.complexity if match is not None else 0,
        days_since_last_contact=days,
        tags=profile.tags if profile is not None else frozenset(),
        language=(profile.language if profile is not None else None) or routing.language,
    )
    card = CallerCard(
        number=who,
        customer_id=profile.customer_id if profile is not None else None,
        customer_name=profile.name if profile is not None else None,
        intent_confidence=match.confidence if match is not None else None,
        transcript=text[:PREVIEW_CHARS] or None,
        entities=match.entities if match is not None else (),
        open_issues=profile.open_issues if profile is not None else 0,
    )
    return IncomingCall(
        call_id=task_id,
        queue=queue,
        facts=facts,
        preferred_agent=profile.last_agent if profile is not None else None,
        caller=card,
        channel=channel,
    )
