"""``/reports`` (the page), ``/reports/data`` (its table as JSON) and ``/reports/export.csv``
(the same table as CSV), for supervisors and admins.

The query names the range and its shape: ``from`` and ``to`` (local dates, inclusive),
``grain`` (interval, day, week, month) and ``by`` (queue, agent, channel, intent). The page
and the CSV are made by one ``hotline.reports.table``; the page asks for its CSV ``as_of``
the time its figures were taken (today's move with the clock), so the file holds exactly
the cells the page shows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from aiohttp import web

from hotline.reports.figures import GRAINS, Grain, ReportFigures, ReportRequest
from hotline.reports.table import csv_text, payload
from hotline.web.auth.guard import page, requires
from hotline.web.auth.users import Role
from hotline.web.templates import render

__all__ = ["FIGURES", "add_routes"]

FIGURES = web.AppKey("hotline_report_figures", ReportFigures)
REPORTERS = (Role.SUPERVISOR, Role.ADMIN)
GROUPINGS = ("queue", "agent", "channel", "intent")


def add_routes(app: web.Application, figures: ReportFigures) -> None:
    app[FIGURES] = figures
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/data", report_data)
    app.router.add_get("/reports/export.csv", report_csv)


@requires(*REPORTERS)
async def reports_page(request: web.Request) -> web.StreamResponse:
    return page(request, "Reports", render("reports.html"))


def _request(request: web.Request) -> ReportRequest:
    query = request.query
    today = datetime.now().astimezone().date()
    try:
        last = date.fromisoformat(query.get("to") or today.isoformat())
        first = date.fromisoformat(query.get("from") or (last - timedelta(days=6)).isoformat())
    except ValueError as error:
        raise web.HTTPUnprocessableEntity(text=f"dates: {error}") from error
    grain = query.get("grain", "day")
    by = query.get("by", "queue")
    if grain not in GRAINS or by not in GROUPINGS:
        raise web.HTTPUnprocessableEntity(text="grain or by: not one of the known ones")
    try:
        return ReportRequest(first, last, _grain(grain), by)
    except ValueError as error:
        raise web.HTTPUnprocessableEntity(text=str(error)) from error


def _as_of(request: web.Request) -> datetime | None:
    """``as_of``: the time the page's figures were taken (its CSV holds the same)."""
    text = request.query.get("as_of")
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as error:
        raise web.HTTPUnprocessableEntity(text=f"as_of: {error}") from error
    if at.tzinfo is None:
        raise web.HTTPUnprocessableEntity(text="as_of: a time with its UTC offset")
    return at


def _grain(name: str) -> Grain:
    for grain in GRAINS:
        if grain == name:
            return grain
    raise ValueError(name)


@requires(*REPORTERS)
async def report_data(request: web.Request) -> web.StreamResponse:
    report = await request.app[FIGURES].report(_request(request), as_of=_as_of(request))
    return web.json_response(payload(report), headers={"Cache-Control": "no-store"})


@requires(*REPORTERS)
async def report_csv(request: web.Request) -> web.StreamResponse:
    asked = _request(request)
    report = await request.app[FIGURES].report(asked, as_of=_as_of(request))
    name = f"hotline-{asked.by}-{asked.grain}-{asked.first}-{asked.last}.csv"
    return web.Response(
        text=csv_text(report),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
