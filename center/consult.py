"""An agent consulting a colleague about their call (a warm, attended transfer), decided
without I/O: who may be consulted, in what order the desktop lists them, and what each
step does to the ACD.

How it works on Asterisk 20 (the AMI actions: ``telephony.call_actions``): the caller's
AGI session Dials the agent with option ``t``, so the agent's leg may start an attended
transfer. **Consult**: ``Atxfer`` of the agent's leg rings the colleague's phone through
``hotline-consult``; the caller hears music on hold while the agent and the colleague
talk. Then the agent

* **cancels** (``CancelAtxfer``): back to the caller; the colleague's leg is hung up;
* **completes** (``atxfercomplete`` keys): the agent's leg leaves and the colleague takes
  its place in the caller's bridge. The caller's ``Dial`` does not return (its bridge
  lives on), so the ACD is told here: the agent's segment ends (``HungUp``, wrap-up) and
  the call's next segment (``<call>-t<n>``, as a blind transfer's, directed to the
  colleague) is answered by the colleague at once. When ``Dial`` returns, the caller's
  session ends that segment and writes the interaction: one for the call, the colleague
  its agent, a note "transferred to agent <id> (consulted)";
* **conferences** (``atxferthreeway`` keys): the caller, the agent and the colleague in one
  bridge. The call stays the agent's in the ACD; the colleague stays reserved until the
  call ends.

While consulted (and in a conference) the colleague is **reserved**: paused with the reason
``CONSULT_PAUSE`` (the router offers them nothing), and made ready again after a cancel or
at the call's end; a colleague who was already paused stays paused as they were.

Limits: Asterisk tells nothing hotline listens to when the colleague does not answer or
hangs up during the consult (the agent is then back with the caller): the desktop still
shows the consult until the agent cancels it or the call ends. After a conference there is
no "complete": whoever hangs up leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.skills import Requirement

if TYPE_CHECKING:
    from center.service import CallTicket

__all__ = [
    "CONSULT_PAUSE",
    "SETTLE_S",
    "Colleague",
    "Consult",
    "ConsultPhase",
    "Consults",
    "colleagues",
    "consult_refusal",
    "step_refusal",
]

#: The pause reason that reserves a consulted colleague.
CONSULT_PAUSE: Final = "consulted"
#: After a cancel, Asterisk needs a moment to put the agent's leg back in the caller's
#: bridge with its features: an Atxfer sooner is lost (its keys reach the caller).
SETTLE_S: Final = 2.0


class ConsultPhase(StrEnum):
    CONSULTING = "consulting"  # the caller held, the agent with the colleague
    CONFERENCE = "conference"  # all three talk
    COMPLETED = "completed"  # the caller with the colleague; the agent dropped out


@dataclass(frozen=True, slots=True)
class Consult:
    call_id: str  # the ACD id of the segment the agent is on
    by_agent: str
    colleague: str
    #: The colleague was available and was paused to reserve them (made ready after).
    reserved: bool
    phase: ConsultPhase = ConsultPhase.CONSULTING
    #: once completed: the segment the colleague answered, its ticket, when (ACD clock)
    segment: str | None = None
    ticket: CallTicket | None = field(default=None, compare=False, repr=False)
    completed_at: float | None = None

    @property
    def target(self) -> str:
        """What the interaction's transfer note names (like a blind transfer's)."""
        return f"agent {self.colleague} (consulted)"


@dataclass(frozen=True, slots=True)
class Colleague:
    """One line of the desktop's consult list."""

    agent_id: str
    name: str
    state: str
    #: the colleague's summed levels on the call's required skills
    level: int
    available: bool


def colleagues(
    agent_id: str,
    requirement: Requirement | None,
    skills: Mapping[str, Mapping[str, int]],
    names: Mapping[str, str],
    views: Iterable[AgentView],
) -> list[Colleague]:
    """Logged-in colleagues with the call's required skills (all of them when the call has
    none), available ones first, then by level (highest first), then by id."""
    found = []
    for view in views:
        if view.agent_id == agent_id or view.state is AgentState.LOGGED_OUT:
            continue
        levels = skills.get(view.agent_id, {})
        if requirement is not None and not requirement.admits(levels):
            continue
        needed = [s for s, _ in requirement.required] if requirement is not None else []
        found.append(
            Colleague(
                view.agent_id,
                names.get(view.agent_id, ""),
                view.state.value,
                sum(levels.get(s, 0) for s in needed),
                view.state is AgentState.AVAILABLE,
            )
        )
    return sorted(found, key=lambda c: (not c.available, -c.level, c.agent_id))


def consult_refusal(
    view: AgentView,
    colleague: str,
    colleague_view: AgentView | None,
    *,
    endpoint: str,
    under_way: Consult | None,
    since_cancel_s: float | None = None,
) -> str | None:
    """Why the agent cannot consult ``colleague`` now (None: they can). The caller must be
    on a call with a known leg (``center.call_control.control_refusal`` first); the
    colleague a logged-in agent with a phone, not on or being offered a call."""
    if under_way is not None:
        return f"a consult with agent {under_way.colleague} is already under way"
    if since_cancel_s is not None and since_cancel_s < SETTLE_S:
        return "the call is coming back from the last consult: try again in a moment"
    if colleague == view.agent_id:
        return "an agent cannot consult themselves"
    if colleague_view is None:
        return f"no agent {colleague!r}"
    if not endpoint:
        return f"agent {colleague} has no phone"
    if colleague_view.state is AgentState.LOGGED_OUT:
        return f"agent {colleague} is not logged in"
    if colleague_view.state not in (AgentState.AVAILABLE, AgentState.PAUSED):
        return f"agent {colleague} is busy ({colleague_view.state.value})"
    return None


def step_refusal(consult: Consult | None, step: str) -> str | None:
    """Why ``step`` (``complete``, ``cancel``, ``conference``) cannot be taken now."""
    if consult is None:
        return "no consult under way"
    if consult.phase is not ConsultPhase.CONSULTING:
        return f"the consult is already a {consult.phase.value} call"
    if step not in ("complete", "cancel", "conference"):
        return f"no such step: {step!r}"
    return None


class Consults:
    """Consults under way, by the ACD id of the consulting agent's segment."""

    def __init__(self) -> None:
        self._by_call: dict[str, Consult] = {}

    def start(self, consult: Consult) -> None:
        if consult.call_id in self._by_call:
            raise ValueError(f"call {consult.call_id} already has a consult")
        self._by_call[consult.call_id] = consult

    def get(self, call_id: str) -> Consult | None:
        return self._by_call.get(call_id)

    def update(self, consult: Consult) -> None:
        self._by_call[consult.call_id] = consult

    def end(self, call_id: str) -> Consult | None:
        return self._by_call.pop(call_id, None)

    def of_colleague(self, agent_id: str) -> Consult | None:
        """The consult (or conference) that reserves ``agent_id``."""
        return next(
            (
                c
                for c in self._by_call.values()
                if c.colleague == agent_id and c.phase is not ConsultPhase.COMPLETED
            ),
            None,
        )

    def completed(self, call_id: str) -> Consult | None:
        """The completed consult of ``call_id`` (the caller's session ends its segment)."""
        consult = self._by_call.get(call_id)
        if consult is None or consult.phase is not ConsultPhase.COMPLETED:
            return None
        return consult

    def __iter__(self) -> Iterator[Consult]:
        return iter(list(self._by_call.values()))
