"""The widget a business embeds: ``/chat/loader.js`` (the one line a site includes),
``/chat/widget`` (the chat page it frames) and that page's script and style.

The widget page may be framed only by the sites in ``chat.allowed_origins`` (and the
service itself): CSP ``frame-ancestors``. It is in English or Arabic (``?lang=``, else the
browser's language), loads nothing from anywhere else, and shows every text as text.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from aiohttp import web

from hotline.web.chat.endpoint import CHAT_HUB, chat_socket
from hotline.web.chat.hub import ChatHub
from hotline.web.i18n import LANGUAGES, catalog, page_language, translate
from hotline.web.templates import Safe, render

__all__ = ["add_routes"]

#: The widget's files (in hotline/web/static) by the name they are served under.
FILES = {
    "loader.js": ("chat_loader.js", "application/javascript"),
    "widget.js": ("chat_widget.js", "application/javascript"),
    "widget.css": ("chat_widget.css", "text/css"),
    "i18n.js": ("i18n.js", "application/javascript"),
}
CACHE = "public, max-age=300"


def add_routes(app: web.Application, hub: ChatHub) -> None:
    app[CHAT_HUB] = hub
    app.router.add_get("/chat/ws", chat_socket)
    app.router.add_get("/chat/widget", widget_page)
    app.router.add_get("/chat/{name:loader.js|widget.js|widget.css|i18n.js}", widget_file)


def _enabled(request: web.Request) -> ChatHub:
    hub = request.app[CHAT_HUB]
    if not hub.settings.enabled:
        raise web.HTTPNotFound(text="web chat is not enabled")
    return hub


async def widget_page(request: web.Request) -> web.StreamResponse:
    hub = _enabled(request)
    language = LANGUAGES.get(request.query.get("lang", "")) or page_language(request)
    page = render(
        "chat_widget.html",
        lang=language.code,
        dir=language.direction,
        messages=Safe(_script_catalog(language.code)),
    )
    response = web.Response(text=translate(page, language.code), content_type="text/html")
    ancestors = " ".join(("'self'", *hub.settings.allowed_origins))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {ancestors}"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def widget_file(request: web.Request) -> web.StreamResponse:
    _enabled(request)
    file, kind = FILES[request.match_info["name"]]
    response = web.Response(text=_static(file), content_type=kind)
    response.headers["Cache-Control"] = CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@cache
def _static(name: str) -> str:
    return resources.files("hotline.web").joinpath("static", name).read_text("utf-8")


@cache
def _script_catalog(code: str) -> str:
    """The translations the widget's script uses (not the whole site's), as JSON safe
    inside ``<script type="application/json">``."""
    script = _static("chat_widget.js")
    used = {k: v for k, v in catalog(code).items() if f'"{k}"' in script}
    return json.dumps(used, ensure_ascii=False).replace("<", "\\u003c")
