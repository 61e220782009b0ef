"""The IVR flow engine hands its call to the live ACD, which routes on what the IVR found."""

from __future__ import annotations

from pathlib import Path

from acd.events import CallQueued
from tests.ivr.flow.support import flow_of, names, played

from .support import Agent, live_acd

FLOW = """
    entry: menu
    nodes:
      menu:
        menu:
          prompt: main-menu
          options: {"1": complaint, "2": billing}
      complaint:
        set:
          values: {queue: support, intent: complaint}
          next: agent
      billing:
        set:
          values: {queue: billing}
          next: agent
      agent:
        queue: {prompt: transfer}
"""


async def test_the_ivrs_queue_and_intent_route_the_call_to_the_right_agent(tmp_path: Path) -> None:
    agents = [Agent("1001", {"internet": 2}), Agent("1002", {"billing": 1})]
    async with live_acd(agents, flow=flow_of(FLOW, tmp_path)) as rig:
        complaint = await rig.call("+441632960300", dtmf="1")
        billing = await rig.call("+441632960301", dtmf="2")

    assert names(played(complaint))[:2] == ["en/main-menu", "en/transfer"]
    assert complaint.dials[0].answered_by == "SIP/agent1001"
    assert billing.dials[0].answered_by == "SIP/agent1002"
    support, _ = rig.events(CallQueued)
    assert (support.queue, support.call_type) == ("support", "complaint")
    assert not complaint.fallback_used
