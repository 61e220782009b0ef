"""What the admin pages find on the application: the config editor and the audit log."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from history.audit import AuditLog
from hotline.config_edit import ConfigEditor

log = logging.getLogger(__name__)

EDITOR = web.AppKey("hotline_config_editor", ConfigEditor)
AUDIT = web.AppKey("hotline_audit_log", AuditLog)


async def audited(
    request: web.Request, *, actor: str, target: str, action: str, summary: str
) -> None:
    """Record an admin's change when the application keeps an audit log. A store that is
    down does not undo the change: the failure is logged with the entry."""
    audit = request.app.get(AUDIT)
    if audit is None:
        return
    try:
        await audit.append(actor=actor, target=target, action=action, summary=summary)
    except (OSError, SQLAlchemyError) as exc:
        log.error("audit log unavailable (%s); not recorded: %s %s %s", exc, actor, action, target)
