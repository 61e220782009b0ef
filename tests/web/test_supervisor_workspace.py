"""The supervisor's workspace over the real service and an emulated Asterisk: thresholds
and their alerts (the page's figures are /metrics' figures), a forced log-out and every
supervisor action in the audit log, and what happened to a listen/whisper/barge."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from acd.agent_events import Pause
from hotline.web.auth.users import Role, UserStore
from telephony.emulator import Caller
from tests.web.support import PASSWORD, TO_AN_AGENT, running, signed_in

LOW_WAITING = {"queues.thresholds.waiting": {"warn": 1, "crit": 3}}


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse, want: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            snapshot: dict[str, Any] = json.loads(message.data)
            if want(snapshot):
                return snapshot


def active(snapshot: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (a["queue"], a["channel"], a["metric"], a["level"])
        for a in snapshot["thresholds"]["active"]
    ]


def queue(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in snapshot["queues"] if q["name"] == name)


BREACHED = re.compile(
    r'^hotline_threshold_breached\{queue="([^"]+)",channel="([^"]+)",metric="([^"]+)",'
    r'level="([^"]+)"\} (\d)$',
    re.MULTILINE,
)


async def test_a_waiting_call_raises_a_threshold_alert_that_clears_when_it_moves_and_metrics_agree(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, overrides=LOW_WAITING) as stack, jar() as http:
        for view in stack.service.acd.distributor.book.views():  # nobody takes the call
            stack.service.acd.agent_event(Pause(view.agent_id, "training"))
        csrf = await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            calm = await next_snapshot(ws, lambda s: True)
            assert active(calm) == []
            assert queue(calm, "support")["level"] == "ok"
            await stack.emulator.place_call(
                Caller(number="+971501110071", dtmf=TO_AN_AGENT, barge_in=False)
            )
            raised = await next_snapshot(ws, active)
            assert active(raised) == [("support", "voice", "waiting", "warn")]
            alert = raised["thresholds"]["active"][0]
            assert alert["value"] == 1
            assert alert["limit"] == 1
            assert alert["since"] <= raised["server_time"]
            support = queue(raised, "support")
            assert support["level"] == "warn"
            assert support["thresholds"]["voice"]["waiting"]["level"] == "warn"
            # /metrics says what the page says
            async with http.get(stack.url + "metrics") as response:
                text = await response.text()
            page = {
                (q["name"], ch, metric, level): int(
                    {"ok": 0, "warn": 1, "crit": 2}[shown["level"]] >= {"warn": 1, "crit": 2}[level]
                )
                for q in raised["queues"]
                for ch, metrics in q["thresholds"].items()
                for metric, shown in metrics.items()
                if metric != "longest_wait_s"  # it grows between the two reads
                for level in ("warn", "crit")
            }
            scraped = {
                (q, ch, m, lv): int(v)
                for q, ch, m, lv, v in BREACHED.findall(text)
                if m != "longest_wait_s"
            }
            assert scraped == page
            assert scraped[("support", "voice", "waiting", "warn")] == 1
            assert 'hotline_threshold_alerts{level="warn"} 1' in text
            # the supervisor moves the caller: support is back under, billing crosses
            (call,) = support["calls"]
            async with http.post(
                stack.url + f"page-api/calls/{call['call_id']}/move",
                json={"queue": "billing"},
                headers={"X-CSRF-Token": csrf},
            ) as response:
                assert response.status == 200, await response.text()
            moved = await next_snapshot(
                ws, lambda s: ("billing", "voice", "waiting", "warn") in active(s)
            )
            assert ("support", "voice", "waiting", "warn") not in active(moved)
            cleared = moved["thresholds"]["cleared"][0]
            assert (cleared["queue"], cleared["metric"]) == ("support", "waiting")
            assert cleared["since"] == alert["since"] <= cleared["cleared_at"]
    entries = await stack.service.audit.recent(target=f"call:{call['call_id']}")
    assert [(e.actor, e.action, e.summary) for e in entries] == [
        ("sam", "move", "moved to queue billing")
    ]


async def test_a_forced_log_out_and_pause_and_ready_are_audited_with_who(tmp_path: Path) -> None:
    async with running(tmp_path) as stack, jar() as http:
        csrf = await signed_in(http, stack.url, "sam")
        headers = {"X-CSRF-Token": csrf}
        for action in ("pause", "ready", "logout"):
            async with http.post(
                stack.url + f"page-api/agents/1002/{action}", json={}, headers=headers
            ) as response:
                assert response.status == 200, await response.text()
        assert str(stack.service.acd.distributor.book.view("1002").state) == "logged_out"
        async with http.post(
            stack.url + "page-api/agents/1002/logout", json={}, headers=headers
        ) as response:
            assert response.status == 409  # not logged in any more
        agent_csrf = await signed_in(http, stack.url, "1001")
        async with http.post(
            stack.url + "page-api/agents/1003/logout", headers={"X-CSRF-Token": agent_csrf}
        ) as response:
            assert response.status == 403
    assert str(stack.service.acd.distributor.book.view("1003").state) != "logged_out"
    entries = await stack.service.audit.recent(target="agent:1002")
    assert [(e.actor, e.action) for e in reversed(entries)] == [
        ("sam", "pause"),
        ("sam", "ready"),
        ("sam", "force_logout"),
    ]
    assert entries[0].summary == "forced log-out; 0 tasks handed back"


async def test_a_whisper_rings_connects_and_is_stopped_and_an_unreachable_phone_is_said(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as stack, jar() as http:
        await UserStore(stack.service.store).add(
            "kim", Role.SUPERVISOR, PASSWORD, endpoint="PJSIP/nowhere"
        )
        csrf = await signed_in(http, stack.url, "sam")
        async with http.ws_connect(stack.url + "ws/supervisor") as ws:
            async with http.post(
                stack.url + "page-api/agents/1001/spy",
                json={"mode": "whisper"},
                headers={"X-CSRF-Token": csrf},
            ) as response:
                assert response.status == 200, await response.text()
                session_id = (await response.json())["session"]["id"]

            def spied(s: dict[str, Any], state: str) -> dict[str, Any] | None:
                return next(
                    (
                        x
                        for x in s.get("spies", [])
                        if x["id"] == session_id and x["state"] == state
                    ),
                    None,
                )

            connected = spied(await next_snapshot(ws, lambda s: spied(s, "connected")), "connected")
            assert connected is not None
            assert [step for step, _ in connected["steps"]] == ["calling", "ringing", "connected"]
            assert (connected["supervisor"], connected["agent_id"]) == ("sam", "1001")
            async with http.post(
                stack.url + f"page-api/spy/{session_id}/stop", headers={"X-CSRF-Token": csrf}
            ) as response:
                assert response.status == 200, await response.text()
            ended = spied(await next_snapshot(ws, lambda s: spied(s, "ended")), "ended")
            assert ended is not None
            assert ended["reason"] == "stopped by sam"
            async with http.post(
                stack.url + f"page-api/spy/{session_id}/stop", headers={"X-CSRF-Token": csrf}
            ) as response:
                assert response.status == 409  # over already
        async with jar() as other:
            kim = await signed_in(other, stack.url, "kim")
            async with other.post(
                stack.url + "page-api/agents/1001/spy",
                json={"mode": "listen"},
                headers={"X-CSRF-Token": kim},
            ) as response:
                assert response.status == 200, await response.text()
                failed_id = (await response.json())["session"]["id"]
        async with asyncio.timeout(5):
            while True:
                spies = {s["id"]: s for s in stack.service.supervisor_hub.snapshot()["spies"]}
                if spies[failed_id]["state"] == "failed":
                    break
                await asyncio.sleep(0.02)
        assert spies[failed_id]["reason"] == "your phone could not be reached"
    entries = await stack.service.audit.recent(target="agent:1001")
    assert [(e.actor, e.action) for e in reversed(entries)] == [
        ("sam", "whisper"),
        ("sam", "stop_whisper"),
        ("kim", "listen"),
    ]
