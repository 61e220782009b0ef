"""A new config applied to the running service without dropping calls: what changes live,
and the sections that need a restart (``RESTART_SECTIONS``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from acd.build import build_acd
from center.callbacks import CallbackDialler
from center.conversations import ConversationDesk
from center.gateway import LiveAcd
from center.recording import CallRecorder
from center.service import AcdService
from center.transcription import PostCallTranscriber
from hotline.config import Config, ConfigError, load_config
from hotline.config_edit import ReloadOutcome
from hotline.logs import set_level
from hotline.service_settings import conversation_routing
from hotline.web.chat.hub import ChatHub
from hotline.workers import PoolBusy, WorkPool
from ivr.flow.engine import FlowEngine
from ivr.flow.flow import build_flow
from ivr.intent import build_classifier

log = logging.getLogger(__name__)


#: Sections that only take effect when the service is restarted: its sockets and clients,
#: the loaded speech models. (The IVR flow and the intents, retrained, apply to new calls;
#: queues, skills, priority weights and the waiting callers' rules apply live, and so do
#: agents unless one left the roster or the agents' policy changed: ``_apply_acd``.)
RESTART_SECTIONS = (
    "fastagi",
    "ami",
    "web",
    "database",
    "messages",
    "email",
    "speech",
    "agents",
)


class LiveConfig:
    """The reloads of ``hotline.app.Hotline`` (a mixin over the parts it built)."""

    _config: Config
    _built_from: Config
    _config_dir: Path | None
    _environ: Mapping[str, str] | None
    _overrides: dict[str, object]
    config_pool: WorkPool
    restart_needed: tuple[str, ...]
    acd: AcdService
    acd_gateway: LiveAcd
    callbacks: CallbackDialler
    chat: ChatHub
    desk: ConversationDesk
    ivr: FlowEngine
    recorder: CallRecorder
    transcriber: PostCallTranscriber | None

    async def admin_reload(self) -> ReloadOutcome:
        """The admin pages' reload: the SIGHUP path, and what still needs a restart."""
        applied = await self.reload()
        return ReloadOutcome(applied, self.restart_needed)

    async def reload(self) -> bool:
        """Re-read the config directory; keep the running config if the new one is bad."""
        if self._config_dir is None:
            log.warning("reload requested but the service runs without a config directory")
            return False
        pool = self.config_pool
        try:
            new = await pool.run(
                load_config, self._config_dir, environ=self._environ, overrides=self._overrides
            )
            flow = await pool.run(build_flow, new.ivr)
            classifier = None
            if new.intents != self._config.intents:  # retrained off the loop (about a second)
                classifier = await pool.run(build_classifier, new.intents)
        except PoolBusy:
            log.error("config reload refused: too many reloads waiting; try again")
            return False
        except ConfigError as exc:  # the catalog's CatalogError included
            for issue in exc.issues:
                log.error("config reload refused: %s", issue)
            log.error("config reload refused; still running the previous config")
            return False
        self.apply(new)
        # calls in progress finish on the flow and classifier they started with
        self.ivr.swap(flow, classifier=classifier)
        return True

    def apply(self, new: Config) -> None:
        """Apply what can change live; name what needs a restart."""
        set_level(new.logging.level)
        old = self._built_from
        live = self._apply_acd(new)
        # waiting.yaml: swapped in one go (no await) with the queues it names; callers
        # waiting now take their queue's new rules at their next hold slice.
        self.acd_gateway.settings = new.waiting
        self.callbacks.settings = new.waiting
        self.chat.settings = new.chat  # origins, caps and grace: for the next frame
        self.recorder.settings = new.recording  # new calls (a new directory: at restart)
        needs_restart = [
            name
            for name in RESTART_SECTIONS
            if getattr(new, name) != getattr(old, name) and name not in live
        ]
        if new.logging.mask_phone_numbers != old.logging.mask_phone_numbers:
            needs_restart.append("logging.mask_phone_numbers")
        if new.fallback != old.fallback:
            needs_restart.append("fallback")
        # The phrases to spot apply to the next call transcribed; the rest at a restart.
        if self.transcriber is not None:
            spot = {"spot": new.transcription.spot}
            self.transcriber.settings = self.transcriber.settings.model_copy(update=spot)
        unspotted: dict[str, object] = {"spot": {}}
        if new.transcription.model_copy(update=unspotted) != old.transcription.model_copy(
            update=unspotted
        ):
            needs_restart.append("transcription")
        if needs_restart:
            log.warning("config changes that need a restart: %s", ", ".join(needs_restart))
        self.restart_needed = tuple(needs_restart)
        self._config = new
        log.info("config reloaded")

    def _apply_acd(self, new: Config) -> set[str]:
        """The ACD's config, live, without dropping calls: agents join and change (a new
        agent can log in at once); then queues, their skills and the priority weights apply
        at once (``AcdService.reconfigure``: waiting calls follow their queue's new rules,
        a removed queue drains). Returns the restart sections applied live: ``agents``,
        unless an agent left the roster or the agents' policy changed."""
        live: set[str] = set()
        setup = build_acd(new.priority, new.queues, new.agents, new.skills)
        gone = self.acd.reconfigure(setup)
        self.desk.routing = conversation_routing(new)
        if gone:
            log.warning("agents removed from agents.yaml stay until a restart: %s", gone)
        elif new.agents.policy == self._built_from.agents.policy:
            live.add("agents")
        return live
