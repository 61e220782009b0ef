"""An agent's control of their call, decided without I/O: may they do it now, and what a
blind transfer makes of the call.

How each control works on Asterisk 20 (the AMI actions: ``telephony.call_actions``):

* **hang up**: AMI ``Hangup`` of the agent's leg. ``Dial`` in the caller's AGI session
  returns (``DIALSTATUS=ANSWER``, result -1, the caller still up) and the call ends as when
  the agent hangs up their phone (``center.gateway``: survey, ``after_call``, hang-up).
* **blind transfer** to a queue or to a named agent: the transfer is noted
  (``PendingTransfers``), then the agent's leg is hung up the same way. When ``Dial``
  returns with the caller still up, the gateway takes the note and queues the call again
  (``requeued``) instead of ending it: a *segment* of the same call (ACD id
  ``<call>-t<n>``, ``segment_id``) that keeps the call's facts (so its priority), its first
  entry time (so its place and aging) and the caller's card; to a queue it waits there, to
  an agent it is *directed* (``IncomingCall.directed``: that agent only, while logged in).
  The history keeps one interaction for the call (``acd.contacts.call_of`` maps a
  segment back to it); the figures count a segment as a ``transfer`` contact.
* **mute** (and unmute): ``MUTEAUDIO(in)`` on the agent's leg; the customer hears silence.
* **hold**: there is no AMI action for it. The agent's phone holds (its re-INVITE), or the
  desktop does with an attended transfer of the agent's leg to an extension that waits in
  silence (``Atxfer``; **resume**: ``CancelAtxfer``, as a consult's cancel). Either way
  Asterisk plays the caller music on hold and reports ``Hold``/``Unhold`` of the agent's
  leg, which become ``HoldStarted``/``HoldEnded`` (the interaction's ``hold_s``). A
  desktop hold is neither a transfer nor a consult: the call keeps its segment. It needs
  Dial option ``t``, as consult does (on with it: waiting.yaml ``consult``). The caller
  hanging up during it ends the call as usual; the waiting extension then ends by itself
  (docker/asterisk/extensions.conf). Only the desktop resumes its own hold, and only the
  phone its own.

* **consult** a colleague, then complete, cancel or conference: an attended transfer of
  the agent's leg (``center.consult``).

Every control needs the agent on a call with a known leg (``AgentView.channel``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.calls import IncomingCall
from acd.contacts import segment_id, segment_number

__all__ = [
    "HOLD_SETTLE_S",
    "NOT_ON_A_CALL",
    "DeskHold",
    "PendingTransfers",
    "Transfer",
    "TransferRefused",
    "control_refusal",
    "hold_refusal",
    "on_hold_refusal",
    "requeued",
    "resume_refusal",
    "transfer_refusal",
]

NOT_ON_A_CALL: Final = "not on a call"
#: Asterisk needs a moment between a hold's Atxfer and its CancelAtxfer (and back): digits
#: of one reach the other's digit collection and both go astray.
HOLD_SETTLE_S: Final = 2.0


class TransferRefused(Exception):
    """The transfer cannot be made (the reason is for the agent)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """A blind transfer an agent asked for, until the caller's session carries it out."""

    call_id: str  # the ACD id of the segment being transferred
    by_agent: str
    queue: str | None = None  # to this queue...
    agent: str | None = None  # ...or to this agent (in the call's current queue)

    @property
    def target(self) -> str:
        return f"agent {self.agent}" if self.agent is not None else f"queue {self.queue}"


@dataclass(frozen=True, slots=True)
class DeskHold:
    """A hold the agent's desktop made, until it resumes (or the call ends)."""

    call_id: str  # the ACD id of the segment held
    since: float  # ACD clock


def hold_refusal(
    view: AgentView,
    *,
    held: DeskHold | None,
    phone_held: bool,
    consulting: str | None,
    transferring: bool,
    since_resume_s: float | None = None,
) -> str | None:
    """Why the desktop cannot hold the agent's call now (None: it can). ``consulting``: the
    colleague of a consult (or conference) under way; ``phone_held``: Asterisk says the
    leg is held and not by the desktop (a consult's transfer holds it too: asked first)."""
    refusal = control_refusal(view)
    if refusal is not None:
        return refusal
    if held is not None and held.call_id == view.call_id:
        return "the call is already on hold"
    if consulting is not None:
        return f"consulting agent {consulting}: the caller is already on hold"
    if phone_held:
        return "the call is on hold from the phone: resume it there"
    if transferring:
        return "a transfer of this call is under way"
    if since_resume_s is not None and since_resume_s < HOLD_SETTLE_S:
        return "the call is coming back from hold: try again in a moment"
    return None


def resume_refusal(
    view: AgentView, *, held: DeskHold | None, phone_held: bool, now: float
) -> str | None:
    """Why the desktop cannot resume the agent's call now (None: it can)."""
    refusal = control_refusal(view)
    if refusal is not None:
        return refusal
    if held is None or held.call_id != view.call_id:
        if phone_held:
            return "the call is on hold from the phone: resume it there"
        return "the call is not on hold"
    if now - held.since < HOLD_SETTLE_S:
        return "the call is going on hold: try again in a moment"
    return None


def on_hold_refusal(view: AgentView, held: DeskHold | None) -> str | None:
    """Consult and transfer wait for the desktop's hold to end (its transfer is the leg's
    one attended transfer; hanging the leg up is fine: the hold ends with it)."""
    if held is not None and held.call_id == view.call_id:
        return "the call is on hold: resume it first"
    return None


def control_refusal(view: AgentView, call_id: str | None = None) -> str | None:
    """Why the agent cannot control a call now (None: they can): they must be on a call,
    whose leg AMI told (and on ``call_id``, when the request names one)."""
    if view.state is not AgentState.ON_CALL or view.call_id is None:
        return NOT_ON_A_CALL
    if call_id is not None and call_id != view.call_id:
        return f"not on call {call_id}"
    if not view.channel:
        return "the call's channel is not known yet"
    return None


def transfer_refusal(
    view: AgentView,
    *,
    queue: str | None,
    agent: str | None,
    queues: tuple[str, ...],
    target_view: AgentView | None,
) -> str | None:
    """Why this blind transfer cannot be made (None: it can). Exactly one of ``queue`` and
    ``agent``; a known queue; a logged-in colleague (they may be busy: the call waits for
    them)."""
    refusal = control_refusal(view)
    if refusal is not None:
        return refusal
    if (queue is None) == (agent is None):
        return "name a queue or an agent"
    if queue is not None and queue not in queues:
        return f"no queue {queue!r}"
    if agent is not None:
        if agent == view.agent_id:
            return "a call cannot be transferred to its own agent"
        if target_view is None:
            return f"no agent {agent!r}"
        if target_view.state is AgentState.LOGGED_OUT:
            return f"agent {agent} is not logged in"
    return None


def requeued(call: IncomingCall, transfer: Transfer, *, entry_time: float) -> IncomingCall:
    """The call's next segment after ``transfer``: same facts and card (priority), same first
    entry (place and aging), in the target queue or directed to the target agent."""
    return replace(
        call,
        call_id=segment_id(call.call_id, segment_number(call.call_id) + 1),
        queue=transfer.queue or call.queue,
        preferred_agent=transfer.agent,
        directed=transfer.agent is not None,
        entry_time=entry_time,
    )


class PendingTransfers:
    """Transfers asked for and not yet carried out, by the ACD id of the segment."""

    def __init__(self) -> None:
        self._pending: dict[str, Transfer] = {}

    def request(self, transfer: Transfer) -> None:
        """Raises ``TransferRefused`` if one is already pending for the call."""
        if transfer.call_id in self._pending:
            raise TransferRefused("a transfer of this call is already under way")
        self._pending[transfer.call_id] = transfer

    def cancel(self, call_id: str) -> None:
        self._pending.pop(call_id, None)

    def get(self, call_id: str) -> Transfer | None:
        return self._pending.get(call_id)

    def take(self, call_id: str) -> Transfer | None:
        """The transfer of ``call_id``, once (the caller's session carries it out)."""
        return self._pending.pop(call_id, None)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._pending
