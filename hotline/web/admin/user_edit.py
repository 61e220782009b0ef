"""``/admin/users/{name}``: one web user's page. An admin changes their display name, role,
ACD agent (and that agent's phone, ``endpoint`` in agents.yaml, saved through
``config_edit``) and own phone (a supervisor's, for listen/whisper/barge); disables or
enables them; resets their password (a generated one shown once, or one the admin sets).

A disabled user cannot sign in and their open sessions (and sign-ins waiting for a code)
end at once; so do a user's sessions when their role or agent changes (the session carries
both) or their password is reset. No admin can disable or demote themselves, nor leave the
service without an enabled admin; user changes are serialized so two admins demoting each
other at once cannot both succeed. Each change is audited (``user:<name>``; never a
password). A form made from an older state of the user is refused (409), not applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from hotline.config_edit import StaleVersion, yaml_text
from hotline.web.admin.context import EDITOR, audited
from hotline.web.admin.forms import STALE, FormErrors, error, form_problems, saved_notice
from hotline.web.auth.guard import AUTH, current_session, page, requires
from hotline.web.auth.users import (
    ENDPOINT_PATTERN,
    MAX_DISPLAY_NAME_CHARS,
    Role,
    User,
    UserError,
    check_password,
)
from hotline.web.templates import Safe, escape, render

log = logging.getLogger(__name__)

AGENTS_FILE = "agents.yaml"
#: Generated passwords: 16 characters of base64url (96 random bits).
GENERATED_PASSWORD_BYTES = 12
_LOCK = web.AppKey("hotline_user_edit_lock", asyncio.Lock)


def version_of(user: User) -> str:
    """What a form was made from: a change by someone else since makes it stale."""
    parts = (user.role, user.display_name, user.agent_id, user.endpoint, str(user.disabled))
    state = "\0".join(part or "" for part in parts)
    return hashlib.sha256(state.encode("utf-8")).hexdigest()[:16]


def refusal(
    actor: str, target: User, users: Iterable[User], *, role: Role, disabled: bool
) -> str | None:
    """Why an admin may not give ``target`` this role and state, or None. Pure: the users
    are every user as stored now."""
    demoted = target.role is Role.ADMIN and role is not Role.ADMIN
    if target.name == actor and demoted:
        return "you cannot change your own role"
    if target.name == actor and disabled and not target.disabled:
        return "you cannot disable yourself"
    enabled_admins = {u.name for u in users if u.role is Role.ADMIN and not u.disabled}
    if target.name in enabled_admins and (demoted or disabled) and len(enabled_admins) <= 1:
        return "the last enabled admin must stay an enabled admin"
    return None


@dataclass(frozen=True)
class AgentLink:
    """The ACD agents of agents.yaml (id -> phone endpoint) and the file's version."""

    endpoints: dict[str, str]
    version: str


def _agent_link(request: web.Request) -> AgentLink | None:
    editor = request.app.get(EDITOR)
    if editor is None:
        return None
    try:
        snapshot = editor.snapshot(editor.config_file(AGENTS_FILE))
    except ValueError:
        return None
    agents = snapshot.data.get("agents")
    endpoints: dict[str, str] = {}
    for entry in agents if isinstance(agents, CommentedSeq) else ():
        if isinstance(entry, Mapping) and entry.get("id") is not None:
            endpoints[str(entry["id"])] = str(entry.get("endpoint") or "")
    return AgentLink(endpoints, snapshot.version)


async def _target(request: web.Request) -> User:
    user = await request.app[AUTH].users.find(request.match_info["name"])
    if user is None:
        raise web.HTTPNotFound(text="no such user")
    return user


def _options(
    values: Iterable[str], chosen: str, *, blank: str | None = None, translated: bool = False
) -> Safe:
    """``translated``: each value's label in the page's language (a role), else as it is."""
    out = []
    if blank is not None:
        out.append(f'<option value=""{"" if chosen else " selected"}>{blank}</option>')
    for v in values:
        shown = f"[[{escape(v)}]]" if translated else escape(v)
        selected = " selected" if v == chosen else ""
        out.append(f'<option{selected} value="{escape(v)}">{shown}</option>')
    return Safe("".join(out))


async def _page(
    request: web.Request,
    user: User,
    *,
    values: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: Safe | str = "",
    status: int = 200,
    version: str | None = None,
) -> web.Response:
    errors = errors or FormErrors()
    link = _agent_link(request)
    shown = dict(values or {})
    agent_id = shown.get("agent_id", user.agent_id or "")
    agent_ids = list(link.endpoints) if link else []
    if agent_id and agent_id not in agent_ids:
        agent_ids.append(agent_id)  # a link to an agent agents.yaml no longer has: shown
    agent_endpoint = shown.get("agent_endpoint", link.endpoints.get(agent_id, "") if link else "")
    csrf = escape(current_session(request).csrf)
    me = current_session(request).user.name == user.name
    body = render(
        "admin_user.html",
        notice=notice,
        problems=form_problems(errors),
        csrf=Safe(csrf),
        name=user.name,
        state=Safe("[[disabled]]" if user.disabled else "[[enabled]]"),
        version=version or version_of(user),
        agents_version=link.version if link else "",
        display_name=shown.get("display_name", user.display_name or ""),
        display_name_error=error(errors, "display_name"),
        roles=_options([r.value for r in Role], shown.get("role", user.role), translated=True),
        role_error=error(errors, "role"),
        agents=_options(agent_ids, agent_id, blank="[[none]]"),
        shown_agent=agent_id,
        agent_id_error=error(errors, "agent_id"),
        agent_endpoint=agent_endpoint,
        agent_endpoint_disabled=Safe("" if link and agent_id else " disabled"),
        agent_endpoint_error=error(errors, "agent_endpoint"),
        endpoint=shown.get("endpoint", user.endpoint or ""),
        endpoint_error=error(errors, "endpoint"),
        disable_value="0" if user.disabled else "1",
        disable_label=Safe("[[Enable]]" if user.disabled else "[[Disable]]"),
        disable_class="" if user.disabled else "danger",
        disable_attr=Safe(" disabled" if me and not user.disabled else ""),
        password_error=error(errors, "password"),
    )
    return page(request, "User", body, status=status)


@requires(Role.ADMIN)
async def user_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, await _target(request))


def _field(form: Mapping[str, object], name: str, limit: int) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


@requires(Role.ADMIN)
async def save_user(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        "display_name": _field(form, "display_name", MAX_DISPLAY_NAME_CHARS + 1),
        "role": _field(form, "role", 16),
        "agent_id": _field(form, "agent_id", 64),
        "agent_endpoint": _field(form, "agent_endpoint", 129),
        "endpoint": _field(form, "endpoint", 129),
    }
    auth = request.app[AUTH]
    actor = current_session(request).user.name
    async with request.app[_LOCK]:
        user = await _target(request)
        errors = FormErrors()
        if _field(form, "version", 64) != version_of(user):
            errors.general.append(STALE)
            return await _page(request, user, values=values, errors=errors, status=409)
        if len(values["display_name"]) > MAX_DISPLAY_NAME_CHARS:
            errors.add("display_name", f"at most {MAX_DISPLAY_NAME_CHARS} characters")
        if values["role"] not in {r.value for r in Role}:
            errors.add("role", "agent, supervisor, admin or wallboard")
        if values["endpoint"] and not ENDPOINT_PATTERN.match(values["endpoint"]):
            errors.add("endpoint", "TECH/resource, e.g. PJSIP/sup1")
        link = _agent_link(request)
        agent_id = values["agent_id"]
        known = link is None or agent_id in link.endpoints or agent_id == (user.agent_id or "")
        if agent_id and not known:
            errors.add("agent_id", "not an agent of agents.yaml")
        phone = values["agent_endpoint"]
        # The agent's phone field is that of the agent the form was made with.
        phone_changes = (
            link is not None
            and bool(agent_id)
            and agent_id == _field(form, "shown_agent", 64)
            and agent_id in link.endpoints
            and phone != link.endpoints[agent_id]
        )
        if phone_changes and phone and not ENDPOINT_PATTERN.match(phone):
            errors.add("agent_endpoint", "TECH/resource, e.g. PJSIP/agent1001")
        if not errors:
            role = Role(values["role"])
            why = refusal(actor, user, await auth.users.list_all(), role=role, disabled=False)
            if why:
                errors.add("role", why)
        if errors:
            return await _page(request, user, values=values, errors=errors, status=422)
        notice: list[str] = []
        if phone_changes:
            assert link is not None
            saved = await _save_agent_phone(request, link, agent_id, phone, actor, errors)
            if saved is None:
                return await _page(request, user, values=values, errors=errors, status=422)
            notice.append(saved)
        changed = _changes(user, values)
        if changed:
            try:
                updated = await auth.users.update(
                    user.name,
                    role=Role(values["role"]),
                    display_name=values["display_name"] or None,
                    agent_id=agent_id or None,
                    endpoint=values["endpoint"] or None,
                )
            except UserError as exc:
                errors.general.append(str(exc))
                return await _page(request, user, values=values, errors=errors, status=422)
            summary = f"web user {user.name}: " + ", ".join(changed)
            await audited(
                request, actor=actor, target=f"user:{user.name}", action="edit", summary=summary
            )
            log.info("admin %s changed %s", actor, summary)
            if updated.role != user.role or updated.agent_id != user.agent_id:
                ended = auth.sessions.end_user(user.name)
                auth.pending.end_user(user.name)
                notice.append(f"{ended} [[session(s) ended]]")
            user = updated
        notice.insert(
            0, '<span id="saved">[[saved]]</span>' if changed or notice else "[[nothing changed]]"
        )
    return await _page(request, user, notice=Safe(" ".join(notice)))


def _changes(user: User, values: Mapping[str, str]) -> list[str]:
    pairs = (
        ("display name", user.display_name or "", values["display_name"]),
        ("role", user.role.value, values["role"]),
        ("agent", user.agent_id or "", values["agent_id"]),
        ("phone", user.endpoint or "", values["endpoint"]),
    )
    return [f"{what} {old or '-'} -> {new or '-'}" for what, old, new in pairs if old != new]


async def _save_agent_phone(
    request: web.Request,
    link: AgentLink,
    agent_id: str,
    phone: str,
    actor: str,
    errors: FormErrors,
) -> str | None:
    """The agent's ``endpoint`` in agents.yaml through ``config_edit``; the notice, or None
    with the reason in ``errors``."""
    editor = request.app[EDITOR]

    def change(data: CommentedMap) -> None:
        agents = data.get("agents")
        for entry in agents if isinstance(agents, CommentedSeq) else ():
            if isinstance(entry, CommentedMap) and str(entry.get("id")) == agent_id:
                if phone:
                    entry["endpoint"] = yaml_text(phone)
                else:
                    entry.pop("endpoint", None)

    try:
        result = await editor.edit(
            editor.config_file(AGENTS_FILE),
            link.version,
            change,
            actor=actor,
            summary=f"agent {agent_id}: phone {link.endpoints[agent_id] or '-'} -> {phone or '-'}",
        )
    except StaleVersion:  # agents.yaml changed since the form was made
        errors.add("agent_endpoint", STALE)
        return None
    if result.errors:
        errors.add("agent_endpoint", "; ".join(i.message for i in result.errors))
        return None
    return str(saved_notice(result, f"agent {agent_id}"))


@requires(Role.ADMIN)
async def disable_user(request: web.Request) -> web.StreamResponse:
    """``disabled=1`` disables (their sessions end at once), ``0`` enables again."""
    form = await request.post()
    disable = _field(form, "disabled", 2) == "1"
    auth = request.app[AUTH]
    actor = current_session(request).user.name
    async with request.app[_LOCK]:
        user = await _target(request)
        errors = FormErrors()
        why = refusal(actor, user, await auth.users.list_all(), role=user.role, disabled=disable)
        if why:
            errors.general.append(why)
            return await _page(request, user, errors=errors, status=422)
        if user.disabled == disable:
            return await _page(request, user, notice="[[nothing changed]]")
        user = await auth.users.set_disabled(user.name, disable)
        ended = 0
        if disable:
            ended = auth.sessions.end_user(user.name)
            auth.pending.end_user(user.name)
        what = "disabled" if disable else "enabled"
        await audited(
            request,
            actor=actor,
            target=f"user:{user.name}",
            action="disable" if disable else "enable",
            summary=f"web user {user.name} {what}"
            + (f"; {ended} session(s) ended" if ended else ""),
        )
        log.info("admin %s %s web user %s", actor, what, user.name)
    notice = f'<span id="saved">[[{what}]]</span>'
    if disable:
        notice += f" {ended} [[session(s) ended]]"
    return await _page(request, user, notice=Safe(notice))


@requires(Role.ADMIN)
async def reset_password(request: web.Request) -> web.StreamResponse:
    """``mode=generate``: a new random password, shown once on the answer; ``mode=set``:
    ``password``. The user's other sessions end; the password is never logged."""
    form = await request.post()
    auth = request.app[AUTH]
    session = current_session(request)
    user = await _target(request)
    errors = FormErrors()
    generated = _field(form, "mode", 16) != "set"
    password = (
        secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        if generated
        else str(form.get("password", ""))
    )
    try:
        check_password(password)
        await auth.users.set_password(user.name, password)
    except UserError as exc:
        errors.add("password", str(exc))
        return await _page(request, user, errors=errors, status=422)
    ended = _end_other_sessions(request, user.name, keep=session.id)
    how = "generated" if generated else "set by an admin"
    await audited(
        request,
        actor=session.user.name,
        target=f"user:{user.name}",
        action="password-reset",
        summary=f"password of web user {user.name} reset ({how})",
    )
    log.info("admin %s reset the password of %s (%s)", session.user.name, user.name, how)
    notice = '<span id="saved">[[password reset]]</span>'
    if generated:
        notice += (
            ' [[New password (shown once):]] <code id="new-password" dir="ltr">'
            f"{escape(password)}</code>"
        )
    notice += f" {ended} [[session(s) ended]]"
    return await _page(request, user, notice=Safe(notice))


def _end_other_sessions(request: web.Request, name: str, *, keep: str) -> int:
    """End ``name``'s sessions but ``keep`` (an admin resetting their own password)."""
    auth = request.app[AUTH]
    auth.pending.end_user(name)
    return auth.sessions.end_user(name, keep=keep)


def add_routes(app: web.Application) -> None:
    app[_LOCK] = asyncio.Lock()
    app.router.add_get("/admin/users/{name}", user_page)
    app.router.add_post("/admin/users/{name}", save_user)
    app.router.add_post("/admin/users/{name}/disable", disable_user)
    app.router.add_post("/admin/users/{name}/password", reset_password)
