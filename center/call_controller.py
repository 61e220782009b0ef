"""An agent's call control over AMI (``center.call_control`` and ``center.consult`` decide,
this does the I/O): hang up, blind transfer, mute, hold and resume, consult a colleague
(then complete, cancel or conference); and the hold state Asterisk reports.

Each action acts on the agent's leg as the ACD knows it (``AgentView.channel``, from AMI's
``DialBegin``/``DialEnd``): an agent controls only the call they are on. Hold comes from
AMI's ``Hold``/``Unhold`` events of that leg (the phone's re-INVITE) and is applied to the
ACD as ``HoldStarted``/``HoldEnded``; the desktop's hold (an attended transfer of the leg)
makes Asterisk report the same events, so both holds count alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from acd.agent_events import (
    AgentError,
    AgentState,
    Answered,
    HoldEnded,
    HoldStarted,
    HungUp,
    Pause,
    Ready,
)
from acd.events import CallEnded, EventRecord
from center.call_control import (
    DeskHold,
    PendingTransfers,
    Transfer,
    TransferRefused,
    control_refusal,
    hold_refusal,
    on_hold_refusal,
    requeued,
    resume_refusal,
    transfer_refusal,
)
from center.consult import (
    CONSULT_PAUSE,
    Colleague,
    Consult,
    ConsultPhase,
    Consults,
    colleagues,
    consult_refusal,
    step_refusal,
)
from center.offer_loop import PhoneRoute, same_phone
from center.phone_locations import call_system, leg_prefix
from center.service import AcdService, CallTicket
from telephony.ami_client import AmiClient, AmiError
from telephony.ami_codec import EVENT_HOLD, EVENT_UNHOLD, HEADER_CHANNEL, AmiMessage
from telephony.call_actions import (
    ATXFER_COMPLETE,
    ATXFER_THREEWAY,
    AmiAction,
    cancel_consult,
    consult,
    consult_target,
    hang_up,
    hold,
    hold_caller,
    keys_received,
    mute,
)

log = logging.getLogger(__name__)

__all__ = ["CONSULT_OFF", "HOLD_OFF", "CallControlError", "CallController", "ControlState"]

#: How long a completed consult's segment may take to be offered to the colleague (at once
#: on one node; in a cluster, when the shared log gives its arrival back).
SEGMENT_OFFER_S = 5.0
CONSULT_OFF = "consulting a colleague is off here (waiting.yaml consult)"
HOLD_OFF = "holding from the desktop is off here (it goes with waiting.yaml consult)"


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
    desk_hold: bool = False  # the desktop's hold (it resumes it); else the phone's
    muted: bool = False
    transferring: str | None = None  # the pending transfer's target
    consulting: str | None = None  # the colleague consulted (or in conference)
    consult_phase: str | None = None  # ``ConsultPhase``


class CallController:
    def __init__(
        self,
        service: AcdService,
        ami: AmiClient,
        transfers: PendingTransfers | None = None,
        *,
        consults: Consults | None = None,
        channels: Callable[[], Iterable[str]] = lambda: (),
        consult_enabled: Callable[[], bool] = lambda: True,
        route: PhoneRoute = same_phone,
    ) -> None:
        """``consult_enabled``: waiting.yaml's ``consult`` as it is now (a reload changes it);
        ``route``: how a colleague's phone is dialled from the call's Asterisk (the ring's
        choice, ``center.phone_locations``: through the trunk when it is on a peer)."""
        self._service = service
        self._route = route
        self.consult_enabled = consult_enabled
        self._ami = ami
        self.transfers = transfers if transfers is not None else PendingTransfers()
        self.consults = consults if consults is not None else Consults()
        #: the names of Asterisk's live channels, oldest first (the colleague's leg)
        self._channels = channels
        #: call -> when its last consult was cancelled (ACD clock)
        self._cancelled_at: dict[str, float] = {}
        #: agent -> the call they muted (a mute ends with its call)
        self._muted: dict[str, str] = {}
        #: agent -> the call Asterisk says is held (the phone's hold or the desktop's)
        self._held: dict[str, str] = {}
        #: agent -> the desktop's hold of their call
        self._desk_held: dict[str, DeskHold] = {}
        #: call -> when its desktop hold was last resumed (ACD clock)
        self._resumed_at: dict[str, float] = {}
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
        under_way = self.consults.get(call_id)
        desk = self._desk_hold(agent_id, call_id) is not None
        return ControlState(
            call_id,
            on_hold=desk or self._held.get(agent_id) == call_id,
            desk_hold=desk,
            muted=self._muted.get(agent_id) == call_id,
            transferring=None if pending is None else pending.target,
            consulting=None if under_way is None else under_way.colleague,
            consult_phase=None if under_way is None else under_way.phase.value,
        )

    def colleagues(self, agent_id: str) -> list[Colleague]:
        """Whom the agent may consult about their call: colleagues with its skills,
        available ones first, then the most skilled."""
        distributor = self._service.distributor
        view = distributor.book.view(agent_id)
        requirement = None if view.call_id is None else self._service.requirement(view.call_id)
        profiles = distributor.agents
        return colleagues(
            agent_id,
            requirement,
            {a: p.skills for a, p in profiles.items()},
            {a: p.name for a, p in profiles.items()},
            distributor.book.views(),
        )

    # actions ---------------------------------------------------------------------------
    async def hang_up(self, agent_id: str, call_id: str | None = None) -> None:
        """End the agent's call (their leg; the caller hears the after-call words)."""
        channel, current = self._leg(agent_id, call_id)
        self._not_consulting(current)
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
        self._not_consulting(view.call_id)
        self._not_held(agent_id, view.call_id)
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

    # hold from the desktop --------------------------------------------------------------
    async def hold(self, agent_id: str, call_id: str | None = None) -> DeskHold:
        """The caller hears music on hold while the agent's leg waits (``Atxfer`` to the
        hold extension). Asterisk's ``Hold`` of the leg starts the ACD's hold time."""
        if not self.consult_enabled():
            raise CallControlError(HOLD_OFF)
        service = self._service
        channel, current = self._leg(agent_id, call_id)
        under_way = self.consults.get(current)
        resumed = self._resumed_at.get(current)
        refusal = hold_refusal(
            service.distributor.book.view(agent_id),
            held=self._desk_hold(agent_id, current),
            phone_held=self._held.get(agent_id) == current,
            consulting=None if under_way is None else under_way.colleague,
            transferring=current in self.transfers,
            since_resume_s=None if resumed is None else service.now() - resumed,
        )
        if refusal is not None:
            raise CallControlError(refusal)
        call = service.call(current)
        if call is None or not call.line:
            raise CallControlError("the caller's channel is not known")
        held = DeskHold(current, service.now())
        self._desk_held[agent_id] = held
        try:
            await self._send(hold_caller(channel, call.line))
            await self._send(hold(channel))
        except CallControlError:
            self._desk_held.pop(agent_id, None)
            raise
        log.info("agent %s holds call %s from the desktop", agent_id, current)
        return held

    async def resume(self, agent_id: str, call_id: str | None = None) -> None:
        """Back to the caller (``CancelAtxfer``); Asterisk's ``Unhold`` ends the hold time."""
        service = self._service
        channel, current = self._leg(agent_id, call_id)
        refusal = resume_refusal(
            service.distributor.book.view(agent_id),
            held=self._desk_hold(agent_id, current),
            phone_held=self._held.get(agent_id) == current and self.consults.get(current) is None,
            now=service.now(),
        )
        if refusal is not None:
            raise CallControlError(refusal)
        await self._send(cancel_consult(channel))
        self._desk_held.pop(agent_id, None)
        self._resumed_at[current] = service.now()
        log.info("agent %s resumes call %s", agent_id, current)

    def _desk_hold(self, agent_id: str, call_id: str) -> DeskHold | None:
        held = self._desk_held.get(agent_id)
        return held if held is not None and held.call_id == call_id else None

    def _not_held(self, agent_id: str, call_id: str) -> None:
        refusal = on_hold_refusal(
            self._service.distributor.book.view(agent_id), self._desk_hold(agent_id, call_id)
        )
        if refusal is not None:
            raise CallControlError(refusal)

    # consult a colleague ---------------------------------------------------------------
    async def consult(self, agent_id: str, colleague: str, call_id: str | None = None) -> Consult:
        """Ring ``colleague`` for the agent while the caller holds; the colleague is
        reserved (paused ``consulted``) until the consult ends."""
        if not self.consult_enabled():
            raise CallControlError(CONSULT_OFF)
        service = self._service
        channel, current = self._leg(agent_id, call_id)
        self._not_held(agent_id, current)
        profile = service.distributor.agents.get(colleague)
        colleague_view = None if profile is None else service.distributor.book.view(colleague)
        refusal = consult_refusal(
            service.distributor.book.view(agent_id),
            colleague,
            colleague_view,
            endpoint="" if profile is None else profile.endpoint,
            under_way=self.consults.get(current),
            since_cancel_s=(
                None
                if current not in self._cancelled_at
                else service.now() - self._cancelled_at[current]
            ),
        )
        if refusal is not None:
            raise CallControlError(refusal)
        assert profile is not None
        assert colleague_view is not None
        reserve = colleague_view.state is AgentState.AVAILABLE
        started = Consult(current, agent_id, colleague, reserved=reserve)
        self.consults.start(started)
        if reserve:
            service.agent_event(Pause(colleague, CONSULT_PAUSE))
        try:
            dialled = self._route(profile.endpoint, call_system(current))
            await self._send(consult_target(channel, dialled))
            await self._send(consult(channel))
        except CallControlError:
            self._release(self.consults.end(current))
            raise
        log.info("agent %s consults agent %s about call %s", agent_id, colleague, current)
        return started

    async def cancel_consult(self, agent_id: str, call_id: str | None = None) -> None:
        """Back to the caller; the colleague's leg is hung up and they are free again."""
        channel, current = self._leg(agent_id, call_id)
        under_way = self._step(current, "cancel")
        await self._send(cancel_consult(channel))
        self._cancelled_at[current] = self._service.now()
        self._release(self.consults.end(current))
        log.info("agent %s cancels the consult with %s", agent_id, under_way.colleague)

    async def conference(self, agent_id: str, call_id: str | None = None) -> None:
        """The caller, the agent and the colleague together (the colleague stays reserved
        until the call ends)."""
        channel, current = self._leg(agent_id, call_id)
        under_way = self._step(current, "conference")
        for action in keys_received(channel, ATXFER_THREEWAY):
            await self._send(action)
        self.consults.update(replace(under_way, phase=ConsultPhase.CONFERENCE))
        log.info("agent %s conferences with %s", agent_id, under_way.colleague)

    async def complete_consult(self, agent_id: str, call_id: str | None = None) -> Consult:
        """The caller goes to the colleague, the agent drops out. The ACD: the agent's
        segment ends (wrap-up); the call's next segment, directed to the colleague, is
        answered by them at once (the caller's session ends it when its Dial returns)."""
        service = self._service
        channel, current = self._leg(agent_id, call_id)
        under_way = self._step(current, "complete")
        call = service.call(current)
        if call is None:
            raise CallControlError("the call is no longer held by its session")
        for action in keys_received(channel, ATXFER_COMPLETE):
            await self._send(action)
        colleague = under_way.colleague
        service.fact(HungUp(agent_id, current))
        view = service.distributor.book.view(colleague)
        if view.state is AgentState.PAUSED:
            try:
                service.agent_event(Ready(colleague))
            except AgentError as error:
                log.warning("consult: agent %s could not be made ready: %s", colleague, error)
        transfer = Transfer(current, agent_id, agent=colleague)
        assert call.entry_time is not None
        segment = requeued(call, transfer, entry_time=call.entry_time)
        ticket = service.call_arrived(segment)
        offered = await _offer_of(service, ticket, colleague)
        view = service.distributor.book.view(colleague)
        if offered and view.state is AgentState.OFFERED and view.call_id == segment.call_id:
            service.fact(Answered(colleague, segment.call_id, self._leg_of(colleague, current)))
        else:
            log.warning(
                "consult: agent %s was not offered segment %s (%s): its figures are lost",
                colleague,
                segment.call_id,
                view.state.value,
            )
        done = replace(
            under_way,
            phase=ConsultPhase.COMPLETED,
            segment=segment.call_id,
            ticket=ticket,
            completed_at=service.now(),
        )
        self.consults.update(done)
        log.info("agent %s completes the consult: call %s to %s", agent_id, current, colleague)
        return done

    def observe(self, record: EventRecord) -> None:
        """ACD events: a consulting or conference call's end frees the colleague; a held
        call's end ends its desktop hold."""
        event = record.event
        if not isinstance(event, CallEnded):
            return
        self._cancelled_at.pop(event.call_id, None)
        self._resumed_at.pop(event.call_id, None)
        for agent_id, held in list(self._desk_held.items()):
            if held.call_id == event.call_id:
                del self._desk_held[agent_id]  # the hold extension ends by itself
        under_way = self.consults.get(event.call_id)
        if under_way is None or under_way.phase is ConsultPhase.COMPLETED:
            return  # a completed consult is ended by the caller's session
        self._release(self.consults.end(event.call_id))

    def _not_consulting(self, call_id: str) -> None:
        """Hanging up the agent's leg during a consult would complete it in Asterisk
        (``atxferdropcall=no``) behind the ACD's back: the agent completes or cancels."""
        under_way = self.consults.get(call_id)
        if under_way is not None and under_way.phase is ConsultPhase.CONSULTING:
            raise CallControlError(
                f"consulting agent {under_way.colleague}: complete or cancel the consult first"
            )

    def _step(self, call_id: str, step: str) -> Consult:
        under_way = self.consults.get(call_id)
        refusal = step_refusal(under_way, step)
        if refusal is not None:
            raise CallControlError(refusal)
        assert under_way is not None
        return under_way

    def _release(self, ended: Consult | None) -> None:
        """The colleague reserved for ``ended`` is ready again (if still so paused)."""
        if ended is None or not ended.reserved:
            return
        view = self._service.distributor.book.view(ended.colleague)
        if view.state is AgentState.PAUSED and view.pause_reason == CONSULT_PAUSE:
            try:
                self._service.agent_event(Ready(ended.colleague))
            except AgentError as error:
                log.warning("consult: agent %s stays paused: %s", ended.colleague, error)

    def _leg_of(self, agent_id: str, call_id: str) -> str | None:
        """The newest live channel of the agent's phone as the call's Asterisk rang it
        (the trunk's channel when the phone is on a peer)."""
        profile = self._service.distributor.agents.get(agent_id)
        if profile is None or not profile.endpoint:
            return None
        prefix = leg_prefix(self._route(profile.endpoint, call_system(call_id)))
        found = [name for name in self._channels() if name.startswith(prefix)]
        return found[-1] if found else None

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


async def _offer_of(service: AcdService, ticket: CallTicket, agent_id: str) -> bool:
    """Was the segment offered to ``agent_id``? Its ticket says: at once on one node; in a
    cluster once the shared log gives its arrival back (within ``SEGMENT_OFFER_S``)."""
    if ticket.offers.empty() and service.distributor.call_state(ticket.call_id) is None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SEGMENT_OFFER_S):
                ticket.offers.put_nowait(await ticket.offers.get())  # waits, keeps it
    while not ticket.offers.empty():
        if ticket.offers.get_nowait().agent_id == agent_id:
            return True
    return False
