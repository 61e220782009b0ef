"""How a contact ended, and what its times mean: one vocabulary for the history, the KPIs,
``/metrics``, the supervisor page and the demo's summary.

Every contact ends in exactly one ``Outcome``, written once, when it ends. The names are
the values stored in ``interactions.outcome``, so chat and e-mail modules and reports read
the same words.

=====================  ==================================================================
outcome                meaning
=====================  ==================================================================
answered               an agent talked to the customer (a voice call bridged to an agent,
                       a chat or e-mail an agent handled)
self_service           the IVR served the caller to its goodbye (prices, offers, hours)
abandoned_ivr          the caller hung up in the IVR, before asking for a person
abandoned_queue        the caller hung up while waiting in a queue, after
                       ``short_abandon_s`` (default 5 s)
abandoned_ringing      the caller hung up while an agent's phone was ringing
abandoned_short        the caller hung up within ``short_abandon_s`` of joining the queue
                       (misdial, changed mind): kept out of the abandonment rate
voicemail              the caller left (or was sent to leave) a voicemail
callback_requested     the caller asked to be called back and left the line; the request
                       is its own contact from then on (``callback_completed`` /
                       ``callback_failed``)
callback_completed     a callback reached the customer and an agent talked to them
callback_failed        a callback attempt did not reach the customer (busy, no answer, no
                       agent answered); a retry is a new attempt, a new contact
fallback               handed to the dialplan's fallback (Asterisk's own Queue()): the
                       service could not or would not keep the call (shutdown, a full
                       server, a queue's overflow rule)
overflowed             a queue rule (maximum wait, no agent left) ended the call with a
                       goodbye; an overflow to another queue is not an end, and one to
                       voicemail, a callback or the fallback takes that name
failed                 the service failed the call: an error, or the service stopped
                       during it (closed at the next start, see ``INTERRUPTED_NOTE``)
=====================  ==================================================================

Times, all UTC, all measured from the event they name:

* ``started_at``: the contact's arrival: for a call, when Asterisk handed it to hotline
  (the FastAGI session's start); for a callback attempt, when the dialler queued it.
* ``wait_s``: from joining the first queue to the agent answering (ringing included); for
  a call that never reached an agent, to when it left the queue; for a callback attempt,
  from its queueing to the agent's answer.
* ``talk_s``: from the agent answering to the end of the conversation, as the ACD's events
  tell them (``CallAnswered`` -> ``CallEnded``), less ``hold_s``; never the channel's age
  (Asterisk's ``ANSWEREDTIME`` is the caller channel's up-time, IVR and wait included).
  For a callback attempt, from the customer's answer to the end. Empty (unknown) when
  the ACD learnt the answer only after the conversation (AMI silent, Dial's return).
* ``hold_s``: the time the agent held the customer during the conversation (0 if never).
* ``wrap_s``: the agent's wrap-up after the conversation (0 when there is none).
  Handling time is ``talk_s + hold_s + wrap_s``.
* ``priority``: the router's priority of the call (base, raises, aging) when it was
  answered or left the queue, rounded.
* ``ended_at``: when the customer's side ended (hang-up, hand-off to the fallback).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ABANDONS",
    "DEFAULT_STATUS",
    "INTERRUPTED_NOTE",
    "Outcome",
]


class Outcome(StrEnum):
    ANSWERED = "answered"
    SELF_SERVICE = "self_service"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_RINGING = "abandoned_ringing"
    ABANDONED_SHORT = "abandoned_short"
    VOICEMAIL = "voicemail"
    CALLBACK_REQUESTED = "callback_requested"
    CALLBACK_COMPLETED = "callback_completed"
    CALLBACK_FAILED = "callback_failed"
    FALLBACK = "fallback"
    OVERFLOWED = "overflowed"
    FAILED = "failed"


#: Outcomes that count as the caller giving up in a queue (the abandonment rate's numerator;
#: ``abandoned_short`` and ``abandoned_ivr`` are counted apart).
ABANDONS = frozenset({Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING})

#: The status an interaction gets with its outcome (an agent's disposition may change it):
#: "open" when the customer still needs someone.
DEFAULT_STATUS: dict[Outcome, str] = {
    Outcome.ANSWERED: "resolved",
    Outcome.SELF_SERVICE: "resolved",
    Outcome.ABANDONED_IVR: "resolved",
    Outcome.ABANDONED_SHORT: "resolved",
    Outcome.ABANDONED_QUEUE: "open",
    Outcome.ABANDONED_RINGING: "open",
    Outcome.VOICEMAIL: "open",
    Outcome.CALLBACK_REQUESTED: "open",
    Outcome.CALLBACK_COMPLETED: "resolved",
    Outcome.CALLBACK_FAILED: "open",
    Outcome.FALLBACK: "open",
    Outcome.OVERFLOWED: "open",
    Outcome.FAILED: "open",
}

#: The note on an interaction that a stopped service left open, closed at the next start.
INTERRUPTED_NOTE = "closed at start: the service stopped during this contact"
