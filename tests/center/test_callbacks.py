"""Callbacks dialled back over real sockets: the request queued with its place kept, the
agent rung first by AMI Originate, the customer dialled over the (emulated) trunk."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from acd.agent_events import Busy, Login, Ready, RingNoAnswer, Unreachable
from acd.events import CallAnswered, CallOffered
from center.callbacks import CallbackDialler, failed_offer, next_step
from center.gateway import ATTR_ENTRY_AT, ATTR_QUEUE
from center.settings import WaitingConfig
from history.callbacks import Callback, InMemoryCallbackBook, NewCallback
from history.outcomes import Outcome
from ivr.flow.handoff import CallAttributes, CallbackRequest
from telephony import ami_codec as ami
from telephony.emulator import Customer
from telephony.emulator.events import Pairs

from .support import WAITING, Agent, Interactions, Rig, live_acd, wait_until

INTERNET = {"internet": 2}
CUSTOMER = "+441632960100"


class Outbound(Interactions):
    """What the dialler tells the history about each attempt (in order), with each
    attempt's direction and number."""

    def queued(self, call: CallAttributes, queue: str | None) -> None:
        details = {"queue": queue, "direction": call.direction, "number": call.caller_number}
        self.log.append(("queued", call.call_id, details))


class Wire:
    """AMI events the emulated Asterisk sent, as (event, fields)."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []

    def __call__(self, pairs: Pairs) -> None:
        self.events.append(dict(pairs))

    def named(self, name: str) -> list[dict[str, str]]:
        return [e for e in self.events if e.get(ami.HEADER_EVENT) == name]


@asynccontextmanager
async def dialler(
    rig: Rig, book: InMemoryCallbackBook, **callbacks: Any
) -> AsyncIterator[tuple[CallbackDialler, Outbound]]:
    settings = WaitingConfig.model_validate(
        {**WAITING, "callbacks": {"agent_ring_timeout_s": 15, **callbacks}}
    )
    outbound = Outbound()
    running = CallbackDialler(rig.service, book, rig.ami, settings, interactions=outbound)
    await running.start()
    try:
        yield running, outbound
    finally:
        await running.close()


def request(call_id: str, *, waited_s: float, number: str = CUSTOMER) -> CallbackRequest:
    now = dt.datetime.now(dt.UTC)
    entry = now - dt.timedelta(seconds=waited_s)
    attributes = {ATTR_QUEUE: "support", ATTR_ENTRY_AT: entry.isoformat(), "intent": "setup_help"}
    return CallbackRequest(number, call_id, "en", now, attributes)


async def settled(book: InMemoryCallbackBook, call_id: str, timeout_s: float = 5.0) -> Callback:
    async def closed() -> Callback | None:
        found = await book.get(call_id)
        return found if found is not None and found.status in ("done", "failed") else None

    for _ in range(int(timeout_s / 0.01)):
        if (found := await closed()) is not None:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"callback {call_id} still open: {await book.get(call_id)}")


async def test_a_callback_keeps_its_place_ahead_of_a_later_caller_and_reaches_the_customer() -> (
    None
):
    async with live_acd([Agent("1001", INTERNET, talk_s=60)], login=[]) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.emulator.set_customer(Customer(CUSTOMER, "answer", ring_s=2, talk_s=5))
        wire = Wire()
        rig.emulator.subscribe(wire)
        book = InMemoryCallbackBook()
        async with dialler(rig, book, caller_id='"Hotline" <+441632960000>') as (running, out):
            await running.request(request("1795356299.7", waited_s=90))
            await wait_until(lambda: rig.service.call("1795356299.7-cb1") is not None)
            rig.attributes["+441632960555"] = {"queue": "support", "intent": "setup_help"}
            later = await rig.place("+441632960555", hangup_after_s=400)
            await wait_until(lambda: rig.service.distributor.router.waiting_count == 2)
            rig.service.agent_event(Ready("1001"))

            done = await settled(book, "1795356299.7")
            await later.wait_done(timeout_s=10)

        offered = [e.call_id for e in rig.events(CallOffered)]
        assert offered[0] == "1795356299.7-cb1"  # ahead of the caller who came later
        (queued,) = [e for e in rig.events(CallAnswered) if e.call_id == "1795356299.7-cb1"]
        assert queued.agent_id == "1001"
        assert (done.status, done.agent, done.attempts, done.last_result) == (
            "done",
            "1001",
            1,
            "answered",
        )
        (originated,) = wire.named(ami.EVENT_ORIGINATE_RESPONSE)
        assert (originated[ami.HEADER_RESPONSE], originated[ami.HEADER_REASON]) == ("Success", "4")
        assert originated[ami.HEADER_EXTEN] == CUSTOMER
        assert originated[ami.HEADER_CALLER_ID_NUM] == CUSTOMER  # the agent sees the customer
        (trunk,) = [
            e for e in wire.named(ami.EVENT_DIAL_END) if e["DestChannel"].startswith("PJSIP/trunk-")
        ]
        assert trunk[ami.HEADER_CHANNEL].startswith("SIP/agent1001-")  # the agent's leg dials
        assert trunk[ami.HEADER_DIAL_STATUS] == "ANSWER"
        assert trunk["DestConnectedLineNum"] == "+441632960000"  # the customer sees the hotline
        steps = [(step, details) for step, call_id, details in out.log]
        assert [s for s, _ in steps] == ["queued", "answered", "ended"]
        assert steps[0][1] == {"queue": "support", "direction": "out", "number": CUSTOMER}
        assert steps[1][1]["agent_id"] == "1001"
        # the attempt's own wait (from its queueing), not the original call's 90 s
        assert 0 <= steps[1][1]["wait_s"] < 90
        assert steps[2][1]["outcome"] == Outcome.CALLBACK_COMPLETED
        assert steps[2][1]["talk_s"] > 0


async def test_an_agent_who_does_not_answer_is_rona_and_another_agent_calls_back() -> None:
    phones = [Agent("1001", INTERNET, behaviour="noanswer"), Agent("1002", INTERNET)]
    async with live_acd(phones, login=["1001"]) as rig:
        rig.emulator.set_customer(Customer(CUSTOMER, "answer", talk_s=3))
        book = InMemoryCallbackBook()
        async with dialler(rig, book) as (running, _):
            await running.request(request("1795356299.8", waited_s=10))
            await wait_until(lambda: rig.state("1001") == "paused")
            assert rig.service.distributor.book.view("1001").pause_reason == "no answer"
            assert rig.service.call("1795356299.8-cb1") is not None  # still in line
            rig.service.agent_event(Login("1002"))

            done = await settled(book, "1795356299.8")

        assert (done.status, done.agent, done.attempts) == ("done", "1002", 1)
        offers = [(e.call_id, e.agent_id) for e in rig.events(CallOffered)]
        assert offers == [("1795356299.8-cb1", "1001"), ("1795356299.8-cb1", "1002")]


async def test_a_busy_customer_is_called_again_later_and_given_up_after_the_last_attempt() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        rig.emulator.set_customer(Customer(CUSTOMER, "busy"))
        book = InMemoryCallbackBook()
        settings = {"max_attempts": 2, "retry_after_s": 0.3}
        async with dialler(rig, book, **settings) as (running, out):
            await running.request(request("1795356299.9", waited_s=5))
            failed = await settled(book, "1795356299.9")

        assert (failed.status, failed.attempts, failed.last_result) == (
            "failed",
            2,
            "customer busy",
        )
        ended = [(call_id, d["outcome"]) for step, call_id, d in out.log if step == "ended"]
        assert ended == [  # each attempt is its own contact
            ("1795356299.9-cb1", Outcome.CALLBACK_FAILED),
            ("1795356299.9-cb2", Outcome.CALLBACK_FAILED),
        ]
        answers = [r for r in rig.records() if isinstance(r.event, CallAnswered)]
        assert len(answers) == 2
        assert answers[1].at - answers[0].at >= 0.3  # the retry waited its interval
        assert rig.state("1001") in ("wrap_up", "available")  # the agent's call ended


async def test_a_restart_dials_requests_left_pending_or_half_dialled() -> None:
    async with live_acd([Agent("1001", INTERNET, talk_s=60)]) as rig:
        rig.emulator.set_customer(Customer(CUSTOMER, "answer", talk_s=2))
        book = InMemoryCallbackBook()
        now = dt.datetime.now(dt.UTC)
        for call_id in ("1795356299.10", "1795356299.11"):
            await book.add(NewCallback(call_id, CUSTOMER, "support", "en", now, now))
        half = await book.claim((await book.open())[0].id)  # the last process stopped here
        assert half is not None
        assert half.status == "dialing"

        async with dialler(rig, book):
            first = await settled(book, "1795356299.10")
            second = await settled(book, "1795356299.11")

        assert [first.status, second.status] == ["done", "done"]


async def test_a_number_that_cannot_be_dialled_fails_without_ringing_an_agent() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        book = InMemoryCallbackBook()
        async with dialler(rig, book) as (running, _):
            await running.request(request("1795356299.12", waited_s=1, number="1001,9"))
            failed = await settled(book, "1795356299.12")
        assert (failed.status, failed.last_result) == ("failed", "number cannot be dialled")
        assert rig.events(CallOffered) == []


def test_an_originate_the_agent_did_not_answer_maps_to_the_inbound_facts() -> None:
    assert failed_offer("3", "1001", "c") == RingNoAnswer("1001", "c")
    assert failed_offer("5", "1001", "c") == Busy("1001", "c")
    assert failed_offer("0", "1001", "c") == Unreachable("1001", "c")
    assert failed_offer("8", "1001", "c") == Unreachable("1001", "c")


def test_only_an_answering_customer_closes_a_request_before_its_last_attempt() -> None:
    assert next_step("ANSWER", 2, 3) == "done"
    assert next_step("BUSY", 0, 3) == "retry"
    assert next_step("NOANSWER", 1, 3) == "retry"
    assert next_step("NOANSWER", 2, 3) == "failed"
    assert next_step("", 0, 1) == "failed"


async def test_a_callback_answer_is_written_once_though_the_gateway_hears_every_answer() -> None:
    """The service wires one recorder to the gateway and the dialler (hotline.app): the
    gateway records the calls it queued, the dialler its callbacks."""
    phones = [Agent("1001", INTERNET, talk_s=5), Agent("1002", INTERNET, talk_s=5)]
    async with live_acd(phones) as rig:
        rig.emulator.set_customer(Customer(CUSTOMER, "answer", talk_s=3))
        settings = WaitingConfig.model_validate({**WAITING, "callbacks": {}})
        book = InMemoryCallbackBook()
        running = CallbackDialler(
            rig.service, book, rig.ami, settings, interactions=rig.interactions
        )
        await running.start()
        try:
            await running.request(request("1795356299.13", waited_s=5))
            rig.attributes["+441632960556"] = {"queue": "support"}
            inbound = await rig.call("+441632960556")
            await settled(book, "1795356299.13")
        finally:
            await running.close()

    answered = [call_id for step, call_id, _ in rig.interactions.log if step == "answered"]
    assert sorted(answered) == sorted(["1795356299.13-cb1", inbound.uniqueid])


async def test_a_stop_mid_conversation_records_completed_and_does_not_call_again() -> None:
    async with live_acd([Agent("1001", INTERNET, talk_s=600)]) as rig:
        rig.emulator.set_customer(Customer(CUSTOMER, "answer", talk_s=600))
        wire = Wire()
        rig.emulator.subscribe(wire)
        book = InMemoryCallbackBook()
        async with dialler(rig, book) as (running, out):
            await running.request(request("1795356299.14", waited_s=5))
            await settled(book, "1795356299.14")
            talking = rig.state("1001")
            steps_at_done = [step for step, _, _ in out.log]
        cut_short = out.log[-1]
        # the service stopped while the agent and the customer still talk; it starts again
        async with dialler(rig, book):
            await asyncio.sleep(0.3)
            after_restart = await book.get("1795356299.14")

    assert talking == "on_call"  # done before the conversation ended
    assert steps_at_done == ["queued", "answered"]
    # its record says the customer was reached, with the talk up to the stop
    step, _, told = cut_short
    assert (step, told["outcome"]) == ("ended", Outcome.CALLBACK_COMPLETED)
    assert told["talk_s"] >= 0.0
    assert after_restart is not None
    assert (after_restart.status, after_restart.attempts, after_restart.agent) == (
        "done",
        1,
        "1001",
    )
    assert after_restart.last_result == "answered"
    assert len(wire.named(ami.EVENT_ORIGINATE_RESPONSE)) == 1  # the customer was called once
