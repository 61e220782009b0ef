"""A caller who withholds their number (``From: <sip:anonymous@...>``) on the real Asterisk:
served like anyone, and recorded once, as an anonymous contact (no customer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from history.outcomes import Outcome

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk


async def test_a_withheld_caller_id_is_served_and_leaves_one_record_with_no_customer(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller("anonymous", sip_dir, TO_AN_AGENT, hold_s=30)
            exit_code = await caller.run(pbx, timeout_s=60)
            interactions = await settled(pbx, service)
            async with service.hotline.store.connect() as connection:
                customers = (
                    await connection.execute(
                        text("SELECT customer_id FROM interactions WHERE source = 'hotline'")
                    )
                ).all()
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert "anonymous" in agent.events()[1]  # what the agent's phone showed
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["ended_at"] is not None
    assert [row[0] for row in customers] == [None]  # no identity: an anonymous contact
    (cdr,) = [c for c in pbx.cdrs() if c.uniqueid == interaction["idempotency_key"]]
    assert cdr.src == "anonymous"
    assert (cdr.lastapp, cdr.disposition) == ("Dial", "ANSWERED")
