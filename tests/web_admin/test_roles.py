"""Only admins reach the admin pages: every other role gets 403 on every admin route."""

from __future__ import annotations

import pytest

from tests.web_admin.conftest import Admin

GETS = [
    "/admin/agents",
    "/admin/agents/1001",
    "/admin/queues",
    "/admin/queues/support",
    "/admin/prompts",
    "/admin/prompts/audio/en/welcome.wav",
    "/admin/catalog",
    "/admin/catalog/products/fibre-500",
    "/admin/audit",
]
POSTS = [
    "/admin/agents",
    "/admin/agents/1001",
    "/admin/queues",
    "/admin/queues/support",
    "/admin/prompts",
    "/admin/catalog/products",
    "/admin/catalog/offers/double-speed",
]


@pytest.mark.parametrize("role_user", ["sam", "1001"])
async def test_supervisors_and_agents_get_403_on_every_admin_route(
    admin: Admin, role_user: str
) -> None:
    for path in GETS:
        status, _ = await admin.get(path, as_user=role_user)
        assert status == 403, path
    for path in POSTS:
        status, _ = await admin.post(path, {"name": "x"}, as_user=role_user)
        assert status == 403, path
    for path in GETS:
        status, _ = await admin.get(path)
        assert status == 200, path


async def test_admins_see_the_admin_pages_in_their_navigation(admin: Admin) -> None:
    _, page = await admin.get("/admin/audit")
    for link in ("/admin/agents", "/admin/queues", "/admin/prompts", "/admin/catalog"):
        assert f'href="{link}"' in page
    _, page = await admin.get("/supervisor", as_user="sam")
    assert 'href="/admin/agents"' not in page
