"""Agents' telephony facts from AMI, as they happen.

The caller's AGI session knows how each offer ends (the dial outcome), but only when Dial
returns, after the conversation. AMI tells the rest in real time:

* ``DialBegin`` from a caller channel that is dialling an offer: the agent's phone rings
  (``OfferRang`` with the agent leg's channel, which the watchdog reconciles against);
* ``DialEnd`` with ``ANSWER``: the agent answered (``Answered``): on call from now (a
  DialEnd whose DialBegin was missed, AMI being down when the phone began to ring, links
  the leg all the same);
* ``Hangup`` of an answered agent leg: the conversation is over (``HungUp`` → wrap-up);
* ``DeviceStateChange`` of an agent's phone: a phone busy with another call (in use,
  ringing) or unreachable while its agent is available pauses the agent ("phone in use",
  "phone unreachable") so the router does not offer calls it cannot ring; when the phone
  is idle again the pause lifts. Only pauses the feed made itself are lifted.

With several Asterisks (``center.phone_registry``), an agent's phone registered on a peer
is rung through the trunk: its leg here is a channel of the trunk (``pjsip/<trunk>-...``),
taken as the agent's when the caller's channel dials their offer, and its device here
being unavailable pauses nobody (the peer's node tells its real state).

Failures of an offer (no answer, busy, unreachable) are left to the dial outcome, the one
source that knows them for sure. Facts are applied through ``AcdService.fact``, which
drops duplicates (the dial outcome repeats them) and late ones. Events for channels or
devices that are no agent's are ignored with a debug log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Final, Protocol

from acd.agent_events import AgentError, AgentState, Answered, HungUp, OfferRang, Pause, Ready
from center.service import AcdService
from telephony.ami_client import AmiClient
from telephony.ami_codec import (
    EVENT_DEVICE_STATE_CHANGE,
    EVENT_DIAL_BEGIN,
    EVENT_DIAL_END,
    EVENT_HANGUP,
    HEADER_CHANNEL,
    HEADER_DEST_CHANNEL,
    HEADER_DEVICE,
    HEADER_DIAL_STATUS,
    HEADER_STATE,
    AmiMessage,
)

log = logging.getLogger(__name__)

__all__ = ["PHONE_IN_USE", "PHONE_UNREACHABLE", "AmiAgentFeed"]

# Asterisk's device states (DeviceStateChange State:) and the DialStatus of an answer.
DEVICE_NOT_INUSE: Final = "NOT_INUSE"
DEVICE_BUSY_STATES: Final = frozenset({"INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD"})
DEVICE_GONE_STATES: Final = frozenset({"UNAVAILABLE", "INVALID"})
DIAL_ANSWER: Final = "ANSWER"

PHONE_IN_USE: Final = "phone in use"
PHONE_UNREACHABLE: Final = "phone unreachable"


class PhonesElsewhere(Protocol):
    """Phones registered on a peer Asterisk (``center.phone_registry``): rung through a
    trunk, their legs here are the trunk's channels, and their devices here are
    unavailable without the agent being unreachable."""

    @property
    def trunk_legs(self) -> frozenset[str]: ...

    def registered_elsewhere(self, endpoint: str) -> bool: ...


class AmiAgentFeed:
    def __init__(
        self,
        service: AcdService,
        *,
        device_pauses: bool = True,
        elsewhere: PhonesElsewhere | None = None,
    ) -> None:
        self._service = service
        self._device_pauses = device_pauses
        self._elsewhere = elsewhere
        self._agents_by_device = {
            profile.endpoint.lower(): agent_id
            for agent_id, profile in service.distributor.agents.items()
            if profile.endpoint
        }
        #: agent leg channel -> (agent id, call id), from DialBegin until its Hangup
        self._legs: dict[str, tuple[str, str]] = {}
        #: agents this feed paused, and the reason it used
        self._paused: dict[str, str] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._handlers: dict[str, Callable[[AmiMessage], None]] = {
            EVENT_DIAL_BEGIN.lower(): self._dial_begin,
            EVENT_DIAL_END.lower(): self._dial_end,
            EVENT_HANGUP.lower(): self._hangup,
            EVENT_DEVICE_STATE_CHANGE.lower(): self._device_state,
        }

    def attach(self, ami: AmiClient) -> None:
        for name in (EVENT_DIAL_BEGIN, EVENT_DIAL_END, EVENT_HANGUP, EVENT_DEVICE_STATE_CHANGE):
            self._unsubscribe.append(ami.on_event(name, self.handle))

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def handle(self, message: AmiMessage) -> None:
        """One AMI event (the client calls this inline; it must stay quick)."""
        handler = self._handlers.get((message.event or "").lower())
        if handler is not None:
            handler(message)

    # dial and hang-up ------------------------------------------------------------------
    def _dial_begin(self, message: AmiMessage) -> None:
        self._adopt_leg(message)

    def _adopt_leg(self, message: AmiMessage) -> tuple[str, str] | None:
        """Link an agent leg to the offer its caller channel is dialling (DialBegin, or a
        DialEnd whose DialBegin was missed while AMI was down); tell the ring."""
        caller, leg = message.get(HEADER_CHANNEL), message.get(HEADER_DEST_CHANNEL)
        dial = self._service.dial_of(caller) if caller else None
        if dial is None or not leg:
            log.debug("%s %s -> %s: no offer being dialled; ignored", message.event, caller, leg)
            return None
        call_id, agent_id = dial
        profile = self._service.distributor.agents.get(agent_id)
        endpoint = "" if profile is None else profile.endpoint.lower()
        if not leg.lower().startswith(endpoint + "-") and not self._through_trunk(leg):
            log.debug(
                "%s to %s is not agent %s's phone %s; ignored",
                message.event,
                leg,
                agent_id,
                endpoint,
            )
            return None
        self._legs[leg] = (agent_id, call_id)
        self._service.fact(OfferRang(agent_id, call_id, leg))
        return agent_id, call_id

    def _through_trunk(self, leg: str) -> bool:
        """A leg to a peer Asterisk: the offer's phone is registered there (a caller's
        channel dialling an offer dials nothing but the agent's phone)."""
        trunks = () if self._elsewhere is None else self._elsewhere.trunk_legs
        return any(leg.lower().startswith(prefix) for prefix in trunks)

    def _dial_end(self, message: AmiMessage) -> None:
        leg = message.get(HEADER_DEST_CHANNEL) or ""
        known = self._legs.get(leg) or self._adopt_leg(message)
        if known is not None and message.get(HEADER_DIAL_STATUS) == DIAL_ANSWER:
            agent_id, call_id = known
            self._service.fact(Answered(agent_id, call_id, leg))

    def _hangup(self, message: AmiMessage) -> None:
        channel = message.get(HEADER_CHANNEL) or ""
        known = self._legs.pop(channel, None)
        if known is None:
            log.debug("Hangup of %r: not an agent leg we rang; ignored", channel)
            return
        agent_id, call_id = known
        view = self._service.distributor.book.view(agent_id)
        # Before an answer the dial outcome says why the leg ended (no answer, busy...).
        if view.state is AgentState.ON_CALL and view.call_id == call_id:
            self._service.fact(HungUp(agent_id, call_id))

    # device states ---------------------------------------------------------------------
    def _device_state(self, message: AmiMessage) -> None:
        device, state = message.get(HEADER_DEVICE) or "", message.get(HEADER_STATE) or ""
        agent_id = self._agents_by_device.get(device.lower())
        if agent_id is None:
            log.debug("device %r (%s) is no agent's phone; ignored", device, state)
            return
        if not self._device_pauses:
            return
        if (
            state in DEVICE_GONE_STATES
            and self._elsewhere is not None
            and self._elsewhere.registered_elsewhere(device)
        ):
            log.debug("device %s %s here: registered on a peer Asterisk", device, state)
            return
        view = self._service.distributor.book.view(agent_id)
        if state in DEVICE_BUSY_STATES or state in DEVICE_GONE_STATES:
            if view.state is AgentState.AVAILABLE:
                reason = PHONE_IN_USE if state in DEVICE_BUSY_STATES else PHONE_UNREACHABLE
                log.info("agent %s paused: %s (device %s)", agent_id, reason, state)
                with contextlib.suppress(AgentError):
                    self._service.agent_event(Pause(agent_id, reason))
                    self._paused[agent_id] = reason
        elif state == DEVICE_NOT_INUSE:
            ours = self._paused.pop(agent_id, None)
            if view.state is AgentState.PAUSED and ours is not None and view.pause_reason == ours:
                log.info("agent %s ready again: phone idle", agent_id)
                with contextlib.suppress(AgentError):
                    self._service.agent_event(Ready(agent_id))
