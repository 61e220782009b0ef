"""An agent's call control over AMI (``center.call_control`` decides, this does the I/O):
hang up, blind transfer, mute; and the hold state the agents' phones report.

Each action acts on the agent's leg as the ACD knows it (``AgentView.channel``, from AMI's
``DialBegin``/``DialEnd``): an agent controls only the call they are on. Hold comes from
AMI's ``Hold``/``Unhold`` events of that leg (the phone's re-INVITE) and is applied to the
ACD as ``HoldStarted``/``HoldEnded``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from acd.agent_events import AgentState, HoldEnded, HoldStarted
from center.call_control import (
    PendingTransfers,
    Transfer,
    TransferRefused,
    control_refusal,
    transfer_refusal,
)
from center.service import AcdService
from telephony.ami_client import AmiClient, AmiError
from telephony.ami_codec import EVENT_HOLD, EVENT_UNHOLD, HEADER_CHANNEL, AmiMessage
from telephony.call_actions import AmiAction, hang_up, mute

log = logging.getLogger(__name__)

__all__ = ["CallControlError", "CallController", "ControlState"]


class CallControlError(Exception):
    """The control was refused (``refused``: by hotline's rules; else by Asterisk)."""

    def __init__(self, message: str, *, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True, slots=True)
class ControlState:
    """What the agent's desktop shows of their call."""

    call_id: str | None
    on_hold: bool = False
    muted: bool = False
    transferring: str | None = None  # the pending transfer's target


class CallController:
    def __init__(
        self, service: AcdService, ami: AmiClient, transfers: PendingTransfers | None = None
    ) -> None:
        self._service = service
        self._ami = ami
        self.transfers = transfers if transfers is not None else PendingTransfers()
        #: agent -> the call they muted (a mute ends with its call)
        self._muted: dict[str, str] = {}
        #: agent -> the call their phone holds
        self._held: dict[str, str] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def service(self) -> AcdService:
        return self._service

    # AMI events ------------------------------------------------------------------------
    def attach(self, ami: AmiClient) -> None:
        for name in (EVENT_HOLD, EVENT_UNHOLD):
            self._unsubscribe.append(ami.on_event(name, self.handle))

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def handle(self, message: AmiMessage) -> None:
        """``Hold``/``Unhold`` of an agent's leg (quick: the AMI reader calls it inline)."""
        channel = message.get(HEADER_CHANNEL) or ""
        view = next(
            (
                v
                for v in self._service.distributor.book.views()
                if v.channel == channel and v.state is AgentState.ON_CALL
            ),
            None,
        )
        if view is None or view.call_id is None:
            log.debug("%s of %r: no agent's call; ignored", message.event, channel)
            return
        agent_id, call_id = view.agent_id, view.call_id
        if (message.event or "").lower() == EVENT_HOLD.lower():
            if self._service.fact(HoldStarted(agent_id, call_id)):
                self._held[agent_id] = call_id
        elif self._service.fact(HoldEnded(agent_id, call_id)):
            self._held.pop(agent_id, None)

    # the desktop's view ----------------------------------------------------------------
    def state(self, agent_id: str) -> ControlState:
        view = self._service.distributor.book.view(agent_id)
        call_id = view.call_id if view.state is AgentState.ON_CALL else None
        if call_id is None:
            return ControlState(None)
        pending = self.transfers.get(call_id)
        return ControlState(
            call_id,
            on_hold=self._held.get(agent_id) == call_id,
            muted=self._muted.get(agent_id) == call_id,
            transferring=None if pending is None else pending.target,
        )

    # actions ---------------------------------------------------------------------------
    async def hang_up(self, agent_id: str, call_id: str | None = None) -> None:
        """End the agent's call (their leg; the caller hears the after-call words)."""
        channel, _ = self._leg(agent_id, call_id)
        await self._send(hang_up(channel))
        log.info("agent %s's call hung up by AMI (%s)", agent_id, channel)

    async def transfer(
        self,
        agent_id: str,
        *,
        queue: str | None = None,
        agent: str | None = None,
        call_id: str | None = None,
    ) -> Transfer:
        """Blind transfer of the agent's call to ``queue`` or to ``agent``: noted, then the
        agent's leg is hung up; the caller's session queues the call again."""
        service = self._service
        view = service.distributor.book.view(agent_id)
        target_view = None
        if agent is not None and agent in service.distributor.agents:
            target_view = service.distributor.book.view(agent)
        refusal = control_refusal(view, call_id) or transfer_refusal(
            view,
            queue=queue,
            agent=agent,
            queues=service.queue_names,
            target_view=target_view,
        )
        if refusal is not None:
            raise CallControlError(refusal)
        assert view.call_id is not None
        assert view.channel is not None
        transfer = Transfer(view.call_id, agent_id, queue=queue, agent=agent)
        try:
            self.transfers.request(transfer)
        except TransferRefused as error:
            raise CallControlError(str(error)) from None
        try:
            await self._send(hang_up(view.channel))
        except CallControlError:
            self.transfers.cancel(transfer.call_id)
            raise
        log.info("agent %s transfers call %s to %s", agent_id, transfer.call_id, transfer.target)
        return transfer

    async def mute(self, agent_id: str, *, on: bool, call_id: str | None = None) -> None:
        """Mute (or unmute) the agent's voice to the caller."""
        channel, current = self._leg(agent_id, call_id)
        await self._send(mute(channel, on=on))
        if on:
            self._muted[agent_id] = current
        else:
            self._muted.pop(agent_id, None)
        log.info("agent %s %s (%s)", agent_id, "muted" if on else "unmuted", channel)

    # internals -------------------------------------------------------------------------
    def _leg(self, agent_id: str, call_id: str | None) -> tuple[str, str]:
        view = self._service.distributor.book.view(agent_id)
        refusal = control_refusal(view, call_id)
        if refusal is not None:
            raise CallControlError(refusal)
        assert view.channel is not None
        assert view.call_id is not None
        return view.channel, view.call_id

    async def _send(self, action: AmiAction) -> None:
        try:
            await self._ami.action(action.name, timeout_s=None, **action.as_kwargs())
        except AmiError as error:
            raise CallControlError(f"Asterisk refused: {error}", refused=False) from error
