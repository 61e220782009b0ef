"""One call's way through the flow: its attributes, its trace, and the report it leaves.

Attributes are text (``call_type``, ``language``, ``account``, ``tier``, ``open_issues``...),
set by ``set`` steps, menu options, lookups and intents. The trace records every step's
node, input, result and timing; together they are the IVR's findings that the ACD routes
on, the history stores, and the agent sees on the screen-pop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CallReport", "CallState", "Ending", "TraceEntry", "WellKnown"]

Ending = Literal[
    "queued",  # handed to the ACD
    "hangup",  # the flow hung up (after a goodbye)
    "voicemail",  # a message was recorded
    "caller_hangup",  # the caller left during the flow
    "cut",  # Asterisk ended the call itself (a restart or shutdown), not the caller
    "fallback",  # sent to the dialplan's fallback (no target, loop guard)
    "error",  # a step failed: logged, the call sent to the fallback
]


class WellKnown:
    """Attribute names the engine itself reads or writes."""

    LANGUAGE = "language"
    LANGUAGE_SOURCE = "language_source"  # default | caller | profile
    CALL_TYPE = "call_type"
    INTENT = "intent"
    INTENT_CONFIDENCE = "intent_confidence"
    COMPLEXITY = "complexity"
    QUEUE = "queue"
    ACCOUNT = "account"
    CUSTOMER_ID = "customer_id"
    CUSTOMER_NAME = "customer_name"
    TIER = "tier"
    OPEN_ISSUES = "open_issues"
    RECENT_CONTACTS = "recent_contacts"
    DAYS_SINCE_LAST_CONTACT = "days_since_last_contact"
    LAST_AGENT = "last_agent"
    TAGS = "tags"
    TRANSCRIPT = "transcript"
    CALLBACK_NUMBER = "callback_number"
    VOICEMAIL = "voicemail"
    PRODUCT = "product"
    #: ``entity.product = fibre-500``: an entity the intent classifier found in the words.
    ENTITY_PREFIX = "entity."


@dataclass(frozen=True)
class TraceEntry:
    node: str
    step: str  # the step type: menu, collect, ...
    input: str | None  # what the caller did ("dtmf 9, dtmf 1", "said 'my bill'")
    result: str  # what the step decided ("-> billing", "not found", "prompt missing")
    at_s: float  # seconds since the call entered the flow
    duration_ms: float


@dataclass(frozen=True)
class CallReport:
    """What the IVR learned about one call, whatever way it ended."""

    call_id: str
    channel: str
    caller_number: str | None
    flow_version: str
    started_at: dt.datetime
    ending: Ending
    last_node: str | None
    attributes: Mapping[str, str]
    trace: tuple[TraceEntry, ...]

    def findings(self) -> dict[str, object]:
        """JSON values for the agent's screen-pop and the history record."""
        return {
            "call_id": self.call_id,
            "flow_version": self.flow_version,
            "started_at": self.started_at.isoformat(),
            "ending": self.ending,
            "last_node": self.last_node,
            "attributes": dict(self.attributes),
            "path": [entry.node for entry in self.trace],
            "trace": [
                {
                    "node": e.node,
                    "step": e.step,
                    "input": e.input,
                    "result": e.result,
                    "at_s": round(e.at_s, 3),
                    "ms": round(e.duration_ms, 1),
                }
                for e in self.trace
            ],
        }


@dataclass
class CallState:
    """Mutable, owned by one call's run (never shared between calls)."""

    attributes: dict[str, str] = field(default_factory=dict)
    trace: list[TraceEntry] = field(default_factory=list)
    node: str | None = None
    #: Remarks a step adds to its trace entry's result (prompt missing, lookup failed).
    notes: list[str] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.attributes[WellKnown.LANGUAGE]

    def number(self, name: str) -> float | None:
        try:
            return float(self.attributes[name])
        except (KeyError, ValueError):
            return None
