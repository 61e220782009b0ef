"""Who may do what: bearer tokens and their scopes, checked on every request."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from history.inputs import Channel, NewEvent, NewInteraction
from hotline.web.api.context import ApiSettings
from tests.history.conftest import ManualClock

from .conftest import CHAT_SCOPES, Api, Served, serve

VOICE = {"channel": "voice", "identity": {"kind": "phone", "value": "+447700900123"}}


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(
    sqlite_served: Served,
) -> None:
    answer = await sqlite_served.api.get("/customers/1")
    assert (answer.status, answer.code) == (401, "unauthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'


async def test_an_unknown_token_is_401(sqlite_served: Served) -> None:
    for token in ("hl_" + "x" * 43, "not-even-ours", "hl_" + "y" * 500):
        answer = await sqlite_served.api.get("/customers/1", token)
        assert (answer.status, answer.code) == (401, "unauthenticated")
        assert "invalid_token" in answer.headers["WWW-Authenticate"]


async def test_a_chat_token_cannot_write_a_voice_interaction(
    served: Served, api: Api, chat_token: str
) -> None:
    answer = await api.post(
        "/interactions", chat_token, json_body=VOICE, headers={"Idempotency-Key": "k"}
    )
    assert (answer.status, answer.code) == (403, "forbidden")
    message = answer.body["error"]["message"]
    assert "history:write:voice" in message
    assert "voice interactions" in message
    found = await api.get("/customers", chat_token, params={"phone": "+447700900123"})
    assert found.body["items"] == []  # nothing was written, not even the customer


async def test_a_chat_token_cannot_change_a_voice_interaction(
    served: Served, api: Api, chat_token: str
) -> None:
    call = await served.repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, idempotency_key="1795.1")
    )
    answer = await api.patch(f"/interactions/{call.id}", chat_token, json_body={"agent": "x"})
    assert (answer.status, answer.code) == (403, "forbidden")
    by_ref = await api.patch(
        "/interactions/by-ref",
        chat_token,
        params={"source": "hotline", "key": "1795.1"},
        json_body={"agent": "x"},
    )
    assert by_ref.status == 403
    assert (await served.repository.get_interaction(call.id)).agent is None


async def test_a_chat_token_cannot_export_erase_or_read_the_event_log(
    served: Served, api: Api, chat_token: str
) -> None:
    customer = await api.post("/customers", chat_token, json_body={"name": "Jane"})
    path = f"/customers/{customer.body['id']}"
    erase = await api.post(path + "/erase", chat_token, json_body={"by": "x", "reason": "y"})
    export = await api.get(path + "/export", chat_token)
    events = await api.get("/events", chat_token)
    assert [erase.status, export.status, events.status] == [403, 403, 403]
    assert "privacy:admin" in erase.body["error"]["message"]
    assert (await served.repository.get_customer(customer.body["id"])).name == "Jane"


async def test_history_write_reaches_every_channel_and_events_read_the_log(
    served: Served, api: Api, admin_token: str
) -> None:
    await served.repository.append_event(NewEvent(kind="queued", call_id="c1"))
    voice = await api.post(
        "/interactions", admin_token, json_body=VOICE, headers={"Idempotency-Key": "k"}
    )
    assert voice.status == 201
    events = await api.get("/events", admin_token, params={"kind": "queued"})
    assert [e["call_id"] for e in events.body["items"]] == ["c1"]
    assert events.body["next_after_seq"] == events.body["items"][0]["seq"]


async def test_a_read_only_token_cannot_write(served: Served, api: Api) -> None:
    reader = await served.token("dashboard", "history:read")
    answer = await api.post("/customers", reader, json_body={"name": "Jane"})
    assert (answer.status, answer.code) == (403, "forbidden")


async def test_a_revoked_token_is_refused_and_use_is_noted(
    engine: AsyncEngine, clock: ManualClock, tmp_path: Path
) -> None:
    settings = ApiSettings(token_fresh_s=0.0)
    async for served in serve(engine, clock, tmp_path / "spool.jsonl", settings):
        token = await served.token("chat", *CHAT_SCOPES)
        assert (await served.api.get("/customers", token, params={"chat": "x"})).status == 200
        (listed,) = await served.tokens.list()
        assert listed.last_used_at == clock.now
        await served.tokens.revoke("chat")
        answer = await served.api.get("/customers", token, params={"chat": "x"})
        assert (answer.status, answer.code) == (401, "unauthenticated")
