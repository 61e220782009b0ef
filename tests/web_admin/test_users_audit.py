"""A web user added on /admin/users is recorded in the audit log (never the password)."""

from __future__ import annotations

from tests.web.support import PASSWORD
from tests.web_admin.conftest import Admin


async def test_adding_a_user_is_audited_without_the_password(admin: Admin) -> None:
    form = await admin.form("/admin/users", "add-user")
    form.update({"name": "bea", "role": "supervisor", "password": PASSWORD})
    status, page = await admin.post("/admin/users", form)
    assert status == 200, page
    [entry] = await admin.service.audit.recent()
    assert (entry.actor, entry.target, entry.action) == ("ada", "user:bea", "add")
    assert entry.summary == "web user bea added (supervisor)"
    assert entry.diff is None
    _, page = await admin.get("/admin/audit")
    assert "user:bea" in page
    assert PASSWORD not in page
