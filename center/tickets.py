"""A queued call's mailbox (``CallTicket``) and the record of an offer (``OfferNote``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from acd.calls import IncomingCall
from acd.offer import Offer
from acd.skills import RoutingProfile

__all__ = ["AnswerListener", "CallTicket", "OfferNote"]


@dataclass(frozen=True, slots=True)
class OfferNote:
    """One offer, as the supervisor page lists it."""

    at: float
    call_id: str
    agent_id: str
    queue: str
    entry_time: float
    explanation: str


class CallTicket:
    """A queued call's mailbox: the offers made for it, and whether the ACD let it go."""

    def __init__(
        self,
        call: IncomingCall,
        profile: RoutingProfile,
        entry_time: float,
        on_answered: AnswerListener | None = None,
    ) -> None:
        self.call = call
        #: The call's requirement at each relaxation step (for estimates and join-empty).
        self.profile = profile
        #: The router's entry time (kept across requeues, overflows and callbacks).
        self.entry_time = entry_time
        self.offers: asyncio.Queue[Offer] = asyncio.Queue()
        #: Set when the call left the distributor (abandoned, ended, reconciled away).
        self.gone = asyncio.Event()
        self.gone_reason = ""
        #: Told when an agent answers the call (whoever queued it records that).
        self.on_answered = on_answered

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def queue(self) -> str:
        return self.call.queue

    async def next_offer(self) -> Offer | None:
        """The next offer made for the call, or None when the ACD let it go first."""
        if not self.offers.empty():
            return self.offers.get_nowait()
        if self.gone.is_set():
            return None
        offer = asyncio.ensure_future(self.offers.get())
        gone = asyncio.ensure_future(self.gone.wait())
        try:
            await asyncio.wait({offer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not offer.done():
                offer.cancel()
        return offer.result() if offer.done() and not offer.cancelled() else None


#: (ticket, agent id, seconds waited) when a queued call is answered.
AnswerListener = Callable[[CallTicket, str, float], None]
