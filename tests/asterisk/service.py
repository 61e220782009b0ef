"""hotline's real service, built from the shipped ``config/`` like tests/e2e does, pointed at
the rig's Asterisk: FastAGI on the port the dialplan's ``HOTLINE_AGI`` names, AMI to the
rig, history in SQLite under the test's directory, speech off (keys only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from acd.events import EventRecord
from hotline.app import Hotline
from hotline.config import Config
from tests.e2e.stack import shipped_config, wait_until

from .rig import AMI_SECRET, Asterisk


@dataclass
class Service:
    config: Config
    hotline: Hotline
    records: list[EventRecord] = field(default_factory=list)

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.records if isinstance(r.event, kind)]

    async def interactions(self) -> list[dict[str, Any]]:
        """Every voice interaction hotline recorded, oldest first."""
        await self.hotline.interactions.flush()
        await self.hotline.acd_log.flush()
        async with self.hotline.store.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT idempotency_key, external_id, outcome, status, agent, queue, "
                    "started_at, ended_at, wait_s, talk_s FROM interactions "
                    "WHERE source = 'hotline' ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]

    def only_agents(self, *agent_ids: str) -> None:
        """Every other agent of agents.yaml is paused (their phones are not registered)."""
        for view in self.hotline.acd.agents():
            if view.agent_id not in agent_ids:
                self.hotline.acd.pause(view.agent_id, "meeting")


def rig_config(pbx: Asterisk, tmp_path: Path, **extra: object) -> Config:
    voicemail = pbx.run / "spool" / "hotline-voicemail"
    voicemail.mkdir(exist_ok=True)
    overrides: dict[str, object] = {
        "fastagi.host": "127.0.0.1",
        "ami.host": "127.0.0.1",
        "ami.secret": AMI_SECRET,
        "ivr.prompts.asterisk_dir": str(pbx.run / "data" / "sounds" / "hotline"),
        "waiting.voicemail_dir": str(voicemail),
        "waiting.survey.enabled": False,
        **extra,
    }
    return shipped_config(
        tmp_path, agi_port=pbx.ports.agi, ami_port=pbx.ports.ami, speech=False, **overrides
    )


@asynccontextmanager
async def running_service(
    pbx: Asterisk, tmp_path: Path, overrides: Mapping[str, object] | None = None
) -> AsyncIterator[Service]:
    config = rig_config(pbx, tmp_path, **dict(overrides or {}))
    hotline = Hotline(config)
    service = Service(config, hotline)
    hotline.acd_events.subscribe(service.records.append)
    async with asyncio.timeout(15):
        await hotline.start()
        await hotline.ami.wait_connected()
        await wait_until(lambda: hotline.channels.resyncs > 0)
    try:
        yield service
    finally:
        async with asyncio.timeout(15):
            await service.hotline.close()
