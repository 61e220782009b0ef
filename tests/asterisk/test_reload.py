"""A config reload (what SIGHUP runs) with calls up on the real Asterisk: the call being
talked and the call on hold both end as they would have, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.events import CallQueued
from history.outcomes import Outcome

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk


async def test_a_reload_with_a_call_talking_and_one_on_hold_keeps_both(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    talking, waiting = "+971501110041", "+971501110042"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=6.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            first = SippCaller(talking, sip_dir, TO_AN_AGENT, hold_s=40)
            await first.start(pbx)
            await pbx.until(lambda: bool(agent.outcomes("answered")), timeout_s=30)
            second = SippCaller(waiting, sip_dir, TO_AN_AGENT, hold_s=40)
            await second.start(pbx)
            await pbx.until(lambda: len(service.events(CallQueued)) == 2, timeout_s=30)
            # An admin edits a live setting (the hold slice) and reloads.
            waiting_yaml = service.config_dir / "waiting.yaml"
            text = waiting_yaml.read_text()
            assert "poll_s: 1.0" in text
            waiting_yaml.write_text(text.replace("poll_s: 1.0", "poll_s: 0.5"))
            assert await service.hotline.reload()
            assert service.hotline.restart_needed == ()
            assert service.hotline.config.waiting.poll_s == 0.5
            assert await first.wait(40) == 0
            assert await second.wait(40) == 0
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert first.events() == second.events() == ["answered", "ended-by-asterisk"]
    assert kinds(agent.events()) == ["registered", "answered", "hung-up", "answered", "hung-up"]
    assert [(i["outcome"], i["agent"]) for i in interactions] == [
        (Outcome.ANSWERED, "1001"),
        (Outcome.ANSWERED, "1001"),
    ]
