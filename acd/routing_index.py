"""The router's indexes: one *routing class* per (queue, channel, concrete requirement).

All calls (tasks) of a class can be served by exactly the same agents, so a class keeps

* its waiting calls in one heap per priority *phase* (see ``acd.priority.Urgency``): inside
  a phase, a call's priority is ``base + bonus + rate*(now - entry)`` or ``base + cap +
  bonus``, so ordering by ``base + bonus - rate*entry`` (or ``base + cap + bonus``) never
  changes with time and a heap stays valid; a call changes phase (or class, when its
  requirement relaxes) only at a known time, when the router moves it;
* its eligible agents available on its channel in one heap keyed by (best skill match,
  strategy key), a key that cannot change while the agent stays available.

Heaps delete lazily: an entry carries the token (call) or epoch (agent) it was pushed with
and is skipped once that is stale; a heap is rebuilt when stale entries outnumber live ones.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from acd.priority import Urgency
from acd.queue import WaitingCall
from acd.skills import Requirement, RoutingProfile, SkillLevels

__all__ = ["AgentSlot", "CallSlot", "RoutingClass"]

CallEntry = tuple[float, float, int, int, "CallSlot"]
AgentEntry = tuple[float, float, str, int, "AgentSlot"]


class CallSlot:
    """A call known to the router (waiting, or out on an offer)."""

    __slots__ = (
        "base",
        "breakpoints",
        "call",
        "channel",
        "cls",
        "directed",
        "entry",
        "offered",
        "preferred",
        "profile",
        "queue",
        "reserved_for",
        "seq",
        "step",
        "step_classes",
        "token",
    )

    def __init__(
        self,
        call: WaitingCall,
        seq: int,
        breakpoints: tuple[float, ...],
        step_classes: list[RoutingClass | None],
    ) -> None:
        self.call = call
        self.seq = seq
        self.entry = call.entry_time
        self.base = call.priority.total
        self.profile: RoutingProfile = call.profile
        self.queue = call.queue
        self.channel = call.channel
        self.preferred = call.preferred_agent
        self.directed = call.directed and call.preferred_agent is not None
        self.breakpoints = breakpoints
        self.step_classes = step_classes
        self.token = 0
        self.step = 0
        self.cls: RoutingClass | None = None
        self.reserved_for: AgentSlot | None = None
        self.offered = False

    def become(
        self,
        call: WaitingCall,
        breakpoints: tuple[float, ...] | None = None,
        step_classes: list[RoutingClass | None] | None = None,
    ) -> None:
        """A supervisor changed the call (priority, queue and profile); its entry time and
        sequence stay. Only for a call out of every index (the router re-places it)."""
        assert self.cls is None, "unplace the call first"
        assert self.reserved_for is None, "unplace the call first"
        self.call = call
        self.base = call.priority.total
        self.profile = call.profile
        self.queue = call.queue
        if breakpoints is not None:
            self.breakpoints = breakpoints
        if step_classes is not None:
            self.step_classes = step_classes


class AgentSlot:
    """A logged-in agent as the router sees it."""

    __slots__ = (
        "agent_id",
        "calls_handled",
        "channels",
        "classes",
        "draw",
        "epoch",
        "idle_since",
        "last_offered",
        "order",
        "skills",
    )

    def __init__(self, agent_id: str, skills: SkillLevels, order: int) -> None:
        self.agent_id = agent_id
        self.skills = dict(skills)
        self.order = order
        #: the channels the agent may be offered a task on now (none: unavailable)
        self.channels: frozenset[str] = frozenset()
        self.epoch = 0
        self.idle_since = 0.0
        self.calls_handled = 0
        self.draw = 1.0
        self.last_offered: dict[str, int] = {}
        #: channel -> the routing classes of that channel whose requirement the agent meets
        self.classes: dict[str, list[RoutingClass]] = {}

    @property
    def available(self) -> bool:
        return bool(self.channels)


class RoutingClass:
    """Calls of one channel with one requirement in one queue, and the agents who meet it."""

    __slots__ = (
        "agent_heap",
        "available",
        "call_entries",
        "calls",
        "channel",
        "eligible",
        "linear",
        "offset",
        "phase_heaps",
        "queue",
        "requirement",
        "tops",
        "urgency",
        "weighted",
    )

    def __init__(
        self,
        queue: str,
        channel: str,
        requirement: Requirement,
        urgency: Urgency,
        *,
        weighted: bool = False,
    ) -> None:
        self.queue = queue
        self.channel = channel
        self.requirement = requirement
        #: the queue's urgency on the channel (a new policy makes new classes)
        self.urgency = urgency
        #: per phase: does priority grow with waiting (heap key + rate * now)?
        self.linear = tuple(phase.linear for phase in urgency.phases)
        #: a capped phase's heap key counts the cap, which a queue without aging never
        #: reaches: what to add to that key for the priority
        self.offset = -(urgency.cap or 0.0) if urgency.rate <= 0 else 0.0
        #: the queue's strategy is ``weighted``: the agent's key depends on the class
        self.weighted = weighted
        self.phase_heaps: list[list[CallEntry]] = [[] for _ in urgency.phases]
        #: each non-empty phase's live top (heap key, call, linear?), found when a decision
        #: first asks and kept until a call joins or leaves the class (``None``: ask again)
        self.tops: list[tuple[float, CallSlot, bool]] | None = []
        self.call_entries = 0
        self.calls = 0
        self.agent_heap: list[AgentEntry] = []
        self.available = 0
        #: agent id -> (skill match score, level weight for the weighted strategy)
        self.eligible: dict[str, tuple[float, float]] = {}

    # calls ---------------------------------------------------------------------------
    def push_call(self, slot: CallSlot, phase: int, order_key: float) -> None:
        heappush(self.phase_heaps[phase], (-order_key, slot.entry, slot.seq, slot.token, slot))
        self.tops = None
        self.call_entries += 1
        self.calls += 1
        if self.call_entries > 2 * self.calls + 32:
            self._compact_calls()

    def call_left(self) -> None:
        """A call of the class left it (its heap entry is stale from now on)."""
        self.calls -= 1
        self.tops = None

    def live_tops(self) -> list[tuple[float, CallSlot, bool]]:
        """The live top of each non-empty phase heap (stale entries above it are dropped)."""
        tops = self.tops
        if tops is not None:
            return tops
        tops = []
        for heap, linear in zip(self.phase_heaps, self.linear, strict=True):
            while heap:
                entry = heap[0]
                slot = entry[4]
                if slot.token == entry[3] and slot.cls is self:
                    tops.append((entry[0], slot, linear))
                    break
                heappop(heap)
                self.call_entries -= 1
        self.tops = tops
        return tops

    def _compact_calls(self) -> None:
        for index, heap in enumerate(self.phase_heaps):
            live = [e for e in heap if e[4].token == e[3] and e[4].cls is self]
            heapify(live)
            self.phase_heaps[index] = live
        self.call_entries = sum(len(h) for h in self.phase_heaps)

    # agents --------------------------------------------------------------------------
    def push_agent(self, agent: AgentSlot, match: float, key: float) -> None:
        heappush(self.agent_heap, (-match, key, agent.agent_id, agent.epoch, agent))
        self.available += 1
        if len(self.agent_heap) > 2 * self.available + 32:
            live = [e for e in self.agent_heap if e[4].epoch == e[3] and e[4].available]
            heapify(live)
            self.agent_heap = live

    def top_agent(self) -> tuple[AgentSlot, float] | None:
        heap = self.agent_heap
        while heap:
            entry = heap[0]
            agent = entry[4]
            if agent.available and agent.epoch == entry[3]:
                return agent, entry[1]
            heappop(heap)
        return None
