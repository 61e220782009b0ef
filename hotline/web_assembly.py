"""The web pages' application, assembled from the running service's parts (``Hotline``):
the history API, the desk, the supervisor's hub and its live KPIs, sign-in, reports, the
access trail, the audit log and the admins' config editor.

A part of the composition root (``hotline.app``): it wires, it decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from acd.capacity import VOICE_ONLY, Capacity
from center.service import AcdService
from history.access_log import AccessLog
from history.audit import AuditLog
from hotline.ami_events import CONSUMED_EVENTS
from hotline.config_edit import ConfigEditor
from hotline.reports.figures import ReportFigures
from hotline.web.access import AccessTrail
from hotline.web.app import create_web_app
from hotline.web.auth.build import build_web_auth
from hotline.web.auth.guard import WebAuth
from hotline.web.health import ReadinessCheck
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.kpi_log import EventLogKpis
from hotline.web.supervisor.quality import ContactQuality
from hotline.web.supervisor.telephony_link import TelephonyLink
from hotline.web_config import api_settings, login_throttle, two_factor_policy

if TYPE_CHECKING:
    from hotline.app import Hotline

__all__ = ["WebParts", "assemble_web"]


@dataclass(frozen=True, slots=True)
class WebParts:
    """The application and the parts of it the service keeps: sign-in (its hashing pool
    closes with the service), the supervisor's hub (started and closed with it), the
    reports (the daily e-mail reads them) and the audit log."""

    app: web.Application
    auth: WebAuth
    hub: SupervisorHub
    reports: ReportFigures
    audit: AuditLog


def assemble_web(
    service: Hotline,
    *,
    readiness: Mapping[str, ReadinessCheck],
    config_dir: Path | None,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, object],
) -> WebParts:
    """``config_dir``: where the config files are (None: no config editing pages);
    ``overrides``: the settings given on the command line, kept over the files'."""
    config = service.config
    acd = service.acd
    reports = ReportFigures(
        service.store,
        service.history,
        policy=lambda: acd.setup.sl_policy,
        capacity=lambda agent_id: _agent_capacity(acd, agent_id),
    )
    auth = build_web_auth(
        service.store,
        environ,
        throttle=login_throttle(config),
        two_factor=two_factor_policy(config),
        https=config.web.tls.enabled,
        key_file=config.web.sign_in.two_factor.key_file,
    )
    hub = SupervisorHub(
        acd,
        service.acd_events.subscribe,
        quality=ContactQuality(service.history),
        queues_config=lambda: service.config.queues,  # thresholds, live on reload
        link=TelephonyLink(
            service.ami, events=CONSUMED_EVENTS, agi_listening=lambda: service.agi_listening
        ),
        # today's KPIs rebuilt from the event log; this run's come live
        kpi_log=EventLogKpis(
            service.store,
            service.acd_log.run,
            spooling=lambda: service.history_writer.spooling,
        ),
    )
    audit = AuditLog(service.store)
    app = create_web_app(
        readiness=readiness,
        repository=service.history,
        writer=service.history_writer,
        api_settings=api_settings(config),
        conversations=service.conversations,
        conversation_intake=service.desk,
        chat=service.chat,
        desk=service.desk,
        desk_panel=service.desk_panel,
        task_callbacks=service.task_callbacks,
        call_control=service.call_control,
        recorder=service.recorder,
        reports=reports,
        access=AccessTrail(
            AccessLog(service.store),
            service.history_writer,
            retention_days=config.privacy.access_log_retention_days,
        ),
        auth=auth,
        acd=acd,
        cluster_figures=None if service.node is None else service.node.figures,
        hub=hub,
        ami=service.ami,
        audit=audit,
        config_editor=None
        if config_dir is None
        else ConfigEditor(
            config_dir,
            current=lambda: service.config,
            reload=service.admin_reload,
            audit=audit,
            environ=environ,
            overrides=overrides,
            pool=service.config_pool,
        ),
    )
    return WebParts(app, auth, hub, reports, audit)


def _agent_capacity(acd: AcdService, agent_id: str) -> Capacity:
    """An agent's capacity as agents.yaml says now (the phone only if no longer listed), as
    the live page counts it."""
    profile = acd.distributor.agents.get(agent_id)
    return VOICE_ONLY if profile is None else profile.capacity
