"""The live ACD: one ``CallDistributor`` on the event loop, its timer, and where offers go.

Concurrency: everything here runs on the event loop's thread and never awaits in the middle
of a call into the distributor, so each call into the pure core runs to completion before
any other coroutine runs: no lock is needed, and none is taken. The one owned timer task
sleeps until ``next_wakeup()`` (a wrap-up ending, a relaxation step), and is re-armed after
every change that may move that time; it never polls.

Offers, whatever produced them (a call arriving, an agent made ready, a wrap-up timer, a
reconcile), are logged with their explanation once and put in the waiting call's
``CallTicket``; the caller's AGI session (``center.gateway``) takes them from there. A
digital task (chat, e-mail, voicemail...) has no session: its offer is a reservation the
agent answers on their desktop (``task_accepted``, ``task_rejected``), and the channel
adapters and the desktop hear of it through ``on_task`` (``center.digital_tasks``).
Asterisk's facts about offers and calls, the dials in progress and the reconcile watchdog
are ``center.telephony_facts``.

Every change is a value (``acd.commands``) given to ``_submit``: applied at once here
(``apply``), or, when several nodes share the ACD (``share``: ``center.acd_cluster``), put
in the shared log and applied, on every node alike, when the log gives it back; a node acts
only on the offers of calls whose session it holds (``SharedLog.owns``).

Reads go straight to the pure core, which any coroutine may read between two changes:
``distributor.book`` (agents' states), ``distributor.agents`` (their profiles: phone,
skills), ``distributor.router`` (the calls it holds), ``distributor.workload`` and
``distributor.tasks_of`` (digital tasks). Changes go through the service, because after
each one the offers it made must be handed out and the timer re-armed; the service also
keeps what the core does not know (the waiting calls' tickets, digital tasks as handed in,
the dials in progress, who could serve a call, talk times, recent offers). What each edge
uses:

* the telephony edge (``gateway``, ``waiting``, ``offer_loop``, ``callbacks``,
  ``agent_feed``, ``call_controller``): ``call_arrived``, ``caller_hung_up``,
  ``caller_left``, ``release``, ``can_serve``, ``on_moved``, ``fact``, ``offer_failed``,
  ``dialing``, ``dial_of``, ``callback_settled``, ``watch`` (the reconcile watchdog);
* the conversation desk (``conversations``): ``task_arrived``, ``on_task``, ``task``,
  ``task_accepted``, ``task_rejected``, ``task_done``, ``task_wrapped``, ``caller_left``;
* the web pages: the agents' actions (``agent_event``), ``raise_priority``, ``move_call``,
  ``call``, ``queue_names``, ``recent_offers``, ``desktop_lost`` (the agent page's presence);
* a config reload: ``reconfigure``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from acd.agent_day import AgentDay
from acd.agent_events import (
    AgentError,
    AgentEvent,
    AgentState,
    Login,
    Pause,
)
from acd.agents import AgentView
from acd.build import AcdSetup
from acd.calls import IncomingCall
from acd.clock import Clock
from acd.commands import (
    AgentAction,
    CallArrived,
    CallerHungUp,
    CallerLeft,
    Command,
    MoveCall,
    RaisePriority,
    Reconfigure,
    TaskTransferred,
    Tick,
)
from acd.contacts import VOICE_SEAT
from acd.desk_rules import PauseRefused
from acd.distributor import CallDistributor
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    EventRecord,
    EventSink,
    PauseCounted,
    PriorityWeightsUpdated,
    QueueUpdated,
)
from acd.offer import Offer
from acd.router import RoutingError
from acd.skills import Requirement, RoutingProfile
from center.digital_tasks import DigitalTasks, TaskListener
from center.ewt import TalkTimes
from center.staffing import Servable
from center.telephony_facts import TelephonyFacts
from center.tickets import AnswerListener, CallTicket, OfferNote

#: (ticket, new queue) when a supervisor moves a queued call.
MoveListener = Callable[[CallTicket, str], None]

log = logging.getLogger(__name__)

__all__ = ["AcdService", "CallTicket", "MoveListener", "OfferNote"]

S = AgentState
#: A timer that finds nothing to do at the time it was armed for sleeps at least this long.
_STUCK_SLEEP_S = 0.05
#: A shared log's tick not applied within this long is asked for again.
_SHARED_TICK_RETRY_S = 1.0
#: How long an agent's action waits for a shared ACD's log to apply it before answering.
SETTLE_S = 5.0


class SharedLog(Protocol):
    """Several nodes' one ACD (``center.acd_cluster``): changes go into an ordered log and
    come back, in the log's order, to every node's ``apply``."""

    @property
    def leads(self) -> bool:
        """This node is the leader: the one that asks for the timer's ticks."""
        ...

    def submit(self, command: Command) -> None: ...

    async def settled(self, timeout_s: float) -> bool:
        """Every change this node submitted so far is applied on its copy (the log gave it
        back), or False after ``timeout_s``."""
        ...

    def owns(self, call_id: str) -> bool:
        """The call waits on this node (its session is here)."""
        ...


class _Tap:
    """The distributor's sink: forwards to the real one and shows each record to the service."""

    def __init__(self, sink: EventSink, service: AcdService) -> None:
        self._sink = sink
        self._service = service

    def append(self, at: float, event: AcdEvent) -> EventRecord:
        record = self._sink.append(at, event)
        self._service._saw(record)
        return record


class AcdService(TelephonyFacts, DigitalTasks):
    def __init__(
        self,
        setup: AcdSetup,
        *,
        sink: EventSink,
        clock: Clock = time.monotonic,
        seed: int = 0,
        keep_offers: int = 200,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        """``today``: the local day, for the pause reasons' daily limits."""
        self.setup = setup
        self._clock = clock
        self._today = today
        #: the pauses agents took today and the holds of their calls (the desktop's)
        self.agent_day = AgentDay()
        self._skills = {q.policy.name: q.skills for q in setup.queues}
        self._sink = _Tap(sink, self)
        self.distributor = setup.distributor(clock=clock, sink=self._sink, seed=seed)
        self._tickets: dict[str, CallTicket] = {}
        self._dials: dict[str, tuple[str, str]] = {}
        self._servable = Servable(self.distributor)
        self._rests: dict[str, asyncio.TimerHandle] = {}
        self._move_listeners: list[MoveListener] = []
        #: digital tasks the ACD holds (waiting, offered, with an agent), as handed in
        self._digital: dict[str, IncomingCall] = {}
        self._task_listeners: list[TaskListener] = []
        self._refusal_listeners: list[Callable[[str], None]] = []
        self.talk_times = TalkTimes()
        #: The latest offers and why they were made (newest last).
        self.recent_offers: deque[OfferNote] = deque(maxlen=keep_offers)
        self._rearm = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        #: several nodes' shared ACD (``share``); None: this process's own
        self._shared: SharedLog | None = None

    # lifecycle -------------------------------------------------------------------------
    async def start(self, *, login_all: bool = False) -> None:
        """Start the timer; ``login_all`` logs every configured agent in (demo, tests)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(
                self._run_timer(), name="acd-timer"
            )
        if login_all:
            for agent_id in self.distributor.agents:
                with contextlib.suppress(AgentError):
                    self.agent_event(Login(agent_id))

    async def close(self) -> None:
        for handle in self._rests.values():
            handle.cancel()
        self._rests.clear()
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    # views -----------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock()

    @property
    def event_sink(self) -> EventSink:
        """Where the distributor appends its events (through the service's tap)."""
        return self._sink

    def today(self) -> dt.date:
        """The local day (the pause reasons' daily limits count in it)."""
        return self._today()

    @property
    def queue_names(self) -> tuple[str, ...]:
        """The queues that take calls (a queue a reload removed drains, but is not here)."""
        return tuple(self._skills)

    # a config reload -------------------------------------------------------------------
    def reconfigure(self, setup: AcdSetup) -> list[str]:
        """A reloaded config, applied while calls wait. Its agents first
        (``CallDistributor.update_roster``): a new agent joins logged out and may log in at
        once, a changed one's phone is used from the next offer and skills from their next
        login; returns the ids no longer listed, which stay until a restart. Then its queues,
        priority weights and service-level targets (``CallDistributor.update_queues``): a new
        queue takes calls at once, a changed one's waiting calls follow its new rules (their
        tickets get the new profile for estimates and leave-when-empty), a removed one takes
        no new calls (``queue_names`` leaves it out) and drains. The agents' policy is not
        taken from ``setup`` (it needs a restart)."""
        listed = {a.agent_id for a in setup.agents}
        gone = [agent_id for agent_id in self.distributor.agents if agent_id not in listed]
        self._skills = {q.policy.name: q.skills for q in setup.queues}
        self.setup = replace(
            self.setup,
            queues=setup.queues,
            priority=setup.priority,
            sl_policy=setup.sl_policy,
            desk=setup.desk,
        )
        self._submit(Reconfigure(setup.agents, setup.queues, setup.priority))
        return gone

    # calls -----------------------------------------------------------------------------
    def call_arrived(
        self, call: IncomingCall, *, on_answered: AnswerListener | None = None
    ) -> CallTicket:
        """Queue a call and open its ticket; raises ``RoutingError`` (unknown queue, a call
        id already queued). ``on_answered(ticket, agent_id, wait_s)`` when an agent answers
        it (from inside the distributor: it must not call back into the service)."""
        skills = self._skills.get(call.queue)
        now = self.now()
        entry = now if call.entry_time is None else min(call.entry_time, now)
        call = replace(call, entry_time=entry)  # the ticket and the router agree on it
        profile = _NO_PROFILE
        if skills is not None:
            profile = skills.profile(call.facts, self.setup.priority.is_repeat(call.facts))
        ticket = CallTicket(call, profile, entry, on_answered)
        previous = self._tickets.get(call.call_id)
        self._tickets[call.call_id] = ticket  # before: offers are delivered from inside
        try:
            self._submit(CallArrived(call))
        except RoutingError:
            if previous is None:
                del self._tickets[call.call_id]
            else:
                self._tickets[call.call_id] = previous
            raise
        return ticket

    def caller_hung_up(self, call_id: str) -> None:
        if self.distributor.call_state(call_id) is not None:
            self._submit(CallerHungUp(call_id))

    def caller_left(self, call_id: str, reason: str) -> None:
        if self.distributor.call_state(call_id) is not None:
            self._submit(CallerLeft(call_id, reason))

    # supervisors' actions on waiting calls -----------------------------------------------
    # Each raises ``RoutingError`` (unknown call, already offered or connected, unknown or
    # same queue, a bump that is not positive); the refusal is in the event log too.
    def raise_priority(self, call_id: str, by: float, actor: str) -> None:
        self._submit(RaisePriority(call_id, by, actor))

    def move_call(self, call_id: str, queue: str, actor: str) -> None:
        """The call waits in ``queue`` from now on: its ticket (announcements, estimates,
        the interaction's queue through ``on_moved``) follows; its entry time stays."""
        self._submit(MoveCall(call_id, queue, actor))

    def on_moved(self, listener: MoveListener) -> None:
        """``listener(ticket, queue)`` after a supervisor moved a queued call (its ticket
        already says the new queue)."""
        self._move_listeners.append(listener)

    def call(self, call_id: str) -> IncomingCall | None:
        """The call as the IVR handed it (facts: intent, tier, language) while its session
        holds it: for the supervisor's view and the agent's screen-pop."""
        ticket = self._tickets.get(call_id)
        return None if ticket is None else ticket.call

    def requirement(self, call_id: str) -> Requirement | None:
        """The skills the call asks for first (its profile's strictest step), while its
        session holds it: whom an agent consults about it (``center.consult``)."""
        ticket = self._tickets.get(call_id)
        if ticket is None or not ticket.profile.steps:
            return None
        return ticket.profile.steps[0].requirement

    def release(self, ticket: CallTicket) -> None:
        """The session is done with the call; if the ACD still holds it, it leaves."""
        if self._tickets.get(ticket.call_id) is not ticket:
            return  # already released, or the call was queued again under a new ticket
        del self._tickets[ticket.call_id]
        self.caller_left(ticket.call_id, "session ended")

    def callback_settled(self, call_id: str, outcome: str, result: str = "") -> None:
        """How a callback attempt ended for the customer, into the event log (the ACD's own
        events end with the agent's leg, before the customer is dialled)."""
        self._sink.append(self.now(), CallbackSettled(call_id, outcome, result))

    # agents ----------------------------------------------------------------------------
    def agent_paused(self, agent_id: str, reason: str) -> None:
        """An agent's own pause (from their desktop): a configured reason within its daily
        count (``acd.desk_rules``), else ``PauseRefused``; a supervisor's pause goes through
        ``agent_event`` unlimited."""
        view = self.distributor.book.view(agent_id)
        if view.state is AgentState.PAUSED and view.pause_reason == reason:
            raise PauseRefused(agent_id, f"already paused: {reason}")
        taken = self.agent_day.taken(agent_id, reason, self._today())
        refusal = self.setup.desk.pause_refusal(reason, taken)
        if refusal is not None:
            raise PauseRefused(agent_id, refusal)
        self.agent_day.asked(agent_id, reason)
        self.agent_event(Pause(agent_id, reason))

    def agent_event(self, event: AgentEvent) -> None:
        """An agent's action (``Login``, ``Logout``, ``Pause``, ``Ready``, ``WrapUpDone``,
        from ``acd.agent_events``), applied as told; raises what the core raises
        (``UnknownAgent``, ``IllegalTransition``), the refusal in the event log too.
        Telephony facts, which may come twice or late, go through ``fact``."""
        self._submit(AgentAction(event))

    # estimates -------------------------------------------------------------------------
    def can_serve(self, ticket: CallTicket) -> bool:
        """Could some logged-in agent (paused or not) ever take this call? (Cached until
        someone logs in or out, or a reload.)"""
        return self._servable(ticket)

    # the shared ACD (several nodes: center.acd_cluster) ------------------------------------
    def share(self, log: SharedLog) -> None:
        """From now on every change goes to ``log``, which applies it (``apply``), in its
        order, on every node's copy of the distributor, this one's included."""
        self._shared = log

    def adopt(self, distributor: CallDistributor) -> None:
        """The shared log's snapshot replaces this node's copy of the distributor."""
        self.distributor = distributor
        for call in distributor.calls():  # the digital tasks other nodes handed in
            self._learn(call)
        self._servable = Servable(distributor)
        self._reprofile()
        self._rearm.set()

    def apply(self, command: Command) -> None:
        """Apply one change to the distributor and hand out the offers it made; raises what
        the distributor raises (``RoutingError``, ``AgentError``): its refusal is in the
        event log too."""
        arrived = command.call if isinstance(command, CallArrived) else None
        learnt = arrived is not None and self._learn(arrived)
        try:
            offers = command.apply(self.distributor)
        except Exception:
            if learnt and arrived is not None:  # refused: not a task the ACD holds
                self._digital.pop(arrived.call_id, None)
            raise
        if isinstance(command, MoveCall):
            ticket = self._tickets.get(command.call_id)
            if ticket is not None:
                ticket.call = replace(ticket.call, queue=command.queue)
                ticket.profile = self.distributor.profile(command.call_id) or ticket.profile
                for listener in self._move_listeners:
                    listener(ticket, command.queue)
        elif isinstance(command, Reconfigure):
            self._reprofile()
        elif isinstance(command, TaskTransferred):
            self._transferred(command)
        self._settled(offers)

    def refused(self, command: Command, error: Exception) -> None:
        """The shared log refused this node's change when it came to apply it: a queued
        call's ticket is closed (its session sends the caller on); a digital task another
        node handed in under the same id first (two nodes resuming one conversation) stays
        the ACD's, that node's (``owns``), and one the ACD does not hold is forgotten
        (``on_task_refused``)."""
        if isinstance(command, CallArrived):
            call_id = command.call.call_id
            ticket = self._tickets.pop(call_id, None)
            if ticket is not None:
                ticket.gone_reason = f"refused: {error}"
                ticket.gone.set()
            held = self.distributor.call(call_id)
            if held is not None and call_id in self._digital:
                self._digital[call_id] = held  # as the node whose arrival was applied gave it
            elif call_id in self._digital:
                del self._digital[call_id]
                for listener in list(self._refusal_listeners):
                    listener(call_id)

    async def settled(self, timeout_s: float = SETTLE_S) -> bool:
        """Every change this node asked for so far is applied on its copy: at once alone;
        in a shared ACD when the log gave them back (False if not within ``timeout_s``).
        What an agent's action became is read after it (an accept the leader's tick made
        late is refused there, on every node)."""
        return self._shared is None or await self._shared.settled(timeout_s)

    def owns(self, call_id: str) -> bool:
        """This node acts for the call or task: its session is here, or this node handed
        the task in (a shared ACD's log says which node's arrival it applied; the node
        that declared another lost takes over that node's digital tasks). Alone: True."""
        return self._shared is None or self._shared.owns(call_id)

    def rearm(self) -> None:
        """Look at the timer again (this node now leads the shared ACD, or no longer)."""
        self._rearm.set()

    # internals -------------------------------------------------------------------------
    def _submit(self, command: Command) -> None:
        if self._shared is None:
            self.apply(command)
            return
        if isinstance(command, CallArrived):  # refused here, at once, as one node would
            self._check_arrival(command.call)
        self._shared.submit(command)

    def _check_arrival(self, call: IncomingCall) -> None:
        """What ``CallDistributor.call_arrived`` refuses, said before the change goes into
        the shared log (a refusal from the log comes later, to ``refused``)."""
        if call.queue not in self._skills:
            raise RoutingError(f"call {call.call_id}: unknown queue {call.queue!r}")
        if self.distributor.call_state(call.call_id) is not None:
            raise RoutingError(f"call {call.call_id}: call already queued {call.queue!r}")

    def _reprofile(self) -> None:
        for ticket in self._tickets.values():
            profile = self.distributor.profile(ticket.call_id)
            if profile is not None:
                ticket.profile = profile

    def _settled(self, offers: list[Offer]) -> None:
        """After any change: hand out the offers it produced and re-arm the timer."""
        for offer in offers:
            self._deliver(offer)
        self._rearm.set()

    def _deliver(self, offer: Offer) -> None:
        explanation = offer.explain()
        log.info("offer: %s", explanation)
        self.recent_offers.append(
            OfferNote(
                offer.at, offer.call_id, offer.agent_id, offer.queue, offer.entry_time, explanation
            )
        )
        if offer.channel not in VOICE_SEAT:
            return  # a reservation: the desktop and the adapters heard of it (on_task)
        ticket = self._tickets.get(offer.call_id)
        if ticket is not None:
            ticket.offers.put_nowait(offer)
            return
        if self._shared is not None and not self._shared.owns(offer.call_id):
            return  # the call waits on another node, whose session dials the agent
        log.warning("offer for call %s, which no session waits for: withdrawn", offer.call_id)
        self._submit(CallerLeft(offer.call_id, "no session waits for the call"))

    def _saw(self, record: EventRecord) -> None:
        """Every record the distributor appends (called inside it: no calls back into it)."""
        event = record.event
        if isinstance(event, AgentStateChanged | CallHoldChanged | PauseCounted):
            counted = self.agent_day.saw(record, self._view, self._today())
            if counted is not None:  # logged (for a restart), then folded as it comes back
                self._sink.append(self.now(), counted)
        self._told(record)
        if isinstance(event, QueueUpdated):
            draining = " (drains: its calls are still served)" if event.change == "removed" else ""
            log.info(
                "queue %s %s by a reload%s; %d calls re-profiled",
                event.queue,
                event.change,
                draining,
                event.calls_reprofiled,
            )
        elif isinstance(event, PriorityWeightsUpdated):
            log.info(
                "priority weights changed by a reload; %d calls re-scored", event.calls_rescored
            )
        elif isinstance(event, CallAnswered):
            ticket = self._tickets.get(event.call_id)
            if ticket is not None and ticket.on_answered is not None:
                ticket.on_answered(ticket, event.agent_id, record.at - ticket.entry_time)
        elif isinstance(event, CallAbandoned | CallEnded):
            ticket = self._tickets.get(event.call_id)
            if ticket is not None:
                ticket.gone_reason = event.reason
                ticket.gone.set()
        elif isinstance(event, AgentStateChanged) and _logged_in_or_out(event):
            self._servable.forget()  # who can serve which call has changed

    def _view(self, agent_id: str) -> AgentView | None:
        try:
            return self.distributor.book.view(agent_id)
        except AgentError:
            return None

    async def _run_timer(self) -> None:
        ticked: float | None = None  # the wake-up a shared log's tick was asked for
        while True:
            self._rearm.clear()
            wake = self.distributor.next_wakeup()
            if wake is None or (self._shared is not None and not self._shared.leads):
                await self._rearm.wait()  # only the shared ACD's leader ticks
                continue
            delay = wake - self.now()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._rearm.wait()
                if self.now() < wake:
                    continue  # woken early by a change: recompute the time
            if self._shared is not None:  # applied when the log gives it back, which rearms
                if wake != ticked:
                    ticked = wake
                    self._shared.submit(Tick(due=wake))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_SHARED_TICK_RETRY_S):
                        await self._rearm.wait()
                if self._rearm.is_set():
                    continue
                ticked = None  # not back from the log in time: ask again
                continue
            try:
                self.apply(Tick())
            except Exception:  # the timer task's boundary: log once, keep the ACD running
                log.exception("ACD timer tick failed")
            if self.distributor.next_wakeup() == wake:
                await asyncio.sleep(_STUCK_SLEEP_S)


_NO_PROFILE = RoutingProfile.fixed(Requirement())


def _logged_in_or_out(event: AgentStateChanged) -> bool:
    return event.before != event.after and S.LOGGED_OUT in (event.before, event.after)
