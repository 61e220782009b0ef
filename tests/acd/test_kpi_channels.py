"""KPIs of every channel: chats and e-mails flow through service level, ASA and abandonment
with their own targets; handle time per task beside the agent's time divided among tasks
held at once; occupancy counts digital work; capacity's utilisation per channel; the
backlog and its oldest task, live and at each interval's end; every channel but callback
attempts together. The running sums give a full recount's figures on a mixed day."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from acd.capacity import Capacity
from acd.channel_day import CAPACITY, mixed_day
from acd.contacts import callback_attempt_id, segment_id
from acd.events import (
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    EventRecord,
)
from acd.kpi import ALL_CHANNELS, KpiReport, SlPolicy
from acd.kpi_aggregate import KpiAggregate
from acd.kpi_recount import KpiAccumulator, compute_kpis
from acd.policy import QueuesConfig
from tests.acd.test_kpi import Log

#: An hour for an e-mail, a minute for a chat, 20 s for a call; billing's e-mails: 2 hours.
POLICY = SlPolicy(
    target_s=20,
    short_abandon_s=5,
    channel_targets={"email": 3600, "chat": 60},
    queue_channel_targets={("billing", "email"): 7200},
)
CHATS_AND_MAIL = Capacity({"chat": 3, "email": 2}, 4)


def capacity(agent_id: str) -> Capacity:
    return CHATS_AND_MAIL


def digital(
    log: Log,
    task: str,
    agent: str,
    queued: float,
    accepted: float,
    closed: float,
    *,
    channel: str = "chat",
    queue: str = "q",
    wrap: float = 0.0,
) -> Log:
    """A chat (or e-mail) as the distributor logs it: queued, reserved for the agent,
    accepted, closed (into ``wrap`` seconds of wrap-up)."""
    log.at(queued, CallQueued(task, queue, queued, 0.0, channel=channel))
    log.at(queued, CallOffered(task, agent, queue, 0.0, 0, ""))
    log.at(queued, AgentTaskChanged(agent, task, channel, "", "reserved", "offered"))
    log.at(accepted, CallAnswered(task, agent, queue))
    log.at(accepted, AgentTaskChanged(agent, task, channel, "reserved", "active", "accepted"))
    log.at(closed, AgentTaskChanged(agent, task, channel, "active", "wrap_up" if wrap else "", ""))
    log.at(closed, CallEnded(task, agent, queue, "done"))
    if wrap:
        log.at(closed + wrap, AgentTaskChanged(agent, task, channel, "wrap_up", "", "done"))
    return log


def in_time(log: Log) -> list[EventRecord]:
    """The log's records in time order (tasks written one after the other overlap)."""
    return sorted(log.records, key=lambda r: (r.at, r.seq))


Fold = Callable[[list[EventRecord], float], KpiReport]
FOLDS: dict[str, Fold] = {
    "recount": lambda records, end: compute_kpis(records, POLICY, end=end, capacity=capacity),
    "running sums": lambda records, end: (
        KpiAggregate(POLICY, capacity=capacity).add_all(records).day(end)
    ),
}
both_folds = pytest.mark.parametrize("fold", list(FOLDS))


@both_folds
def test_three_chats_at_once_are_three_handle_times_but_one_agents_time(fold: str) -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    for task in ("t1", "t2", "t3"):
        digital(log, task, "a1", queued=0, accepted=10, closed=610)
    report = FOLDS[fold](in_time(log), 700)

    chat = report.by_channel["chat"]
    assert (chat.offered, chat.answered) == (3, 3)
    assert chat.aht == pytest.approx(600)  # what each customer's chat took
    assert chat.agent_time == pytest.approx(200)  # 10 minutes of the agent for 3 chats
    # the agent was occupied for those 10 minutes, idle the other 100 s
    assert report.occupancy == pytest.approx(600 / 700)
    [agent] = report.agents
    assert (agent.calls, agent.digital_s, agent.available_s) == (3, 600, 100)
    assert agent.occupancy == pytest.approx(600 / 700)
    # 3 chats in 3 chat slots for 600 of 700 s; 3 tasks of 4 in all
    assert report.capacity["chat"].utilisation == pytest.approx(1800 / 2100)
    assert report.capacity[ALL_CHANNELS].utilisation == pytest.approx(1800 / 2800)
    assert report.capacity["email"].utilisation == 0.0


@both_folds
def test_a_chat_beside_a_call_shares_the_agents_time_and_its_wrap_up_counts(fold: str) -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.answered_call("c1", "a1", 0, 0, 100)  # a call from 0 to 100
    digital(log, "t1", "a1", queued=50, accepted=50, closed=130, wrap=20)  # 50 to 150
    report = FOLDS[fold](in_time(log), 200)

    call, chat = report.by_channel["voice"], report.by_channel["chat"]
    assert call.aht == pytest.approx(100)
    assert chat.aht == pytest.approx(100)  # 80 + 20 of wrap-up
    assert chat.avg_wrap == pytest.approx(20)
    # 0-50 the call alone, 50-100 both, 100-150 the chat alone (active, then wrap-up)
    assert call.agent_time == pytest.approx(50 + 25)
    assert chat.agent_time == pytest.approx(25 + 50)
    assert report.occupancy == pytest.approx(150 / 200)


@both_folds
def test_each_channel_and_queue_has_its_own_service_level_target(fold: str) -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    digital(log, "m1", "a1", 0, 3000, 3100, channel="email")  # 50 min: within the hour
    digital(log, "m2", "a1", 0, 5000, 5100, channel="email", queue="billing")  # within 2 h
    digital(log, "m3", "a1", 0, 4000, 4100, channel="email")  # 66 min: late
    digital(log, "t1", "a1", 6000, 6050, 6100)  # a chat in 50 s: within its minute
    log.answered_call("c1", "a1", 6200, 6250, 6300)  # a call in 50 s: late
    report = FOLDS[fold](in_time(log), 7000)

    assert report.by_channel["email"].answered_within_target == 2
    assert report.by_channel["email"].service_level == pytest.approx(2 / 3)
    assert report.by_channel["chat"].service_level == 1.0
    assert report.calls.service_level == 0.0
    assert POLICY.target("q", "voice") == 20
    assert POLICY.target("billing", "email") == 7200


@both_folds
def test_a_chat_customer_who_leaves_abandons_whatever_the_reason_says(fold: str) -> None:
    log = Log()
    log.at(0, CallQueued("t1", "q", 0, 0.0, channel="chat"))
    log.at(30, CallAbandoned("t1", "q", False, "visitor closed the page"))
    log.at(0, CallQueued("c1", "q", 0, 0.0))
    log.at(30, CallAbandoned("c1", "q", False, "max wait: 30 s; to hangup"))
    report = FOLDS[fold](in_time(log), 60)
    chat = report.by_channel["chat"]
    assert (chat.abandoned, chat.left, chat.abandon_rate) == (1, 0, 1.0)
    assert (report.calls.abandoned, report.calls.exits) == (0, {"overflowed": 1})


@both_folds
def test_overall_is_every_channel_but_the_callback_attempts(fold: str) -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.answered_call("c1", "a1", 0, 10, 100)
    digital(log, "t1", "a1", 100, 130, 200)
    digital(log, "m1", "a1", 200, 300, 400, channel="email")
    log.answered_call(callback_attempt_id("c0", 1), "a1", 400, 410, 500)
    report = FOLDS[fold](in_time(log), 600)
    assert report.overall.offered == 3
    assert report.overall.asa == pytest.approx((10 + 30 + 100) / 3)
    assert report.by_channel["callback"].offered == 1


@both_folds
def test_a_transferred_calls_next_segment_is_a_transfer_waiting_from_the_transfer(
    fold: str,
) -> None:
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.state(0, "a2", "logged_out", "available", "login")
    log.answered_call("c1", "a1", 0, 10, 100)  # 10 s wait, 90 s with the first agent
    segment = segment_id("c1", 1)
    # queued again at 100 with the caller's first entry time (its place), answered at 115
    log.at(100, CallQueued(segment, "q", 0, 0.0))
    log.at(115, CallOffered(segment, "a2", "q", 0.0, 0, ""))
    log.at(115, CallAnswered(segment, "a2", "q"))
    log.at(175, CallEnded(segment, "a2", "q"))
    report = FOLDS[fold](in_time(log), 200)

    transfer = report.by_channel["transfer"]
    assert (transfer.offered, transfer.answered) == (1, 1)
    assert transfer.asa == pytest.approx(15)  # from the transfer, not from the arrival
    assert transfer.aht == pytest.approx(60)
    # the caller is one inbound call, answered in 10 s
    assert report.calls.offered == 1
    assert report.calls.asa == pytest.approx(10)
    assert (report.overall.offered, report.overall.answered) == (1, 1)


def backlog_day() -> Log:
    """E-mails queued at 100 and 1000 (the first entered at 50: it kept its place); the first
    answered at 1100; a chat waits from 1150 on."""
    log = Log().state(0, "a1", "logged_out", "available", "login")
    log.at(100, CallQueued("m1", "q", 50, 0.0, channel="email"))
    log.at(1000, CallQueued("m2", "q", 1000, 0.0, channel="email"))
    log.at(1100, CallOffered("m1", "a1", "q", 0.0, 0, ""))
    log.at(1100, CallAnswered("m1", "a1", "q"))
    log.at(1150, CallQueued("t1", "q", 1150, 0.0, channel="chat"))
    return log


def test_the_backlog_and_its_oldest_task_live_and_at_each_interval_end() -> None:
    records = in_time(backlog_day())
    recount = KpiAccumulator(POLICY, interval_s=900).add_all(records)
    running = KpiAggregate(POLICY, interval_s=900).add_all(records)
    for report in (recount.report(1200), running.day(1200)):
        email = report.by_channel["email"]
        assert (email.backlog, email.oldest_age_s) == (1, 200)  # m2, since 1000
        assert (report.overall.backlog, report.overall.oldest_age_s) == (2, 200)
    for first, current in (recount.intervals(1200), running.intervals(1200)):
        # at 900, m1 waited, entered at 50 (m2 entered in the next interval)
        assert (first.by_channel["email"].backlog, first.by_channel["email"].oldest_age_s) == (
            1,
            850,
        )
        assert current.overall.backlog == 2


def test_a_closed_intervals_backlog_is_known_before_the_next_event() -> None:
    """Nothing happened since 1150: the backlog at 1800 is the one of 1150, and ages."""
    running = KpiAggregate(POLICY, interval_s=900).add_all(in_time(backlog_day()))
    closed = running.interval(900, 2000)
    assert (closed.overall.backlog, closed.overall.oldest_age_s) == (2, 800)  # m2 at 1800
    assert running.interval(1800, 2000).overall.oldest_age_s == 1000  # and now


def same_figures(a: Any, b: Any, where: str = "") -> None:
    """Equal figure by figure, but for the order in which floats were summed."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            same_figures(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            same_figures(a[k], b[k], f"{where}[{k}]")
    elif isinstance(a, tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_figures(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (where, a, b)
    else:
        assert a == b, (where, a, b)


@pytest.fixture(scope="module")
def channel_day() -> list[EventRecord]:
    """Calls, chats and e-mails, cut mid-day so that some wait and some are in hand."""
    records = mixed_day(3000, agents=8)
    return records[: len(records) // 2]


def shipped(agent_id: str) -> Capacity:
    return CAPACITY


def test_on_a_day_of_every_channel_the_running_sums_give_a_recounts_figures(
    channel_day: list[EventRecord],
) -> None:
    end = channel_day[-1].at + 0.5
    recount = KpiAccumulator(POLICY, interval_s=900, capacity=shipped).add_all(channel_day)
    running = KpiAggregate(POLICY, interval_s=900, capacity=shipped).add_all(channel_day)
    whole, day = recount.report(end), running.day(end)
    assert {"voice", "chat", "email"} <= day.by_channel.keys()
    assert day.overall.backlog > 0
    assert day.capacity["chat"].used_s > 0
    for name in ("calls", "overall", "by_channel", "by_queue", "occupancy", "capacity", "agents"):
        same_figures(getattr(whole, name), getattr(day, name), name)
    for mine, theirs in zip(running.intervals(end), recount.intervals(end), strict=True):
        for name in ("calls", "overall", "by_channel", "occupancy", "capacity"):
            same_figures(getattr(theirs, name), getattr(mine, name), f"{mine.start}.{name}")


def test_queues_yaml_gives_each_channel_and_queue_its_target() -> None:
    config = QueuesConfig.model_validate(
        {
            "service_level": {"channel_targets_s": {"email": 14400, "chat": 60}},
            "queues": {
                "support": {"sl_target_s": 20},
                "billing": {"sl_target_s": 30, "channel_targets_s": {"email": 7200}},
            },
        }
    )
    policy = config.sl_policy()
    assert policy.target("support") == 20
    assert policy.target("billing", "voice") == 30
    assert policy.target("billing", "callback") == 30  # no target of its own: the queue's
    assert policy.target("support", "email") == 14400
    assert policy.target("billing", "email") == 7200
    assert policy.target("billing", "chat") == 60


@pytest.mark.parametrize(
    ("targets", "says"),
    [
        ({"voice": 30}, "voice's target is the queue's sl_target_s"),
        ({"all": 30}, "every channel together"),
        ({"email": 0}, "greater than 0"),
        ({"E-mail": 60}, "should match pattern"),
    ],
)
def test_a_channel_target_that_cannot_be_is_refused(targets: dict[str, float], says: str) -> None:
    for where in (
        {"service_level": {"channel_targets_s": targets}},
        {"queues": {"support": {"channel_targets_s": targets}}},
    ):
        with pytest.raises(ValidationError, match=says):
            QueuesConfig.model_validate(where)
