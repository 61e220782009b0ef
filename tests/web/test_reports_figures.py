"""A day's historical report equals what the live supervisor page shows for that day and what
/metrics says, across a restart mid-day (the report folds the event log per run, as the
page's rebuild does): calls, chats, an e-mail, abandons and callbacks; a week of it is the
same day; the CSV holds the table's cells. The day and its restart are
``tests.web.test_supervisor_kpi_restart``'s."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from acd.kpi import SlPolicy
from history.repository import HistoryRepository
from history.store import create_engine, migrate
from hotline.reports.figures import Report, ReportFigures, ReportRequest
from hotline.reports.table import COLUMNS, csv_text, payload
from hotline.web.metrics import CHANNEL_FIGURES, render
from hotline.web.supervisor.kpi_log import EventLogKpis
from tests.web.test_supervisor_kpi_restart import (
    NINE_O_FIVE,
    RESTART_S,
    Run,
    first_run,
    morning,
    rebuilt,
)

FIELDS = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "asa",
    "aht",
    "agent_time",
    "abandon_rate",
)


def same(report_values: dict[str, Any], live: dict[str, Any]) -> None:
    for name in FIELDS:
        mine, theirs = report_values[name], live[name]
        assert mine == (theirs if not isinstance(theirs, float) else pytest.approx(theirs)), name


def rows(report: Report) -> dict[str, dict[str, Any]]:
    return {r["group"]: r["values"] for r in payload(report)["rows"]}


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line = name + ("{" + want + "}" if want else "") + " "
    [found] = [row for row in text.splitlines() if row.startswith(line)]
    return float(found.split()[-1])


async def test_a_days_report_is_the_live_pages_day_and_the_metrics(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    await first_run(engine, tmp_path)
    second = Run(
        NINE_O_FIVE + timedelta(seconds=RESTART_S),
        7.0,
        engine,
        tmp_path,
        kpi_log=lambda run, spooling: EventLogKpis(engine, run, batch=50, spooling=spooling),
    )
    await second.start()
    try:
        await rebuilt(second.hub)
        morning(second, 35, 50)
        second.at(50 * 60.0)
        assert second.log is not None
        assert second.writer is not None
        await second.log.flush()  # this run's events are in the log too
        await second.writer.flush()
        live = second.hub.snapshot()
        metrics = render(second.hub)
        figures = ReportFigures(
            engine,
            HistoryRepository(engine),
            policy=lambda: second.service.setup.sl_policy,
            now=second.wall,
        )
        day = NINE_O_FIVE.date()
        by_channel = await figures.report(ReportRequest(day, day, "day", "channel"))
        by_queue = await figures.report(ReportRequest(day, day, "day", "queue"))
        week = await figures.report(ReportRequest(day - timedelta(days=3), day, "week", "channel"))
    finally:
        await second.stop()
        await engine.dispose()

    channels = rows(by_channel)
    assert set(channels) == set(live["channels"])  # all, voice, callback, chat, email
    for name, kpis in live["channels"].items():
        same(channels[name], kpis)
    assert channels["all"]["offered"] == 50 + 13 + 1  # a real day: calls, chats, an e-mail
    assert channels["all"]["occupancy"] == pytest.approx(live["occupancy"])
    assert channels["all"]["callbacks_requested"] == live["callbacks"]["requested"] == 6
    assert channels["all"]["callbacks_completed"] == live["callbacks"]["completed"]
    assert channels["all"]["callbacks_failed"] == live["callbacks"]["failed"]
    queues = rows(by_queue)
    for queue in live["queues"]:
        same(queues[queue["name"]], queue["kpis"])
    assert by_channel.events > 0
    # /metrics says the same, channel by channel (it carries the hub's figures)
    for name, key, _ in CHANNEL_FIGURES:
        if key in FIELDS:
            for channel, values in channels.items():
                said = metric(metrics, name, channel=channel)
                expected = values[key]
                if expected is None:
                    assert math.isnan(said), (name, channel)
                else:
                    assert said == pytest.approx(expected, abs=1e-6), (name, channel)
    assert metric(metrics, "hotline_occupancy_ratio") == pytest.approx(
        channels["all"]["occupancy"], abs=1e-6
    )
    # a week (from the Monday) holding only this day is this day
    assert rows(week) == channels
    # the CSV is the table's cells, header first
    table = list(csv.reader(io.StringIO(csv_text(by_channel))))
    assert table[0] == [title for _, title, _ in COLUMNS]
    assert table[1:] == [r["cells"] for r in payload(by_channel)["rows"]]
    assert table[1][:3] == [date.isoformat(day), "all", "64"]


async def test_a_closed_day_is_folded_once_and_then_read_from_the_cache(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    await migrate(engine)
    await first_run(engine, tmp_path)
    later = NINE_O_FIVE + timedelta(days=2)
    figures = ReportFigures(engine, HistoryRepository(engine), policy=SlPolicy, now=lambda: later)
    day = NINE_O_FIVE.date()
    try:
        first = await figures.report(ReportRequest(day, day, "day", "channel"))
        again = await figures.report(ReportRequest(day, day, "interval", "channel"))
        other = ReportFigures(
            engine,
            HistoryRepository(engine),
            policy=lambda: SlPolicy(target_s=5),
            now=lambda: later,
        )
        stricter = await other.report(ReportRequest(day, day, "day", "channel"))
    finally:
        await engine.dispose()
    assert (first.cached_days, first.events) == (0, again.events)
    assert again.cached_days == 1
    assert rows(first)["all"]["offered"] == 45
    assert sum(r["values"]["offered"] for r in payload(again)["rows"] if r["total"]) == 45
    assert stricter.cached_days == 0  # another policy: folded anew
    assert rows(stricter)["all"]["service_level"] < rows(first)["all"]["service_level"]
