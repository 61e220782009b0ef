"""A wall screen's own sign-in (``Role.WALLBOARD``) and its small feed, over the real
service and an emulated Asterisk: it lands on the wallboard and can reach nothing else; its
feed carries the room's figures (a caller waiting in support, the staffing of the queue,
the alert) and nobody's name or number, in a fraction of the supervisor's snapshot."""

from __future__ import annotations

import json
from pathlib import Path

from acd.agent_events import Pause
from telephony.emulator import Caller
from tests.web.support import TO_AN_AGENT, running, signed_in
from tests.web.test_supervisor_workspace import LOW_WAITING, jar, next_snapshot

NUMBER = "+971501110099"


def _support_waiting(snapshot: dict[str, object]) -> bool:
    queues = snapshot.get("queues")
    assert isinstance(queues, list)
    support = next(q for q in queues if q["name"] == "support")
    return bool(support["channels"]["voice"]["waiting"]["value"])


async def test_a_wall_screen_sees_the_wallboard_and_its_small_feed_only(tmp_path: Path) -> None:
    async with running(tmp_path, overrides=LOW_WAITING) as stack, jar() as http, jar() as sup:
        acd = stack.service.acd
        for view in acd.distributor.book.views():  # nobody takes the call...
            acd.agent_event(Pause(view.agent_id, "training"))
        csrf = await signed_in(http, stack.url, "wall")
        async with http.get(stack.url) as home:
            assert home.url.path == "/wallboard"
            assert 'id="wallboard"' in await home.text()
        for path in ("supervisor", "agent", "reports", "admin/users", "page-api/agent/options"):
            async with http.get(stack.url + path) as response:
                assert response.status == 403, path
        async with http.post(
            stack.url + "page-api/agents/1001/ready", headers={"X-CSRF-Token": csrf}
        ) as response:
            assert response.status == 403
        async with http.get(stack.url + "ws/supervisor") as response:
            assert response.status == 403
        await signed_in(sup, stack.url, "sam")
        async with (
            http.ws_connect(stack.url + "ws/wallboard") as wall,
            sup.ws_connect(stack.url + "ws/supervisor") as whole,
        ):
            await stack.emulator.place_call(Caller(number=NUMBER, dtmf=TO_AN_AGENT, barge_in=False))
            small = await next_snapshot(wall, _support_waiting)
            big = await next_snapshot(whole, lambda s: s["queues"][0]["calls"])
    assert set(small) == {"server_time", "telephony", "alerts", "queues"}
    support = next(q for q in small["queues"] if q["name"] == "support")
    assert support["level"] == "warn"
    assert support["channels"]["voice"]["waiting"] == {"value": 1, "level": "warn"}
    assert support["agents"]["free"] == 0
    assert support["agents"]["paused"] > 0
    assert [(a["queue"], a["metric"], a["level"]) for a in small["alerts"]] == [
        ("support", "waiting", "warn")
    ]
    text = json.dumps(small)
    assert NUMBER not in text
    assert "Alice" not in text
    assert NUMBER in json.dumps(big)
    assert len(text) * 4 < len(json.dumps(big))
