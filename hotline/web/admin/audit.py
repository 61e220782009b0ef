"""``/admin/audit``: the newest audit entries, each change's diff one click away; and
``/admin/access.csv``: the access log (who read which customer's data) as CSV, by customer,
reader and dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from history.access_log import MAX_READ, to_csv
from hotline.web.access import ACCESS
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


def _day(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{field}: a date, YYYY-MM-DD") from None


@requires(Role.ADMIN)
async def access_csv(request: web.Request) -> web.StreamResponse:
    trail = request.app.get(ACCESS)
    if trail is None:
        raise web.HTTPNotFound(text="this service keeps no access log")
    query = request.query
    customer = query.get("customer", "").strip()
    if customer and not (customer.isascii() and customer.isdigit() and len(customer) <= 19):
        raise web.HTTPBadRequest(text="customer: a customer id")
    until = _day(query.get("until", ""), "until")
    records = await trail.log.query(
        customer_id=int(customer) if customer else None,
        actor=query.get("actor", "").strip()[:64] or None,
        since=_day(query.get("since", ""), "since"),
        until=until + timedelta(days=1) if until else None,  # the whole day named
        limit=MAX_READ,
    )
    return web.Response(
        text=to_csv(records),
        content_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="access-log.csv"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/audit", audit_page)
    app.router.add_get("/admin/access.csv", access_csv)
