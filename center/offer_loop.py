"""The offer loop: a queued call's offers, taken one by one until an agent has it.

Both voice paths take a call's offers the same way; they differ only in how the call waits
and how the agent's phone is rung. The inbound caller (``center.gateway``) waits on its AGI
session with hold music and its agent is rung by ``Dial`` from that session
(``center.ringing``); a callback (``center.callbacks``) waits as a call without a channel
and its agent is rung by an AMI ``Originate`` (``center.callback_legs``). For each:

1. **the next offer** (``next_offer``), or whatever else ended the wait (the caller pressed
   the callback key, waited too long, the ACD let the call go...): ``serve`` returns that;
2. **hold-off**: the phone that just failed this call is not rung for it again before
   ``waiting.yaml``'s ``retry_s`` has passed since (the call waits as it waits: ``pause``);
3. **the offer is still out**: if not (the caller left, a reconcile), back to 1, nothing told;
   an agent with no endpoint in agents.yaml cannot be rung: ``Unreachable``, as in 5;
4. **the phone is rung** (``ring``, given the offer and the agent's endpoint as ``route``
   says to dial it from the call's Asterisk, ``system``: through a trunk when the phone is
   on another Asterisk): the agent took the call, and ``serve`` returns what the ring
   returned (the conversation is over, or the call is gone); or the phone failed the offer
   (``PhoneFailed``);
5. **a failure is told to the ACD** (``AcdService.offer_failed``: ``RingNoAnswer``, ``Busy``,
   ``Unreachable``; with no pause reason in agents.yaml for it, the agent may rest
   ``failed_offer_rest_s``): the call goes back in line with its place kept, the agent is
   remembered for 2, and the loop goes back to 1.

A ``CallerHangup`` (or any error) from any step ends the loop and propagates. One loop
serves one queued call (its hold-off memory is that call's); ``serve`` may be called again
after it returned something other than an answer (the caller keeps waiting).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from acd.agent_events import AgentState, Unreachable
from acd.offer import Offer
from center.service import AcdService
from center.settings import WaitingConfig
from center.telephony_facts import FailedOffer

log = logging.getLogger(__name__)

__all__ = ["OfferLoop", "PhoneFailed", "PhoneRoute", "offer_current", "same_phone"]


class PhoneRoute(Protocol):
    """The dial string of an agents.yaml endpoint from the Asterisk ``system`` (the call's
    own, ``center.phone_locations.call_system``; None: this node's): a phone registered
    on another Asterisk is rung through the trunk to it (``center.phone_registry``)."""

    def __call__(self, endpoint: str, system: str | None = None) -> str: ...


def same_phone(endpoint: str, system: str | None = None) -> str:
    """One Asterisk (no cluster): every phone is dialled as agents.yaml names it."""
    return endpoint


#: What a ring returns when the agent took the call.
R = TypeVar("R")
#: What else than an offer can end the wait for one.
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class PhoneFailed:
    """The agent's phone did not take the offer: the fact the ACD is told."""

    fact: FailedOffer
    #: The agent may rest ``failed_offer_rest_s`` (when agents.yaml gives no pause reason
    #: for the fact); False when the phone was never reached to fail (nothing was rung,
    #: or no answer at all came from Asterisk).
    rest: bool = True


class OfferLoop(Generic[R, E]):
    """One queued call's offers: ``next_offer`` gives the next (or what else ended the
    wait), ``ring(offer, endpoint)`` rings the agent, ``pause(seconds)`` waits out a
    hold-off; ``settings`` is the current ``waiting.yaml`` (a reload swaps it)."""

    def __init__(
        self,
        service: AcdService,
        settings: Callable[[], WaitingConfig],
        *,
        next_offer: Callable[[], Awaitable[Offer | E]],
        ring: Callable[[Offer, str], Awaitable[R | PhoneFailed]],
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
        route: PhoneRoute = same_phone,
        system: str | None = None,
    ) -> None:
        """``system``: the Asterisk the call is on (None: this node's), whose point of
        view ``route`` takes."""
        self._service = service
        self._system = system
        self._settings = settings
        self._next_offer = next_offer
        self._ring = ring
        self._pause = pause
        self._route = route
        #: the agent whose phone last failed this call, and when
        self._failed: tuple[str, float] | None = None

    async def serve(self) -> R | E:
        """Until an agent took the call (the ring's result) or the wait ended otherwise."""
        while True:
            offer = await self._next_offer()
            if not isinstance(offer, Offer):
                return offer
            await self._hold_off(offer)
            rang = await self._take(offer)
            if not isinstance(rang, PhoneFailed | None):
                return rang

    async def _hold_off(self, offer: Offer) -> None:
        """Don't ring the phone that just failed this call again at once."""
        if self._failed is None or self._failed[0] != offer.agent_id:
            return
        left = self._failed[1] + self._settings().retry_s - self._service.now()
        if left > 0:
            await self._pause(left)

    async def _take(self, offer: Offer) -> R | PhoneFailed | None:
        """Ring the offer's agent; a failure is told to the ACD. None: not rung, the offer
        was no longer current."""
        service, agent_id, call_id = self._service, offer.agent_id, offer.call_id
        if not offer_current(service, offer):
            log.debug("call %s: offer to agent %s is no longer current", call_id, agent_id)
            return None
        profile = service.distributor.agents.get(agent_id)
        rang: R | PhoneFailed
        if profile is None or not profile.endpoint:
            log.error("agent %s has no endpoint in agents.yaml: cannot ring them", agent_id)
            rang = PhoneFailed(Unreachable(agent_id, call_id), rest=False)
        else:
            rang = await self._ring(offer, self._route(profile.endpoint, self._system))
        if isinstance(rang, PhoneFailed):
            rest_s = self._settings().failed_offer_rest_s if rang.rest else 0.0
            service.offer_failed(rang.fact, rest_s=rest_s)
            self._failed = (agent_id, service.now())
        return rang


def offer_current(service: AcdService, offer: Offer) -> bool:
    """Is this offer still out (the call waits for it, the agent is reserved for it)?"""
    distributor = service.distributor
    if distributor.call_state(offer.call_id) != "offered":
        return False
    view = distributor.book.view(offer.agent_id)
    return view.state is AgentState.OFFERED and view.call_id == offer.call_id
