"""Transcripts of recorded calls on the supervisor's pages (``history.transcripts``), for
**supervisors and admins only**, as recordings are (``hotline.web.recordings``):

* ``GET /page-api/supervisor/transcripts?q=&category=&since=&until=&limit=``: transcripts
  whose text holds ``q`` (folded as the transcripts are: case and Arabic diacritics do not
  matter), with ``category`` spotted, written in ``[since, until)`` (ISO dates or times,
  UTC when no zone is given), newest first (``limit`` <= 500, default 50). Each search is
  in the access log (``searchTranscripts``), once per customer whose transcript it showed.
* ``GET /page-api/supervisor/transcripts/trends?by=intent|queue|agent&since=&until=``:
  per intent, queue or agent: calls transcribed, calls with each category spotted, mean
  sentiment (counts only: no customer's data, no access log).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from aiohttp import web

from center.call_analytics import fold
from history.repository import HistoryRepository
from history.transcripts import TrendDimension
from hotline.web.access import note_read
from hotline.web.auth.guard import requires
from hotline.web.auth.users import Role

__all__ = ["add_routes"]

TRANSCRIPTS: web.AppKey[HistoryRepository] = web.AppKey(
    "hotline_transcripts_store", HistoryRepository
)
READERS = (Role.SUPERVISOR, Role.ADMIN)
DIMENSIONS = ("intent", "queue", "agent")
MAX_QUERY_CHARS = 200
MAX_LIMIT = 500


def add_routes(app: web.Application, store: HistoryRepository) -> None:
    app[TRANSCRIPTS] = store
    app.router.add_get("/page-api/supervisor/transcripts", search_transcripts)
    app.router.add_get("/page-api/supervisor/transcripts/trends", transcript_trends)


def _when(request: web.Request, name: str) -> dt.datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        raise web.HTTPUnprocessableEntity(text=f"{name}: an ISO date or time") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=dt.UTC)


@requires(*READERS)
async def search_transcripts(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "")
    category = request.query.get("category") or None
    if len(query) > MAX_QUERY_CHARS or (category is not None and len(category) > 32):
        raise web.HTTPUnprocessableEntity(text="q: at most 200 characters; category: 32")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise web.HTTPUnprocessableEntity(text="limit: a number") from None
    found = await request.app[TRANSCRIPTS].search_transcripts(
        folded=fold(query) or None,
        category=category,
        since=_when(request, "since"),
        until=_when(request, "until"),
        limit=max(1, min(limit, MAX_LIMIT)),
    )
    note_read(request, sorted({t.customer_id for t in found if t.customer_id}), "searchTranscripts")
    return web.json_response({"transcripts": [t.as_json() for t in found]})


@requires(*READERS)
async def transcript_trends(request: web.Request) -> web.StreamResponse:
    by = request.query.get("by", "queue")
    if by not in DIMENSIONS:
        raise web.HTTPUnprocessableEntity(text="by: intent, queue or agent")
    rows = await request.app[TRANSCRIPTS].transcript_trends(
        cast(TrendDimension, by), since=_when(request, "since"), until=_when(request, "until")
    )
    return web.json_response({"by": by, "trends": rows})
