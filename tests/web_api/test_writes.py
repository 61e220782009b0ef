"""Writes over HTTP: retries never duplicate, a reused key with another body is refused,
identity conflicts name the holder, and updates follow the contact as it moves on."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.models import InteractionRow, NoteRow

from .conftest import Api, Served

CHAT = {"channel": "chat", "identity": {"kind": "chat", "value": "jane-d"}, "intent": "billing"}


async def count(engine: AsyncEngine, table: type[InteractionRow] | type[NoteRow]) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_retry_with_the_same_key_and_body_returns_the_original_with_200(
    api: Api, chat_token: str, engine: AsyncEngine
) -> None:
    key = {"Idempotency-Key": "conv-1/msg-1"}
    first = await api.post("/interactions", chat_token, json_body=CHAT, headers=key)
    retry = await api.post("/interactions", chat_token, json_body=CHAT, headers=key)
    assert (first.status, retry.status) == (201, 200)
    assert retry.body == first.body
    assert retry.headers["Location"] == f"/api/v1/interactions/{first.body['id']}"
    assert await count(engine, InteractionRow) == 1


async def test_concurrent_retries_record_one_interaction(
    api: Api, chat_token: str, engine: AsyncEngine
) -> None:
    key = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(api.post("/interactions", chat_token, json_body=CHAT, headers=key) for _ in range(6))
    )
    assert sorted(a.status for a in answers) == [200] * 5 + [201]
    assert len({a.body["id"] for a in answers}) == 1
    assert await count(engine, InteractionRow) == 1


async def test_the_same_key_with_a_different_body_is_409_with_the_reason(
    api: Api, chat_token: str, engine: AsyncEngine
) -> None:
    key = {"Idempotency-Key": "conv-2"}
    await api.post("/interactions", chat_token, json_body=CHAT, headers=key)
    other = await api.post(
        "/interactions", chat_token, json_body=CHAT | {"intent": "cancel"}, headers=key
    )
    assert (other.status, other.code) == (409, "idempotency_conflict")
    assert "conv-2" in other.body["error"]["message"]
    assert "different body" in other.body["error"]["message"]
    assert await count(engine, InteractionRow) == 1


async def test_keys_are_per_module_so_two_modules_cannot_collide(
    served: Served, api: Api, chat_token: str, engine: AsyncEngine
) -> None:
    email_token = await served.token("email", "history:write:email")
    key = {"Idempotency-Key": "42"}
    chat = await api.post("/interactions", chat_token, json_body=CHAT, headers=key)
    mail = {"channel": "email", "identity": {"kind": "email", "value": "Jane@Example.com"}}
    email = await api.post("/interactions", email_token, json_body=mail, headers=key)
    assert (chat.status, email.status) == (201, 201)
    assert (chat.body["source"], email.body["source"]) == ("chat", "email")


async def test_a_refused_append_gives_the_key_back(api: Api, chat_token: str) -> None:
    key = {"Idempotency-Key": "fix-me"}
    unknown = await api.post(
        "/interactions", chat_token, json_body={"channel": "chat", "customer_id": 999}, headers=key
    )
    assert (unknown.status, unknown.body["error"]["details"][0]["loc"]) == (
        422,
        ["body", "customer_id"],
    )
    fixed = await api.post("/interactions", chat_token, json_body=CHAT, headers=key)
    assert fixed.status == 201


async def test_an_append_without_an_idempotency_key_is_refused(api: Api, chat_token: str) -> None:
    answer = await api.post("/interactions", chat_token, json_body=CHAT)
    assert answer.status == 422
    assert answer.body["error"]["details"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_an_interaction_moves_on_by_its_writers_reference(api: Api, chat_token: str) -> None:
    key = "conv-3"
    await api.post("/interactions", chat_token, json_body=CHAT, headers={"Idempotency-Key": key})
    changed = await api.patch(
        "/interactions/by-ref",
        chat_token,
        params={"key": key},
        json_body={"agent": "a1001", "status": "resolved", "csat": 5},
    )
    assert changed.status == 200
    assert (changed.body["agent"], changed.body["status"], changed.body["csat"]) == (
        "a1001",
        "resolved",
        5,
    )
    read = await api.get(f"/interactions/{changed.body['id']}", chat_token)
    assert read.body == changed.body
    cleared = await api.patch(
        f"/interactions/{changed.body['id']}", chat_token, json_body={"csat": None}
    )
    assert cleared.body["csat"] is None
    refused = await api.patch(
        f"/interactions/{changed.body['id']}", chat_token, json_body={"status": None}
    )
    assert (refused.status, refused.body["error"]["details"][0]["loc"]) == (422, ["body", "status"])


async def test_notes_are_idempotent_too(api: Api, chat_token: str, engine: AsyncEngine) -> None:
    created = await api.post(
        "/interactions", chat_token, json_body=CHAT, headers={"Idempotency-Key": "conv-4"}
    )
    note = {"author": "a1001", "body": "Sent the refund form", "interaction_id": created.body["id"]}
    key = {"Idempotency-Key": "note-1"}
    first = await api.post("/notes", chat_token, json_body=note, headers=key)
    retry = await api.post("/notes", chat_token, json_body=note, headers=key)
    assert (first.status, retry.status, retry.body["id"]) == (201, 200, first.body["id"])
    assert await count(engine, NoteRow) == 1
    on_ref = {
        "author": "a1",
        "body": "x",
        "interaction": {"source": "chat", "idempotency_key": "?"},
    }
    unknown = await api.post("/notes", chat_token, json_body=on_ref)
    assert (unknown.status, unknown.body["error"]["details"][0]["loc"]) == (
        422,
        ["body", "interaction"],
    )


async def test_an_identity_held_by_another_customer_is_409_naming_the_holder(
    api: Api, chat_token: str
) -> None:
    jane = {"name": "Jane", "identities": [{"kind": "phone", "value": "07700 900123"}]}
    created = await api.post("/customers", chat_token, json_body=jane)
    assert created.status == 201
    assert created.headers["Location"] == f"/api/v1/customers/{created.body['id']}"
    assert created.body["identities"][0]["value"] == "+447700900123"

    other = await api.post("/customers", chat_token, json_body={"name": "J. Doe"})
    clash = await api.post(
        f"/customers/{other.body['id']}/identities",
        chat_token,
        json_body={"kind": "phone", "value": "+44 7700 900123"},
    )
    assert (clash.status, clash.code) == (409, "identity_conflict")
    assert clash.body["error"]["details"][0]["holder_id"] == created.body["id"]
    assert f"customer {created.body['id']}" in clash.body["error"]["message"]
    assert "900123" not in clash.body["error"]["message"]  # masked: messages end up in logs


async def test_two_records_of_one_person_are_merged(
    api: Api, chat_token: str, admin_token: str
) -> None:
    a = await api.post("/customers", admin_token, json_body={"name": "Jane"})
    b = await api.post(
        "/customers", admin_token, json_body={"identities": [{"kind": "chat", "value": "jd"}]}
    )
    merge = {"merged_id": b.body["id"], "by": "supervisor-ann", "reason": "same person"}
    refused = await api.post(f"/customers/{a.body['id']}/merge", chat_token, json_body=merge)
    assert refused.status == 403
    merged = await api.post(f"/customers/{a.body['id']}/merge", admin_token, json_body=merge)
    assert merged.status == 200
    found = await api.get("/customers", chat_token, params={"chat": "jd"})
    assert [c["id"] for c in found.body["items"]] == [a.body["id"]]
    again = await api.post(f"/customers/{a.body['id']}/merge", admin_token, json_body=merge)
    assert (again.status, again.code) == (409, "invalid_merge")
    changed = await api.patch(  # a tier needs history:write (issue 16): the admin's token
        f"/customers/{b.body['id']}", admin_token, json_body={"tier": "gold", "name": None}
    )
    assert (changed.body["id"], changed.body["tier"], changed.body["name"]) == (
        a.body["id"],
        "gold",
        None,
    )
