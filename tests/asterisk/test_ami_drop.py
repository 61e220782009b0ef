"""hotline's AMI connection to the real Asterisk dropped while a caller waits on hold
(Asterisk 20 has no ``manager kick session``, so the TCP connection is aborted from
hotline's side): the AMI client reconnects and resynchronises, the caller is still waiting
and is served once an agent comes free, and nothing is counted twice."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from acd.agent_events import Ready
from acd.events import CallAbandoned, CallAnswered, CallOffered, CallQueued
from history.outcomes import Outcome
from tests.ports import unused_port

from .rig import Asterisk
from .service import Service, running_service
from .sipp import SippAgent
from .test_calls import kinds, settled
from .test_faults import callers_on_hold

pytestmark = pytest.mark.asterisk


def drop_ami(service: Service) -> None:
    """Abort hotline's AMI TCP connection, as a network fault or an Asterisk-side close
    would end it (no Logoff)."""
    link = service.hotline.ami._link
    assert link is not None, "AMI is not connected"
    assert link.transport is not None
    link.transport.abort()


@contextlib.contextmanager
def ami_held_down(service: Service) -> Iterator[None]:
    """AMI dropped and kept down: hotline's reconnects go to a port nobody listens on
    until the block ends (then it reconnects within ``ami.reconnect_max_s``)."""
    ami = service.hotline.ami
    port = ami._port
    ami._port = unused_port()
    drop_ami(service)
    try:
        yield
    finally:
        ami._port = port


async def test_a_caller_waiting_while_ami_drops_is_served_once_it_is_back(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    number = "+971501110051"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.0)
    await agent.start(pbx)
    caplog.set_level(logging.INFO, logger="telephony.ami_client")
    try:
        async with running_service(pbx, tmp_path) as service:
            acd, ami = service.hotline.acd, service.hotline.ami
            service.only_agents()  # nobody free: the caller waits
            (caller,) = await callers_on_hold(pbx, sip_dir, [number], hold_s=20)
            (queued,) = service.events(CallQueued)
            resyncs = service.hotline.channels.resyncs
            drop_ami(service)
            await ami.wait_connected(timeout_s=10)
            await pbx.until(lambda: service.hotline.channels.resyncs > resyncs, timeout_s=10)
            assert acd.call(queued.call_id) is not None  # still waiting in hotline's queue
            assert len(pbx.channels()) == 1  # and on the line in Asterisk
            acd.agent_event(Ready("1001"))
            exit_code = await caller.wait(30)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert "AMI connection to" in caplog.text  # "... lost (...)", then:
    assert "AMI reconnected" in caplog.text
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # the agent hung up
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert number in agent.events()[1]
    # counted once: one entry, one offer, one answer, no abandon, one record, one CDR
    assert len(service.events(CallQueued)) == 1
    (offered,) = service.events(CallOffered)
    (answered,) = service.events(CallAnswered)
    assert offered.call_id == answered.call_id == queued.call_id
    assert service.events(CallAbandoned) == []
    (interaction,) = interactions
    assert interaction["idempotency_key"] == queued.call_id
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["talk_s"] is not None
    (cdr,) = [c for c in pbx.cdrs() if c.src == number]
    assert cdr.dstchannel.startswith("PJSIP/agent1001-")
    assert (cdr.lastapp, cdr.disposition) == ("Dial", "ANSWERED")


async def test_a_call_offered_while_ami_is_down_is_answered_and_its_talk_time_measured(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """The offer is made and the agent's phone starts ringing while hotline has no AMI
    (Dial goes over the call's AGI session); AMI is back before the agent answers."""
    number = "+971501110052"
    agent = SippAgent("1001", sip_dir, ring_s=2.0, talk_s=1.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            acd, ami = service.hotline.acd, service.hotline.ami
            service.only_agents()
            (caller,) = await callers_on_hold(pbx, sip_dir, [number], hold_s=20)
            with ami_held_down(service):
                acd.agent_event(Ready("1001"))
                await pbx.until(lambda: any("agent1001" in c for c in pbx.channels()), 10)
                assert not ami.connected  # the phone rings, hotline has no AMI
            await ami.wait_connected(timeout_s=10)
            assert any("agent1001" in c for c in pbx.channels())  # still ringing
            exit_code = await caller.wait(30)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert len(service.events(CallQueued)) == len(service.events(CallAnswered)) == 1
    assert service.events(CallAbandoned) == []
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["talk_s"] is not None  # 1 s of talk, all of it seen by AMI
