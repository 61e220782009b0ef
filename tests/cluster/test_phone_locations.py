"""Where agents' phones are registered, learnt by each node from its own (emulated) Asterisk's
AMI and shared through Redis (``center.phone_registry``): a phone on the peer is dialled
through the trunk to it; one gone, or whose node died, is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from center.phone_registry import PhoneRegistry
from hotline.ami_events import EVENT_FILTERS
from telephony.ami_client import AmiClient
from telephony.emulator import AgentPhone, AsteriskEmulator
from tests.e2e.stack import wait_until

from .rig import RedisServer

ENDPOINTS = ("PJSIP/agent1001", "PJSIP/agent1002")
TTL_S = 1.0


@dataclass
class Node:
    pbx: AsteriskEmulator
    ami: AmiClient
    phones: PhoneRegistry


@asynccontextmanager
async def node(
    redis: RedisServer, name: str, system: str, peer: str, phones: list[AgentPhone]
) -> AsyncIterator[Node]:
    """A node's view of its Asterisk: the emulator with manager.conf's event filters, the
    AMI client, and the registry as hotline/app.py wires it."""
    pbx = AsteriskEmulator(
        phones=phones,
        system_name=system,
        ami_event_filters={"hotline": EVENT_FILTERS},
        time_scale=0.01,
    )
    await pbx.start()
    ami = AmiClient(host="127.0.0.1", port=pbx.ami_port, username="hotline", secret="secret")
    registry = PhoneRegistry(
        redis.url, name, {peer: f"peer-{peer}"}, endpoints=lambda: ENDPOINTS, ttl_s=TTL_S
    )
    registry.attach(ami)
    registry.start()
    await ami.start()
    try:
        yield Node(pbx, ami, registry)
    finally:
        await registry.close()
        await ami.close()
        await pbx.stop()


async def test_phones_are_rung_where_they_are_registered_and_not_where_they_were(
    redis_server: RedisServer,
) -> None:
    async with AsyncExitStack() as nodes:
        a = await nodes.enter_async_context(
            node(
                redis_server,
                "a",
                "asterisk-a",
                "asterisk-b",
                [AgentPhone("PJSIP/agent1001")],
            )
        )
        b = await nodes.enter_async_context(node(redis_server, "b", "asterisk-b", "asterisk-a", []))
        # registered on a before anyone asked: read at login (PJSIP_DIAL_CONTACTS)
        await wait_until(lambda: b.phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
        assert b.phones.route("PJSIP/agent1001") == "PJSIP/agent1001@peer-asterisk-a"
        assert a.phones.route("PJSIP/agent1001") == "PJSIP/agent1001"
        assert a.phones.system == "asterisk-a"
        # b serving a call of asterisk-a (a standby given its FastAGI): rung there directly
        assert b.phones.route("PJSIP/agent1001", "asterisk-a") == "PJSIP/agent1001"
        assert b.phones.registered_elsewhere("PJSIP/agent1001")
        assert not a.phones.registered_elsewhere("PJSIP/agent1001")

        # a phone registers on b (ContactStatus): a rings it through the trunk
        b.pbx.set_phone(AgentPhone("PJSIP/agent1002"))
        await wait_until(lambda: a.phones.route("PJSIP/agent1002") != "PJSIP/agent1002")
        assert a.phones.route("PJSIP/agent1002") == "PJSIP/agent1002@peer-asterisk-b"

        # its qualify fails: no longer rung there
        b.pbx.set_phone(AgentPhone("PJSIP/agent1002", behaviour="unavailable"))
        await wait_until(lambda: a.phones.route("PJSIP/agent1002") == "PJSIP/agent1002")
        b.pbx.set_phone(AgentPhone("PJSIP/agent1002"))
        await wait_until(lambda: a.phones.route("PJSIP/agent1002") != "PJSIP/agent1002")

        # agent1001 unregisters from a
        assert a.pbx.unregister_phone("PJSIP/agent1001")
        await wait_until(lambda: b.phones.route("PJSIP/agent1001") == "PJSIP/agent1001")
        assert not b.phones.registered_elsewhere("PJSIP/agent1001")

        # b's node dies (its key is left to expire): its phones are dropped within its TTL
        await b.phones.close(leave=False)
        assert a.phones.route("PJSIP/agent1002") == "PJSIP/agent1002@peer-asterisk-b"
        await wait_until(
            lambda: a.phones.route("PJSIP/agent1002") == "PJSIP/agent1002",
            timeout_s=TTL_S + 2.0,
        )


async def test_a_node_whose_asterisk_is_unreachable_claims_no_phones(
    redis_server: RedisServer,
) -> None:
    async with AsyncExitStack() as nodes:
        a = await nodes.enter_async_context(
            node(redis_server, "a", "asterisk-a", "asterisk-b", [AgentPhone("PJSIP/agent1001")])
        )
        b = await nodes.enter_async_context(node(redis_server, "b", "asterisk-b", "asterisk-a", []))
        await wait_until(lambda: b.phones.route("PJSIP/agent1001") != "PJSIP/agent1001")
        await a.pbx.stop()  # AMI lost: what a no longer knows, it no longer says
        await wait_until(
            lambda: b.phones.route("PJSIP/agent1001") == "PJSIP/agent1001",
            timeout_s=TTL_S + 2.0,
        )


async def test_an_asterisk_without_a_systemname_shares_nothing(
    redis_server: RedisServer,
) -> None:
    async with AsyncExitStack() as nodes:
        a = await nodes.enter_async_context(
            node(redis_server, "a", "", "asterisk-b", [AgentPhone("PJSIP/agent1001")])
        )
        b = await nodes.enter_async_context(node(redis_server, "b", "asterisk-b", "asterisk-a", []))
        await a.ami.wait_connected(5)
        await wait_until(lambda: b.phones.system == "asterisk-b")
        await asyncio.sleep(TTL_S)  # both have published and read a few times
        await wait_until(lambda: a.phones.route("PJSIP/agent1001") == "PJSIP/agent1001")
        assert a.phones.system is None
        assert not b.phones.registered_elsewhere("PJSIP/agent1001")
        assert b.phones.route("PJSIP/agent1001") == "PJSIP/agent1001"
