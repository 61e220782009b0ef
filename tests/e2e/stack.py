"""The whole stack for end-to-end tests: the real ``Hotline`` on the shipped ``config/``
directory, an emulated Asterisk over real sockets ringing a softphone for every agent of
``config/agents.yaml``, and helpers to read what the service recorded.

Only what a laptop test cannot have is changed: ports, the SQLite file, the speech
recordings directory, fast wrap-ups, agents logged in at start and the hotline always open.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from acd.events import EventRecord
from acd.kpi import KpiReport
from acd.kpi_recount import compute_kpis
from history.identities import IdentityKind
from history.inputs import Channel as InteractionChannel
from history.inputs import (
    IdentityIn,
    InteractionRef,
    NewCustomer,
    NewInteraction,
    Status,
)
from history.records import Interaction
from hotline.ami_events import EVENT_FILTERS
from hotline.app import Hotline
from hotline.config import Config, load_config
from hotline.web.tokens import TokenStore
from ivr.flow.models import BusinessHours
from telephony.emulator import AgentPhone, AsteriskEmulator, Caller, CallResult
from telephony.emulator.calls import Call
from tests.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
#: One virtual second of the emulator (prompts, rings, talk) lasts 10 ms.
TIME_SCALE = 0.01
AMI_SECRET = "e2e-secret"


def shipped_config(
    tmp_path: Path, *, agi_port: int, ami_port: int, speech: bool = False, **extra: object
) -> Config:
    """config/ as shipped, pointed at this test's sockets and files."""
    overrides: dict[str, object] = {
        "fastagi.port": agi_port,
        "web.port": 0,
        "ami.port": ami_port,
        "ami.secret": AMI_SECRET,
        "ami.reconnect_min_s": 0.05,
        "ami.reconnect_max_s": 0.2,
        "database.url": f"sqlite+aiosqlite:///{tmp_path}/hotline.db",
        "database.spool": str(tmp_path / "spool.jsonl"),
        "speech.enabled": speech,
        "ivr.speech.recordings_dir": str(tmp_path / "recordings"),
        "agents.policy.wrap_up_s": 0.3,
        "waiting.login_all_agents_at_start": True,
        "waiting.retry_s": 0.05,
        "waiting.failed_offer_rest_s": 0.2,
        **extra,
    }
    config = load_config(CONFIG_DIR, environ={}, overrides=overrides)
    # Open around the clock: the shipped hours would send a night-time run to "closed".
    ivr = config.ivr.model_copy(update={"business_hours": BusinessHours()})
    return config.model_copy(update={"ivr": ivr})


def agent_phones(config: Config, *, talk_s: float = 5.0) -> tuple[AgentPhone, ...]:
    """A softphone that answers for every endpoint in agents.yaml."""
    return tuple(
        AgentPhone(agent.endpoint, "answer", ring_s=1.0, talk_s=talk_s)
        for agent in config.agents.agents
        if agent.endpoint
    )


@dataclass
class Stack:
    """The running service and Asterisk, and what the test reads off them."""

    tmp_path: Path
    config: Config
    emulator: AsteriskEmulator
    service: Hotline
    records: list[EventRecord] = field(default_factory=list)
    #: the service's environment (a cluster node's shared secret keys), again at a restart
    environ: Mapping[str, str] | None = None

    async def call(self, caller: Caller, timeout_s: float = 20.0) -> CallResult:
        placed = await self.emulator.place_call(caller)
        return await placed.wait_done(timeout_s=timeout_s)

    async def place(self, caller: Caller) -> Call:
        return await self.emulator.place_call(caller)

    def watch(self, service: Hotline) -> None:
        service.acd_events.subscribe(self.records.append)

    def kpis(self) -> KpiReport:
        return compute_kpis(self.records)

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.records if isinstance(r.event, kind)]

    async def flushed(self) -> None:
        """Every write the service queued has reached the store."""
        await self.service.interactions.flush()
        await self.service.acd_log.flush()
        writer = self.service.history_writer
        if writer.spooling:  # the store was slow to answer (a loaded machine): replayed first
            await writer.drained()

    async def interaction(self, call_id: str) -> Interaction:
        await self.flushed()
        ref = InteractionRef(source="hotline", idempotency_key=call_id)
        return await self.service.history.get_interaction(ref)

    async def stop_service(self) -> None:
        """The hotline service goes away (its process stopped); Asterisk stays up."""
        async with asyncio.timeout(10):
            await self.service.close()

    async def start_service(self) -> Hotline:
        """A new hotline process on the same config and the same history store."""
        self.service = Hotline(self.config, environ=self.environ)
        self.watch(self.service)
        async with asyncio.timeout(10):
            await self.service.start()
            await self.service.ami.wait_connected()
        return self.service

    async def count(self, table: str) -> int:
        async with self.service.store.connect() as connection:
            return int(
                (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            )

    async def token(self, *scopes: str) -> str:
        _, secret = await TokenStore(self.service.store).create(
            f"e2e-{secrets.token_hex(8)}",
            scopes,
            source="e2e",  # two stacks may share a store
        )
        return secret

    async def get_json(self, path: str, token: str, **params: str) -> Any:
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                self.service.web.url + "api/v1" + path,
                headers={"Authorization": f"Bearer {token}"},
                params=params,
            ) as response,
        ):
            assert response.status == 200, await response.text()
            return await response.json()


@asynccontextmanager
async def running_stack(
    tmp_path: Path,
    *,
    speech: bool = False,
    phones: Callable[[Config], tuple[AgentPhone, ...]] = agent_phones,
    overrides: Mapping[str, object] | None = None,
    adjust: Callable[[Config], Config] | None = None,
    system_name: str = "",
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """``adjust``: the config as loaded, changed past its file checks (a test's shortcut);
    ``system_name``: the emulated Asterisk's, prefixing its uniqueids."""
    agi_port = unused_port()
    emulator = AsteriskEmulator(
        agi_port=agi_port,
        ami_users={"hotline": AMI_SECRET},
        ami_event_filters={"hotline": EVENT_FILTERS},
        time_scale=TIME_SCALE,
        restart_refuse_s=0.05,
        system_name=system_name,
    )
    async with asyncio.timeout(10):
        await emulator.start()
    config = shipped_config(
        tmp_path,
        agi_port=agi_port,
        ami_port=emulator.ami_port,
        speech=speech,
        **dict(overrides or {}),
    )
    if adjust is not None:
        config = adjust(config)
    for phone in phones(config):
        emulator.set_phone(phone)
    service = Hotline(config, environ=environ)
    stack = Stack(tmp_path, config, emulator, service, environ=environ)
    stack.watch(service)
    try:
        async with asyncio.timeout(10):
            await service.start()
            await service.ami.wait_connected()
            await wait_until(lambda: service.channels.resyncs > 0)
        yield stack
    finally:
        async with asyncio.timeout(15):
            await emulator.stop()
            await stack.service.close()


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true after {timeout_s} s")


async def seed_customer(
    stack: Stack,
    number: str,
    *,
    tier: str | None = None,
    language: str | None = None,
    recent_contact: bool = False,
) -> int:
    """A customer known by ``number``; ``recent_contact``: a resolved chat yesterday."""
    repository = stack.service.history
    customer = await repository.create_customer(
        NewCustomer(
            name="Seeded customer",
            tier=tier,
            language=language,
            identities=(IdentityIn(kind=IdentityKind.PHONE, value=number),),
        )
    )
    if recent_contact:
        await repository.append_interaction(
            NewInteraction(
                channel=InteractionChannel.CHAT,
                customer_id=customer.id,
                started_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
                intent="technical_fault",
                outcome="advice given",
                status=Status.RESOLVED,
                source="chat",
            )
        )
    return customer.id
