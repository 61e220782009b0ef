"""Who may reach a page: ``@requires(Role...)`` on every page and page-API handler.

No session (or an expired one): pages redirect to the login page, page APIs answer 401 JSON.
A wrong role: a 403 page (or JSON). A POST without the session's CSRF token: 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import quote, urlsplit

from aiohttp import web

from hotline.web.auth.sessions import COOKIE, PendingSignIns, Session, SessionStore
from hotline.web.auth.throttle import LoginThrottle
from hotline.web.auth.two_factor import TwoFactorPolicy
from hotline.web.auth.users import Role, UserStore
from hotline.web.i18n import LANGUAGES, page_language, script_catalog, translate
from hotline.web.templates import Safe, escape, render

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class WebAuth:
    """What the guard and the login page share. ``secure_cookies``: set when served over
    https (directly or behind a proxy), so the browser never sends the cookie in clear."""

    users: UserStore
    sessions: SessionStore
    throttle: LoginThrottle
    secure_cookies: bool = False
    #: Who must sign in with a TOTP code (``web.sign_in.two_factor``).
    two_factor: TwoFactorPolicy = field(default_factory=TwoFactorPolicy)
    #: Sign-ins whose password was right, waiting for their code.
    pending: PendingSignIns = field(default_factory=PendingSignIns)


AUTH = web.AppKey("hotline_web_auth", WebAuth)


_NAV = {
    Role.SUPERVISOR: Safe(
        '<a href="/supervisor">[[Queues]]</a> <a href="/reports">[[Reports]]</a>'
    ),
    Role.ADMIN: Safe(
        '<a href="/supervisor">[[Queues]]</a> <a href="/reports">[[Reports]]</a>'
        ' <a href="/admin/users">[[Users]]</a>'
        ' <a href="/admin/agents">[[Agents]]</a> <a href="/admin/queues">[[Queue rules]]</a>'
        ' <a href="/admin/flow">[[IVR flow]]</a> <a href="/admin/hours">[[Business hours]]</a>'
        ' <a href="/admin/prompts">[[Prompts]]</a> <a href="/admin/catalog">[[Catalog]]</a>'
        ' <a href="/admin/audit">[[Audit log]]</a>'
    ),
}


_CURRENT = ' aria-current="true"'
#: Where a user whose role requires two-factor sign-in sets it up.
ENROLMENT_PAGE = "/account/two-factor"


def _session(request: web.Request) -> Session | None:
    """The request's live session (a dictionary lookup; it also restarts the idle timer)."""
    return request.app[AUTH].sessions.get(request.cookies.get(COOKIE))


def current_session(request: web.Request) -> Session:
    session = _session(request)
    if session is None:
        raise RuntimeError("handler reached without @requires")
    return session


def page(request: web.Request, title: str, body: Safe, *, status: int = 200) -> web.Response:
    session = _session(request) if AUTH in request.app else None
    csrf = session.csrf if session is not None else ""
    account = (
        render(
            "account.html",
            name=session.user.name,
            role=Safe(f"[[{escape(session.user.role)}]]"),
            csrf=csrf,
            nav=_NAV.get(session.user.role, Safe("")),
        )
        if session is not None
        else Safe("")
    )
    language = page_language(request)
    here = quote(request.path_qs, safe="/")
    languages = Safe(
        " ".join(
            f'<a href="/language/{code}?next={here}" lang="{code}" hreflang="{code}"'
            f"{_CURRENT if code == language.code else ''}>{escape(lang.name)}</a>"
            for code, lang in LANGUAGES.items()
        )
    )
    text = render(
        "layout.html",
        title=Safe(f"[[{escape(title)}]]"),
        body=body,
        account=account,
        csrf=csrf,
        lang=language.code,
        dir=language.direction,
        languages=languages,
        messages=Safe(script_catalog(language.code)),
    )
    response = web.Response(
        text=translate(text, language.code), content_type="text/html", status=status
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/page-api/") or request.path.startswith("/ws/")


def requires(*roles: Role, enrolling: bool = False) -> Callable[[Handler], Handler]:
    """``enrolling``: the handler also answers a session that must set up two-factor
    sign-in first (the set-up page itself, sign-out); every other one sends it there."""
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            session = _session(request)
            if session is None:
                if _wants_json(request):
                    return web.json_response({"error": "sign in first"}, status=401)
                target = quote(request.path_qs, safe="")
                raise web.HTTPSeeOther(f"/login?next={target}")
            if session.user.role not in allowed:
                if _wants_json(request):
                    return web.json_response({"error": "not for your role"}, status=403)
                body = render(
                    "forbidden.html",
                    roles=" or ".join(sorted(allowed)),
                    name=session.user.name,
                    role=session.user.role,
                )
                return page(request, "Forbidden", body, status=403)
            if session.must_enrol and not enrolling:
                if _wants_json(request):
                    return web.json_response(
                        {"error": "set up two-factor sign-in first"}, status=403
                    )
                raise web.HTTPSeeOther(ENROLMENT_PAGE)
            if request.path.startswith("/ws/") and not _same_origin(request):
                return web.json_response({"error": "cross-site WebSocket refused"}, status=403)
            if request.method not in _SAFE_METHODS and not await _csrf_ok(request, session):
                return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
            return await handler(request)

        guarded.required_roles = allowed  # type: ignore[attr-defined]
        return guarded

    return decorate


def _same_origin(request: web.Request) -> bool:
    """A browser's WebSocket handshake names the page's origin: it must be this site."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


async def _csrf_ok(request: web.Request, session: Session) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("csrf")
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given, session.csrf)
