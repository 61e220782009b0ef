"""Calls end to end through the real service on the shipped config/: caller ID, IVR, priority,
queue, offer, answer, wrap-up, the history over the HTTP API, and the KPIs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.agent_events import Pause, Ready
from acd.events import AgentStateChanged, CallOffered, CallQueued
from telephony.emulator import Caller, CallResult

from .stack import Stack, running_stack, seed_customer, wait_until

#: Through the shipped flow: language key, then the main menu (the open question hears
#: nothing and falls back to the keypad).
ENGLISH_AGENT = "10"
ARABIC_AGENT = "20"
ENGLISH_BILLING = "13123456#"
ENGLISH_FAULT = "14654321#"

KEY_ACCOUNT = "+971501110001"
LOYAL_ARABIC = "+971501110002"
NEW_BILLING = "+971501110003"
NEW_FAULT = "+971501110004"


def answered_by(result: CallResult) -> str | None:
    answered = [d for d in result.dials if d.status == "ANSWER"]
    return answered[-1].answered_by if answered else None


async def test_concurrent_calls_of_every_kind_reach_a_skilled_agent_and_are_recorded(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        await seed_customer(stack, KEY_ACCOUNT, tier="key_account")
        await seed_customer(stack, LOYAL_ARABIC, tier="loyal")
        callers = {
            KEY_ACCOUNT: Caller(number=KEY_ACCOUNT, dtmf=ENGLISH_AGENT, barge_in=False),
            LOYAL_ARABIC: Caller(number=LOYAL_ARABIC, dtmf=ARABIC_AGENT, barge_in=False),
            NEW_BILLING: Caller(number=NEW_BILLING, dtmf=ENGLISH_BILLING, barge_in=False),
            NEW_FAULT: Caller(number=NEW_FAULT, dtmf=ENGLISH_FAULT, barge_in=False),
        }
        placed = {n: await stack.place(c) for n, c in callers.items()}
        results = dict(
            zip(
                placed,
                await asyncio.gather(*(p.wait_done(20) for p in placed.values())),
                strict=True,
            )
        )
        await wait_until(lambda: all_ready(stack))
        token = await stack.token("history:read")
        timelines = {n: await voice_timeline(stack, token, n) for n in callers}

    for number, result in results.items():
        assert not result.fallback_used, number
        assert answered_by(result) is not None, number

    # Each call was queued with what the IVR found: queue, call type, tier.
    queued = {q.call_id: q for q in stack.events(CallQueued)}
    by_number = {n: queued[r.uniqueid] for n, r in results.items()}
    assert (by_number[KEY_ACCOUNT].queue, by_number[KEY_ACCOUNT].tier) == (
        "support",
        "key_account",
    )
    assert by_number[LOYAL_ARABIC].tier == "loyal"
    assert (by_number[NEW_BILLING].queue, by_number[NEW_BILLING].call_type) == (
        "billing",
        "billing",
    )
    assert (by_number[NEW_FAULT].queue, by_number[NEW_FAULT].call_type) == (
        "support",
        "technical_fault",
    )
    # Priority: tier points count (key account 30, loyal 15; the same "agent" request).
    assert by_number[KEY_ACCOUNT].priority > by_number[LOYAL_ARABIC].priority
    # Skills: the Arabic caller got the one Arabic speaker; billing a billing agent; the
    # fault (complexity 3) a problem solver.
    assert answered_by(results[LOYAL_ARABIC]) == "PJSIP/agent1005"
    assert answered_by(results[NEW_BILLING]) in {"PJSIP/agent1002", "PJSIP/agent1003"}
    assert answered_by(results[NEW_FAULT]) in {"PJSIP/agent1001", "PJSIP/agent1004"}

    # The history holds one answered voice interaction per call, visible over the API.
    for number, result in results.items():
        (interaction,) = timelines[number]
        assert interaction["external_id"] == result.uniqueid
        assert interaction["outcome"] == "answered"
        assert interaction["queue"] == by_number[number].queue
        assert interaction["agent"] in {"1001", "1002", "1003", "1004", "1005"}
        assert interaction["ended_at"] is not None

    # KPIs from the ACD's event log: every call offered and answered, agents wrapped up.
    report = stack.kpis()
    assert (report.calls.offered, report.calls.answered, report.calls.abandoned) == (4, 4, 0)
    assert set(report.by_queue) == {"support", "billing"}
    assert sum(agent.calls for agent in report.agents) == 4
    wrapped = {e.agent_id for e in stack.events(AgentStateChanged) if e.after == "wrap_up"}
    assert len(wrapped) == 4


def all_ready(stack: Stack) -> bool:
    return all(
        view.state.value == "available" for view in stack.service.acd.distributor.book.views()
    )


async def voice_timeline(stack: Stack, token: str, number: str) -> list[dict[str, object]]:
    await stack.flushed()
    found = await stack.get_json("/customers", token, phone=number)
    (customer,) = found["items"]
    page = await stack.get_json(f"/customers/{customer['id']}/timeline", token)
    entries = [entry["interaction"] for entry in page["entries"]]
    return [item for item in entries if item["channel"] == "voice"]


REPEAT = "+971501110005"
FIRST_TIME = "+971501110006"
JUNIOR, SENIOR = "1002", "1004"


async def test_repeat_caller_is_routed_to_senior_agent(tmp_path: Path) -> None:
    """queues.yaml's support rule "repeat caller to a senior" (experience 3): with only a
    junior agent free, a first-time caller gets the junior while the repeat caller waits
    for a senior."""
    async with running_stack(tmp_path) as stack:
        acd = stack.service.acd
        for agent in ("1001", "1003", "1004", "1005"):
            acd.agent_event(Pause(agent, "meeting"))
        await seed_customer(stack, REPEAT, recent_contact=True)

        first = await stack.call(Caller(number=FIRST_TIME, dtmf=ENGLISH_AGENT, barge_in=False))
        await wait_until(lambda: acd.distributor.book.view(JUNIOR).state.value == "available")

        repeat = await stack.place(Caller(number=REPEAT, dtmf=ENGLISH_AGENT, barge_in=False))
        await wait_until(lambda: any(q.call_id == repeat.uniqueid for q in queued(stack)))
        await asyncio.sleep(0.3)  # the junior stays free and is not offered the call
        assert not [o for o in stack.events(CallOffered) if o.call_id == repeat.uniqueid]
        acd.agent_event(Ready(SENIOR))
        result = await repeat.wait_done(20)
        interaction = await stack.interaction(repeat.uniqueid)

    assert answered_by(first) == f"PJSIP/agent{JUNIOR}"
    assert answered_by(result) == f"PJSIP/agent{SENIOR}"
    (offer,) = [o for o in stack.events(CallOffered) if o.call_id == repeat.uniqueid]
    assert "repeat caller to a senior" in offer.explanation
    assert (interaction.agent, interaction.outcome) == (SENIOR, "answered")


async def test_caller_who_presses_the_callback_key_while_waiting_is_booked_a_callback(
    tmp_path: Path,
) -> None:
    number = "+971501110007"
    async with running_stack(tmp_path) as stack:
        for view in stack.service.acd.distributor.book.views():
            stack.service.acd.agent_event(Pause(view.agent_id, "meeting"))  # logged in, nobody free
        callback_digit = stack.config.waiting.defaults.callback_digit
        assert callback_digit is not None
        result = await stack.call(
            Caller(number=number, dtmf=ENGLISH_AGENT + callback_digit, barge_in=False)
        )
        interaction = await stack.interaction(result.uniqueid)
        # the dialler queues the callback again, with its place kept, as a call of its own
        await wait_until(lambda: stack.service.acd.call(f"{result.uniqueid}-cb1") is not None)
        report = stack.kpis()

    assert not result.dials
    assert not result.fallback_used
    assert result.hung_up_by == "agi"
    assert any(c.startswith("WAIT FOR DIGIT") for c in result.commands[-6:])
    assert interaction.outcome == "callback_requested"
    assert interaction.queue == "support"
    # A callback is a deliberate exit, not an abandon; the callback waits in its place, a
    # contact of its own (channel "callback"), not a second offered inbound call.
    assert (report.calls.offered, report.calls.abandoned, report.calls.left) == (1, 0, 1)
    assert report.calls.exits == {"callback_requested": 1}
    assert (report.callbacks.requested, report.callbacks.attempts) == (1, 1)
    assert report.by_channel["callback"].waiting == 1


def queued(stack: Stack) -> list[CallQueued]:
    return stack.events(CallQueued)
