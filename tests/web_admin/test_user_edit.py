"""A user's page on /admin/users/{name}: role, display name, agent and phones changed and
audited; a disabled user is refused at sign-in and their open session ends at once; a
password reset (generated, shown once); no admin can disable or demote themselves or the
last admin; a form made from an older state of the user is refused."""

from __future__ import annotations

import re

import aiohttp

from hotline.web.admin.user_edit import refusal
from hotline.web.auth.users import Role, User
from tests.web.support import PASSWORD, signed_in
from tests.web_admin.conftest import Admin, error_beside


async def test_an_admin_changes_role_name_agent_and_phone_and_it_is_audited(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/users/sam", "user-form")
    form.update({"display_name": "Sam Okafor", "role": "agent", "agent_id": "1003", "endpoint": ""})
    status, page = await admin.post("/admin/users/sam", form)
    assert status == 200, page
    assert 'id="saved"' in page
    user = await admin.service.web_auth.users.find("sam")
    assert user is not None
    assert (user.role, user.display_name, user.agent_id) == (Role.AGENT, "Sam Okafor", "1003")
    [entry] = await admin.service.audit.recent()
    assert (entry.actor, entry.target, entry.action) == ("ada", "user:sam", "edit")
    assert entry.summary == (
        "web user sam: display name - -> Sam Okafor, role supervisor -> agent, agent - -> 1003"
    )
    # the role is carried by the session: sam's ended, so the new role applies at sign-in
    async with admin.clients["sam"].get(admin.url + "supervisor", allow_redirects=False) as r:
        assert r.status == 303


async def test_the_agents_phone_is_saved_to_agents_yaml_through_config_edit(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/users/1001", "user-form")
    assert (form["agent_id"], form["agent_endpoint"]) == ("1001", "PJSIP/agent1001")
    form["agent_endpoint"] = "PJSIP/desk-7"
    status, page = await admin.post("/admin/users/1001", form)
    assert status == 200, page
    text = (admin.config_dir / "agents.yaml").read_text()
    assert "    endpoint: PJSIP/desk-7\n" in text
    assert "# Agents, their SIP endpoints" in text  # comments kept
    [entry] = await admin.service.audit.recent()
    assert entry.target == "config/agents.yaml"
    assert entry.summary == "agent 1001: phone PJSIP/agent1001 -> PJSIP/desk-7"
    assert entry.diff is not None
    assert "+    endpoint: PJSIP/desk-7" in entry.diff
    assert admin.service.config.agents.agents[0].endpoint == "PJSIP/desk-7"  # reloaded


async def test_a_bad_phone_is_refused_beside_its_field_and_nothing_changes(
    admin: Admin,
) -> None:
    before = (admin.config_dir / "agents.yaml").read_text()
    form = await admin.form("/admin/users/1001", "user-form")
    form.update({"agent_endpoint": "PJSIP/a b", "display_name": "Alice"})
    status, page = await admin.post("/admin/users/1001", form)
    assert status == 422
    assert error_beside(page, "agent_endpoint") == "TECH/resource, e.g. PJSIP/agent1001"
    assert (admin.config_dir / "agents.yaml").read_text() == before
    user = await admin.service.web_auth.users.find("1001")
    assert user is not None
    assert user.display_name is None
    assert await admin.service.audit.recent() == []


async def test_a_form_made_before_someone_elses_change_is_refused(admin: Admin) -> None:
    stale = await admin.form("/admin/users/sam", "user-form")
    fresh = dict(stale, display_name="Sam")
    assert (await admin.post("/admin/users/sam", fresh))[0] == 200
    stale["role"] = "admin"
    status, page = await admin.post("/admin/users/sam", stale)
    assert status == 409
    assert "changed by someone else" in page
    user = await admin.service.web_auth.users.find("sam")
    assert user is not None
    assert (user.role, user.display_name) == (Role.SUPERVISOR, "Sam")


async def test_a_disabled_user_is_signed_out_at_once_and_refused_at_sign_in(
    admin: Admin,
) -> None:
    async with admin.clients["sam"].get(admin.url + "supervisor") as response:
        assert response.status == 200
    form = await admin.form("/admin/users/sam", "disable-form")
    assert form["disabled"] == "1"
    status, page = await admin.post("/admin/users/sam/disable", form)
    assert status == 200, page
    assert 'id="user-state">disabled<' in page
    async with admin.clients["sam"].get(admin.url + "supervisor", allow_redirects=False) as r:
        assert r.status == 303
        assert r.headers["Location"].startswith("/login")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(admin.url + "login") as response:
            login = await response.text()
        token = re.search(r'name="csrf" value="([^"]+)"', login)
        assert token
        form = {"name": "sam", "password": PASSWORD, "csrf": token[1], "next": "/"}
        async with http.post(admin.url + "login", data=form) as response:
            assert response.status == 401
            assert "Wrong user or password." in await response.text()
    [entry] = await admin.service.audit.recent()
    assert (entry.target, entry.action) == ("user:sam", "disable")
    assert entry.summary == "web user sam disabled; 1 session(s) ended"
    _, listing = await admin.get("/admin/users")
    assert '<tr data-user="sam" class="disabled">' in listing

    form = await admin.form("/admin/users/sam", "disable-form")
    assert form["disabled"] == "0"
    assert (await admin.post("/admin/users/sam/disable", form))[0] == 200
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await signed_in(http, admin.url, "sam")  # enabled again


async def test_an_admin_cannot_disable_or_demote_themselves(admin: Admin) -> None:
    form = await admin.form("/admin/users/ada", "user-form")
    form["role"] = "supervisor"
    status, page = await admin.post("/admin/users/ada", form)
    assert status == 422
    assert error_beside(page, "role") == "you cannot change your own role"
    status, page = await admin.post(
        "/admin/users/ada/disable",
        {"csrf": form["csrf"], "disabled": "1"},
    )
    assert status == 422
    assert "you cannot disable yourself" in page
    user = await admin.service.web_auth.users.find("ada")
    assert user is not None
    assert user.role is Role.ADMIN
    assert not user.disabled
    assert await admin.service.audit.recent() == []


def test_the_last_enabled_admin_stays_an_enabled_admin() -> None:
    ada = User("ada", Role.ADMIN, None)
    bea = User("bea", Role.ADMIN, None)
    off = User("cy", Role.ADMIN, None, disabled=True)
    # bea acting on ada, the only enabled admin (cy is disabled): refused both ways
    assert refusal("bea", ada, [ada, off], role=Role.AGENT, disabled=False) == (
        "the last enabled admin must stay an enabled admin"
    )
    assert refusal("bea", ada, [ada, off], role=Role.ADMIN, disabled=True) is not None
    # with a second enabled admin it is allowed
    assert refusal("bea", ada, [ada, bea], role=Role.AGENT, disabled=False) is None
    assert refusal("bea", ada, [ada, bea], role=Role.ADMIN, disabled=True) is None
    # enabling a disabled admin, or re-saving an admin as admin, is never refused
    assert refusal("ada", off, [ada, off], role=Role.ADMIN, disabled=False) is None


async def test_a_generated_password_is_shown_once_and_ends_the_users_sessions(
    admin: Admin,
) -> None:
    form = await admin.form("/admin/users/sam", "password-form")
    status, page = await admin.post("/admin/users/sam/password", dict(form, mode="generate"))
    assert status == 200, page
    start = page.index('id="new-password" dir="ltr">') + len('id="new-password" dir="ltr">')
    password = page[start : page.index("</code>", start)]
    assert len(password) == 16
    async with admin.clients["sam"].get(admin.url + "supervisor", allow_redirects=False) as r:
        assert r.status == 303
    user = await admin.service.web_auth.users.authenticate("sam", password)
    assert user is not None
    assert user.name == "sam"
    assert await admin.service.web_auth.users.authenticate("sam", PASSWORD) is None
    _, again = await admin.get("/admin/users/sam")
    assert password not in again
    [entry] = await admin.service.audit.recent()
    assert entry.summary == "password of web user sam reset (generated)"
    assert password not in (entry.diff or "") + entry.summary


async def test_a_set_password_too_short_is_refused(admin: Admin) -> None:
    form = await admin.form("/admin/users/sam", "password-form")
    status, page = await admin.post(
        "/admin/users/sam/password", dict(form, mode="set", password="short")
    )
    assert status == 422
    assert error_beside(page, "password") == "the password needs at least 10 characters"
    assert await admin.service.web_auth.users.authenticate("sam", PASSWORD) is not None
