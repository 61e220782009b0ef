"""hotline's real service on a copy of the shipped ``config/`` with only deployment settings
changed (like tests/e2e), pointed at the rig's Asterisk: FastAGI on the port the dialplan's
``HOTLINE_AGI`` names, AMI to the rig, history in SQLite under the test's directory, speech
off (keys only), open around the clock, fast wrap-ups and retries."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from acd.agent_events import Pause
from acd.events import EventRecord
from hotline.app import Hotline
from hotline.config import Config, load_config
from tests.e2e.stack import CONFIG_DIR, wait_until

from .rig import AMI_SECRET, Asterisk


@dataclass
class Service:
    config: Config
    hotline: Hotline
    config_dir: Path
    records: list[EventRecord] = field(default_factory=list)

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.records if isinstance(r.event, kind)]

    async def interactions(self) -> list[dict[str, Any]]:
        """Every voice interaction hotline recorded, oldest first (once the start has closed
        what an earlier run left open: it does so in the background). On a loaded machine
        the store may miss the writer's 0.5 s deadline: the writes are then spooled, and
        read here once they are replayed."""
        if self.hotline.closing_interrupted is not None:
            await self.hotline.closing_interrupted
        await self.hotline.interactions.flush()
        await self.hotline.acd_log.flush()
        async with asyncio.timeout(30):
            await self.hotline.history_writer.drained()
        async with self.hotline.store.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT idempotency_key, external_id, outcome, status, agent, queue, intent, "
                    "started_at, ended_at, wait_s, talk_s, hold_s FROM interactions "
                    "WHERE source = 'hotline' ORDER BY id"
                )
            )
            return [dict(row._mapping) for row in rows]

    def only_agents(self, *agent_ids: str) -> None:
        """Every other agent of agents.yaml is paused (their phones are not registered)."""
        for view in self.hotline.acd.distributor.book.views():
            if view.agent_id not in agent_ids:
                self.hotline.acd.agent_event(Pause(view.agent_id, "meeting"))


def rig_settings(pbx: Asterisk, tmp_path: Path) -> dict[str, object]:
    """The deployment settings of this machine's run (what ``--set`` would give)."""
    voicemail = pbx.run / "spool" / "hotline-voicemail"
    voicemail.mkdir(exist_ok=True)
    return {
        "fastagi.host": "127.0.0.1",
        "fastagi.port": pbx.ports.agi,
        "ami.host": "127.0.0.1",
        "ami.port": pbx.ports.ami,
        "ami.secret": AMI_SECRET,
        "ami.reconnect_min_s": 0.05,
        "ami.reconnect_max_s": 0.2,
        "web.host": "127.0.0.1",
        "web.port": 0,
        "database.url": f"sqlite+aiosqlite:///{tmp_path}/hotline.db",
        "database.spool": str(tmp_path / "spool.jsonl"),
        "speech.enabled": False,  # keys only (speech is tested in tests/ivr/speech)
        "ivr.speech.recordings_dir": str(tmp_path / "recordings"),
        "ivr.prompts.asterisk_dir": str(pbx.run / "data" / "sounds" / "hotline"),
        "ivr.business_hours.hours": {},  # open around the clock
        "waiting.voicemail_dir": str(voicemail),
        "waiting.survey.enabled": False,
        "waiting.login_all_agents_at_start": True,
        "waiting.retry_s": 0.05,
        "waiting.failed_offer_rest_s": 0.2,
        "agents.policy.wrap_up_s": 0.3,
    }


@asynccontextmanager
async def running_service(
    pbx: Asterisk,
    tmp_path: Path,
    overrides: Mapping[str, object] | None = None,
    *,
    adjust: Callable[[Config], Config] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[Service]:
    """hotline on a copy of config/ (``Service.config_dir``: a test may edit it and reload);
    ``adjust`` changes the loaded config (a cluster's), ``environ`` is the service's."""
    config_dir = tmp_path / "config"
    if not config_dir.exists():
        shutil.copytree(CONFIG_DIR, config_dir)
        # ivr.yaml names ../prompts, relative to the config directory
        (tmp_path / "prompts").symlink_to(CONFIG_DIR.parent / "prompts")
    settings = {**rig_settings(pbx, tmp_path), **dict(overrides or {})}
    config = load_config(config_dir, environ={}, overrides=settings)
    if adjust is not None:
        config = adjust(config)
    hotline = Hotline(config, config_dir=config_dir, environ=environ or {}, overrides=settings)
    service = Service(config, hotline, config_dir)
    hotline.acd_events.subscribe(service.records.append)
    async with asyncio.timeout(20):
        await hotline.start()
        await hotline.ami.wait_connected()
        await wait_until(lambda: hotline.channels.resyncs > 0)
    try:
        yield service
    finally:
        async with asyncio.timeout(15):
            await service.hotline.close()
