"""Where a call goes when the flow is done with it: the ACD, or a callback request.

``AcdGateway`` is the seam to the ACD. Until the ACD is wired, ``FallbackAcd`` sends the call
to the dialplan's fallback context (Asterisk's own Queue()) with the IVR's findings as
channel variables the dialplan may route on (``center.incoming`` maps the attributes onto the
ACD's call for the gateway that replaces it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ivr.flow.state import CallState, TraceEntry, WellKnown
from telephony.agi_server import Fallback
from telephony.agi_session import AgiSession

log = logging.getLogger(__name__)

__all__ = [
    "AcdGateway",
    "CallAttributes",
    "CallbackRequest",
    "CallbackRequests",
    "FallbackAcd",
    "InMemoryCallbacks",
]

#: Channel variables FallbackAcd sets for the dialplan (named once, here).
VAR_QUEUE = "HOTLINE_QUEUE"
VAR_CALL_TYPE = "HOTLINE_CALL_TYPE"
VAR_INTENT = "HOTLINE_INTENT"
VAR_CUSTOMER = "HOTLINE_CUSTOMER_ID"


@dataclass(frozen=True)
class CallAttributes:
    """A typed view of what the IVR collected, handed to the ACD."""

    call_id: str
    channel: str
    caller_number: str | None
    language: str
    queue: str | None = None
    call_type: str | None = None
    intent: str | None = None
    intent_confidence: float | None = None
    complexity: int = 0
    account: str | None = None
    customer_id: str | None = None
    tier: str | None = None
    open_issues: int = 0
    recent_contacts: int = 0
    days_since_last_contact: float | None = None
    last_agent: str | None = None
    tags: frozenset[str] = frozenset()
    customer_name: str | None = None
    #: What the caller said (the last recognised speech turn).
    transcript: str | None = None
    #: (entity, value) pairs the intent classifier found, sorted by entity.
    entities: tuple[tuple[str, str], ...] = ()
    #: Every attribute as text, including the flow's own keys.
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: The IVR's findings so far (for the agent's screen-pop).
    trace: tuple[TraceEntry, ...] = ()
    #: "out" for a callback dialled to the customer (``center.callbacks``).
    direction: Literal["in", "out"] = "in"

    @classmethod
    def from_state(
        cls, state: CallState, *, call_id: str, channel: str, caller_number: str | None
    ) -> CallAttributes:
        a = state.attributes
        k = WellKnown
        tags = frozenset(t for t in a.get(k.TAGS, "").split(",") if t)
        return cls(
            call_id=call_id,
            channel=channel,
            caller_number=caller_number,
            language=state.language,
            queue=a.get(k.QUEUE) or None,
            call_type=a.get(k.CALL_TYPE) or None,
            intent=a.get(k.INTENT) or None,
            intent_confidence=state.number(k.INTENT_CONFIDENCE),
            complexity=int(state.number(k.COMPLEXITY) or 0),
            account=a.get(k.ACCOUNT) or None,
            customer_id=a.get(k.CUSTOMER_ID) or None,
            tier=a.get(k.TIER) or None,
            open_issues=int(state.number(k.OPEN_ISSUES) or 0),
            recent_contacts=int(state.number(k.RECENT_CONTACTS) or 0),
            days_since_last_contact=state.number(k.DAYS_SINCE_LAST_CONTACT),
            last_agent=a.get(k.LAST_AGENT) or None,
            tags=tags,
            customer_name=a.get(k.CUSTOMER_NAME) or None,
            transcript=a.get(k.TRANSCRIPT) or None,
            entities=tuple(
                sorted(
                    (name.removeprefix(k.ENTITY_PREFIX), value)
                    for name, value in a.items()
                    if name.startswith(k.ENTITY_PREFIX) and value
                )
            ),
            attributes=dict(a),
            trace=tuple(state.trace),
        )


class AcdGateway(Protocol):
    """Takes the call over: returns when the ACD (or the dialplan) has it."""

    async def enqueue(self, session: AgiSession, call: CallAttributes) -> None: ...


class FallbackAcd:
    """The default gateway until the ACD is wired: the dialplan's fallback Queue()."""

    def __init__(self, fallback: Fallback) -> None:
        self._fallback = fallback

    async def enqueue(self, session: AgiSession, call: CallAttributes) -> None:
        for variable, value in (
            (VAR_QUEUE, call.queue),
            (VAR_CALL_TYPE, call.call_type),
            (VAR_INTENT, call.intent),
            (VAR_CUSTOMER, call.customer_id),
        ):
            if value:
                await session.set_variable(variable, value)
        target = self._fallback
        await session.continue_at(target.context, target.extension, target.priority)


@dataclass(frozen=True)
class CallbackRequest:
    number: str
    call_id: str
    language: str
    requested_at: dt.datetime
    attributes: Mapping[str, str] = field(default_factory=dict)


class CallbackRequests(Protocol):
    """Where callback requests are kept until an agent calls back: the dialler
    (``center.callbacks.CallbackDialler``) in the service, ``InMemoryCallbacks`` in tests."""

    async def request(self, callback: CallbackRequest) -> None: ...


class InMemoryCallbacks:
    """Keeps requests in a list (the demo and tests; lost on restart)."""

    def __init__(self) -> None:
        self.requests: list[CallbackRequest] = []

    async def request(self, callback: CallbackRequest) -> None:
        self.requests.append(callback)
        log.info("callback requested by call %s", callback.call_id)
