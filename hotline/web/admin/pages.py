"""The admin pages that edit the config (agents, queues, prompts, catalog, the IVR flow,
business hours and holidays) and the audit log.

Every edit goes through ``hotline.config_edit.ConfigEditor`` (checked like check-config,
written atomically, reloaded, audited); without an editor (a service run without a config
directory) only the audit log is served.
"""

from __future__ import annotations

from aiohttp import web

from history.audit import AuditLog
from hotline.config_edit import ConfigEditor
from hotline.web.admin import agents, catalog, flow, hours, prompts, queues
from hotline.web.admin import audit as _audit
from hotline.web.admin.context import AUDIT, EDITOR


def add_routes(
    app: web.Application, *, audit: AuditLog | None, editor: ConfigEditor | None
) -> None:
    if audit is None:
        return
    app[AUDIT] = audit
    _audit.add_routes(app)
    if editor is None:
        return
    app[EDITOR] = editor
    for module in (agents, queues, prompts, catalog, flow, hours):
        module.add_routes(app)
