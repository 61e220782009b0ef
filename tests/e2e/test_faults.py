"""Faults end to end: Asterisk restarting under the service, the service stopping under
Asterisk. Callers are never left in silence and nothing already recorded is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.agent_events import Pause
from acd.contacts import CUT_BY_ASTERISK
from acd.events import CallAbandoned, CallQueued
from hotline.config import Config
from telephony.emulator import AgentPhone, Caller

from .stack import Stack, agent_phones, running_stack, wait_until
from .test_calls import ENGLISH_AGENT, answered_by

AGENT = "1001"


def slow_talkers(config: Config) -> tuple[AgentPhone, ...]:
    """Agents who stay on a call for 10 real seconds (1,000 virtual)."""
    return agent_phones(config, talk_s=1000.0)


async def test_asterisk_restart_mid_call_is_survived_and_agent_states_are_repaired(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, phones=slow_talkers) as stack:
        acd, service = stack.service.acd, stack.service
        for agent in ("1002", "1003", "1004", "1005"):
            acd.agent_event(Pause(agent, "meeting"))
        talking = await stack.place(
            Caller(number="+971501110010", dtmf=ENGLISH_AGENT, barge_in=False)
        )
        await wait_until(lambda: acd.distributor.book.view(AGENT).state.value == "on_call")
        waiting = await stack.place(
            Caller(number="+971501110012", dtmf=ENGLISH_AGENT, barge_in=False)
        )
        await wait_until(lambda: waiting.uniqueid in {q.call_id for q in stack.events(CallQueued)})
        resyncs = service.channels.resyncs

        await stack.emulator.restart()  # every channel is gone, the AMI link drops
        cut = await talking.wait_done(10)
        await waiting.wait_done(10)
        await wait_until(lambda: service.ami.connected and service.channels.resyncs > resyncs)
        assert talking.uniqueid not in service.channels.table  # rebuilt from CoreShowChannels
        await wait_until(lambda: acd.distributor.book.view(AGENT).state.value == "available")

        # The service takes calls again, through the whole path.
        stack.emulator.set_phone(AgentPhone(f"PJSIP/agent{AGENT}", "answer", talk_s=5.0))
        after = await stack.call(Caller(number="+971501110011", dtmf=ENGLISH_AGENT, barge_in=False))
        interaction = await stack.interaction(after.uniqueid)
        on_hold = await stack.interaction(waiting.uniqueid)
        (left,) = stack.events(CallAbandoned)

    assert cut.hung_up_by == "shutdown"
    # the caller on hold did not abandon: Asterisk cut them (kept out of SL and abandons)
    assert (on_hold.outcome, left.call_id) == ("failed", waiting.uniqueid)
    assert (left.reason, left.by_caller) == (CUT_BY_ASTERISK, False)
    assert answered_by(after) == f"PJSIP/agent{AGENT}"
    assert (interaction.agent, interaction.outcome) == (AGENT, "answered")


async def test_stopping_the_service_sends_waiting_callers_to_the_fallback_and_loses_no_interaction(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack:
        served = await stack.call(
            Caller(number="+971501110020", dtmf=ENGLISH_AGENT, barge_in=False)
        )
        await wait_until(lambda: all_available(stack))
        for view in stack.service.acd.distributor.book.views():
            stack.service.acd.agent_event(Pause(view.agent_id, "meeting"))  # the next callers wait
        waiting = [
            await stack.place(Caller(number=f"+97150111002{n}", dtmf=ENGLISH_AGENT, barge_in=False))
            for n in range(1, 4)
        ]
        ids = {call.uniqueid for call in waiting}
        await wait_until(lambda: ids <= {q.call_id for q in stack.events(CallQueued)})
        await stack.flushed()
        recorded = await stack.count("interactions")

        await stack.stop_service()
        results = await asyncio.gather(*(call.wait_done(20) for call in waiting))

        await stack.start_service()
        kept = await stack.count("interactions")
        first = await stack.interaction(served.uniqueid)

    assert recorded == 4  # the served call and the three waiting ones
    for result in results:
        assert result.fallback_used
        assert result.fallback_phone is not None  # Asterisk's own queue answered them
    assert kept >= recorded
    assert first.outcome == "answered"
    assert f"PJSIP/agent{first.agent}" == answered_by(served)


def all_available(stack: Stack) -> bool:
    return all(
        view.state.value == "available" for view in stack.service.acd.distributor.book.views()
    )
