"""The agents' phones: line state, device state events, and fallback-queue membership."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from telephony.emulator import events
from telephony.emulator.events import Pairs
from telephony.emulator.model import AgentPhone

LineState = Literal["idle", "ringing", "inuse"]
NOT_INUSE: Final = "NOT_INUSE"
INUSE: Final = "INUSE"
RINGING: Final = "RINGING"
UNAVAILABLE: Final = "UNAVAILABLE"
# app_queue member Status numbers (AST_DEVICE_*)
QUEUE_STATUS: Final = {NOT_INUSE: 1, INUSE: 2, RINGING: 6, UNAVAILABLE: 5}


def contact_uri(phone: AgentPhone) -> str:
    """Where the emulated phone registered from (TEST-NET-1: nothing real is there)."""
    return f"sip:{phone.peer}@192.0.2.10:5060"


@dataclass
class PhoneLine:
    phone: AgentPhone
    state: LineState = "idle"
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_queue: bool = True

    @property
    def device_state(self) -> str:
        if self.phone.behaviour == "unavailable":
            return UNAVAILABLE
        return {"idle": NOT_INUSE, "ringing": RINGING, "inuse": INUSE}[self.state]


class PhoneBook:
    """Phones by endpoint (case-insensitive), in configuration order (the queue's order)."""

    def __init__(
        self, phones: Sequence[AgentPhone], emit: Callable[[Pairs], None], now: int
    ) -> None:
        self._emit = emit
        self._now = now
        self._lines: dict[str, PhoneLine] = {}
        self._rr = 0  # rrmemory: the member after the last one that answered rings first
        for phone in phones:
            self.set_phone(phone, announce=False)

    def set_phone(self, phone: AgentPhone, *, announce: bool = True) -> None:
        """A phone registers, or changes: a PJSIP phone's contact is told by ContactStatus
        (a new one NonQualified then Reachable; ``unavailable`` is Unreachable)."""
        key = phone.endpoint.lower()
        line = self._lines.get(key)
        was = None if line is None else line.phone.behaviour == "unavailable"
        if line is None:
            self._lines[key] = PhoneLine(phone, login_time=self._now)
        else:
            line.phone = phone
        now = phone.behaviour == "unavailable"
        if not announce or phone.tech.upper() != "PJSIP" or was == now:
            return
        uri = contact_uri(phone)
        if was is None:
            self._emit(events.contact_status(phone.peer, uri, "NonQualified"))
        self._emit(events.contact_status(phone.peer, uri, "Unreachable" if now else "Reachable"))

    def unregister(self, endpoint: str) -> bool:
        """The phone at ``endpoint`` unregisters: gone from the book (ContactStatus Removed,
        device UNAVAILABLE for a PJSIP phone); False when there was none."""
        line = self._lines.pop(endpoint.lower(), None)
        if line is None:
            return False
        if line.phone.tech.upper() == "PJSIP":
            self._emit(events.contact_status(line.phone.peer, contact_uri(line.phone), "Removed"))
        self._emit(events.device_state(line.phone.endpoint, UNAVAILABLE))
        return True

    def dial_contacts(self, name: str) -> str:
        """``PJSIP_DIAL_CONTACTS(name)``: the endpoint's contacts that can be rung."""
        line = self._lines.get(f"pjsip/{name}".lower())
        if line is None or line.phone.behaviour == "unavailable":
            return ""
        return f"{line.phone.endpoint}/{contact_uri(line.phone)}"

    def get(self, endpoint: str) -> PhoneLine | None:
        return self._lines.get(endpoint.lower())

    def __iter__(self) -> Iterator[PhoneLine]:
        return iter(list(self._lines.values()))

    def set_state(self, line: PhoneLine, state: LineState) -> None:
        if line.state == state:
            return
        line.state = state
        self._emit(events.device_state(line.phone.endpoint, line.device_state))

    def queue_order(self) -> list[PhoneLine]:
        members = [line for line in self if line.in_queue]
        if not members:
            return []
        start = self._rr % len(members)
        return members[start:] + members[:start]

    def answered(self, line: PhoneLine, epoch: int) -> None:
        members = [m for m in self if m.in_queue]
        if line in members:
            self._rr = members.index(line) + 1
        line.calls_taken += 1
        line.last_call = epoch

    def reset(self) -> None:
        for line in self:
            line.state = "idle"
