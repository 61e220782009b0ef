"""The IVR's findings (``ivr.flow.handoff.CallAttributes``) as the ACD's call
(``acd.calls.IncomingCall``): the facts priority and skills read, and the caller's card the
agent's screen-pop shows."""

from __future__ import annotations

from collections.abc import Sequence

from acd.calls import CallerCard, CallFacts, IncomingCall, MenuStep
from ivr.flow.handoff import CallAttributes
from ivr.flow.state import TraceEntry

__all__ = ["menu_path", "to_incoming_call"]


def to_incoming_call(call: CallAttributes, *, default_queue: str) -> IncomingCall:
    """The ACD's view of the call (``acd.calls.IncomingCall``)."""
    facts = CallFacts(
        intent=call.intent,
        call_type=call.call_type,
        tier=call.tier,
        complexity=call.complexity,
        days_since_last_contact=call.days_since_last_contact,
        tags=call.tags,
        language=call.language,
    )
    return IncomingCall(
        call_id=call.call_id,
        queue=call.queue or default_queue,
        facts=facts,
        line=call.channel,
        preferred_agent=call.last_agent,
        caller=CallerCard(
            number=call.caller_number,
            customer_id=call.customer_id,
            customer_name=call.customer_name,
            intent_confidence=call.intent_confidence,
            transcript=call.transcript,
            menu_path=menu_path(call.trace),
            entities=call.entities,
            open_issues=call.open_issues,
        ),
    )


def menu_path(trace: Sequence[TraceEntry]) -> tuple[MenuStep, ...]:
    """The nodes the caller went through, in order, with what they did at each (a node
    visited twice in a row, a menu repeated, is one step with both inputs)."""
    steps: list[MenuStep] = []
    for entry in trace:
        if steps and steps[-1].node == entry.node:
            heard = "; ".join(h for h in (steps[-1].heard, entry.input) if h) or None
            steps[-1] = MenuStep(entry.node, heard)
        else:
            steps.append(MenuStep(entry.node, entry.input))
    return tuple(steps)
