"""What Asterisk tells the live ACD: telephony facts about an agent's offer or call (from
AMI and from the dial's outcome: ``fact``; a ring that did not connect: ``offer_failed``,
with a short rest for the agent), the offers being dialled (``dialing``, ``dial_of``: the AMI
feed's view), and the reconcile watchdog (``watch``): after every AMI (re)login's channel
rebuild, offers, calls and callers whose channels Asterisk no longer has are cleared.

A part of ``center.service.AcdService``, which holds the state and hands out the offers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from acd.agent_events import (
    AgentError,
    AgentEvent,
    AgentState,
    Answered,
    Busy,
    HoldEnded,
    HoldStarted,
    HungUp,
    OfferRang,
    Pause,
    Ready,
    RingNoAnswer,
    StaleCallEvent,
    Unreachable,
    event_name,
)
from acd.commands import Command, Reconcile
from acd.offer import Offer
from telephony.channels import ChannelTable, ChannelTracker

if TYPE_CHECKING:
    from acd.build import AcdSetup
    from acd.distributor import CallDistributor

log = logging.getLogger(__name__)

__all__ = ["FailedOffer", "TelephonyFact", "TelephonyFacts", "live_channel_keys"]

TelephonyFact = (
    OfferRang | Answered | HungUp | RingNoAnswer | Busy | Unreachable | HoldStarted | HoldEnded
)
FailedOffer = RingNoAnswer | Busy | Unreachable
S = AgentState
#: The states in which each telephony fact is about the agent's current offer or call.
_FACT_STATES: dict[type, tuple[AgentState, ...]] = {
    OfferRang: (S.OFFERED,),
    Answered: (S.OFFERED,),
    HungUp: (S.OFFERED, S.ON_CALL),
    RingNoAnswer: (S.OFFERED,),
    Busy: (S.OFFERED,),
    Unreachable: (S.OFFERED,),
    HoldStarted: (S.ON_CALL,),  # the agent's phone holds the caller (center.call_controller)
    HoldEnded: (S.ON_CALL,),
}


def live_channel_keys(table: ChannelTable) -> set[str]:
    """What ``reconcile`` compares against: every live channel's name and uniqueid."""
    keys: set[str] = set()
    for channel in table:
        keys.add(channel.name)
        keys.add(channel.uniqueid)
    return keys


class TelephonyFacts:
    if TYPE_CHECKING:  # the service's state and steps these use
        setup: AcdSetup
        distributor: CallDistributor
        _dials: dict[str, tuple[str, str]]
        _rests: dict[str, asyncio.TimerHandle]

        def agent_event(self, event: AgentEvent) -> None: ...
        def _submit(self, command: Command) -> None: ...

    # the reconcile watchdog ------------------------------------------------------------
    def watch(self, tracker: ChannelTracker) -> None:
        """The watchdog: after every AMI (re)login's channel rebuild, reconcile."""
        tracker.on_resync(lambda _: self._reconcile(live_channel_keys(tracker.table)))

    def _reconcile(self, live_channels: Collection[str]) -> None:
        """The watchdog: clear offers, calls and callers whose channels Asterisk no longer
        has."""
        self._submit(Reconcile(frozenset(live_channels)))
        log.info("ACD reconciled with Asterisk's %d live channels", len(live_channels) // 2)

    # telephony facts (AMI, the dial outcome) -------------------------------------------
    def fact(self, event: TelephonyFact) -> bool:
        """Apply a fact if it is about the agent's current offer or call; otherwise (a
        duplicate from the other source, a late event, an unknown agent) ignore it quietly.
        True when it was applied."""
        if event.agent_id not in self.distributor.book:
            log.debug("%s for unknown agent %s ignored", event_name(event), event.agent_id)
            return False
        view = self.distributor.book.view(event.agent_id)
        if view.call_id != event.call_id or view.state not in _FACT_STATES[type(event)]:
            log.debug(
                "%s for agent %s call %s ignored: agent is %s with call %s",
                event_name(event),
                event.agent_id,
                event.call_id,
                view.state.value,
                view.call_id,
            )
            return False
        try:
            self.agent_event(event)
        except StaleCallEvent as error:
            log.debug("stale telephony fact: %s", error)
            return False
        return True

    def offer_failed(self, event: FailedOffer, *, rest_s: float = 0.0) -> bool:
        """A ring that did not connect. When agents.yaml gives no pause reason for this
        outcome, the agent may rest ``rest_s`` (paused "rest after busy", then made ready
        again), so the call tries someone else instead of the same phone at once."""
        policy = self.setup.agent_policy
        configured = {
            RingNoAnswer: policy.rona_pause_reason,
            Busy: policy.busy_pause_reason,
            Unreachable: policy.unavailable_pause_reason,
        }[type(event)]
        rest_reason = None
        if configured is None and rest_s > 0 and event.agent_id in self.distributor.book:
            view = self.distributor.book.view(event.agent_id)
            if view.state is S.OFFERED and view.call_id == event.call_id and view.pending is None:
                rest_reason = f"rest after {event_name(event).replace('_', ' ')}"
                self.agent_event(Pause(event.agent_id, rest_reason))  # pending: atomic below
        applied = self.fact(event)
        if applied and rest_reason is not None:
            self._rest(event.agent_id, rest_reason, rest_s)
        return applied

    # the AMI feed's view of the offers being dialled ------------------------------------
    @contextlib.contextmanager
    def dialing(self, caller_channel: str, offer: Offer) -> Iterator[None]:
        """While the block runs, the caller's channel dials ``offer``'s agent (``dial_of``)."""
        self._dials[caller_channel] = (offer.call_id, offer.agent_id)
        try:
            yield
        finally:
            self._dials.pop(caller_channel, None)

    def dial_of(self, caller_channel: str) -> tuple[str, str] | None:
        """(call id, agent id) of the offer this caller's channel is dialling, if any."""
        return self._dials.get(caller_channel)

    def _rest(self, agent_id: str, reason: str, seconds: float) -> None:
        old = self._rests.pop(agent_id, None)
        if old is not None:
            old.cancel()

        def back() -> None:
            self._rests.pop(agent_id, None)
            view = self.distributor.book.view(agent_id)
            if view.state is S.PAUSED and view.pause_reason == reason:
                with contextlib.suppress(AgentError):
                    self.agent_event(Ready(agent_id))

        self._rests[agent_id] = asyncio.get_running_loop().call_later(seconds, back)
