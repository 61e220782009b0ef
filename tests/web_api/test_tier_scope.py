"""A customer's tier raises their calls' priority (issue 16, finding 7): a token scoped to
one channel (a chat module) may keep customers but not set their tier."""

from __future__ import annotations

from .conftest import Api


async def test_a_chat_token_may_not_give_anyone_a_tier(
    api: Api, chat_token: str, admin_token: str
) -> None:
    created = await api.post(
        "/customers", chat_token, json_body={"name": "Jane", "tier": "platinum"}
    )
    assert (created.status, created.code) == (403, "forbidden")
    assert "history:write" in created.body["error"]["message"]
    jane = await api.post("/customers", chat_token, json_body={"name": "Jane"})
    assert jane.status == 201
    path = f"/customers/{jane.body['id']}"
    raised = await api.patch(path, chat_token, json_body={"tier": "platinum"})
    assert (raised.status, raised.code) == (403, "forbidden")
    renamed = await api.patch(path, chat_token, json_body={"name": "Jane D."})
    assert (renamed.status, renamed.body["tier"]) == (200, None)
    granted = await api.patch(path, admin_token, json_body={"tier": "gold"})
    assert (granted.status, granted.body["tier"]) == (200, "gold")
