"""What can happen to an agent: their own actions, the router's offers, telephony facts.

Telephony facts are produced at the edge (``telephony/`` turns AMI Dial/Bridge/Hangup and
device-state events into these); agent actions come through the web API.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AgentError",
    "AgentEvent",
    "AgentState",
    "Answered",
    "Busy",
    "HoldEnded",
    "HoldStarted",
    "HungUp",
    "IllegalTransition",
    "Login",
    "Logout",
    "OfferMade",
    "OfferRang",
    "Pause",
    "Ready",
    "RingNoAnswer",
    "StaleCallEvent",
    "UnknownAgent",
    "Unreachable",
    "WrapUpDone",
    "event_name",
]


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    OFFERED = "offered"  # the agent's phone is being rung for a call
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


# agent actions -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Login:
    agent_id: str
    #: None: available at once; otherwise logged in paused with this reason.
    paused_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Logout:
    agent_id: str


@dataclass(frozen=True, slots=True)
class Pause:
    agent_id: str
    reason: str = "break"


@dataclass(frozen=True, slots=True)
class Ready:
    agent_id: str


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    agent_id: str


# the router's decision -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OfferMade:
    agent_id: str
    call_id: str


# telephony facts -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OfferRang:
    agent_id: str
    call_id: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Answered:
    agent_id: str
    call_id: str
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class HungUp:
    """The agent leg ended: after answer, the call is over; before, the offer is void."""

    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Busy:
    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The agent's phone is unavailable (not registered, congestion)."""

    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class HoldStarted:
    agent_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class HoldEnded:
    agent_id: str
    call_id: str


AgentEvent = (
    Login
    | Logout
    | Pause
    | Ready
    | WrapUpDone
    | OfferMade
    | OfferRang
    | Answered
    | HungUp
    | RingNoAnswer
    | Busy
    | Unreachable
    | HoldStarted
    | HoldEnded
)


#: The wire-ish name of each event, for transitions and the event log.
def event_name(event: AgentEvent) -> str:
    return _NAMES[type(event)]


_NAMES: dict[type, str] = {
    Login: "login",
    Logout: "logout",
    Pause: "pause",
    Ready: "ready",
    WrapUpDone: "wrapup_done",
    OfferMade: "offer_made",
    OfferRang: "offer_rang",
    Answered: "answered",
    HungUp: "hung_up",
    RingNoAnswer: "ring_no_answer",
    Busy: "busy",
    Unreachable: "unavailable",
    HoldStarted: "hold_started",
    HoldEnded: "hold_ended",
}


class AgentError(Exception):
    """An agent event that cannot be applied; the state is unchanged."""

    def __init__(self, agent_id: str, reason: str) -> None:
        super().__init__(f"agent {agent_id}: {reason}")
        self.agent_id = agent_id
        self.reason = reason


class UnknownAgent(AgentError):
    """No such agent in the roster."""


class IllegalTransition(AgentError):
    """The event makes no sense in the agent's current state (login twice, ready twice)."""

    def __init__(self, agent_id: str, state: AgentState, event: str, reason: str) -> None:
        super().__init__(agent_id, reason)
        self.state = state
        self.event = event


class StaleCallEvent(AgentError):
    """A telephony fact about a call the agent is not (or no longer) handling."""
