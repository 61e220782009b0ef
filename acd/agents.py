"""The agent state machine.

    logged_out --login--> available --offer_made--> offered --answered--> on_call
    on_call --hung_up--> wrap_up --(timer | wrapup_done | ready)--> available
    offered --ring_no_answer / busy / unavailable--> paused(reason) (or available, per policy)
    offered --hung_up (caller gone)--> available;  available --pause--> paused --ready--> available

A pause or logout asked for while offered, on a call or in wrap-up is kept *pending* and
applies when the agent would next become available. Anything else that does not fit the
current state raises a typed ``AgentError`` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from heapq import heappop, heappush

from acd.agent_events import (
    AgentEvent,
    AgentState,
    Answered,
    Busy,
    HoldEnded,
    HoldStarted,
    HungUp,
    IllegalTransition,
    Login,
    Logout,
    OfferMade,
    OfferRang,
    Pause,
    Ready,
    RingNoAnswer,
    StaleCallEvent,
    UnknownAgent,
    Unreachable,
    WrapUpDone,
    event_name,
)
from acd.clock import Clock

__all__ = ["AgentBook", "AgentPolicy", "AgentView", "Transition"]

S = AgentState


@dataclass(frozen=True, slots=True)
class AgentPolicy:
    #: Seconds of wrap-up after each call; None: until the agent says done; 0: none.
    wrap_up_s: float | None = 0.0
    #: Pause reasons after a failed offer; None: straight back to available.
    rona_pause_reason: str | None = "no answer"
    busy_pause_reason: str | None = None
    unavailable_pause_reason: str | None = "unreachable"
    #: Seconds an agent has to accept a digital task (chat, e-mail...) offered to them;
    #: unanswered, it is a ring with no answer (the task keeps its place; the agent is
    #: paused with ``rona_pause_reason``).
    reservation_timeout_s: float = 30.0
    #: Wrap-up after a digital task, as ``wrap_up_s`` is after a call.
    task_wrap_up_s: float | None = 0.0
    #: Seconds an agent's desktop (the agent page) may be away before they are taken as
    #: gone (``CallDistributor.desktop_lost``); None: never.
    desk_reconnect_grace_s: float | None = 30.0


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of one event. ``before == after`` when only details changed (a pending
    pause was recorded, the phone started ringing, hold started)."""

    agent_id: str
    event: str
    before: AgentState
    after: AgentState
    at: float
    reason: str = ""
    #: The call the agent is offered / on / wrapping up (the one just finished on wrap-up).
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    state: AgentState
    since: float
    pause_reason: str | None
    call_id: str | None
    channel: str | None
    calls_handled: int
    last_call_end: float | None
    rona_count: int
    pending: str | None
    logged_in_at: float | None
    #: The reason of a pending pause ("break"), shown until the pause lands.
    pending_reason: str | None = None

    def time_in_state(self, now: float) -> float:
        return now - self.since


class _Agent:
    __slots__ = (
        "agent_id",
        "call_id",
        "calls_handled",
        "channel",
        "last_call_end",
        "logged_in_at",
        "pause_reason",
        "pending",
        "pending_reason",
        "rona_count",
        "since",
        "state",
        "wrap_token",
    )

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.state = S.LOGGED_OUT
        self.since = 0.0
        self.pause_reason: str | None = None
        self.call_id: str | None = None
        self.channel: str | None = None
        self.calls_handled = 0
        self.last_call_end: float | None = None
        self.logged_in_at: float | None = None
        self.rona_count = 0
        self.pending: str | None = None  # "pause" | "logout"
        self.pending_reason: str | None = None
        self.wrap_token = 0


class AgentBook:
    """Every agent of the roster and their state; pure, time from the injected clock."""

    def __init__(
        self, agent_ids: Iterable[str], *, clock: Clock, policy: AgentPolicy = AgentPolicy()
    ) -> None:
        self._clock = clock
        self.policy = policy
        self._agents = {agent_id: _Agent(agent_id) for agent_id in agent_ids}
        self._wrapups: list[tuple[float, int, str]] = []

    # queries ---------------------------------------------------------------------------
    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents

    def view(self, agent_id: str) -> AgentView:
        a = self._agent(agent_id)
        return AgentView(
            a.agent_id,
            a.state,
            a.since,
            a.pause_reason,
            a.call_id,
            a.channel,
            a.calls_handled,
            a.last_call_end,
            a.rona_count,
            a.pending,
            a.logged_in_at,
            a.pending_reason,
        )

    def views(self) -> list[AgentView]:
        return [self.view(agent_id) for agent_id in self._agents]

    def state(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).state

    def seat(self, agent_id: str) -> tuple[AgentState, str | None, str | None]:
        """The agent's state, call and pending action ("pause", "logout"): ``view`` without
        building one (the distributor asks after every event)."""
        a = self._agent(agent_id)
        return a.state, a.call_id, a.pending

    def counts_by_state(self) -> dict[AgentState, int]:
        counts = dict.fromkeys(AgentState, 0)
        for agent in self._agents.values():
            counts[agent.state] += 1
        return counts

    def idle_since(self, agent_id: str) -> float:
        """For longest-idle: the end of the last call, else the login time."""
        a = self._agent(agent_id)
        if a.last_call_end is not None:
            return a.last_call_end
        return a.logged_in_at if a.logged_in_at is not None else a.since

    def calls_handled(self, agent_id: str) -> int:
        return self._agent(agent_id).calls_handled

    def add(self, agent_id: str) -> None:
        """A new agent in the roster (logged out)."""
        self._agents.setdefault(agent_id, _Agent(agent_id))

    # events ----------------------------------------------------------------------------
    def apply(self, event: AgentEvent) -> Transition:
        a = self._agent(event.agent_id)
        name = event_name(event)
        before, call_id = a.state, a.call_id
        reason = self._step(a, event, name)
        call_id = a.call_id or call_id
        return Transition(a.agent_id, name, before, a.state, self._clock(), reason, call_id)

    def next_deadline(self) -> float | None:
        heap = self._wrapups
        while heap and not self._wrap_live(heap[0]):
            heappop(heap)
        return heap[0][0] if heap else None

    def tick(self) -> list[Transition]:
        """Timed wrap-ups that are over by now."""
        now = self._clock()
        done: list[Transition] = []
        while self._wrapups and self._wrapups[0][0] <= now:
            entry = heappop(self._wrapups)
            if self._wrap_live(entry):
                a = self._agents[entry[2]]
                call_id = a.call_id
                reason = self._settle(a, "wrap-up time over")
                done.append(
                    Transition(
                        a.agent_id, "wrapup_timeout", S.WRAP_UP, a.state, now, reason, call_id
                    )
                )
        return done

    def reconcile(self, live_channels: Collection[str]) -> list[Transition]:
        """Repair states AMI contradicts: an offer or call whose channel no longer exists
        is cleared (offer -> available, call -> wrap-up). Agents whose channel is not known
        yet (offer made, not rung) are left alone: their ring timeout will settle them."""
        repairs: list[Transition] = []
        now = self._clock()
        for a in self._agents.values():
            if a.channel is None or a.channel in live_channels:
                continue
            if a.state is S.OFFERED:
                call_id, before = a.call_id, a.state
                reason = self._settle(a, "reconciled: offer channel gone")
                repairs.append(
                    Transition(a.agent_id, "reconcile", before, a.state, now, reason, call_id)
                )
            elif a.state is S.ON_CALL:
                call_id = a.call_id
                reason = "reconciled: call channel gone; " + self._end_call(a)
                repairs.append(
                    Transition(a.agent_id, "reconcile", S.ON_CALL, a.state, now, reason, call_id)
                )
        return repairs

    # internals -------------------------------------------------------------------------
    def _agent(self, agent_id: str) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id, "no such agent in the roster") from None

    def _wrap_live(self, entry: tuple[float, int, str]) -> bool:
        a = self._agents[entry[2]]
        return a.state is S.WRAP_UP and a.wrap_token == entry[1]

    def _enter(self, a: _Agent, state: AgentState, pause_reason: str | None = None) -> None:
        a.state = state
        a.since = self._clock()
        a.pause_reason = pause_reason
        if state in (S.AVAILABLE, S.PAUSED, S.LOGGED_OUT):
            a.call_id = a.channel = None

    def _settle(self, a: _Agent, reason: str, pause_reason: str | None = None) -> str:
        """Where an agent goes when a call or offer is over: a pending logout or pause
        first, else paused (``pause_reason``) or available."""
        pending, pending_reason = a.pending, a.pending_reason
        a.pending = a.pending_reason = None
        if pending == "logout":
            self._enter(a, S.LOGGED_OUT)
            return f"{reason}; pending logout"
        if pause_reason is not None:
            self._enter(a, S.PAUSED, pause_reason)
            return f"{reason}; paused: {pause_reason}"
        if pending == "pause":
            self._enter(a, S.PAUSED, pending_reason)
            return f"{reason}; pending pause: {pending_reason}"
        self._enter(a, S.AVAILABLE)
        return reason

    def _end_call(self, a: _Agent) -> str:
        now = self._clock()
        a.calls_handled += 1
        a.last_call_end = now
        wrap = self.policy.wrap_up_s
        if wrap == 0:
            return self._settle(a, "call ended, no wrap-up")
        self._enter(a, S.WRAP_UP)
        a.channel = None
        a.wrap_token += 1
        if wrap is not None:
            heappush(self._wrapups, (now + wrap, a.wrap_token, a.agent_id))
            return f"call ended, wrap-up {wrap:g} s"
        return "call ended, wrap-up until done"

    def _illegal(self, a: _Agent, name: str, reason: str) -> IllegalTransition:
        return IllegalTransition(a.agent_id, a.state, name, reason)

    def _on_call(self, a: _Agent, name: str, call_id: str, *states: AgentState) -> None:
        if a.state not in states or a.call_id != call_id:
            where = f"{a.state.value}" + (f" with call {a.call_id}" if a.call_id else "")
            raise StaleCallEvent(a.agent_id, f"{name} for call {call_id} but agent is {where}")

    def _step(self, a: _Agent, event: AgentEvent, name: str) -> str:
        state = a.state
        match event:
            case Login(paused_reason=paused):
                if state is not S.LOGGED_OUT:
                    raise self._illegal(a, name, f"already logged in ({state.value})")
                a.logged_in_at, a.last_call_end = self._clock(), None
                a.calls_handled = a.rona_count = 0
                self._enter(a, S.AVAILABLE if paused is None else S.PAUSED, paused)
                return "login" if paused is None else f"login paused: {paused}"
            case Logout():
                if state is S.LOGGED_OUT:
                    raise self._illegal(a, name, "not logged in")
                if state in (S.AVAILABLE, S.PAUSED):
                    self._enter(a, S.LOGGED_OUT)
                    return "logout"
                a.pending, a.pending_reason = "logout", None
                return f"logout after the current {state.value}"
            case Pause(reason=reason):
                if state is S.LOGGED_OUT:
                    raise self._illegal(a, name, "not logged in")
                if state in (S.AVAILABLE, S.PAUSED):
                    self._enter(a, S.PAUSED, reason)
                    return f"paused: {reason}"
                a.pending, a.pending_reason = "pause", reason
                return f"pause ({reason}) after the current {state.value}"
            case Ready():
                if state in (S.PAUSED, S.WRAP_UP):
                    return self._settle(a, "ready") if state is S.WRAP_UP else self._ready(a)
                if state in (S.OFFERED, S.ON_CALL) and a.pending is not None:
                    a.pending = a.pending_reason = None
                    return "pending pause/logout cancelled"
                raise self._illegal(a, name, f"cannot be made ready while {state.value}")
            case WrapUpDone():
                if state is not S.WRAP_UP:
                    raise self._illegal(a, name, f"not in wrap-up ({state.value})")
                return self._settle(a, "wrap-up done")
            case OfferMade(call_id=call_id):
                if state is not S.AVAILABLE:
                    raise self._illegal(a, name, f"cannot be offered a call while {state.value}")
                self._enter(a, S.OFFERED)
                a.call_id = call_id
                return "offered"
            case OfferRang(call_id=call_id, channel=channel):
                self._on_call(a, name, call_id, S.OFFERED)
                a.channel = channel or a.channel
                return "ringing"
            case Answered(call_id=call_id, channel=channel):
                self._on_call(a, name, call_id, S.OFFERED)
                keep = channel or a.channel
                self._enter(a, S.ON_CALL)
                a.call_id, a.channel = call_id, keep
                return "answered"
            case HungUp(call_id=call_id):
                self._on_call(a, name, call_id, S.OFFERED, S.ON_CALL)
                if state is S.OFFERED:
                    return self._settle(a, "offer withdrawn")
                return self._end_call(a)
            case (
                RingNoAnswer(call_id=call_id) | Busy(call_id=call_id) | Unreachable(call_id=call_id)
            ):
                self._on_call(a, name, call_id, S.OFFERED)
                policy = self.policy
                if isinstance(event, RingNoAnswer):
                    a.rona_count += 1
                    pause = policy.rona_pause_reason
                else:
                    pause = (
                        policy.busy_pause_reason
                        if isinstance(event, Busy)
                        else policy.unavailable_pause_reason
                    )
                return self._settle(a, name.replace("_", " "), pause)
            case HoldStarted(call_id=call_id) | HoldEnded(call_id=call_id):
                self._on_call(a, name, call_id, S.ON_CALL)
                return name.replace("_", " ")
        raise AssertionError(f"unhandled agent event {event!r}")  # pragma: no cover

    def _ready(self, a: _Agent) -> str:
        self._enter(a, S.AVAILABLE)
        return "ready"
