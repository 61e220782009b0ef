"""``GET /language/{code}?next=/path``: the language switch in every page's header."""

from __future__ import annotations

from aiohttp import web

from hotline.web.auth.login import local_target
from hotline.web.i18n import COOKIE, LANGUAGES


async def choose_language(request: web.Request) -> web.StreamResponse:
    """Remember the choice for a year, and go back to the page."""
    code = request.match_info["code"]
    if code not in LANGUAGES:
        raise web.HTTPNotFound(text="no such language")
    target = local_target(request.query.get("next", "/"))
    response = web.Response(status=303, headers={"Location": target})
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/language/{code}", choose_language)
