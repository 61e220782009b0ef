"""``/admin/users``: who may sign in, and adding a user (validated like ``hotline user add``).
Each user's own page (``user_edit``) changes their role, name, agent and phones, disables
them, or resets their password.

The page also lists the sign-in blocks the login throttle holds now (a user at an address,
or a whole address) and lifts one at once: ``POST /admin/users/unblock`` with ``user`` or
``address``, audited. An admin resets a user's two-factor sign-in (a lost phone) with
``POST /admin/users/two-factor-reset``: the secret and recovery codes are erased, the
user's sessions end, and the reset is audited.

A form with a bad value comes back with the message beside its field and changes nothing.
Each addition is logged with who made it (the password never is).
"""

from __future__ import annotations

import logging

from aiohttp import web

from hotline.web.admin import user_edit
from hotline.web.admin.context import audited
from hotline.web.auth.guard import AUTH, current_session, page, requires
from hotline.web.auth.users import (
    ENDPOINT_PATTERN,
    NAME_PATTERN,
    Role,
    User,
    UserError,
    check_password,
)
from hotline.web.templates import Safe, escape, render

log = logging.getLogger(__name__)
FIELDS = ("name", "role", "password", "agent_id", "endpoint")
_ALL = "[[every user]]"
_DISABLED_ROW = ' class="disabled"'


def _rows(users: list[User], csrf: str) -> Safe:
    return Safe(
        "".join(
            f'<tr data-user="{escape(u.name)}"{_DISABLED_ROW if u.disabled else ""}>'
            f'<td><a href="/admin/users/{escape(u.name)}">{escape(u.name)}</a></td>'
            f"<td>{escape(u.display_name or '')}</td><td>[[{escape(u.role)}]]</td>"
            f"<td>{escape(u.agent_id or '')}</td><td>{escape(u.endpoint or '')}</td>"
            f"<td>{_two_factor(u.name, u.two_factor, csrf)}</td>"
            f"<td>{'[[disabled]]' if u.disabled else '[[enabled]]'}</td></tr>"
            for u in users
        )
    )


def _two_factor(name: str, on: bool, csrf: str) -> str:
    if not on:
        return "[[off]]"
    return (
        '[[on]] <form method="post" action="/admin/users/two-factor-reset">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="user" value="{escape(name)}">'
        '<button type="submit">[[Reset]]</button></form>'
    )


def _blocks(request: web.Request) -> Safe:
    csrf = escape(current_session(request).csrf)
    rows = []
    for block in request.app[AUTH].throttle.blocks():
        field, value = ("user", block.user) if block.user else ("address", block.address)
        who = escape(block.user) if block.user else _ALL
        rows.append(
            f'<tr data-block="{escape(value)}"><td>{who}</td>'
            f"<td>{escape(block.address)}</td><td>{int(block.retry_after_s) + 1} s</td><td>"
            '<form method="post" action="/admin/users/unblock">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<input type="hidden" name="{field}" value="{escape(value)}">'
            '<button type="submit">[[Unblock]]</button></form></td></tr>'
        )
    return Safe("".join(rows))


async def _page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> web.Response:
    errors = errors or {}
    values = values or {}
    users = await request.app[AUTH].users.list_all()
    csrf = current_session(request).csrf
    rows = _rows(users, csrf)
    options = Safe(
        "".join(
            f'<option{" selected" if values.get("role") == r.value else ""} value="{r.value}">'
            f"[[{r.value}]]</option>"
            for r in Role
        )
    )
    body = render(
        "admin_users.html",
        rows=rows,
        blocks=_blocks(request),
        options=options,
        notice=notice,
        csrf=current_session(request).csrf,
        **{f"{f}_value": values.get(f, "") for f in FIELDS if f != "password"},
        **{f"{f}_error": errors.get(f, "") for f in FIELDS},
    )
    return page(request, "Users", body, status=status)


@requires(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@requires(Role.ADMIN)
async def add_user(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {f: str(form.get(f, "")).strip() for f in FIELDS}
    password = str(form.get("password", ""))
    errors: dict[str, str] = {}
    if not NAME_PATTERN.match(values["name"]):
        errors["name"] = "1-64 of A-Z a-z 0-9 _ . @ -"
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = "agent, supervisor, admin or wallboard"
    try:
        check_password(password)
    except UserError as error:
        errors["password"] = str(error)
    if values["endpoint"] and not ENDPOINT_PATTERN.match(values["endpoint"]):
        errors["endpoint"] = "TECH/resource, e.g. PJSIP/sup1"
    if not errors:
        try:
            await request.app[AUTH].users.add(
                values["name"],
                Role(values["role"]),
                password,
                agent_id=values["agent_id"] or None,
                endpoint=values["endpoint"] or None,
            )
        except UserError as error:
            errors["name"] = str(error)
    if errors:
        return await _page(request, errors=errors, values=values, status=422)
    admin = current_session(request).user.name
    log.info("admin %s added web user %s (%s)", admin, values["name"], values["role"])
    await audited(
        request,
        actor=admin,
        target=f"user:{values['name']}",
        action="add",
        summary=f"web user {values['name']} added ({values['role']})",
    )
    return await _page(request, notice=f"added {values['name']} ({values['role']})")


@requires(Role.ADMIN)
async def unblock(request: web.Request) -> web.StreamResponse:
    """Lift a sign-in block: a user's (from every address) or an address's."""
    form = await request.post()
    user = str(form.get("user", "")).strip()[:64]
    address = str(form.get("address", "")).strip()[:64]
    if not user and not address:
        return await _page(request, notice="name a user or an address to unblock", status=422)
    throttle = request.app[AUTH].throttle
    if user:
        throttle.unblock(user=user)
    else:
        throttle.unblock(address=address)
    what = f"user {user}" if user else f"address {address}"
    admin = current_session(request).user.name
    log.info("admin %s lifted the sign-in block of %s", admin, what)
    await audited(
        request,
        actor=admin,
        target=f"user:{user}" if user else f"address:{address}",
        action="unblock",
        summary=f"sign-in block of {what} lifted",
    )
    return await _page(request, notice=f"sign-ins of {what} unblocked")


@requires(Role.ADMIN)
async def reset_two_factor(request: web.Request) -> web.StreamResponse:
    """Erase a user's TOTP secret and recovery codes (they set it up again at next sign-in
    if their role requires it); their open sessions end."""
    form = await request.post()
    user = str(form.get("user", "")).strip()[:64]
    auth = request.app[AUTH]
    if not user or not await auth.users.two_factor.reset(user):
        return await _page(request, notice=f"{user or '?'} has no two-factor sign-in", status=422)
    auth.sessions.end_user(user)
    admin = current_session(request).user.name
    log.info("admin %s reset the two-factor sign-in of %s", admin, user)
    await audited(
        request,
        actor=admin,
        target=f"user:{user}",
        action="2fa-reset",
        summary=f"two-factor sign-in of {user} reset",
    )
    return await _page(request, notice=f"two-factor sign-in of {user} reset")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page)
    app.router.add_post("/admin/users", add_user)
    app.router.add_post("/admin/users/unblock", unblock)
    app.router.add_post("/admin/users/two-factor-reset", reset_two_factor)
    user_edit.add_routes(app)
