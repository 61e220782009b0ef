"""A queue's routing policy and a call waiting in it, as the router takes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.contacts import VOICE
from acd.priority import PriorityScore, Urgency
from acd.skills import RoutingProfile
from acd.strategy import Strategy

__all__ = ["QueuePolicy", "WaitingCall"]


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    urgency: Urgency = field(default_factory=Urgency)
    #: For this long after entry a call with a preferred agent who is logged in and
    #: qualified waits for that agent only; afterwards that agent is merely preferred.
    preferred_window_s: float = 0.0


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """The router's view of a call: who it is, where it waits, how urgent, what it needs."""

    call_id: str
    queue: str
    entry_time: float
    priority: PriorityScore
    profile: RoutingProfile
    preferred_agent: str | None = None
    #: The task's channel (``acd.contacts``): voice, callback, chat, email, voicemail...
    channel: str = VOICE
    #: Waits for ``preferred_agent`` only (``IncomingCall.directed``).
    directed: bool = False
