"""The watchdog over real sockets: after every AMI login the ACD is reconciled with the
channels Asterisk really has, so a state nobody reported the end of repairs itself."""

from __future__ import annotations

from acd.agent_events import Answered, OfferRang
from acd.calls import IncomingCall
from acd.events import AgentStateChanged, CallEnded

from .support import Agent, live_acd, wait_until

INTERNET = {"internet": 2}


async def test_after_an_asterisk_restart_an_agent_whose_call_vanished_is_repaired() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        service = rig.service
        # A call whose session will never report its end (as if its AGI link was lost).
        ticket = service.call_arrived(IncomingCall("ghost", "support", line="SIP/ghost-01"))
        offer = ticket.offers.get_nowait()
        assert service.fact(OfferRang(offer.agent_id, "ghost", "SIP/agent1001-000000ff"))
        assert service.fact(Answered(offer.agent_id, "ghost"))
        assert rig.state("1001") == "on_call"
        resyncs = rig.tracker.resyncs

        await rig.emulator.restart()
        await wait_until(lambda: rig.tracker.resyncs > resyncs)

        assert rig.state("1001") == "wrap_up"
        repairs = [e for e in rig.events(AgentStateChanged) if e.event == "reconcile"]
        assert [(e.agent_id, e.before, e.after) for e in repairs] == [
            ("1001", "on_call", "wrap_up")
        ]
        assert [e.call_id for e in rig.events(CallEnded)] == ["ghost"]
        await wait_until(lambda: rig.state("1001") == "available")


async def test_an_asterisk_restart_mid_call_leaves_no_agent_stuck() -> None:
    async with live_acd([Agent("1001", INTERNET, talk_s=500)]) as rig:
        rig.attributes["+441632960200"] = {"queue": "support"}
        doomed = await rig.place("+441632960200")
        await wait_until(lambda: rig.state("1001") == "on_call")
        resyncs = rig.tracker.resyncs

        await rig.emulator.restart()
        await doomed.wait_done(timeout_s=5)
        await wait_until(lambda: rig.tracker.resyncs > resyncs)
        await wait_until(lambda: rig.state("1001") == "available")
        assert rig.service.distributor.call_state(doomed.uniqueid) is None

        rig.emulator.set_phone(Agent("1001", INTERNET, talk_s=5).phone())
        rig.attributes["+441632960201"] = {"queue": "support"}
        after = await rig.call("+441632960201")
        assert after.dials[-1].answered_by == "SIP/agent1001"
