"""The distributor's digital tasks (chats, e-mails, voicemails...): the reservation an
agent accepts or rejects before its deadline (``task_accepted``, ``task_rejected``; an
unanswered one expires in ``tick``), the task they close (``task_done``) and wrap up
(``task_wrapped``), hand on to a queue or an agent (``task_transferred``), and give back
when their desktop goes away or they log out (``desktop_lost``, ``_take_back``); a
customer who leaves (closes the chat) abandons or ends the task.

A part of ``acd.distributor.CallDistributor``, which holds the state and routes; pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn

from acd.agent_events import AgentError, AgentState, Pause
from acd.contacts import TASK_DONE
from acd.events import (
    AcdEvent,
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallMoved,
    CallRequeued,
    EventRejected,
)
from acd.offer import Offer
from acd.workload import HeldTask, StaleTask, TaskPhase, Workload

if TYPE_CHECKING:
    from acd.agents import AgentBook, Transition
    from acd.clock import Clock
    from acd.distributor import AgentProfile, QueueSetup, _Call
    from acd.priority import PriorityWeights
    from acd.router import Router

__all__ = ["DECLINED", "DESKTOP_LOST", "DISCONNECTED", "LOGGED_OUT", "NO_ANSWER", "DigitalTasks"]

#: Why a digital task went back in line: the agent declined it, or let it expire.
DECLINED = "declined"
NO_ANSWER = "no answer"
#: ... or the agent's desktop went away (``desktop_lost``), or they logged out.
DESKTOP_LOST = "agent disconnected"
LOGGED_OUT = "agent logged out"
#: The pause reason of an agent whose desktop went away.
DISCONNECTED = "disconnected"


class DigitalTasks:
    if TYPE_CHECKING:  # the distributor's state and steps these use
        agents: dict[str, AgentProfile]
        book: AgentBook
        router: Router
        workload: Workload
        _queues: dict[str, QueueSetup]
        _priority: PriorityWeights
        _clock: Clock
        _calls: dict[str, _Call]
        _last_task_at: dict[str, float]

        def dispatch(self) -> list[Offer]: ...
        def _log(self, event: AcdEvent) -> None: ...
        def _refuse(self, call_id: str, action: str, reason: str) -> NoReturn: ...
        def _after(self, t: Transition, *, call_gone: bool = False) -> None: ...
        def _refresh(self, agent_id: str, *, became_available: bool = False) -> None: ...

    # digital tasks -----------------------------------------------------------------------
    # Each raises ``StaleTask`` (an ``AgentError``: logged as ``EventRejected``) when the
    # agent does not hold the task in the phase the action needs.
    def task_accepted(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent took the task offered to them: it is theirs until ``task_done``."""
        task = self._task_action(agent_id, task_id, "task_accepted", self.workload.accept)
        info = self._calls[task_id]
        info.state = "connected"
        info.settled = self.router.settle(task_id)
        self._log(CallAnswered(task_id, agent_id, info.call.queue))
        self._task_changed(agent_id, task, TaskPhase.RESERVED, "accepted")
        return self.dispatch()

    def task_rejected(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent declined the task offered to them: it is back in line, its place
        kept, and the agent is paused ("declined") as after an offer with no answer, so it
        goes to someone else (Genesys Cloud's "not responding", Connect's "missed")."""
        task = self._task_action(agent_id, task_id, "task_rejected", self._reserved_task)
        pause = DECLINED if self.book.policy.rona_pause_reason is not None else None
        self._offer_failed(agent_id, task, DECLINED, pause)
        return self.dispatch()

    def task_done(self, agent_id: str, task_id: str, reason: str = TASK_DONE) -> list[Offer]:
        """The agent closed the task (the conversation is over): wrap-up per the policy."""
        wrap = self.book.policy.task_wrap_up_s
        self._task_action(
            agent_id, task_id, "task_done", lambda a, t: self.workload.finish(a, t, wrap)
        )
        self._close_task(agent_id, task_id, reason)
        return self.dispatch()

    def task_wrapped(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent ended a digital task's wrap-up."""
        task = self._task_action(agent_id, task_id, "task_wrapped", self.workload.wrapped)
        self._task_changed(agent_id, task, task.phase, "wrap-up done", gone=True)
        self._refresh(agent_id)
        return self.dispatch()

    def task_transferred(
        self,
        agent_id: str,
        task_id: str,
        *,
        queue: str | None = None,
        to_agent: str | None = None,
    ) -> list[Offer]:
        """The agent hands their accepted task on, as at a logout (``_take_back``) but
        chosen: back in line with its place kept (first entry, priority), in ``queue`` (its
        skills there for this customer: ``CallMoved``) or directed to ``to_agent`` (in its
        queue; theirs alone while logged in, whatever their skills: ``IncomingCall.directed``).
        ``CallRequeued`` says ``transferred to ...``; the agent has no wrap-up of it. Raises
        ``StaleTask`` unless the agent holds it accepted, ``RoutingError`` for an unknown
        queue or agent, the queue it is in, or the agent themself."""
        action = "task_transferred"
        task = self.workload.task(task_id)
        if task is None or self.workload.holder(task_id) != agent_id:
            self._log(EventRejected(agent_id, action, f"does not hold task {task_id}"))
            raise StaleTask(agent_id, f"does not hold task {task_id}")
        if task.phase is not TaskPhase.ACTIVE:
            reason = f"task {task_id} is {task.phase.value}, not accepted"
            self._log(EventRejected(agent_id, action, reason))
            raise StaleTask(agent_id, reason)
        info = self._calls[task_id]
        settled = info.settled
        assert settled is not None, "an accepted task keeps its routing view"
        if (queue is None) == (to_agent is None):
            self._refuse(task_id, action, "name a queue or an agent")
        if to_agent is not None and (to_agent == agent_id or to_agent not in self.agents):
            self._refuse(task_id, action, f"cannot be transferred to agent {to_agent!r}")
        before = info.call.queue
        waiting = replace(settled, preferred_agent=to_agent, directed=to_agent is not None)
        if queue is not None:
            setup = self._queues.get(queue)
            if setup is None:
                self._refuse(task_id, action, f"unknown queue {queue!r}")
            if queue == before:
                self._refuse(task_id, action, f"already in {queue!r}")
            facts = info.call.facts
            waiting = replace(
                waiting,
                queue=queue,
                profile=setup.skills.profile(facts, self._priority.is_repeat(facts)),
            )
        self.workload.drop(agent_id, task_id)
        info.call = replace(
            info.call,
            queue=waiting.queue,
            preferred_agent=to_agent,
            directed=to_agent is not None,
        )
        info.state, info.agent_id, info.settled = "waiting", None, None
        self.router.enqueue(waiting)
        target = f"agent {to_agent}" if to_agent is not None else f"queue {queue}"
        self._log(CallRequeued(task_id, agent_id, before, f"transferred to {target}"))
        if queue is not None:
            self._log(CallMoved(task_id, before, queue, f"agent {agent_id}"))
        self._task_changed(agent_id, task, task.phase, f"transferred to {target}", gone=True)
        self._last_task_at[agent_id] = self._clock()
        self._refresh(agent_id)
        return self.dispatch()

    def desktop_lost(self, agent_id: str) -> list[Offer]:
        """The agent's desktop went away (the browser closed) and did not come back in
        time: the digital tasks offered to them or open with them go back in line with their
        place kept, as at a logout (ones in wrap-up are over), and the agent is paused
        ``DISCONNECTED``, still logged in. A call on their phone goes on (the pause is
        pending until it ends). Nothing for a logged-out agent; raises ``UnknownAgent``."""
        view = self.book.view(agent_id)
        if view.state is AgentState.LOGGED_OUT:
            return []
        self._take_back(agent_id, DESKTOP_LOST)
        if view.pending == "logout":
            self._refresh(agent_id)
        else:
            self._after(self.book.apply(Pause(agent_id, DISCONNECTED)))
        return self.dispatch()

    def tasks_of(self, agent_id: str) -> tuple[HeldTask, ...]:
        """The digital tasks the agent holds now, in every phase."""
        return self.workload.held(agent_id)

    # internals -------------------------------------------------------------------------
    def _task_action(
        self, agent_id: str, task_id: str, action: str, apply: Callable[[str, str], HeldTask | None]
    ) -> HeldTask:
        """Apply ``apply`` to the agent's task; a refusal is logged and re-raised."""
        try:
            if agent_id not in self.agents:
                raise StaleTask(agent_id, "no such agent in the roster")
            before = self.workload.task(task_id)
            if before is None or self.workload.holder(task_id) != agent_id:
                raise StaleTask(agent_id, f"does not hold task {task_id}")
            after = apply(agent_id, task_id)
        except AgentError as error:
            self._log(EventRejected(error.agent_id, action, error.reason))
            raise
        return after if after is not None else before

    def _reserved_task(self, agent_id: str, task_id: str) -> HeldTask:
        task = self.workload.task(task_id)
        if task is None or task.phase is not TaskPhase.RESERVED:
            phase = "gone" if task is None else task.phase.value
            raise StaleTask(agent_id, f"cannot reject task {task_id}: it is {phase}")
        return self.workload.drop(agent_id, task_id)

    def _offer_failed(self, agent_id: str, task: HeldTask, reason: str, pause: str | None) -> None:
        """A reservation was declined or left unanswered: the task is back in line, its
        place kept; the agent is paused with ``pause`` (None: not paused)."""
        info = self._calls[task.task_id]
        info.state, info.agent_id = "waiting", None
        self.router.requeue(task.task_id)
        self._log(CallRequeued(task.task_id, agent_id, info.call.queue, reason))
        self._task_changed(agent_id, task, task.phase, reason, gone=True)
        if pause is not None and self.book.state(agent_id) is not AgentState.PAUSED:
            self._after(self.book.apply(Pause(agent_id, pause)))
        else:
            self._refresh(agent_id)

    def _close_task(self, agent_id: str, task_id: str, reason: str) -> None:
        """The conversation is over (``workload.finish`` done): the task leaves the ACD."""
        info = self._calls.pop(task_id)
        task = self.workload.task(task_id)
        closed = HeldTask(task_id, info.call.channel, TaskPhase.ACTIVE, self._clock())
        self._task_changed(agent_id, task or closed, TaskPhase.ACTIVE, reason, gone=task is None)
        self._log(CallEnded(task_id, agent_id, info.call.queue, reason))
        self._last_task_at[agent_id] = self._clock()
        self._refresh(agent_id)

    def _customer_gone(self, info: _Call, reason: str) -> None:
        """The customer left a digital task (closed the chat): waiting or reserved, it is
        abandoned; accepted, the conversation is over for the agent."""
        task_id, agent_id = info.call.call_id, info.agent_id
        if info.state == "connected" and agent_id is not None:
            held = self.workload.task(task_id)
            if held is not None and held.phase is TaskPhase.ACTIVE:
                self.workload.finish(agent_id, task_id, self.book.policy.task_wrap_up_s)
                self._close_task(agent_id, task_id, reason)
            return
        self.router.withdraw(task_id)
        del self._calls[task_id]
        if info.state == "offered" and agent_id is not None:
            task = self.workload.drop(agent_id, task_id)
            self._task_changed(agent_id, task, task.phase, reason, gone=True)
        self._log(CallAbandoned(task_id, info.call.queue, info.state == "offered", reason))
        if info.state == "offered" and agent_id is not None:
            self._refresh(agent_id)

    def _take_back(self, agent_id: str, reason: str) -> None:
        """The agent logged out or lost their desktop (``reason``) holding digital tasks:
        offered or open ones go back in line with their place kept; ones in wrap-up are
        over."""
        for task in self.workload.held(agent_id):
            self.workload.drop(agent_id, task.task_id)
            info = self._calls.get(task.task_id)
            if task.phase is TaskPhase.WRAP_UP or info is None:
                self._task_changed(agent_id, task, task.phase, reason, gone=True)
                continue
            queue = info.call.queue
            if task.phase is TaskPhase.RESERVED:
                self.router.requeue(task.task_id)
            else:
                assert info.settled is not None, "an accepted task keeps its routing view"
                self.router.enqueue(info.settled)
                info.settled = None
            info.state, info.agent_id = "waiting", None
            self._log(CallRequeued(task.task_id, agent_id, queue, reason))
            self._task_changed(agent_id, task, task.phase, reason, gone=True)

    def _task_changed(
        self,
        agent_id: str,
        task: HeldTask,
        before: TaskPhase | None,
        reason: str,
        *,
        gone: bool = False,
    ) -> None:
        after = "" if gone else task.phase.value
        was = "" if before is None else before.value
        self._log(AgentTaskChanged(agent_id, task.task_id, task.channel, was, after, reason))
