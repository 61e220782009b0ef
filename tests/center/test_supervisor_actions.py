"""The live side of a supervisor's actions and of the after-call survey: the waiting caller's
ticket follows a moved call, so do the caller's waiting rules (hold music, maximum wait and
overflow), the interaction records the new queue and the caller's score, and the survey
over real sockets (emulated Asterisk) records 1-5, nothing else."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Login, Ready
from acd.calls import IncomingCall
from acd.events import (
    CallAbandoned,
    CallMoved,
    CallPriorityChanged,
    EventRejected,
    InMemoryEventSink,
)
from acd.router import RoutingError
from center.call_interactions import HistoryInteractions
from center.gateway import csat_score
from center.service import AcdService
from center.staffing import estimate_wait
from history.inputs import InteractionRef
from history.outcomes import Outcome
from history.repository import HistoryRepository
from history.spool import Spool
from history.store import create_engine, migrate
from history.writer import HistoryWriter
from ivr.flow.handoff import CallAttributes

from .support import Agent, live_acd, wait_until
from .test_service import setup_of

INTERNET = {"internet": 2}
BILLING = {"billing": 1}
SURVEY: dict[str, Any] = {"survey": {"enabled": True, "prompt": "hotline/rate-call"}}


@pytest.fixture
async def service() -> AsyncIterator[AcdService]:
    made = AcdService(setup_of([("1001", INTERNET), ("1002", BILLING)]), sink=InMemoryEventSink())
    await made.start()
    try:
        yield made
    finally:
        await made.close()


def events(service: AcdService, kind: type) -> list[Any]:
    sink = service.distributor._sink._sink  # type: ignore[attr-defined]  # the _Tap's sink
    return [r.event for r in sink.records() if isinstance(r.event, kind)]


async def test_a_moved_calls_ticket_says_the_new_queue_and_the_offer_arrives_there(
    service: AcdService,
) -> None:
    service.agent_event(Login("1002", paused_reason="lunch"))
    moves: list[tuple[str, str]] = []
    service.on_moved(lambda ticket, queue: moves.append((ticket.call_id, queue)))
    ticket = service.call_arrived(IncomingCall("c1", "support"))
    entry = ticket.entry_time

    service.move_call("c1", "billing", "sam")
    assert (ticket.queue, ticket.entry_time) == ("billing", entry)
    assert ticket.profile.steps[0].requirement.required == (("billing", 1),)
    assert moves == [("c1", "billing")]
    estimate = estimate_wait(service.distributor, ticket, now=service.now(), talk_s=60, wrap_s=0)
    assert estimate is not None
    assert estimate.position == 1

    service.agent_event(Ready("1002"))
    offer = ticket.offers.get_nowait()
    assert (offer.agent_id, offer.queue) == ("1002", "billing")


async def test_a_raised_call_is_offered_first_and_says_who_raised_it(service: AcdService) -> None:
    first = service.call_arrived(IncomingCall("first", "support"))
    second = service.call_arrived(IncomingCall("second", "support"))
    service.raise_priority("second", 40, "sam")
    [changed] = events(service, CallPriorityChanged)
    assert (changed.call_id, changed.actor) == ("second", "sam")
    service.agent_event(Login("1001"))
    offer = second.offers.get_nowait()
    assert "supervisor[raised by sam] +40" in offer.explain()
    assert first.offers.empty()


async def test_refusals_raise_routing_errors_and_leave_the_ticket_alone(
    service: AcdService,
) -> None:
    ticket = service.call_arrived(IncomingCall("c1", "support"))
    with pytest.raises(RoutingError):
        service.move_call("c1", "nowhere", "sam")
    with pytest.raises(RoutingError):
        service.raise_priority("ghost", 5, "sam")
    assert ticket.queue == "support"
    assert events(service, CallMoved) == []
    assert len(events(service, EventRejected)) == 2


def test_only_keys_1_to_5_are_a_score() -> None:
    assert [csat_score(d) for d in ("1", "5", "3")] == [1, 5, 3]
    assert [csat_score(d) for d in ("", "0", "6", "9", "*", "#", "12")] == [None] * 7


async def test_the_interaction_records_the_new_queue_and_the_callers_score(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    writer = HistoryWriter(HistoryRepository(engine), Spool(tmp_path / "spool.jsonl"))
    await writer.start()
    try:
        now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        interactions = HistoryInteractions(writer, wall=lambda: now)
        call = CallAttributes(
            call_id="1795356299.9",
            channel="SIP/caller-09",
            caller_number="+441632960999",
            language="en",
        )
        interactions.queued(call, "support")
        interactions.moved(call.call_id, "billing")
        interactions.answered(call.call_id, agent_id="1002", wait_s=30.0)
        interactions.rated(call.call_id, 4)
        interactions.ended(call.call_id, outcome=Outcome.ANSWERED, talk_s=60.0)
        await interactions.flush()
        stored = await writer.repository.get_interaction(
            InteractionRef(source="hotline", idempotency_key=call.call_id)
        )
        assert (stored.queue, stored.agent, stored.csat, stored.outcome) == (
            "billing",
            "1002",
            4,
            "answered",
        )
        await interactions.close()
    finally:
        await writer.close()
        await engine.dispose()


# over real sockets --------------------------------------------------------------------------
async def test_a_waiting_caller_moved_by_a_supervisor_is_answered_in_the_new_queue() -> None:
    agents = [Agent("1001", INTERNET), Agent("1002", BILLING)]
    async with live_acd(agents, login=[]) as rig:
        # support could be served: it waits
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.service.agent_event(Login("1002", paused_reason="lunch"))
        rig.attributes["+441632960300"] = {"queue": "support"}
        placed = await rig.place("+441632960300")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        [waiting] = rig.service.distributor.router.waiting()
        rig.service.move_call(waiting.call_id, "billing", "sam")
        rig.service.agent_event(Ready("1002"))
        result = await placed.wait_done(timeout_s=5)

        assert [d.answered_by for d in result.dials] == ["SIP/agent1002"]
        kinds = [(kind, detail) for kind, _, detail in rig.interactions.log]
        assert kinds[:2] == [("queued", {"queue": "support"}), ("moved", {"queue": "billing"})]


async def test_a_moved_caller_waits_by_the_new_queues_rules_counted_from_the_move() -> None:
    # support (where the call starts) has no maximum wait; billing has its own hold music
    # and sends a caller who waited 0.3 s there to the goodbye
    billing = {
        "music_class": "billing-hold",
        "max_wait_s": 0.3,
        "on_max_wait": {"action": "hangup"},
    }
    agents = [Agent("1001", INTERNET), Agent("1002", BILLING)]
    async with live_acd(agents, login=[], waiting={"queues": {"billing": billing}}) as rig:
        # both queues could be served: wait
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.service.agent_event(Login("1002", paused_reason="lunch"))
        rig.attributes["+441632960350"] = {"queue": "support"}
        placed = await rig.place("+441632960350")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        await asyncio.sleep(0.4)  # longer than billing's maximum wait, spent in support
        [waiting] = rig.service.distributor.router.waiting()
        rig.service.move_call(waiting.call_id, "billing", "sam")
        result = await placed.wait_done(timeout_s=5)

        music = [c for c in result.commands if c.startswith("EXEC StartMusicOnHold")]
        assert music == ["EXEC StartMusicOnHold", "EXEC StartMusicOnHold billing-hold"]
        [left] = rig.events(CallAbandoned)
        assert (left.queue, left.reason[:21]) == ("billing", "max wait: 0 s in bill")
        at = {type(r.event): r.at for r in rig.records()}
        assert at[CallAbandoned] - at[CallMoved] >= 0.3  # counted from the move
        assert said_last(result.commands) == "vm-goodbye"
        assert [d["outcome"] for k, _, d in rig.interactions.log if k == "ended"] == ["overflowed"]


def survey_heard(commands: tuple[str, ...]) -> list[str]:
    return [c for c in commands if c.startswith("GET DATA")]


async def test_a_caller_rates_the_call_after_the_agent_hangs_up() -> None:
    async with live_acd([Agent("1001", INTERNET)], waiting=SURVEY) as rig:
        rig.attributes["+441632960310"] = {"queue": "support"}
        result = await rig.call("+441632960310", dtmf="4")

        assert survey_heard(result.commands) == ["GET DATA hotline/rate-call 5000 1"]
        assert ("rated", result.uniqueid, {"csat": 4}) in rig.interactions.log
        after = result.commands[result.commands.index("GET DATA hotline/rate-call 5000 1") :]
        assert [c for c in after if c.startswith("STREAM FILE")] == [
            'STREAM FILE auth-thankyou ""',
            'STREAM FILE vm-goodbye ""',
        ]
        [ended] = [d for k, _, d in rig.interactions.log if k == "ended"]
        assert ended["outcome"] == "answered"
        assert ended["priority"] is not None


@pytest.mark.parametrize("key", ["9", "", "*"])
async def test_an_invalid_key_or_no_key_records_no_score_and_the_call_still_ends_well(
    key: str,
) -> None:
    async with live_acd([Agent("1001", INTERNET)], waiting=SURVEY) as rig:
        rig.attributes["+441632960320"] = {"queue": "support"}
        result = await rig.call("+441632960320", dtmf=key)

        assert len(survey_heard(result.commands)) == 1
        assert not [k for k, _, _ in rig.interactions.log if k == "rated"]
        assert said_last(result.commands) == "vm-goodbye"
        assert [d["outcome"] for k, _, d in rig.interactions.log if k == "ended"] == ["answered"]


async def test_a_caller_who_hangs_up_during_the_survey_loses_nothing() -> None:
    slow = {"survey": {**SURVEY["survey"], "timeout_s": 30}}  # 0.3 s real: time to hang up
    async with live_acd([Agent("1001", INTERNET)], waiting=slow) as rig:
        rig.attributes["+441632960330"] = {"queue": "support"}
        placed = await rig.place("+441632960330")
        await wait_until(lambda: any("GET DATA" in c for c in placed.result().commands))
        placed.hang_up()
        result = await placed.wait_done(timeout_s=5)

        assert result.agi_status == "HANGUP"
        assert not [k for k, _, _ in rig.interactions.log if k == "rated"]
        [ended] = [d for k, _, d in rig.interactions.log if k == "ended"]
        assert ended["outcome"] == "answered"
        assert ended["wait_s"] is None  # the wait until the answer stands
        assert ended["priority"] is not None  # the offer's
        await asyncio.sleep(0.05)
        assert rig.events(EventRejected) == []


async def test_no_survey_unless_enabled() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        rig.attributes["+441632960340"] = {"queue": "support"}
        result = await rig.call("+441632960340", dtmf="4")
        assert survey_heard(result.commands) == []
        assert not [k for k, _, _ in rig.interactions.log if k == "rated"]


def said_last(commands: tuple[str, ...]) -> str:
    return [c.split()[2] for c in commands if c.startswith("STREAM FILE")][-1]
