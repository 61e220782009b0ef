"""The supervisor snapshot's figures: today and the last 15-minute interval (overall and per
queue), the interval series the charts draw, and FCR/CSAT from the history store, kept with
a stale flag while the store is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Answered, HungUp, Login, Pause
from acd.build import AcdSetup, build_acd
from acd.calls import CallFacts, IncomingCall
from acd.clock import ManualClock
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.service import AcdService
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewCustomer, NewInteraction, Status
from history.records import FcrRate
from history.repository import HistoryRepository
from history.satisfaction import CsatSummary
from history.store import create_engine, migrate
from hotline.web.metrics import render
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.quality import ContactQuality, last_interval
from tests.center.support import PRIORITY, QUEUES
from tests.center.test_service import setup_of

NINE_O_FIVE = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Outage:
    """The real repository, made unreachable at will (as a stopped database would be)."""

    def __init__(self, repository: HistoryRepository) -> None:
        self._repository = repository
        self.down = False

    async def fcr_by_channel(
        self,
        since: datetime,
        until: datetime,
        *,
        window_days: float = 7.0,
        now: datetime | None = None,
    ) -> dict[str, FcrRate]:
        self._check()
        return await self._repository.fcr_by_channel(since, until, window_days=window_days, now=now)

    async def csat(
        self, since: datetime, until: datetime, *, channel: Channel | None = None
    ) -> CsatSummary:
        self._check()
        return await self._repository.csat(since, until, channel=channel)

    def _check(self) -> None:
        if self.down:
            raise ConnectionRefusedError("connection refused")


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[HistoryRepository]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    try:
        yield HistoryRepository(engine)
    finally:
        await engine.dispose()


def centre(quality: ContactQuality | None = None) -> tuple[AcdService, ManualClock, SupervisorHub]:
    clock = ManualClock(1000.0)
    sink = InMemoryEventSink()
    service = AcdService(
        setup_of([("1001", {"internet": 2}), ("1002", {"billing": 1})]), sink=sink, clock=clock
    )
    hub = SupervisorHub(service, sink.subscribe, quality=quality, wall=Wall(NINE_O_FIVE))
    hub._unsubscribe = sink.subscribe(hub._saw)  # the hub's listener, without its task
    return service, clock, hub


def test_today_the_last_interval_and_the_interval_series_are_on_the_quarter_hour() -> None:
    service, clock, hub = centre()
    service.agent_event(Login("1001"))
    service.call_arrived(IncomingCall("a", "support"))  # 09:05:00, offered at once
    clock.advance(10)
    service.fact(Answered("1001", "a"))  # answered in 10 s: within the 20 s target
    clock.advance(50)
    service.fact(HungUp("1001", "a"))
    clock.advance(660)  # 09:16:00
    service.agent_event(Pause("1001", "lunch"))
    service.call_arrived(IncomingCall("b", "support"))
    clock.advance(30)
    service.caller_hung_up("b")  # abandoned after 30 s
    clock.advance(30)  # 09:17:00

    snapshot = hub.snapshot()

    assert [
        (i["label"], i["offered"], i["answered"], i["abandoned"]) for i in snapshot["intervals"]
    ] == [
        ("09:00", 1, 1, 0),
        ("09:15", 1, 0, 1),
    ]
    assert [i["service_level"] for i in snapshot["intervals"]] == [1.0, 0.0]
    last = snapshot["last_interval"]
    assert (last["label"], last["offered"], last["service_level"], last["asa"]) == (
        "09:00",
        1,
        1.0,
        pytest.approx(10.0),
    )
    today = snapshot["kpis"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (2, 1, 1)
    assert today["service_level"] == 0.5
    support = next(q for q in snapshot["queues"] if q["name"] == "support")
    assert support["kpis"]["offered"] == 2
    assert support["last_interval"]["offered"] == 1
    billing = next(q for q in snapshot["queues"] if q["name"] == "billing")
    assert (billing["kpis"]["offered"], billing["last_interval"]["service_level"]) == (0, None)


def test_waiting_rows_follow_a_raise_and_a_move() -> None:
    service, _, hub = centre()
    service.call_arrived(IncomingCall("c1", "support"))
    service.raise_priority("c1", 15, "sam")
    service.move_call("c1", "billing", "sam")
    queues = {q["name"]: q["calls"] for q in hub.snapshot()["queues"]}
    assert queues["support"] == []
    [row] = queues["billing"]
    assert (row["call_id"], row["priority"]) == ("c1", 15.0)


def reloaded(priority: dict[str, Any]) -> AcdSetup:
    """The centre's queues and agents with other priority weights."""
    return build_acd(
        PriorityConfig.model_validate({**PRIORITY, **priority}),
        QueuesConfig.model_validate({"queues": QUEUES}),
        AgentsConfig.model_validate({"agents": []}),
    )


def test_waiting_rows_take_the_priority_a_reload_rescored_them_with() -> None:
    service, _, hub = centre()
    service.call_arrived(IncomingCall("gold", "support", CallFacts(tier="key_account")))
    service.call_arrived(IncomingCall("plain", "billing", CallFacts(tier="regular")))
    service.raise_priority("plain", 15, "sam")

    service.reconfigure(reloaded({"tiers": {"key_account": 50, "regular": 5}}))

    queues = {q["name"]: q["calls"] for q in hub.snapshot()["queues"]}
    assert [(r["call_id"], r["priority"]) for r in queues["support"]] == [("gold", 50.0)]
    assert [(r["call_id"], r["priority"]) for r in queues["billing"]] == [("plain", 20.0)]


def test_a_new_day_starts_from_zero() -> None:
    service, clock, hub = centre()
    service.call_arrived(IncomingCall("late", "support"))
    service.caller_hung_up("late")
    clock.advance(timedelta(hours=15).total_seconds())  # past midnight
    snapshot = hub.snapshot()
    assert snapshot["kpis"]["offered"] == 0
    assert snapshot["intervals"] == []


def test_the_last_interval_is_the_latest_complete_quarter_hour() -> None:
    assert last_interval(NINE_O_FIVE, 900) == (
        datetime(2026, 3, 2, 8, 45, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )


async def test_fcr_and_csat_are_fetched_and_kept_with_a_stale_flag_while_the_store_is_down(
    repository: HistoryRepository,
) -> None:
    for key, minute, score in (("a", 1, 5), ("b", 2, 2), ("c", 50, 3)):
        await repository.append_interaction(
            NewInteraction(
                channel=Channel.VOICE,
                started_at=NINE_O_FIVE - timedelta(minutes=65 - minute),  # 08:01, 08:02, 08:50
                csat=score,
                source="hotline",
                idempotency_key=key,
            )
        )
    store = Outage(repository)
    wall = Wall(NINE_O_FIVE)
    quality = ContactQuality(store, wall=wall)
    _, _, hub = centre(quality)

    assert await quality.refresh()
    figures: dict[str, Any] = hub.snapshot()["quality"]
    assert figures["stale"] is False
    assert (figures["today"]["csat"], figures["today"]["csat_responses"]) == (
        pytest.approx(10 / 3),
        3,
    )
    assert (figures["last_interval"]["csat"], figures["last_interval"]["csat_responses"]) == (
        3.0,
        1,
    )

    store.down = True
    wall.at += timedelta(minutes=15)
    assert not await quality.refresh()
    stale = hub.snapshot()["quality"]
    assert stale["stale"] is True
    assert stale["today"] == figures["today"]  # the last good figures, not blanks
    assert stale["as_of"] == figures["as_of"]

    store.down = False
    assert await quality.refresh()
    fresh = hub.snapshot()["quality"]
    assert fresh["stale"] is False
    assert fresh["last_interval"]["csat_responses"] == 0  # 09:00-09:15 has no scores


def test_the_rolling_windows_show_the_calls_of_the_first_minutes_of_an_interval() -> None:
    service, clock, hub = centre()
    service.agent_event(Login("1001"))
    clock.advance(600)  # 09:15:00: a new interval, the last one had no calls
    service.call_arrived(IncomingCall("a", "support"))
    clock.advance(5)
    service.fact(Answered("1001", "a"))
    clock.advance(40)  # 09:15:45

    snapshot = hub.snapshot()

    assert snapshot["last_interval"]["offered"] == 0
    assert snapshot["current_interval"]["offered"] == 1
    assert [(r["window_min"], r["offered"], r["answered"]) for r in snapshot["rolling"]] == [
        (15, 1, 1),
        (30, 1, 1),
        (60, 1, 1),
    ]
    support = next(q for q in snapshot["queues"] if q["name"] == "support")
    assert support["rolling"][0]["answered"] == 1


def test_metrics_carry_the_pages_figures_per_queue_channel_and_outcome() -> None:
    service, clock, hub = centre()
    service.agent_event(Login("1001"))
    service.call_arrived(IncomingCall("a", "support"))
    clock.advance(5)
    service.fact(Answered("1001", "a"))
    service.call_arrived(IncomingCall("b", "support"))
    clock.advance(30)
    service.caller_left("b", "callback requested")
    service.call_arrived(IncomingCall("c", "billing"))
    clock.advance(30)
    service.caller_hung_up("c")

    text = render(hub)
    snapshot = hub.snapshot()

    lines = set(text.splitlines())
    assert 'hotline_contacts_offered_today{queue="support",channel="voice"} 2' in lines
    assert (
        'hotline_contacts_today{queue="support",channel="voice",outcome="callback_requested"} 1'
        in lines
    )
    assert (
        'hotline_contacts_today{queue="billing",channel="voice",outcome="abandoned_queue"} 1'
        in lines
    )
    assert 'hotline_callbacks_today{result="requested"} 1' in lines
    assert f'hotline_rolling_offered{{window="15m"}} {snapshot["rolling"][0]["offered"]}' in lines
    assert "hotline_kpi_stale 0" in lines
    assert snapshot["kpis"]["offered"] == 3


def digital_centre() -> tuple[AcdService, ManualClock, SupervisorHub]:
    """One agent who holds 3 chats and 2 e-mails (4 tasks) at once; e-mails' target: 1 h."""
    clock = ManualClock(1000.0)
    sink = InMemoryEventSink()
    setup = build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate(
            {"queues": QUEUES, "service_level": {"channel_targets_s": {"email": 3600}}}
        ),
        AgentsConfig.model_validate(
            {
                "policy": {"task_wrap_up_s": 0, "reservation_timeout_s": 60},
                "capacity": {"digital": {"chat": 3, "email": 2}, "total": 4},
                "agents": [{"id": "1001", "skills": {"internet": 2, "billing": 1}}],
            }
        ),
    )
    service = AcdService(setup, sink=sink, clock=clock)
    hub = SupervisorHub(service, sink.subscribe, wall=Wall(NINE_O_FIVE))
    hub._unsubscribe = sink.subscribe(hub._saw)  # the hub's listener, without its task
    return service, clock, hub


def test_chats_and_emails_have_figures_per_channel_and_overall_on_the_page_and_in_metrics() -> None:
    service, clock, hub = digital_centre()
    service.agent_event(Login("1001"))
    chats = [f"chat-{n}" for n in range(3)]
    for task in chats:
        service.task_arrived(IncomingCall(task, "support", channel="chat"))
    clock.advance(10)
    for task in chats:
        service.task_accepted("1001", task)  # 10 s to answer each
    service.task_arrived(IncomingCall("email-1", "billing", channel="email"))  # reserved
    clock.advance(600)
    for task in chats:
        service.task_done("1001", task)  # 3 chats side by side for 10 minutes
    clock.advance(90)  # 09:16:40; the e-mail still waits: reserved, not accepted

    snapshot = hub.snapshot()
    text = set(render(hub).splitlines())

    channels = snapshot["channels"]
    chat, email, every = channels["chat"], channels["email"], channels["all"]
    assert (chat["offered"], chat["answered"], chat["service_level"]) == (3, 3, 1.0)
    assert chat["asa"] == pytest.approx(10)
    assert chat["aht"] == pytest.approx(600)  # each chat took 10 minutes
    assert chat["agent_time"] == pytest.approx(200)  # of the agent's 10 minutes for three
    assert (email["offered"], email["backlog"]) == (1, 1)  # not yet accepted: waiting
    assert email["oldest_age_s"] == pytest.approx(690)
    assert (every["offered"], every["answered"], every["backlog"]) == (4, 3, 1)
    assert snapshot["kpis"]["offered"] == 0  # the inbound calls' figures: none
    # 10 s idle, then the chats for 600 s (with the e-mail reserved), then the e-mail alone
    # reserved (not in hand: idle) for 90 s
    assert snapshot["occupancy"] == pytest.approx(600 / 700)
    assert snapshot["capacity"]["chat"]["utilisation"] == pytest.approx(1800 / (3 * 700))
    # /metrics says the same, labelled by channel
    assert 'hotline_channel_aht_seconds{channel="chat"} 600.0' in text
    assert 'hotline_channel_agent_time_seconds{channel="chat"} 200.0' in text
    assert 'hotline_channel_backlog{channel="email"} 1' in text
    assert 'hotline_channel_backlog_oldest_seconds{channel="email"} 690.0' in text
    assert 'hotline_channel_offered_today{channel="all"} 4' in text
    assert f"hotline_occupancy_ratio {snapshot['occupancy']!r}" in text
    assert 'hotline_contacts_offered_today{queue="support",channel="chat"} 3' in text
    # the queue and channel cells and the last interval carry the same figures
    support = next(q for q in snapshot["queues"] if q["name"] == "support")
    assert support["channels"]["chat"]["agent_time"] == pytest.approx(200)
    assert snapshot["current_interval"]["channels"]["email"]["backlog"] == 1


async def test_fcr_is_shown_by_the_channel_of_the_first_contact_and_in_metrics(
    repository: HistoryRepository,
) -> None:
    jane = await repository.create_customer(
        NewCustomer(
            name="Jane", identities=(IdentityIn(kind=IdentityKind.PHONE, value="+441632960999"),)
        )
    )
    for minutes, channel in ((60, Channel.VOICE), (30, Channel.CHAT), (10, Channel.EMAIL)):
        await repository.append_interaction(
            NewInteraction(
                channel=channel,
                customer_id=jane.id,
                started_at=NINE_O_FIVE - timedelta(minutes=minutes),
                status=Status.RESOLVED,
            )
        )
    quality = ContactQuality(repository, wall=Wall(NINE_O_FIVE))
    _, _, hub = centre(quality)
    assert await quality.refresh()

    today = hub.snapshot()["quality"]["today"]
    text = set(render(hub).splitlines())

    # the call was followed by a chat, the chat by an e-mail: repeats, whatever the channel;
    # the e-mail is resolved and its window still open
    by_channel = today["fcr_by_channel"]
    assert {ch: (f["fcr_contacts"], f["fcr_so_far"]) for ch, f in by_channel.items()} == {
        "chat": (1, 0.0),
        "email": (1, 1.0),
        "voice": (1, 0.0),
    }
    assert today["fcr_so_far"] == pytest.approx(1 / 3)
    assert 'hotline_fcr_ratio{channel="email"} 1.0' in text
    assert f'hotline_fcr_ratio{{channel="all"}} {today["fcr_so_far"]!r}' in text
