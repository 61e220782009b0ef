"""The agent's leg of a callback, as AMI tells it.

The dialler (``center.callbacks``) rings the agent by an asynchronous AMI ``Originate``
of the agent's endpoint into the callback context, with the customer's number as the
extension. ``CallbackLegs.originate`` sends it with our own uniqueid (``ChannelId``) for a
``Leg`` opened beforehand, so the leg's events are recognised whatever order they arrive in:

==========================  ===============================================================
AMI event                   the leg's event
==========================  ===============================================================
OriginateResponse           ``AgentAnswered`` (Response Success, Reason 4) or
                            ``AgentRefused`` (the Reason: ``failed_offer`` maps it);
                            matched by uniqueid, or by the action's ActionID; one that
                            arrives before ``action`` returns is kept until the leg claims it
DialEnd on the agent's leg  ``CustomerDialled``: the customer's DIALSTATUS
Hangup of the agent's leg   ``LegGone``
==========================  ===============================================================

``CallbackLegs.handle`` runs inline in the AMI reader (quick, no awaits); the attempt reads
its ``Leg`` at its own pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from acd.agent_events import Busy, RingNoAnswer, Unreachable
from center.service import CallTicket
from center.settings import CallbackDialling
from center.telephony_facts import FailedOffer
from telephony.ami_client import AmiClient
from telephony.ami_codec import (
    ACTION_ORIGINATE,
    EVENT_DIAL_END,
    EVENT_HANGUP,
    EVENT_ORIGINATE_RESPONSE,
    HEADER_CHANNEL,
    HEADER_DIAL_STATUS,
    HEADER_REASON,
    HEADER_RESPONSE,
    HEADER_UNIQUEID,
    RESPONSE_SUCCESS,
    AmiMessage,
)

__all__ = [
    "ORIGINATE_GRACE_S",
    "VAR_CALLBACK",
    "VAR_CALLBACK_CALLERID",
    "VAR_CALLBACK_RING_S",
    "AgentAnswered",
    "AgentRefused",
    "CallbackLegs",
    "CustomerDialled",
    "Leg",
    "LegEvent",
    "LegGone",
    "failed_offer",
]

#: Channel variables the Originate sets for the callback context's dialplan.
VAR_CALLBACK: Final = "HOTLINE_CALLBACK"  # the call that asked for it
VAR_CALLBACK_CALLERID: Final = "HOTLINE_CALLBACK_CALLERID"  # what the customer sees
VAR_CALLBACK_RING_S: Final = "HOTLINE_CALLBACK_RING_S"  # how long the customer's phone rings
#: OriginateResponse Reason codes (Asterisk's AST_CONTROL_*): answered, no answer, busy.
REASON_ANSWERED: Final = "4"
REASON_NO_ANSWER: Final = "3"
REASON_BUSY: Final = "5"
#: An Originate whose response never comes (a dropped AMI link) counts as unreachable
#: this long after the agent's ring timeout.
ORIGINATE_GRACE_S: Final = 10.0
#: OriginateResponses nobody has claimed yet (ours arrive before ``action`` returns,
#: others belong to other features); the oldest are forgotten beyond this.
_EARLY_KEPT = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")


def failed_offer(reason: str, agent_id: str, call_id: str) -> FailedOffer:
    """The agent fact of an Originate the agent's phone did not answer."""
    if reason == REASON_NO_ANSWER:
        return RingNoAnswer(agent_id, call_id)
    if reason == REASON_BUSY:
        return Busy(agent_id, call_id)
    return Unreachable(agent_id, call_id)


# what the agent's leg tells, in the order AMI tells it -----------------------------------
@dataclass(frozen=True, slots=True)
class AgentAnswered:
    channel: str


@dataclass(frozen=True, slots=True)
class AgentRefused:
    reason: str


@dataclass(frozen=True, slots=True)
class CustomerDialled:
    status: str


@dataclass(frozen=True, slots=True)
class LegGone:
    pass


LegEvent = AgentAnswered | AgentRefused | CustomerDialled | LegGone


def _originated(message: AmiMessage) -> AgentAnswered | AgentRefused:
    reason = message.get(HEADER_REASON) or ""
    if message.get(HEADER_RESPONSE) == RESPONSE_SUCCESS and reason == REASON_ANSWERED:
        return AgentAnswered(message.get(HEADER_CHANNEL) or "")
    return AgentRefused(reason)


class Leg:
    """One Originate's channel: its events, in the order AMI told them."""

    def __init__(self, uniqueid: str) -> None:
        self.uniqueid = uniqueid
        self.action_id = ""
        self._events: asyncio.Queue[LegEvent] = asyncio.Queue()

    def put(self, event: LegEvent) -> None:
        self._events.put_nowait(event)

    async def agent_answer(self, ring_timeout_s: float) -> AgentAnswered | AgentRefused | None:
        """The OriginateResponse; None when none came ``ORIGINATE_GRACE_S`` after the ring
        timeout. A hang-up told before the response is the failure's: skipped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ring_timeout_s + ORIGINATE_GRACE_S):
                while True:
                    event = await self._events.get()
                    if isinstance(event, AgentAnswered | AgentRefused):
                        return event
        return None

    async def next(self, ticket: CallTicket) -> LegEvent | None:
        """The leg's next event, or None when the ACD ended the call first (a reconcile
        after AMI came back without the leg's channel)."""
        if not self._events.empty():
            return self._events.get_nowait()
        if ticket.gone.is_set():
            return None
        event = asyncio.ensure_future(self._events.get())
        gone = asyncio.ensure_future(ticket.gone.wait())
        try:
            await asyncio.wait({event, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not event.done():
                event.cancel()
        return event.result() if event.done() and not event.cancelled() else None


class CallbackLegs:
    """The legs being rung, and the AMI events matched to them."""

    def __init__(self) -> None:
        self._legs: dict[str, Leg] = {}  # our uniqueid -> its leg
        self._by_action: dict[str, str] = {}  # Originate ActionID -> our uniqueid
        self._early: OrderedDict[str, AmiMessage] = OrderedDict()
        self._unsubscribe: list[Callable[[], None]] = []

    def attach(self, ami: AmiClient) -> None:
        for name in (EVENT_ORIGINATE_RESPONSE, EVENT_DIAL_END, EVENT_HANGUP):
            self._unsubscribe.append(ami.on_event(name, self.handle))

    def detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    @contextlib.contextmanager
    def opened(self) -> Iterator[Leg]:
        """A leg with a fresh uniqueid, followed until the block ends."""
        leg = Leg(f"hotline-cb-{uuid.uuid4().hex}")
        self._legs[leg.uniqueid] = leg
        try:
            yield leg
        finally:
            self._legs.pop(leg.uniqueid, None)
            self._by_action.pop(leg.action_id, None)

    async def originate(
        self,
        ami: AmiClient,
        leg: Leg,
        *,
        endpoint: str,
        number: str,
        call_id: str,
        settings: CallbackDialling,
    ) -> None:
        """Ring ``endpoint`` into the callback context for the customer's ``number`` (the
        dialplan dials it once the agent answers); raises ``AmiError``."""
        response = await ami.action(
            ACTION_ORIGINATE,
            Channel=endpoint,
            Context=settings.context,
            Exten=number,
            Priority=1,
            CallerID=f'"Callback" <{number}>',  # what the agent's phone shows
            Timeout=max(1, round(settings.agent_ring_timeout_s * 1000)),
            ChannelId=leg.uniqueid,
            Variable=[
                f"{VAR_CALLBACK}={_UNSAFE.sub('_', call_id)}",
                f"{VAR_CALLBACK_CALLERID}={settings.caller_id}",
                f"{VAR_CALLBACK_RING_S}={settings.customer_ring_timeout_s}",
            ],
            Async="true",
        )
        leg.action_id = response.action_id or ""
        self._by_action[leg.action_id] = leg.uniqueid
        early = self._early.pop(leg.action_id, None)
        if early is not None:
            leg.put(_originated(early))

    def handle(self, message: AmiMessage) -> None:
        """One AMI event (called inline by the client: quick, no awaits)."""
        event = (message.event or "").lower()
        if event == EVENT_ORIGINATE_RESPONSE.lower():
            action_id = message.action_id or ""
            uniqueid = message.get(HEADER_UNIQUEID) or ""
            leg = self._legs.get(uniqueid) or self._legs.get(self._by_action.get(action_id, ""))
            if leg is not None:
                leg.put(_originated(message))
            elif action_id:  # ours before ``action`` returned, or someone else's
                self._early[action_id] = message
                while len(self._early) > _EARLY_KEPT:
                    self._early.popitem(last=False)
            return
        leg = self._legs.get(message.get(HEADER_UNIQUEID) or "")
        if leg is None:
            return
        if event == EVENT_DIAL_END.lower():  # the agent's leg dialled the customer
            leg.put(CustomerDialled(message.get(HEADER_DIAL_STATUS) or ""))
        elif event == EVENT_HANGUP.lower():
            leg.put(LegGone())
