"""The service on the shipped config/ with an emulated Asterisk, and web users per role."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from hotline.app import Hotline
from hotline.config import Config, load_config
from hotline.web.auth.users import Role, UserStore
from ivr.flow.models import BusinessHours
from telephony.emulator import AgentPhone, AsteriskEmulator
from tests.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.01
SUPERVISOR_PHONE = "PJSIP/sup1"
AMI_SECRET = "web-secret"
PASSWORD = "correct horse battery staple"
#: DTMF that takes an English caller to an agent in the shipped flow.
TO_AN_AGENT = "10"
USERS = {
    "sam": Role.SUPERVISOR,
    "ada": Role.ADMIN,
    "1001": Role.AGENT,
    "1002": Role.AGENT,
    "wall": Role.WALLBOARD,
}


def shipped_config(
    tmp_path: Path,
    *,
    agi_port: int,
    ami_port: int,
    speech: bool = False,
    overrides: Mapping[str, object] | None = None,
) -> Config:
    """The shipped config on loopback ports; ``speech``: Whisper recognises callers;
    ``overrides``: more settings, as ``--set`` gives them."""
    config = load_config(
        ROOT / "config",
        environ={},
        overrides={
            "fastagi.port": agi_port,
            "web.port": 0,
            "ami.port": ami_port,
            "ami.secret": AMI_SECRET,
            "ami.reconnect_min_s": 0.05,
            "ami.reconnect_max_s": 0.2,
            "database.url": f"sqlite+aiosqlite:///{tmp_path}/hotline.db",
            "database.spool": str(tmp_path / "spool.jsonl"),
            "web.sign_in.two_factor.key_file": str(tmp_path / "secret.keys"),
            "speech.enabled": speech,
            **({"speech.timeout_s": 30} if speech else {}),
            "ivr.speech.recordings_dir": str(tmp_path / "recordings"),
            "waiting.login_all_agents_at_start": True,
            **(overrides or {}),
        },
    )
    ivr = config.ivr.model_copy(update={"business_hours": BusinessHours()})
    return config.model_copy(update={"ivr": ivr})


@dataclass
class Stack:
    service: Hotline
    emulator: AsteriskEmulator

    @property
    def url(self) -> str:
        return self.service.web.url


@asynccontextmanager
async def running(
    tmp_path: Path,
    *,
    ring_s: float = 600.0,
    speech: bool = False,
    overrides: Mapping[str, object] | None = None,
) -> AsyncIterator[Stack]:
    """Agents' phones ring ``ring_s`` virtual seconds before answering: calls wait visibly."""
    agi_port, ami_port = unused_port(), unused_port()
    config = shipped_config(
        tmp_path, agi_port=agi_port, ami_port=ami_port, speech=speech, overrides=overrides
    )
    phones = (
        *(
            AgentPhone(a.endpoint, "answer", ring_s=ring_s, talk_s=600.0)
            for a in config.agents.agents
            if a.endpoint
        ),
        AgentPhone(SUPERVISOR_PHONE, "answer", ring_s=0.5, talk_s=600.0),
    )
    service = Hotline(config)
    emulator = AsteriskEmulator(
        agi_port=agi_port,
        ami_port=ami_port,
        ami_users={config.ami.username: AMI_SECRET},
        phones=phones,
        time_scale=TIME_SCALE,
    )
    async with asyncio.timeout(10):
        await service.start()
    try:
        users = UserStore(service.store)
        for name, role in USERS.items():
            phone = SUPERVISOR_PHONE if role is Role.SUPERVISOR else None
            await users.add(name, role, PASSWORD, endpoint=phone)
        async with asyncio.timeout(5):
            await emulator.start()
            await service.ami.wait_connected()
        try:
            yield Stack(service, emulator)
        finally:
            async with asyncio.timeout(10):
                await emulator.stop()
    finally:
        async with asyncio.timeout(10):
            await service.close()


async def signed_in(http: aiohttp.ClientSession, base: str, name: str) -> str:
    """Sign ``name`` in on ``http`` (its cookie jar keeps the session); the page's CSRF token."""
    async with http.get(base + "login") as response:
        page = await response.text()
        token = _csrf(page[page.index('id="login"') :])
    form = {"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    async with http.post(base + "login", data=form) as response:
        assert response.status == 200, await response.text()
        return _csrf(await response.text())


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf(?:-token)?" (?:content|value)="([^"]+)"', page)
    assert match, page
    return match.group(1)
