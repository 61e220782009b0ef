"""``/login`` and ``/logout``; ``/`` sends each role to its page."""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from hotline.web.auth.guard import AUTH, current_session, page, requires
from hotline.web.auth.sessions import COOKIE
from hotline.web.auth.throttle import Throttled
from hotline.web.auth.users import Role
from hotline.web.templates import render
from hotline.workers import PoolBusy

log = logging.getLogger(__name__)

LOGIN_CSRF_COOKIE = "hotline_login_csrf"
HOME = {Role.AGENT: "/agent", Role.SUPERVISOR: "/supervisor", Role.ADMIN: "/supervisor"}


def local_target(value: str) -> str:
    """Only a path on this site (no scheme, no host, no ``//``): no open redirect. A control
    character (a CR/LF would split the Location header) is a bad request: 400."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise web.HTTPBadRequest(text="next: a path without control characters")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return "/"
    return value


def _login_page(
    request: web.Request, *, error: str = "", next_: str = "/", status: int = 200
) -> web.Response:
    token = secrets.token_urlsafe(32)
    body = render("login.html", error=error, csrf=token, next=local_target(next_))
    response = page(request, "Sign in", body, status=status)
    auth = request.app[AUTH]
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=auth.secure_cookies,
        path="/login",
    )
    return response


def _retry_later(response: web.Response, seconds: int) -> web.Response:
    response.headers["Retry-After"] = str(seconds)
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request, next_=request.query.get("next", "/"))


async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    password = str(form.get("password", ""))
    next_ = str(form.get("next", "/"))
    given = str(form.get("csrf", ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(given, expected):
        return _login_page(request, error="The form expired; try again.", status=403)
    ip = request.remote or "?"
    try:
        # Reserved before the (slow) password check: simultaneous guesses count at once.
        attempt = auth.throttle.reserve(ip, name)
    except Throttled as refused:
        wait = int(refused.retry_after_s) + 1
        message = f"Too many failed sign-ins; try again in {wait} s."
        return _retry_later(_login_page(request, error=message, next_=next_, status=429), wait)
    with attempt:
        try:
            user = await auth.users.authenticate(name, password)
        except PoolBusy as busy:
            message = "The server is busy; try again in a moment."
            page_ = _login_page(request, error=message, next_=next_, status=503)
            return _retry_later(page_, busy.retry_after_s)
        if user is None:
            attempt.failed()
            log.info("web sign-in refused for a user from %s", ip)
            return _login_page(request, error="Wrong user or password.", next_=next_, status=401)
        attempt.succeeded()
    session = auth.sessions.create(user)
    log.info("web sign-in: %s (%s)", user.name, user.role)
    target = local_target(next_)
    response = web.HTTPSeeOther(HOME[user.role] if target == "/" else target)
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="Strict",
        secure=auth.secure_cookies,
        path="/",
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


@requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def logout(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    auth.sessions.end(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


@requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(HOME[current_session(request).user.role])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
