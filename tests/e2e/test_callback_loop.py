"""The dial-back loop end to end on the shipped config/: a waiting caller books a callback
and hangs up, the dialler queues it with its place kept, an agent's phone is rung and
answers, the trunk dials the customer, who answers; the history shows both calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from acd.agent_events import Pause, Ready
from acd.events import CallAnswered, CallOffered
from history.callbacks import Callback, CallbackStore
from history.records import Interaction
from telephony.emulator import Caller, Customer

from .stack import Stack, running_stack, wait_until

ENGLISH_AGENT = "10"  # the language key, then "agent" in the main menu
CUSTOMER = "+971501110031"


async def test_a_caller_who_booked_a_callback_is_called_back_by_an_agent(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        acd = stack.service.acd
        for view in acd.distributor.book.views():
            acd.agent_event(Pause(view.agent_id, "meeting"))  # logged in, nobody free
        stack.emulator.set_customer(Customer(CUSTOMER, "answer", ring_s=2, talk_s=5))
        callback_digit = stack.config.waiting.defaults.callback_digit
        assert callback_digit is not None

        booked = await stack.call(
            Caller(number=CUSTOMER, dtmf=ENGLISH_AGENT + callback_digit, barge_in=False)
        )
        callback_call = f"{booked.uniqueid}-cb1"
        await wait_until(lambda: acd.call(callback_call) is not None)  # waiting in line
        for view in acd.distributor.book.views():
            acd.agent_event(Ready(view.agent_id))

        book = CallbackStore(stack.service.store)
        request = await closed_request(book, booked.uniqueid)
        outbound = await ended_interaction(stack, callback_call)
        token = await stack.token("history:read")
        timeline = await voice_timeline(stack, token, CUSTOMER)
        hub = stack.service.supervisor_hub
        await wait_until(lambda: hub.snapshot()["callbacks"]["completed"] == 1)
        callbacks = hub.snapshot()["callbacks"]

    assert not booked.dials  # the caller hung up without talking to anyone
    (offer,) = [o for o in stack.events(CallOffered) if o.call_id == callback_call]
    (answer,) = [a for a in stack.events(CallAnswered) if a.call_id == callback_call]
    assert answer.agent_id == offer.agent_id
    assert (request.status, request.attempts, request.agent) == ("done", 1, offer.agent_id)
    assert request.last_result == "answered"
    assert (outbound.agent, outbound.outcome) == (offer.agent_id, "callback_completed")
    # The supervisor's figures: one request, one attempt, completed; not an offered call.
    assert callbacks == {
        "requested": 1, "attempts": 1, "connected": 1, "completed": 1, "failed": 0
    }  # fmt: skip

    # Over the HTTP API: the customer's timeline holds the call that booked the callback
    # and the callback itself, outbound, answered by the agent who was offered it.
    by_call = {item["external_id"]: item for item in timeline}
    assert set(by_call) == {booked.uniqueid, callback_call}
    inbound, called_back = by_call[booked.uniqueid], by_call[callback_call]
    assert (inbound["direction"], inbound["outcome"]) == ("in", "callback_requested")
    assert called_back["direction"] == "out"
    assert called_back["outcome"] == "callback_completed"
    assert called_back["agent"] == offer.agent_id
    assert called_back["queue"] == "support"
    assert called_back["talk_s"] > 0
    assert called_back["ended_at"] is not None


async def closed_request(book: CallbackStore, call_id: str, timeout_s: float = 15.0) -> Callback:
    for _ in range(int(timeout_s / 0.05)):
        found = await book.get(call_id)
        if found is not None and found.status not in ("pending", "dialing"):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"callback {call_id} still open: {await book.get(call_id)}")


async def ended_interaction(stack: Stack, call_id: str, timeout_s: float = 15.0) -> Interaction:
    """The callback's interaction once the conversation is over (the request is done as
    soon as the customer answers)."""
    for _ in range(int(timeout_s / 0.05)):
        interaction = await stack.interaction(call_id)
        if interaction.ended_at is not None:
            return interaction
        await asyncio.sleep(0.05)
    raise AssertionError(f"interaction {call_id} not ended")


async def voice_timeline(stack: Stack, token: str, number: str) -> list[dict[str, Any]]:
    await stack.flushed()
    found = await stack.get_json("/customers", token, phone=number)
    (customer,) = found["items"]
    page = await stack.get_json(f"/customers/{customer['id']}/timeline", token)
    entries = [entry["interaction"] for entry in page["entries"]]
    return [item for item in entries if item["channel"] == "voice"]
