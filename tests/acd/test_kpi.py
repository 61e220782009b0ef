"""KPIs from the event log alone: service level and its abandon treatments, ASA, AHT,
abandonment, occupancy, per agent, real time and per interval."""

from __future__ import annotations

import pytest

from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallQueued,
    CallRequeued,
    EventRecord,
    InMemoryEventSink,
)
from acd.kpi import AbandonTreatment, SlPolicy
from acd.kpi_recount import KpiAccumulator, compute_kpis
from acd.realtime import RealtimeView


class Log:
    def __init__(self) -> None:
        self.sink = InMemoryEventSink()

    def at(self, t: float, event: AcdEvent) -> Log:
        self.sink.append(t, event)
        return self

    def state(
        self,
        t: float,
        agent: str,
        before: str,
        after: str,
        event: str = "",
        call: str | None = None,
    ) -> Log:
        return self.at(t, AgentStateChanged(agent, before, after, event, "", call))

    def answered_call(
        self, call: str, agent: str, entry: float, answer: float, end: float, wrap: float = 0
    ) -> Log:
        self.at(entry, CallQueued(call, "q", entry, 0.0))
        self.at(answer, CallOffered(call, agent, "q", 0.0, 0, ""))
        self.state(answer, agent, "available", "offered", "offer_made", call)
        self.state(answer, agent, "offered", "on_call", "answered", call)
        self.at(answer, CallAnswered(call, agent, "q"))
        after = "wrap_up" if wrap else "available"
        self.state(end, agent, "on_call", after, "hung_up", call)
        self.at(end, CallEnded(call, agent, "q"))
        if wrap:
            self.state(end + wrap, agent, "wrap_up", "available", "wrapup_timeout", call)
        return self

    def abandoned_call(self, call: str, entry: float, gone: float) -> Log:
        self.at(entry, CallQueued(call, "q", entry, 0.0))
        return self.at(gone, CallAbandoned(call, "q", during_offer=False))

    @property
    def records(self) -> list[EventRecord]:
        return list(self.sink.records())


def mixed_day() -> Log:
    """4 answered (waits 0, 10, 25, 40 s), abandons after 3 s (short), 15 s and 50 s."""
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.answered_call("c1", "a1", 0, 0, 100)
    log.answered_call("c2", "a1", 90, 100, 200)
    log.answered_call("c3", "a1", 175, 200, 300)
    log.answered_call("c4", "a1", 260, 300, 400)
    log.abandoned_call("s1", 410, 413)
    log.abandoned_call("x1", 420, 435)
    log.abandoned_call("x2", 440, 490)
    return log


@pytest.mark.parametrize(
    ("treatment", "expected"),
    [
        (AbandonTreatment.AGAINST, 2 / 6),  # A_T / (A + Ab)
        (AbandonTreatment.IGNORE, 2 / 4),  # A_T / A
        (AbandonTreatment.MET_WITHIN_TARGET, 3 / 6),  # (A_T + Ab_T) / (A + Ab)
        (AbandonTreatment.EXCLUDE_WITHIN_TARGET, 2 / 5),  # A_T / (A + Ab - Ab_T)
    ],
)
def test_service_level_treats_abandons_as_configured(
    treatment: AbandonTreatment, expected: float
) -> None:
    kpis = compute_kpis(
        mixed_day().records, SlPolicy(target_s=20, short_abandon_s=5, abandons=treatment)
    )
    assert kpis.calls.service_level == pytest.approx(expected)


def test_short_abandons_are_left_out_of_every_ratio() -> None:
    calls = compute_kpis(mixed_day().records, SlPolicy(target_s=20, short_abandon_s=5)).calls
    assert (calls.offered, calls.answered, calls.abandoned, calls.short_abandoned) == (7, 4, 2, 1)
    assert calls.abandon_rate == pytest.approx(2 / 6)
    counted = compute_kpis(mixed_day().records, SlPolicy(target_s=20, short_abandon_s=0)).calls
    assert counted.abandoned == 3
    assert counted.abandon_rate == pytest.approx(3 / 7)


def test_callbacks_and_overflows_are_exits_not_abandons() -> None:
    log = mixed_day()
    log.at(500, CallQueued("cb", "q", 500, 0.0))
    log.at(560, CallAbandoned("cb", "q", during_offer=False, reason="callback requested"))
    log.at(600, CallQueued("ov", "q", 600, 0.0))
    log.at(700, CallAbandoned("ov", "q", during_offer=False, reason="max wait: 100 s in q"))
    calls = compute_kpis(log.records, SlPolicy(target_s=20, short_abandon_s=5)).calls
    assert (calls.offered, calls.abandoned, calls.left) == (9, 2, 2)
    assert calls.abandon_rate == pytest.approx(2 / 6)
    assert calls.service_level == pytest.approx(2 / 6)


def test_asa_p_wait_and_longest_wait() -> None:
    calls = compute_kpis(mixed_day().records, SlPolicy(short_abandon_s=5)).calls
    assert calls.asa == pytest.approx((0 + 10 + 25 + 40) / 4)
    assert calls.p_wait == pytest.approx(5 / 6)  # all but c1 waited (2 abandons included)
    assert calls.longest_wait == 50


def test_aht_is_talk_plus_hold_plus_wrap_up() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(0, CallQueued("c1", "q", 0, 0.0))
    log.state(0, "a1", "available", "offered", "offer_made", "c1")
    log.state(0, "a1", "offered", "on_call", "answered", "c1").at(0, CallAnswered("c1", "a1", "q"))
    log.at(60, CallHoldChanged("c1", "a1", True)).at(90, CallHoldChanged("c1", "a1", False))
    log.state(200, "a1", "on_call", "wrap_up", "hung_up", "c1").at(200, CallEnded("c1", "a1", "q"))
    log.state(215, "a1", "wrap_up", "available", "wrapup_done", "c1")
    calls = compute_kpis(log.records).calls
    assert (calls.avg_talk, calls.avg_hold, calls.avg_wrap) == (170, 30, 15)
    assert calls.aht == 215


def test_occupancy_counts_busy_over_busy_plus_available_and_ignores_pauses() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.answered_call("c1", "a1", 0, 0, 60)  # 60 s busy
    log.state(100, "a1", "available", "paused", "pause")  # 40 s idle, then paused
    log.state(500, "a1", "paused", "available", "ready")
    report = compute_kpis(log.records, end=600)  # 100 s more idle
    assert report.occupancy == pytest.approx(60 / (60 + 140))
    [agent] = report.agents
    assert agent.pause_s == 400
    assert agent.available_s == 140
    assert agent.staffed_s == 600
    assert agent.calls == 1
    assert agent.talk_s == 60


def test_rona_is_counted_per_agent() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.state(5, "a1", "available", "offered", "offer_made", "c1")
    log.state(20, "a1", "offered", "paused", "ring_no_answer", "c1")
    [agent] = compute_kpis(log.records).agents
    assert agent.rona == 1


def test_intervals_split_calls_by_entry_and_agent_time_at_the_edges() -> None:
    log = mixed_day()
    acc = KpiAccumulator(SlPolicy(target_s=20, short_abandon_s=5), interval_s=300).add_all(
        log.records
    )
    first, second = acc.intervals(end=600)
    assert (first.start, first.end, second.start, second.end) == (0, 300, 300, 600)
    assert first.calls.answered == 4  # c4 entered at 260, before the edge
    assert second.calls.abandoned == 2
    assert second.calls.answered == 0
    # a1 was busy from 0 to 400: 300 s in the first interval, 100 s in the second
    assert first.occupancy == pytest.approx(1.0)
    assert second.occupancy == pytest.approx(100 / 300)


def test_realtime_view_counts_waiting_longest_wait_and_agents_by_state() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.state(0, "a2", "logged_out", "paused", "login")
    log.at(10, CallQueued("c1", "sales", 10, 0.0)).at(20, CallQueued("c2", "support", 5, 0.0))
    log.at(30, CallQueued("c3", "sales", 30, 0.0))
    log.at(31, CallOffered("c3", "a1", "sales", 0, 0, "")).state(31, "a1", "available", "offered")
    view = RealtimeView().add_all(log.records).snapshot(now=40)
    assert view.waiting == 2
    assert view.waiting_by_queue == {"sales": 1, "support": 1}
    assert view.longest_wait_s == 35
    assert view.longest_waiting_call == "c2"  # a callback: entered at 5, queued at 20
    assert view.ringing == 1
    assert view.agents_by_state == {"offered": 1, "paused": 1}


def test_realtime_view_counts_a_moved_call_in_its_new_queue_with_its_entry_time() -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(10, CallQueued("c1", "sales", 10, 0.0)).at(12, CallQueued("c2", "sales", 12, 0.0))
    log.at(20, CallMoved("c1", "sales", "support", "sam"))
    view = RealtimeView().add_all(log.records).snapshot(now=40)
    assert view.waiting_by_queue == {"sales": 1, "support": 1}
    assert (view.longest_waiting_call, view.longest_wait_s) == ("c1", 30)
    log.at(41, CallOffered("c1", "a1", "support", 0, 0, ""))
    log.at(45, CallRequeued("c1", "a1", "support", "no answer"))  # back in its new queue
    view = RealtimeView().add_all(log.records).snapshot(now=50)
    assert view.waiting_by_queue == {"sales": 1, "support": 1}


def test_kpis_follow_a_live_log_as_it_grows() -> None:
    sink = InMemoryEventSink()
    acc = KpiAccumulator()
    sink.subscribe(acc.add)
    sink.append(0, CallQueued("c1", "q", 0, 0.0))
    sink.append(30, CallAbandoned("c1", "q", False))
    assert acc.report().calls.abandoned == 1
