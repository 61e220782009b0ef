"""The reports page on the whole service with an emulated Asterisk: after real calls (the
IVR, the queue, agents' phones, one caller giving up), today's report by channel and by
queue says what the live supervisor page and /metrics say; the CSV is the page's table;
supervisors and admins may read it, agents and strangers may not."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.web.metrics import CHANNEL_FIGURES
from telephony.emulator import Caller
from tests.web.support import TO_AN_AGENT, running, signed_in
from tests.web.test_reports_figures import FIELDS, metric
from tests.web.test_supervisor import jar


async def report(http: aiohttp.ClientSession, base: str, **query: str) -> dict[str, Any]:
    async with http.get(base + "reports/data", params=query) as response:
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        return data


async def test_todays_report_is_the_live_pages_and_the_metrics(tmp_path: Path) -> None:
    async with running(tmp_path, ring_s=1.0) as stack:
        calls = [
            await stack.emulator.place_call(
                Caller(number=f"+97150111{n:04d}", dtmf=TO_AN_AGENT, barge_in=False)
            )
            for n in range(4)
        ]
        for call in calls:
            await call.wait_done(timeout_s=60)
        service = stack.service
        await asyncio.sleep(0.2)  # the last events reach the log's outbox
        await service.acd_log.flush()
        await service.history_writer.flush()
        live = service.supervisor_hub.snapshot()
        base = stack.url
        today = date.today().isoformat()
        async with jar() as http:
            await signed_in(http, base, "sam")
            async with http.get(base + "metrics") as response:
                metrics = await response.text()  # a supervisor's session reads /metrics
            by_channel = await report(http, base, **{"from": today, "to": today, "by": "channel"})
            by_queue = await report(http, base, **{"from": today, "to": today, "by": "queue"})
            as_of = by_channel["as_of"]  # as the page asks: the figures it shows
            async with http.get(
                base + "reports/export.csv",
                params={"from": today, "to": today, "by": "channel", "as_of": as_of},
            ) as response:
                assert response.status == 200
                assert "attachment" in response.headers["Content-Disposition"]
                exported = list(csv.reader(io.StringIO(await response.text())))

    rows = {r["group"]: r["values"] for r in by_channel["rows"]}
    assert rows["voice"]["offered"] == 4
    assert rows["voice"]["answered"] >= 1
    for channel, kpis in live["channels"].items():
        for name in FIELDS:
            expected = kpis[name]
            assert rows[channel][name] == (
                # the log keeps times to the microsecond
                pytest.approx(expected, abs=1e-5) if isinstance(expected, float) else expected
            ), (channel, name)
    for queue in live["queues"]:
        if queue["kpis"]["offered"]:
            mine = next(r["values"] for r in by_queue["rows"] if r["group"] == queue["name"])
            assert mine["offered"] == queue["kpis"]["offered"]
            assert mine["service_level"] == queue["kpis"]["service_level"]
    for name, key, _ in CHANNEL_FIGURES:
        if key in ("offered", "answered", "abandoned"):
            assert metric(metrics, name, channel="voice") == rows["voice"][key]
    # the CSV is exactly the page's table
    assert exported[0] == [c["title"] for c in by_channel["columns"]]
    assert exported[1:] == [r["cells"] for r in by_channel["rows"]]


async def test_only_supervisors_and_admins_read_reports(tmp_path: Path) -> None:
    async with running(tmp_path) as stack:
        base = stack.url
        week = {"from": (date.today() - timedelta(days=6)).isoformat()}
        async with jar() as http:
            for path in ("reports", "reports/data", "reports/export.csv"):
                async with http.get(base + path, allow_redirects=False) as r:
                    assert r.status == 303, path  # to the sign-in page
                    assert r.headers["Location"].startswith("/login?next=")
            await signed_in(http, base, "1001")
            for path in ("reports", "reports/data", "reports/export.csv"):
                async with http.get(base + path) as r:
                    assert r.status == 403, path
        for name in ("sam", "ada"):
            async with jar() as http:
                await signed_in(http, base, name)
                async with http.get(base + "reports") as r:
                    page = await r.text()
                    assert r.status == 200
                    assert 'href="/reports"' in page  # the navigation's link
                    assert "/static/reports.js" in page
                data = await report(http, base, **week, by="intent", grain="week")
                assert data["rows"][0]["group"] == "all"
                async with http.get(base + "reports/data", params={"grain": "year"}) as r:
                    assert r.status == 422
                async with http.get(
                    base + "reports/data",
                    params={"from": "2026-01-01", "to": "2026-03-01", "grain": "interval"},
                ) as r:
                    assert r.status == 422  # at most 7 days of 15-minute intervals
