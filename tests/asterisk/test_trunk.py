"""An agent's phone registered on another Asterisk of the cluster, for real: two Asterisk 20
instances on loopback, trunked by the project's own configure.sh (``HOTLINE_PEERS``), a
SIPp agent's phone registered on B, a SIPp customer calling A. hotline serves A as a
cluster node; B's node is represented by its phone registry (``center.phone_registry``,
what hotline/app.py runs on every node) sharing B's registrations through Redis. The agent
is rung on B through the trunk, answers, talks, hangs up: one answered record, no channel
left on either Asterisk."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from acd.agent_events import Ready
from acd.events import CallAnswered, CallRequeued
from center.phone_registry import PhoneRegistry
from history.outcomes import Outcome
from hotline.config_models import ClusterConfig
from telephony.ami_client import AmiClient
from tests.cluster.rig import REDIS, RedisServer
from tests.e2e.stack import wait_until

from .rig import AMI_SECRET, Asterisk, BundleMissing, start_asterisk
from .service import Service, running_service
from .sipp import SIPP, Dtmf, Pause, SippAgent, SippCaller, SippCustomer
from .test_calls import TO_AN_AGENT, kinds

pytestmark = pytest.mark.asterisk

PEER_SECRET = "peer-s3cret"
KEYS = base64.urlsafe_b64encode(bytes(range(32))).decode()
A, B = "asterisk-a", "asterisk-b"


def peered(me: str, peer: str) -> dict[str, str]:
    """configure.sh's environment for a trunk from ``me`` to ``peer`` (docker/.env)."""
    return {
        "HOTLINE_SYSTEM_NAME": me,
        "HOTLINE_PEERS": f"{peer}=127.0.0.1",  # the port: set by ``point_trunk`` below
        "HOTLINE_PEER_SECRET": PEER_SECRET,
    }


def point_trunk(etc: Path, system: str, peer_sip_port: int) -> None:
    """The rig's machine settings: the systemname (the rig writes its own asterisk.conf)
    and the peer's loopback port in the trunk's contact (the rig points every contact at
    its carrier's port)."""
    conf = etc / "asterisk.conf"
    text = re.sub(r"(?m)^systemname = .*\n", "", conf.read_text())
    conf.write_text(text + f"systemname = {system}\n")
    pjsip = etc / "pjsip.conf"
    pjsip.write_text(
        re.sub(
            r"(\[peer-[^\]]+\]\ntype=aor\ncontact=)sip:[^\n]*",
            rf"\g<1>sip:127.0.0.1:{peer_sip_port}",
            pjsip.read_text(),
        )
    )


def trunk_up(pbx: Asterisk, trunk: str) -> Callable[[], bool]:
    return lambda: "Avail" in pbx.cli(f"pjsip show aor {trunk}")


@pytest.fixture
def two_asterisks(tmp_path: Path) -> Iterator[tuple[Asterisk, Asterisk]]:
    if SIPP is None:
        pytest.skip("sipp is not installed: run scripts/system-deps.sh (Debian sip-tester)")
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    started: list[Asterisk] = []
    try:
        b = start_asterisk(
            tmp_path / "b",
            customise=lambda etc: point_trunk(etc, B, 9),  # A's port is not known yet
            environment=peered(B, A),
        )
        started.append(b)
        a = start_asterisk(
            tmp_path / "a",
            customise=lambda etc: point_trunk(etc, A, b.ports.sip),
            environment=peered(A, B),
        )
        started.append(a)
    except BundleMissing as missing:
        for pbx in started:
            pbx.stop()
        pytest.skip(str(missing))
    try:
        point_trunk(b.run / "etc", B, a.ports.sip)
        b.cli("module reload res_pjsip.so")
        for pbx, peer in ((a, "peer-asterisk-b"), (b, "peer-asterisk-a")):
            pbx.cli("agi set debug on")
            asyncio.run(pbx.until(trunk_up(pbx, peer), timeout_s=15))
        yield a, b
        for pbx in (a, b):
            assert pbx.errors(log=pbx.log()[len(pbx.boot_log) :]) == [], "Asterisk logged an ERROR"
    finally:
        for pbx in started:
            pbx.stop()


@asynccontextmanager
async def node_a(
    a: Asterisk, redis: RedisServer, tmp_path: Path, *, ring_s: float | None = None
) -> AsyncIterator[Service]:
    """hotline on A, a node of the cluster with a trunk to B (its history on SQLite here: a
    deployment shares PostgreSQL; this test is about the phones)."""
    cluster = ClusterConfig(redis_url=redis.url, node_id="a", peers={B: "peer-asterisk-b"})
    ring = {} if ring_s is None else {"agents.policy.ring_timeout_s": ring_s}
    async with running_service(
        a,
        tmp_path,
        ring,
        adjust=lambda config: config.model_copy(update={"cluster": cluster}),
        environ={"HOTLINE_SECRET_KEYS": KEYS},
    ) as service:
        yield service


@asynccontextmanager
async def node_b_phones(b: Asterisk, redis: RedisServer) -> AsyncIterator[PhoneRegistry]:
    """What node B runs about phones: its registry on B's AMI, sharing through Redis."""
    ami = AmiClient(host="127.0.0.1", port=b.ports.ami, username="hotline", secret=AMI_SECRET)
    registry = PhoneRegistry(
        redis.url,
        "b",
        {A: "peer-asterisk-a"},
        endpoints=lambda: [f"PJSIP/agent100{i}" for i in range(1, 6)],
        ttl_s=3.0,
    )
    registry.attach(ami)
    registry.start()
    await ami.start()
    try:
        yield registry
    finally:
        await registry.close()
        await ami.close()


async def test_an_agent_registered_on_the_peer_asterisk_is_rung_through_the_trunk(
    two_asterisks: tuple[Asterisk, Asterisk], sip_dir: Path, tmp_path: Path
) -> None:
    a, b = two_asterisks
    redis = RedisServer(tmp_path)
    redis.start()
    number = "+971501110077"
    agent = SippAgent("1001", sip_dir, ring_s=0.5, talk_s=2.0)
    try:
        await agent.start(b)  # the agent's phone: on B only
        async with node_b_phones(b, redis) as b_phones, node_a(a, redis, tmp_path) as service:
            node = service.hotline.node
            assert node is not None
            phones = node.phones
            assert phones is not None
            await wait_until(lambda: phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
            assert phones.route("PJSIP/agent1001") == "PJSIP/agent1001@peer-asterisk-b"
            assert b_phones.system == B
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=30)
            exit_code = await caller.run(a, timeout_s=60)
            for pbx in (a, b):  # nothing left behind on either side of the trunk
                await pbx.until(lambda p=pbx: not p.channels(), timeout_s=35)  # type: ignore[misc]
            assert service.hotline.agi.active_sessions == 0
            interactions = await service.interactions()
    finally:
        await agent.stop()
        redis.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # the agent hung up first
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert number in agent.events()[1]  # the customer's number, through the trunk
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    talk_s = interaction["talk_s"]
    assert isinstance(talk_s, float)
    assert 1.5 < talk_s < 3.5  # the answer seen on the trunk's leg, as it happened
    (cdr_a,) = [c for c in a.cdrs() if c.src == number]
    assert cdr_a.dstchannel.startswith("PJSIP/peer-asterisk-b-")
    assert (cdr_a.lastapp, cdr_a.disposition) == ("Dial", "ANSWERED")
    (cdr_b,) = [c for c in b.cdrs() if c.dcontext == "hotline-peers"]
    assert cdr_b.dstchannel.startswith("PJSIP/agent1001-")
    assert cdr_b.disposition == "ANSWERED"


@pytest.mark.parametrize(("behaviour", "reason"), [("busy", "busy"), ("never", "ring no answer")])
async def test_a_phone_on_the_peer_that_cannot_take_the_call_fails_as_it_would_here(
    two_asterisks: tuple[Asterisk, Asterisk],
    sip_dir: Path,
    tmp_path: Path,
    behaviour: str,
    reason: str,
) -> None:
    """Busy (486 from B's [hotline-peers]) or ringing with no answer (A's Dial timeout
    cancels the trunk's leg, and B's): the call goes back in line with the same reason as
    for a phone on A, and the next agent, on A, answers it."""
    a, b = two_asterisks
    redis = RedisServer(tmp_path)
    redis.start()
    number = {"busy": "+971501110078", "never": "+971501110079"}[behaviour]
    failing = SippAgent("1001", sip_dir, behaviour=behaviour)
    answering = SippAgent("1004", sip_dir, ring_s=0.3, talk_s=1.0)
    try:
        await failing.start(b)
        await answering.start(a)
        async with node_b_phones(b, redis), node_a(a, redis, tmp_path, ring_s=2) as service:
            node = service.hotline.node
            assert node is not None
            phones = node.phones
            assert phones is not None
            await wait_until(lambda: phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
            assert phones.route("PJSIP/agent1004") == "PJSIP/agent1004"  # here: no trunk
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=30)
            await caller.start(a)
            await a.until(lambda: bool(service.events(CallRequeued)), timeout_s=40)
            service.hotline.acd.agent_event(Ready("1004"))
            exit_code = await caller.wait(60)
            for pbx in (a, b):
                await pbx.until(lambda p=pbx: not p.channels(), timeout_s=35)  # type: ignore[misc]
            interactions = await service.interactions()
    finally:
        await answering.stop()
        await failing.stop()
        redis.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    (requeued,) = service.events(CallRequeued)
    assert requeued.agent_id == "1001"
    assert requeued.reason.split(";")[0] == reason  # then: the agent's pause, if any
    assert kinds(failing.events())[1:] == [{"busy": "busy", "never": "cancelled"}[behaviour]]
    assert kinds(answering.events()) == ["registered", "answered", "hung-up"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1004")


async def test_a_callback_rings_the_agent_on_the_peer_first_through_the_trunk(
    two_asterisks: tuple[Asterisk, Asterisk], sip_dir: Path, tmp_path: Path
) -> None:
    """The callback's Originate on A names the trunk too: the agent's phone on B rings,
    answers, and A then dials the customer over its carrier trunk."""
    a, b = two_asterisks
    redis = RedisServer(tmp_path)
    redis.start()
    number = "+971501110080"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.5)
    customer = SippCustomer(sip_dir, ring_s=0.3, talk_s=5.0)
    try:
        await agent.start(b)
        await customer.start(a)
        async with node_b_phones(b, redis), node_a(a, redis, tmp_path) as service:
            node = service.hotline.node
            assert node is not None
            phones = node.phones
            assert phones is not None
            await wait_until(lambda: phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
            service.only_agents()  # nobody free: the caller waits, then books
            key = service.config.waiting.defaults.callback_digit
            assert key is not None
            caller = SippCaller(number, sip_dir, (*TO_AN_AGENT, Pause(2.5), Dtmf(key)))
            assert await caller.run(a, timeout_s=60) == 0
            service.hotline.acd.agent_event(Ready("1001"))
            await a.until(lambda: bool(agent.outcomes("hung-up")), timeout_s=30)
            for pbx in (a, b):
                await pbx.until(lambda p=pbx: not p.channels(), timeout_s=35)  # type: ignore[misc]
            interactions = await service.interactions()
            answered = service.events(CallAnswered)
    finally:
        await customer.stop()
        await agent.stop()
        redis.stop()
    assert len(agent.outcomes("answered")) == 1  # the agent's leg on B, rung first
    assert len(customer.outcomes("answered")) == 1  # then the customer, from A
    (callback,) = answered
    assert callback.agent_id == "1001"
    _booked, called_back = interactions
    assert called_back["agent"] == "1001"
    assert called_back["ended_at"] is not None
    (cdr_b,) = [c for c in b.cdrs() if c.dcontext == "hotline-peers"]
    assert cdr_b.dstchannel.startswith("PJSIP/agent1001-")
    assert cdr_b.disposition == "ANSWERED"


async def test_a_consult_rings_the_colleague_on_the_peer_through_the_trunk(
    two_asterisks: tuple[Asterisk, Asterisk], sip_dir: Path, tmp_path: Path
) -> None:
    """Alice (1004) answers on A and consults Bob (1001), whose phone is on B: the consult
    extension on A dials him through the trunk (the ring's choice), he answers, Alice
    completes; the caller stays with Bob until he hangs up."""
    a, b = two_asterisks
    redis = RedisServer(tmp_path)
    redis.start()
    number = "+971501110082"
    alice = SippAgent("1004", sip_dir, ring_s=0.3, talk_s=60.0)
    bob = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=3.0)
    try:
        await alice.start(a)
        await bob.start(b)
        async with node_b_phones(b, redis), node_a(a, redis, tmp_path) as service:
            node = service.hotline.node
            assert node is not None
            phones = node.phones
            assert phones is not None
            await wait_until(lambda: phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
            service.only_agents("1004")  # Bob is paused: Alice takes the call
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(a)
            await a.until(lambda: bool(service.events(CallAnswered)), timeout_s=40)
            service.hotline.acd.agent_event(Ready("1001"))
            control = service.hotline.call_control
            await control.consult("1004", "1001")
            await a.until(lambda: len(bob.outcomes("answered")) == 1, timeout_s=20)
            done = await control.complete_consult("1004")
            exit_code = await caller.wait(60)
            for pbx in (a, b):
                await pbx.until(lambda p=pbx: not p.channels(), timeout_s=35)  # type: ignore[misc]
            interactions = await service.interactions()
    finally:
        await bob.stop()
        await alice.stop()
        redis.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # Bob hung up
    assert kinds(bob.events()) == ["registered", "answered", "hung-up"]
    assert done.segment is not None
    assert [e.agent_id for e in service.events(CallAnswered)] == ["1004", "1001"]
    assert service.events(CallAnswered)[1].call_id == done.segment
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    (cdr_b,) = [c for c in b.cdrs() if c.dcontext == "hotline-peers"]
    assert cdr_b.dstchannel.startswith("PJSIP/agent1001-")
