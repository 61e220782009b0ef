"""A queue's routing policy and a call waiting in it, as the router takes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

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
    #: The urgency of a channel with its own service-level target (a chat's, an e-mail's);
    #: every other channel's (voice's) is ``urgency``.
    channel_urgency: Mapping[str, Urgency] = field(default_factory=lambda: MappingProxyType({}))

    def urgency_of(self, channel: str) -> Urgency:
        """The time-dependent priority of this queue's tasks on ``channel``. Every task of a
        routing class (``acd.routing_index``) has one channel, so one urgency."""
        return self.channel_urgency.get(channel, self.urgency)


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
