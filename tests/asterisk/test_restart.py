"""Asterisk restarted under hotline with calls up (``core restart now``): the callers are
cut, hotline's AMI comes back on its own, every interaction is closed with one outcome and
no AGI session is left; the next call is served end to end."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from acd.contacts import CUT_BY_ASTERISK
from acd.events import CallAbandoned, CallAnswered, CallQueued
from history.outcomes import Outcome

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled
from .test_faults import callers_on_hold

pytestmark = pytest.mark.asterisk


async def restart(pbx: Asterisk, timeout_s: float = 30.0) -> None:
    """``core restart now`` (Asterisk re-executes itself in the same process), then wait
    until it is fully booted again."""
    with contextlib.suppress(RuntimeError):  # the console may go before it answers
        await pbx.acli("core restart now")
    process = pbx.process
    assert process is not None
    async with asyncio.timeout(timeout_s):
        while True:
            await asyncio.sleep(0.3)
            assert process.poll() is None, "Asterisk exited instead of restarting"
            try:
                await pbx.acli("core waitfullybooted")
            except RuntimeError:
                continue
            break
    await pbx.acli("agi set debug on")


async def test_calls_up_when_asterisk_restarts_are_closed_and_the_next_call_is_served(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    talking, waiting, after = "+971501110041", "+971501110042", "+971501110043"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0)  # still talking at restart
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            acd, ami = service.hotline.acd, service.hotline.ami
            first = SippCaller(talking, sip_dir, TO_AN_AGENT, hold_s=40)
            await first.start(pbx)
            await pbx.until(lambda: bool(service.events(CallAnswered)), timeout_s=30)
            (on_hold,) = await callers_on_hold(pbx, sip_dir, [waiting], hold_s=40)
            resyncs = service.hotline.channels.resyncs
            await restart(pbx)
            codes = await asyncio.gather(first.wait(30), on_hold.wait(30))
            # the AMI session comes back by itself and hotline resynchronises its channels
            await ami.wait_connected(timeout_s=15)
            await pbx.until(lambda: service.hotline.channels.resyncs > resyncs, timeout_s=15)
            before_restart = await settled(pbx, service)
            # the agent's contact survives in astdb; Asterisk would qualify it within its
            # qualify_frequency (30 s), asked now
            await pbx.acli("pjsip qualify agent1001")
            await pbx.until(lambda: "Avail" in pbx.cli("pjsip show aor agent1001"), 10)
            await pbx.until(
                lambda: acd.distributor.book.view("1001").state.value == "available", 15
            )
            answered_before = len(service.events(CallAnswered))
            last = SippCaller(after, sip_dir, TO_AN_AGENT, hold_s=4)
            last_code = await last.run(pbx, timeout_s=60)
            interactions = await settled(pbx, service)
            answered = service.events(CallAnswered)[answered_before:]
    finally:
        await agent.stop()
    assert list(codes) == [0, 0]
    assert first.events() == ["answered", "ended-by-asterisk"]  # cut by the restart
    assert on_hold.events() == ["answered", "ended-by-asterisk"]
    assert len(service.events(CallQueued)) == 3
    assert service.hotline.agi.active_sessions == 0
    assert len(before_restart) == 2
    for interaction in before_restart:
        assert interaction["ended_at"] is not None
    # the one on hold did not abandon: Asterisk cut it (CHANNEL(hangupsource) empty), so it
    # is no abandon in the KPIs and not against the service level
    outcomes = [i["outcome"] for i in before_restart]
    assert outcomes == [Outcome.ANSWERED, Outcome.FAILED]
    (left,) = service.events(CallAbandoned)
    assert (left.reason, left.by_caller) == (CUT_BY_ASTERISK, False)
    # after the restart: served end to end, one more record
    assert last_code == 0
    assert last.events() == ["answered", "hung-up"]  # the caller ended the talk
    (new,) = answered
    assert new.agent_id == "1001"
    assert len(interactions) == 3
    assert interactions[:2] == before_restart  # nothing rewritten by the restart
    assert (interactions[2]["outcome"], interactions[2]["agent"]) == (Outcome.ANSWERED, "1001")
    assert kinds(agent.events()).count("answered") == 2
    (cdr,) = [c for c in pbx.cdrs() if c.src == after]
    assert (cdr.lastapp, cdr.disposition) == ("Dial", "ANSWERED")
