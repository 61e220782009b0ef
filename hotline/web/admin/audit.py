"""``/admin/audit``: the newest audit entries, each change's diff one click away."""

from __future__ import annotations

from aiohttp import web

from hotline.web.admin.context import AUDIT
from hotline.web.auth.guard import page, requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape, render

SHOWN = 200


@requires(Role.ADMIN)
async def audit_page(request: web.Request) -> web.StreamResponse:
    entries = await request.app[AUDIT].recent(SHOWN)
    rows = "".join(
        f'<tr data-target="{escape(e.target)}"><td>{escape(e.at.strftime("%Y-%m-%d %H:%M:%S"))}'
        f"</td><td>{escape(e.actor)}</td><td>{escape(e.target)}</td><td>{escape(e.action)}</td>"
        f'<td><span class="summary">{escape(e.summary)}</span>'
        + (
            f'<details><summary>[[diff]]</summary><pre class="diff">{escape(e.diff)}</pre>'
            "</details>"
            if e.diff
            else ""
        )
        + "</td></tr>"
        for e in entries
    )
    return page(request, "Audit log", render("admin_audit.html", rows=Safe(rows)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/audit", audit_page)
