"""How much work an agent holds at once: one voice seat, and digital tasks by channel.

An agent's phone takes one call at a time (``acd.contacts.VOICE_SEAT``: inbound calls and
callbacks). Chats, e-mails, voicemails and messaging tasks are *digital*: an agent may hold
several at once, up to a limit per channel and a limit across channels, as Twilio
TaskRouter's per-worker channel capacity and Amazon Connect's routing-profile concurrency
allow. Two cross-channel rules say how the voice seat and digital work mix:

* ``during_voice``: may a digital task be offered while the phone is busy (ringing, on a
  call, in wrap-up)? Off by default: a call has the agent's whole attention.
* ``voice_with``: an agent holding more digital tasks than this is not offered calls
  (0 by default: a call goes only to an agent with no chat or e-mail open).

``open_channels`` is the one decision: the channels an agent may be offered a task on now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.agent_events import AgentState
from acd.contacts import VOICE_SEAT

__all__ = ["VOICE_ONLY", "Capacity"]

_NOTHING: frozenset[str] = frozenset()
#: The voice seat's states in which the phone is busy with a call or its wrap-up.
_SEAT_BUSY = frozenset({AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP})


@dataclass(frozen=True, slots=True)
class Capacity:
    #: digital channel -> tasks held at once (a channel not listed is never offered)
    digital: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: digital tasks held at once across channels
    total: int = 0
    during_voice: bool = False
    voice_with: int = 0

    def __post_init__(self) -> None:
        if self.total < 0 or self.voice_with < 0 or any(n < 0 for n in self.digital.values()):
            raise ValueError("capacities cannot be negative")
        if set(self.digital) & VOICE_SEAT:
            raise ValueError("voice and callback are the voice seat, not digital channels")

    def open_channels(
        self, seat: AgentState, load: Mapping[str, int], *, pending: bool = False
    ) -> frozenset[str]:
        """The channels an agent may be offered a task on: ``seat`` is their voice seat's
        state (``acd.agents``), ``load`` the digital tasks they hold by channel, ``pending``
        a pause or logout they asked for (nothing new is offered then)."""
        if pending or seat in (AgentState.PAUSED, AgentState.LOGGED_OUT):
            return _NOTHING
        if not self.total and not load:  # the voice seat alone
            return VOICE_SEAT if seat is AgentState.AVAILABLE else _NOTHING
        held = sum(load.values())
        seat_free = seat is AgentState.AVAILABLE
        voice = VOICE_SEAT if seat_free and held <= self.voice_with else _NOTHING
        if held >= self.total or not (seat_free or (self.during_voice and seat in _SEAT_BUSY)):
            return voice
        digital = frozenset(c for c, n in self.digital.items() if load.get(c, 0) < n)
        return voice | digital if digital else voice

    def holds(self, channel: str) -> bool:
        """Can an agent with this capacity ever be offered a task on ``channel``?"""
        return channel in VOICE_SEAT or (self.digital.get(channel, 0) > 0 and self.total > 0)


#: The voice seat alone (no digital channel): the default when agents.yaml says nothing.
VOICE_ONLY = Capacity()
