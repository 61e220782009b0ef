"""A callback through the real Asterisk: a caller on hold presses the callback key and
hangs up; when an agent is free hotline rings the agent first (AMI Originate into
[hotline-callback]), then Asterisk dials the customer over the trunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.agent_events import Ready
from acd.events import CallAnswered

from .rig import Asterisk
from .service import running_service
from .sipp import Dtmf, Pause, SippAgent, SippCaller, SippCustomer
from .test_calls import TO_AN_AGENT, settled

pytestmark = pytest.mark.asterisk


async def test_a_caller_who_books_a_callback_is_called_back_agent_first(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110031"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.5)
    customer = SippCustomer(sip_dir, ring_s=0.3, talk_s=5.0)
    await agent.start(pbx)
    await customer.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents()  # nobody free: the caller waits, then books
            key = service.config.waiting.defaults.callback_digit
            assert key is not None
            caller = SippCaller(number, sip_dir, (*TO_AN_AGENT, Pause(2.5), Dtmf(key)))
            assert await caller.run(pbx, timeout_s=60) == 0
            service.hotline.acd.agent_event(Ready("1001"))
            await pbx.until(lambda: bool(agent.outcomes("hung-up")), timeout_s=30)
            interactions = await settled(pbx, service)
            answered = service.events(CallAnswered)
    finally:
        await customer.stop()
        await agent.stop()
    assert caller.events() == ["answered", "ended-by-asterisk"]  # hotline said goodbye
    assert len(agent.outcomes("answered")) == 1  # the agent's leg, rung first
    assert len(customer.outcomes("answered")) == 1  # then the customer, over the trunk
    assert "ended-by-asterisk" in [e.split(" ", 1)[0] for e in customer.events()]
    (callback,) = answered
    assert callback.agent_id == "1001"
    booked, called_back = interactions
    assert booked["ended_at"] is not None
    assert called_back["agent"] == "1001"
    assert called_back["ended_at"] is not None
    (customer_cdr,) = [c for c in pbx.cdrs() if c.dstchannel.startswith("PJSIP/trunk-")]
    assert customer_cdr.lastapp == "Dial"
    assert customer_cdr.lastdata.startswith(f"PJSIP/{number}@trunk")
    assert customer_cdr.disposition == "ANSWERED"
