"""``/login`` and ``/logout``; ``/`` sends each role to its page.

A user with two-factor sign-in gives their password on ``/login``, then a code (or a
recovery code) on ``/login/code``: the password's success only opens a pending sign-in (a
cookie on ``/login``, five minutes, three codes), and every code is counted by the
throttle before it is checked, like a password. A user whose role requires two-factor
sign-in and who has not set it up is signed in to the set-up page only (``must_enrol``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import urlsplit

from aiohttp import web

from hotline.web.auth.guard import AUTH, ENROLMENT_PAGE, current_session, page, requires
from hotline.web.auth.sessions import COOKIE, PENDING_COOKIE, PendingSignIn
from hotline.web.auth.throttle import Throttled
from hotline.web.auth.totp import normalise_code
from hotline.web.auth.two_factor import Verdict
from hotline.web.auth.users import Role, User
from hotline.web.templates import render
from hotline.workers import PoolBusy

log = logging.getLogger(__name__)

LOGIN_CSRF_COOKIE = "hotline_login_csrf"
HOME = {
    Role.AGENT: "/agent",
    Role.SUPERVISOR: "/supervisor",
    Role.ADMIN: "/supervisor",
    Role.WALLBOARD: "/wallboard",
}


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
    request: web.Request,
    *,
    error: str = "",
    next_: str = "/",
    status: int = 200,
    code: bool = False,
) -> web.Response:
    """The password form, or (``code``) the second factor's."""
    token = secrets.token_urlsafe(32)
    if code:
        body = render("login_code.html", error=error, csrf=token)
    else:
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


def _csrf_ok(request: web.Request, form: object) -> bool:
    given = str(getattr(form, "get", lambda *_: "")("csrf", ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(given, expected)


async def login(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    form = await request.post()
    name = str(form.get("name", ""))[:64]
    password = str(form.get("password", ""))
    next_ = str(form.get("next", "/"))
    if not _csrf_ok(request, form):
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
        if user.two_factor:
            # The password alone proves nothing yet: its reservation is returned uncounted
            # (not cleared: the pair's wrong codes from here must keep counting).
            pending = auth.pending.create(user, local_target(next_))
            response = _login_page(request, code=True)
            response.set_cookie(
                PENDING_COOKIE,
                pending.id,
                httponly=True,
                samesite="Strict",
                secure=auth.secure_cookies,
                path="/login",
            )
            return response
        attempt.succeeded()
    raise _signed_in(request, user, next_)


def _signed_in(request: web.Request, user: User, next_: str) -> web.HTTPSeeOther:
    """Open the session: the redirect that sends the browser on with its cookie."""
    auth = request.app[AUTH]
    must_enrol = auth.two_factor.required(user.role) and not user.two_factor
    session = auth.sessions.create(user, must_enrol=must_enrol)
    log.info("web sign-in: %s (%s)", user.name, user.role)
    target = local_target(next_)
    if must_enrol:
        target = ENROLMENT_PAGE
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
    response.del_cookie(PENDING_COOKIE, path="/login")
    return response


async def login_code(request: web.Request) -> web.StreamResponse:
    """The second factor: a TOTP code, or a recovery code (each spent once)."""
    auth = request.app[AUTH]
    form = await request.post()
    if not _csrf_ok(request, form):
        return _login_page(request, error="The form expired; try again.", status=403)
    pending = auth.pending.get(request.cookies.get(PENDING_COOKIE))
    if pending is None:
        message = "The sign-in expired; give your password again."
        return _login_page(request, error=message, status=401)
    code = str(form.get("code", ""))[:64]
    ip = request.remote or "?"
    try:
        attempt = auth.throttle.reserve(ip, pending.user.name, code=True)
    except Throttled as refused:
        wait = int(refused.retry_after_s) + 1
        message = f"Too many wrong codes; try again in {wait} s."
        return _retry_later(_login_page(request, error=message, status=429, code=True), wait)
    with attempt:
        try:
            verdict = await _check_code(request, pending, code)
        except PoolBusy as busy:
            message = "The server is busy; try again in a moment."
            page_ = _login_page(request, error=message, status=503, code=True)
            return _retry_later(page_, busy.retry_after_s)
        if verdict is not Verdict.ACCEPTED:
            attempt.failed()
            pending.wrong_codes += 1
            log.info("web sign-in code refused for a user from %s", ip)
            if pending.wrong_codes >= auth.pending.max_codes:
                auth.pending.end(pending.id)
                message = "Wrong code. Sign in with your password again."
                return _login_page(request, error=message, status=401)
            message = (
                "Too many wrong codes in a row: use a recovery code, or ask an admin."
                if verdict is Verdict.LOCKED
                else "Wrong code."
            )
            return _login_page(request, error=message, status=401, code=True)
        attempt.succeeded()
    auth.pending.end(pending.id)
    raise _signed_in(request, pending.user, pending.next)


async def _check_code(request: web.Request, pending: PendingSignIn, code: str) -> Verdict:
    store = request.app[AUTH].users.two_factor
    if normalise_code(code) is None:  # not six digits: a recovery code, if anything
        used = await store.use_recovery_code(pending.user.name, code)
        if used:
            log.warning("web sign-in of %s with a recovery code", pending.user.name)
        return Verdict.ACCEPTED if used else Verdict.WRONG
    return await store.verify(pending.user.name, code)


@requires(*Role, enrolling=True)
async def logout(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    auth.sessions.end(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


@requires(*Role)
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(HOME[current_session(request).user.role])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/login/code", login_code)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
