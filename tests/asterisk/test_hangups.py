"""Callers hanging up at many moments of the journey on the real Asterisk: during the IVR's
prompts and key waits, on hold, during announcements, while the agent's phone rings and
while talking, so the hang-ups fall between all kinds of AGI commands. Each caller leaves
exactly one closed record (its CDR's uniqueid), and no AGI session or channel remains: a
caller gone before the dialplan's ``AGI()`` ran too, recorded by the ``h`` extension's
``ended-before-service`` session as ``abandoned_ivr``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from history.outcomes import Outcome

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, settled

pytestmark = pytest.mark.asterisk

#: Seconds after the answer with no key pressed (the shortest end during Answer(), before
#: the dialplan's AGI() ran; then the IVR), then after the keys that reach the queue (hold,
#: announcements, an agent's phone ringing 2.5 s, a 1.5 s conversation).
IN_THE_IVR = (0.001, 0.05, 0.2, 0.9, 1.7, 2.6, 4.1)
AFTER_THE_KEYS = (0.0, 0.4, 1.1, 1.9, 2.8, 3.6, 4.7, 6.3)


async def test_callers_hanging_up_anywhere_leave_one_closed_record_each(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    agent = SippAgent("1001", sip_dir, ring_s=2.5, talk_s=1.5)
    await agent.start(pbx)
    overrides = {
        "waiting.defaults.announce": {
            "first_after_s": 0.5,
            "every_s": 1.5,
            "position": True,
            "expected_wait": True,
        },
        "agents.policy.wrap_up_s": 0.2,
    }
    callers = [
        SippCaller(f"+9715011200{n:02}", sip_dir, hold_s=s) for n, s in enumerate(IN_THE_IVR)
    ] + [
        SippCaller(f"+9715011201{n:02}", sip_dir, TO_AN_AGENT, hold_s=s)
        for n, s in enumerate(AFTER_THE_KEYS)
    ]
    try:
        async with running_service(pbx, tmp_path, overrides) as service:
            service.only_agents("1001")
            for caller in callers:
                await caller.start(pbx)
                await asyncio.sleep(0.3)  # spread over the journey's commands
            exit_codes = await asyncio.gather(*(c.wait(90) for c in callers))
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert list(exit_codes) == [0] * len(callers)
    by_key = {i["idempotency_key"]: i for i in interactions}
    assert len(by_key) == len(interactions)
    early = 0
    for caller in callers:
        (cdr,) = [c for c in pbx.cdrs() if c.src == caller.number]
        record = by_key[cdr.uniqueid]  # exactly one record per call
        assert record["ended_at"] is not None, record
        assert record["outcome"] in set(Outcome), record
        if cdr.lastapp in ("", "Answer", "Set"):  # gone before the dialplan's AGI() ran
            early += 1
            assert record["outcome"] == Outcome.ABANDONED_IVR, record
    assert len(interactions) == len(callers)
    assert early >= 1  # 0.001 to 0.2 s: all three ended during Answer() in a loaded run
    assert Outcome.ANSWERED in {i["outcome"] for i in interactions}  # some reached the agent
