"""What kind of contact an ACD call is, and which outcome its exit from a queue names.

The ACD routes one kind of task today, a voice call, in two forms: an inbound call, and a
callback attempt (the dialler's virtual call, queued with the caller's original place and
an id ``<call>-cb<attempt>``). A callback attempt is a contact of its own: it is never an
offered inbound call. ``channel_of`` names the two (``voice``, ``callback``); chat and
e-mail tasks take their channel's name when the ACD routes them.

A blind transfer queues the call again as its next *segment* (``<call>-t<n>``,
``segment_id``): the call keeps its place and priority for routing, but for the figures a
segment is a contact of its own (``TRANSFER``): the customer was counted once, where they
first queued, and the segment's wait runs from the transfer, not from their arrival.

``exit_outcome`` maps the reason of a ``CallAbandoned`` that was not the caller's doing
(``CallAbandoned.by_caller`` is False) onto ``history.outcomes.Outcome``.
"""

from __future__ import annotations

import re
from typing import Final

from history.outcomes import Outcome

__all__ = [
    "CALLBACK",
    "CHAT",
    "CUSTOMER_LEFT",
    "CUT_BY_ASTERISK",
    "EMAIL",
    "FOLLOW_UP",
    "HANDED_TO_FALLBACK",
    "TASK_DONE",
    "TRANSFER",
    "VOICE",
    "VOICEMAIL",
    "VOICE_SEAT",
    "call_of",
    "callback_attempt_id",
    "channel_of",
    "exit_outcome",
    "is_callback_attempt",
    "segment_id",
    "segment_number",
    "sent_on",
]

VOICE: Final = "voice"
CALLBACK: Final = "callback"
CHAT: Final = "chat"
EMAIL: Final = "email"
VOICEMAIL: Final = "voicemail"
#: A callback that never reached the customer, to follow up another way.
FOLLOW_UP: Final = "follow_up"
#: A transferred call's next segment, as the figures count it (routed as ``voice``).
TRANSFER: Final = "transfer"
#: The channels an agent's one voice seat serves (their phone: one at a time, real time);
#: every other channel is a *digital* one, held several at a time (``acd.capacity``).
VOICE_SEAT: Final = frozenset({VOICE, CALLBACK, TRANSFER})

_ATTEMPT = re.compile(r"-cb[0-9]+\Z")
_SEGMENT = re.compile(r"-t([0-9]+)\Z")

#: ``CallAbandoned.reason`` prefixes of a queue's overflow rules (``center.gateway``).
_OVERFLOW_REASONS = ("max wait", "join-empty", "leave-when-empty")
CALLBACK_REQUESTED_REASON: Final = "callback requested"
#: The ``CallEnded`` reason of a digital task the agent closed.
TASK_DONE: Final = "done"
#: The ``CallAbandoned``/``CallEnded`` reason of a digital task its customer left (closed
#: the chat, withdrew the request).
CUSTOMER_LEFT: Final = "customer left"
#: A waiting call the service handed to the dialplan's fallback as it stopped.
HANDED_TO_FALLBACK: Final = "handed to the fallback"
#: A waiting call Asterisk ended itself (a restart or shutdown): no abandon by the caller,
#: so not counted against the service level; recorded ``failed``.
CUT_BY_ASTERISK: Final = "cut by Asterisk (restart or shutdown)"
#: ``<why>; to <action>``: a queue rule sent the call on (``sent_on``), and the outcome the
#: history records for where it went.
_TO: Final = "; to "
_DESTINATIONS: Final = {
    "voicemail": Outcome.VOICEMAIL,
    "callback": Outcome.CALLBACK_REQUESTED,
    "fallback": Outcome.FALLBACK,
    "hangup": Outcome.OVERFLOWED,
    "queue": Outcome.OVERFLOWED,  # counted again where it ends
}


def sent_on(why: str, action: str) -> str:
    """The ``CallAbandoned.reason`` of a call a queue rule sends to ``action``."""
    return f"{why}{_TO}{action}"


def callback_attempt_id(call_id: str, attempt: int) -> str:
    """The ACD call id of a callback's ``attempt`` (1, 2, ...) for the call ``call_id``."""
    return f"{call_id}-cb{attempt}"


def is_callback_attempt(call_id: str) -> bool:
    return _ATTEMPT.search(call_id) is not None


def segment_id(call_id: str, n: int) -> str:
    """The ACD id of the ``n``-th transfer of the call ``call_id`` (1, 2...)."""
    return f"{call_of(call_id)}-t{n}"


def segment_number(call_id: str) -> int:
    """0 for the call's first segment, n for its n-th transfer."""
    found = _SEGMENT.search(call_id)
    return int(found.group(1)) if found else 0


def call_of(call_id: str) -> str:
    """The call (the caller's uniqueid, the interaction's key) a segment belongs to."""
    return _SEGMENT.sub("", call_id)


def channel_of(call_id: str, logged: str = VOICE) -> str:
    """The kind of contact a task queued as ``call_id`` whose ``CallQueued`` said ``logged``
    is for the figures (logs written before tasks had channels say ``voice`` for callback
    attempts too; a transfer's segment is routed as ``voice``)."""
    if logged != VOICE:
        return logged
    if is_callback_attempt(call_id):
        return CALLBACK
    return TRANSFER if segment_number(call_id) else VOICE


def exit_outcome(reason: str, channel: str) -> Outcome:
    """The outcome of a call the ACD sent out of its queue for ``reason``."""
    if channel == CALLBACK:
        # not dialled (AMI down, let go by a supervisor or a reconcile): not reached
        return Outcome.CALLBACK_FAILED
    if reason == CALLBACK_REQUESTED_REASON:
        return Outcome.CALLBACK_REQUESTED
    if reason == HANDED_TO_FALLBACK:
        return Outcome.FALLBACK
    _, to, action = reason.rpartition(_TO)
    if to and action in _DESTINATIONS:
        return _DESTINATIONS[action]
    if reason.startswith(_OVERFLOW_REASONS):
        return Outcome.OVERFLOWED
    return Outcome.FAILED
