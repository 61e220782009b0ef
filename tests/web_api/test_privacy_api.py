"""A customer's rights over HTTP: export everything held, erase the personal data (admin)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.models import ApiIdempotencyRow

from .conftest import Api


async def test_an_admin_exports_and_erases_a_customer_keeping_the_kpis(
    api: Api, chat_token: str, admin_token: str, engine: AsyncEngine
) -> None:
    contact = {
        "channel": "chat",
        "identity": {"kind": "email", "value": "jane@example.com"},
        "transcript": "my address is 1 High St",
        "recording_ref": "chat/88.json",
        "agent": "a1001",
    }
    written = await api.post(
        "/interactions", chat_token, json_body=contact, headers={"Idempotency-Key": "c1"}
    )
    customer = written.body["customer_id"]
    path = f"/customers/{customer}"

    exported = await api.get(path + "/export", admin_token)
    assert exported.status == 200
    assert exported.body["format"] == "hotline.history.export/1"
    assert exported.body["interactions"][0]["transcript"] == "my address is 1 High St"

    erased = await api.post(
        path + "/erase", admin_token, json_body={"by": "dpo", "reason": "request 117"}
    )
    assert erased.status == 200
    assert erased.body["recording_refs"] == ["chat/88.json"]
    assert erased.body["removed"]["identities"] == 1

    found = await api.get("/customers", chat_token, params={"email": "jane@example.com"})
    assert found.body["items"] == []
    interaction = await api.get(f"/interactions/{written.body['id']}", chat_token)
    assert (interaction.body["transcript"], interaction.body["agent"]) == (None, "a1001")
    async with engine.connect() as connection:
        held = await connection.execute(select(func.count()).select_from(ApiIdempotencyRow))
        assert held.scalar_one() == 0  # the request fingerprint is forgotten too

    unknown = await api.get("/customers/4242/export", admin_token)
    assert (unknown.status, unknown.code) == (404, "not_found")
