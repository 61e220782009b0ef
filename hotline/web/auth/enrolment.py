"""``/account/two-factor``: a signed-in user sets up, renews or turns off two-factor sign-in.

Setting up: a new secret is drawn and kept in the session (not in the store) and shown as
an ``otpauth://`` URI, as text and as a QR code; it takes effect only when a code from it
is typed back (``TwoFactorStore.enrol``), and the recovery codes are shown then, once.
New recovery codes and turning it off ask for a current code (counted by the throttle like
a sign-in's): a session left open is not enough. A role that requires two-factor sign-in
(``web.sign_in.two_factor.required_for``) cannot turn it off.

The QR code is drawn by segno (pure Python, no dependencies, well kept) as inline SVG,
which the pages' Content-Security-Policy allows; the key as text serves where a camera
cannot.
"""

from __future__ import annotations

import dataclasses
import logging

import segno
from aiohttp import web

from hotline.web.auth.guard import AUTH, current_session, page, requires
from hotline.web.auth.sessions import Session
from hotline.web.auth.throttle import Throttled
from hotline.web.auth.totp import new_secret, provisioning_uri
from hotline.web.auth.two_factor import Verdict
from hotline.web.auth.users import Role, User
from hotline.web.templates import Safe, escape, render
from hotline.workers import PoolBusy

log = logging.getLogger(__name__)
ANY_ROLE = tuple(Role)
#: Wrong codes while setting up before a new secret is drawn.
MAX_SETUP_FAILURES = 5


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _qr(uri: str) -> Safe:
    code = segno.make(uri, error="m")
    return Safe(code.svg_inline(scale=4, light="#fff", title="otpauth"))


def _setup_page(request: web.Request, session: Session, *, error: str = "") -> web.Response:
    auth = request.app[AUTH]
    if session.pending_secret is None:
        session.pending_secret = new_secret()
        session.enrol_failures = 0
    secret = session.pending_secret
    uri = provisioning_uri(secret, session.user.name, auth.two_factor.issuer)
    required = (
        "[[Your role signs in with a code: set it up to go on.]]" if session.must_enrol else ""
    )
    body = render(
        "two_factor_setup.html",
        required=Safe(required),
        qr=_qr(uri),
        secret_text=_grouped(secret),
        uri=uri,
        csrf=session.csrf,
        error=Safe(error),  # one of this module's own marked texts
    )
    return page(request, "Two-factor sign-in", body, status=422 if error else 200)


async def _status_page(
    request: web.Request, session: Session, *, notice: str = "", error: str = "", status: int = 200
) -> web.Response:
    auth = request.app[AUTH]
    state = await auth.users.two_factor.status(session.user.name)
    off = (
        Safe("")
        if auth.two_factor.required(session.user.role)
        else Safe(
            '<form id="two-factor-off" method="post" action="/account/two-factor/off">'
            f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">'
            '<label>[[Code]] <input name="code" autocomplete="one-time-code" maxlength="12"'
            ' required></label> <button type="submit">[[Turn off]]</button></form>'
        )
    )
    since = state.since.strftime("%Y-%m-%d %H:%M UTC") if state.since else ""
    body = render(
        "two_factor_on.html",
        notice=notice,
        since=since,
        left=state.recovery_codes_left,
        error=error,
        csrf=session.csrf,
        off=off,
    )
    return page(request, "Two-factor sign-in", body, status=status)


def _codes_page(request: web.Request, codes: list[str]) -> web.Response:
    items = Safe("".join(f"<li><code>{escape(code)}</code></li>" for code in codes))
    return page(request, "Two-factor sign-in", render("two_factor_codes.html", codes=items))


@requires(*ANY_ROLE, enrolling=True)
async def two_factor_page(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    if session.user.two_factor:
        return await _status_page(request, session)
    return _setup_page(request, session)


@requires(*ANY_ROLE, enrolling=True)
async def confirm(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    if session.user.two_factor:
        return await _status_page(request, session)
    form = await request.post()
    code = str(form.get("code", ""))[:32]
    if session.pending_secret is None:
        return _setup_page(request, session, error="[[Scan the new key, then type its code.]]")
    store = request.app[AUTH].users.two_factor
    try:
        codes = await store.enrol(session.user.name, session.pending_secret, code)
    except PoolBusy:
        return _setup_page(request, session, error="[[The server is busy; try again.]]")
    if codes is None:
        session.enrol_failures += 1
        if session.enrol_failures >= MAX_SETUP_FAILURES:
            session.pending_secret = None  # a new key: the old one may have been seen
        return _setup_page(request, session, error="[[Wrong code.]]")
    session.pending_secret = None
    session.must_enrol = False
    session.user = _with_two_factor(session, on=True)
    log.info("two-factor sign-in turned on for %s", session.user.name)
    return _codes_page(request, codes)


async def _current_code(request: web.Request, session: Session) -> str | None:
    """None when the code in the form is right (and now spent); else the error to show."""
    auth = request.app[AUTH]
    form = await request.post()
    code = str(form.get("code", ""))[:32]
    try:
        attempt = auth.throttle.reserve(request.remote or "?", session.user.name, code=True)
    except Throttled as refused:
        return f"Too many wrong codes; try again in {int(refused.retry_after_s) + 1} s."
    with attempt:
        verdict = await auth.users.two_factor.verify(session.user.name, code)
        if verdict is Verdict.ACCEPTED:
            attempt.succeeded()
            return None
        attempt.failed()
        return "Wrong code." if verdict is Verdict.WRONG else "Too many wrong codes in a row."


@requires(*ANY_ROLE)
async def renew_codes(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    if not session.user.two_factor:
        return _setup_page(request, session)
    error = await _current_code(request, session)
    if error is not None:
        return await _status_page(request, session, error=error, status=401)
    codes = await request.app[AUTH].users.two_factor.new_recovery_codes(session.user.name)
    log.info("new recovery codes for %s", session.user.name)
    return _codes_page(request, codes)


@requires(*ANY_ROLE)
async def turn_off(request: web.Request) -> web.StreamResponse:
    session = current_session(request)
    auth = request.app[AUTH]
    if not session.user.two_factor:
        return _setup_page(request, session)
    if auth.two_factor.required(session.user.role):
        message = "Your role signs in with a code: it cannot be turned off."
        return await _status_page(request, session, error=message, status=403)
    error = await _current_code(request, session)
    if error is not None:
        return await _status_page(request, session, error=error, status=401)
    await auth.users.two_factor.reset(session.user.name)
    session.user = _with_two_factor(session, on=False)
    log.info("two-factor sign-in turned off by %s", session.user.name)
    return _setup_page(request, session)


def _with_two_factor(session: Session, *, on: bool) -> User:
    return dataclasses.replace(session.user, two_factor=on)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account/two-factor", two_factor_page)
    app.router.add_post("/account/two-factor/confirm", confirm)
    app.router.add_post("/account/two-factor/recovery-codes", renew_codes)
    app.router.add_post("/account/two-factor/off", turn_off)
