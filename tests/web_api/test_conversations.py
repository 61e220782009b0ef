"""Conversations over HTTP: what chat, e-mail and messaging-app modules call."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from history.records import Interaction, Message
from tests.history.conftest import TEST_LIMITS, ManualClock

from .conftest import Api, Served, serve

HELLO = {"direction": "in", "author_kind": "customer", "body": "Hello, my parcel is late"}
VISITOR = {"kind": "chat", "value": "visitor-81"}


async def _open(api: Api, token: str, **fields: Any) -> Any:
    body = {"channel": "chat", "identity": VISITOR, **fields}
    return await api.post("/conversations", token, json_body=body)


async def test_a_chat_opens_a_conversation_with_its_first_message_and_the_next_continues_it(
    api: Api, chat_token: str
) -> None:
    opened = await _open(api, chat_token, message=HELLO)
    assert opened.status == 201
    conversation = opened.body["conversation"]
    assert opened.headers["Location"] == f"/api/v1/conversations/{conversation['id']}"
    assert (conversation["channel"], conversation["status"]) == ("chat", "open")
    assert opened.body["message"]["body"] == HELLO["body"]

    again = await _open(api, chat_token, message={**HELLO, "body": "Anyone there?"})
    assert (again.status, again.body["created"]) == (200, False)
    assert again.body["conversation"]["id"] == conversation["id"]

    thread = await api.get(f"/conversations/{conversation['id']}", chat_token)
    assert thread.status == 200
    assert [m["body"] for m in thread.body["messages"]] == [HELLO["body"], "Anyone there?"]
    assert (thread.body["older"], thread.body["newer"]) == (None, None)


async def test_a_retried_open_with_its_key_opens_and_posts_nothing_twice(
    api: Api, chat_token: str
) -> None:
    key = {"Idempotency-Key": "open-1"}
    body = {"channel": "chat", "identity": VISITOR, "reuse": False, "message": HELLO}
    first = await api.post("/conversations", chat_token, json_body=body, headers=key)
    retry = await api.post("/conversations", chat_token, json_body=body, headers=key)
    assert (first.status, retry.status) == (201, 200)
    assert retry.body["conversation"]["id"] == first.body["conversation"]["id"]
    assert retry.body["message"] == first.body["message"]
    assert first.body["message"]["external_id"] == "open-1"
    other = {**body, "identity": {"kind": "chat", "value": "someone-else"}}
    clash = await api.post("/conversations", chat_token, json_body=other, headers=key)
    assert (clash.status, clash.code) == (409, "conversation_conflict")


async def test_appends_are_idempotent_by_external_id_or_key_and_other_content_is_409(
    api: Api, chat_token: str
) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    path = f"/conversations/{talk}/messages"
    said = {**HELLO, "external_id": "client-1"}
    first = await api.post(path, chat_token, json_body=said)
    retry = await api.post(path, chat_token, json_body=said)
    assert (first.status, retry.status) == (201, 200)
    assert retry.body == first.body
    changed = await api.post(path, chat_token, json_body={**said, "body": "other words"})
    assert (changed.status, changed.code) == (409, "idempotency_conflict")
    assert changed.body["error"]["details"][0]["fields"] == ["body"]

    keyed = {"Idempotency-Key": "k-2"}
    by_key = await api.post(path, chat_token, json_body=HELLO, headers=keyed)
    again = await api.post(path, chat_token, json_body=HELLO, headers=keyed)
    assert (by_key.status, again.status, by_key.body["external_id"]) == (201, 200, "k-2")
    thread = await api.get(f"/conversations/{talk}", chat_token)
    assert len(thread.body["messages"]) == 2


async def test_html_and_script_are_kept_and_served_as_json_text(api: Api, chat_token: str) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    hostile = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)> &lt;"
    posted = await api.post(
        f"/conversations/{talk}/messages", chat_token, json_body={**HELLO, "body": hostile}
    )
    assert posted.status == 201
    thread = await api.get(f"/conversations/{talk}", chat_token)
    assert thread.headers["Content-Type"].startswith("application/json")
    assert thread.body["messages"][0]["body"] == hostile


async def test_malformed_text_is_a_clear_4xx(api: Api, chat_token: str) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    path = f"/conversations/{talk}/messages"
    headers = {"Content-Type": "application/json"}
    bad_utf8 = b'{"direction": "in", "author_kind": "customer", "body": "caf\xe9"}'
    answer = await api.post(path, chat_token, data=bad_utf8, headers=headers)
    assert (answer.status, answer.code) == (400, "bad_json")
    surrogate = b'{"direction": "in", "author_kind": "customer", "body": "x \\ud800 y"}'
    answer = await api.post(path, chat_token, data=surrogate, headers=headers)
    assert (answer.status, answer.code) == (422, "validation_failed")
    assert answer.body["error"]["details"][0]["loc"] == ["body", "body"]
    answer = await api.post(path, chat_token, json_body={**HELLO, "body": "nul\x00"})
    assert (answer.status, answer.code) == (422, "validation_failed")
    answer = await api.post(path, chat_token, json_body={**HELLO, "author_kind": "robot"})
    assert answer.body["error"]["details"][0]["loc"] == ["body", "author_kind"]


async def test_a_message_over_the_cap_is_413_and_nothing_is_written(
    api: Api, chat_token: str
) -> None:
    too_long = {**HELLO, "body": "x" * (TEST_LIMITS.max_body_chars + 1)}
    refused = await _open(api, chat_token, message=too_long)
    assert (refused.status, refused.code) == (413, "message_too_large")
    detail = refused.body["error"]["details"][0]
    assert (detail["limit"], detail["unit"]) == (TEST_LIMITS.max_body_chars, "characters")
    found = await api.get("/customers", chat_token, params={"chat": "visitor-81"})
    assert found.body["items"] == []  # not even the conversation was opened


async def test_an_upload_far_over_the_file_cap_is_refused_before_it_is_read(
    api: Api, chat_token: str
) -> None:
    talk = (await _open(api, chat_token, message=HELLO)).body
    path = f"/conversations/{talk['conversation']['id']}/messages/{talk['message']['id']}"
    huge = _file("huge.bin", b"x" * 100_000)  # the upload's own cap: the file's, base64
    answer = await api.post(path + "/attachments", chat_token, json_body=huge)
    assert (answer.status, answer.code) == (413, "body_too_large")


async def test_unknown_ids_and_calls_are_404(api: Api, chat_token: str, voice_token: str) -> None:
    assert (await api.get("/conversations/999", chat_token)).status == 404
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    delivered = await api.patch(
        f"/conversations/{talk}/messages/999", chat_token, json_body={"delivery": "read"}
    )
    assert (delivered.status, delivered.code) == (404, "not_found")
    call = await api.post(
        "/interactions",
        voice_token,
        json_body={"channel": "voice", "identity": {"kind": "phone", "value": "+441632960123"}},
        headers={"Idempotency-Key": "call-1"},
    )
    not_chat = await api.get(f"/conversations/{call.body['id']}", chat_token)
    assert (not_chat.status, not_chat.code) == (404, "not_found")
    assert "not a conversation" in not_chat.body["error"]["message"]
    voice = await api.post(
        "/conversations", chat_token, json_body={"channel": "voice", "identity": VISITOR}
    )
    assert voice.body["error"]["details"][0]["loc"] == ["body", "channel"]
    both = await api.get(f"/conversations/{talk}", chat_token, params={"before": 5, "after": 1})
    assert (both.status, both.code) == (422, "validation_failed")


async def test_scopes_are_per_channel(api: Api, served: Served, chat_token: str) -> None:
    reader = await served.token("reader", "history:read")
    mailer = await served.token("mailer", "history:read", "history:write:email")
    no_write = await _open(api, reader)
    assert (no_write.status, no_write.code) == (403, "forbidden")
    wrong_channel = await _open(api, mailer)
    assert wrong_channel.status == 403
    assert "history:write:chat" in wrong_channel.body["error"]["message"]
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    into_chat = await api.post(f"/conversations/{talk}/messages", mailer, json_body=HELLO)
    assert into_chat.status == 403
    as_sms = await api.post(
        f"/conversations/{talk}/messages", chat_token, json_body={**HELLO, "channel": "sms"}
    )
    assert as_sms.status == 403  # a chat module may not write SMS messages
    assert (await api.get(f"/conversations/{talk}", reader)).status == 200
    assert (await api.get(f"/conversations/{talk}")).status == 401


async def test_delivery_reports_only_move_forward(api: Api, chat_token: str) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    reply = {"direction": "out", "author_kind": "agent", "author_id": "a1001", "body": "Hi"}
    sent = await api.post(f"/conversations/{talk}/messages", chat_token, json_body=reply)
    assert sent.body["delivery"] == "queued"
    path = f"/conversations/{talk}/messages/{sent.body['id']}"
    states = []
    for state in ("delivered", "sent", "read", "failed", "read"):
        answer = await api.patch(path, chat_token, json_body={"delivery": state})
        assert answer.status == 200
        states.append(answer.body["delivery"])
    assert states == ["delivered", "delivered", "read", "failed", "failed"]
    bad = await api.patch(path, chat_token, json_body={"delivery": "lost"})
    assert bad.body["error"]["details"][0]["loc"] == ["body", "delivery"]


async def test_a_thread_pages_both_ways(api: Api, chat_token: str) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    for n in range(5):
        await api.post(
            f"/conversations/{talk}/messages", chat_token, json_body={**HELLO, "body": f"m{n}"}
        )
    path = f"/conversations/{talk}"
    latest = (await api.get(path, chat_token, params={"limit": 2})).body
    assert [m["body"] for m in latest["messages"]] == ["m3", "m4"]
    older = (await api.get(path, chat_token, params={"limit": 2, "before": latest["older"]})).body
    assert [m["body"] for m in older["messages"]] == ["m1", "m2"]
    newer = (await api.get(path, chat_token, params={"after": older["newer"]})).body
    assert [m["body"] for m in newer["messages"]] == ["m3", "m4"]


def _file(name: str, data: bytes, kind: str = "text/plain") -> dict[str, str]:
    return {"filename": name, "content_type": kind, "data": base64.b64encode(data).decode()}


async def test_attachments_upload_and_download_safely(
    api: Api, chat_token: str, tmp_path: Path
) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    message = (await api.post(f"/conversations/{talk}/messages", chat_token, json_body=HELLO)).body
    path = f"/conversations/{talk}/messages/{message['id']}/attachments"
    page = b"<html><script>alert(1)</script></html>"
    added = await api.post(
        path, chat_token, json_body=_file("../../etc/évil page.html", page, "text/html")
    )
    assert added.status == 201
    attachment = added.body
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == (
        "évil page.html",
        "text/html",
        len(page),
    )
    assert attachment["sha256"] == hashlib.sha256(page).hexdigest()
    again = await api.post(
        path, chat_token, json_body=_file("../../etc/évil page.html", page, "text/html")
    )
    assert (again.status, again.body) == (200, attachment)

    async with api.http.get(
        f"{api.base}/api/v1{path}/{attachment['id']}",
        headers={"Authorization": f"Bearer {chat_token}"},
    ) as response:
        assert response.status == 200
        assert await response.read() == page
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="_vil page.html"')
        assert "filename*=UTF-8''%C3%A9vil%20page.html" in disposition
    thread = await api.get(f"/conversations/{talk}", chat_token)
    assert thread.body["messages"][0]["attachments"] == [attachment]
    stored = list((tmp_path / "attachments").rglob("*"))
    assert not any(p.name.endswith(".html") for p in stored)  # stored by hash, not by name


async def test_attachment_caps_and_bad_uploads_are_clear(api: Api, chat_token: str) -> None:
    talk = (await _open(api, chat_token)).body["conversation"]["id"]
    message = (await api.post(f"/conversations/{talk}/messages", chat_token, json_body=HELLO)).body
    path = f"/conversations/{talk}/messages/{message['id']}/attachments"
    big = await api.post(path, chat_token, json_body=_file("big.bin", b"x" * 1001))
    assert (big.status, big.code) == (413, "attachment_too_large")
    assert big.body["error"]["details"][0]["limit"] == TEST_LIMITS.max_attachment_bytes
    not_base64 = await api.post(path, chat_token, json_body={"filename": "a", "data": "abc"})
    assert not_base64.body["error"]["details"][0]["loc"] == ["body", "data"]
    bad_type = await api.post(path, chat_token, json_body={**_file("a", b"1"), "content_type": "x"})
    assert bad_type.body["error"]["details"][0]["loc"] == ["body", "content_type"]
    for n in range(2):
        added = await api.post(path, chat_token, json_body=_file(f"{n}", bytes([n]) * 700))
        assert added.status == 201
    over = await api.post(path, chat_token, json_body=_file("third", b"z" * 200))
    assert (over.status, over.code) == (413, "attachment_too_large")
    missing = await api.get(f"{path}/999", chat_token)
    assert (missing.status, missing.code) == (404, "not_found")


class Recorder:
    def __init__(self, *, fail: bool = False) -> None:
        self.seen: list[tuple[str, int, str | None]] = []
        self.fail = fail

    async def conversation_opened(self, conversation: Interaction, first: Message | None) -> None:
        self.seen.append(("opened", conversation.id, None if first is None else first.body))
        if self.fail:
            raise RuntimeError("the ACD is down")

    async def message_appended(self, conversation: Interaction, message: Message) -> None:
        self.seen.append(("message", conversation.id, message.body))

    async def delivery_changed(self, conversation: Interaction, message: Message) -> None:
        self.seen.append(("delivery", conversation.id, message.delivery.value))


@pytest.fixture(params=[False, True], ids=["intake", "failing-intake"])
async def routed(
    request: pytest.FixtureRequest, engine: AsyncEngine, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[tuple[Served, Recorder]]:
    intake = Recorder(fail=request.param)
    async for running in serve(engine, clock, tmp_path / "spool.jsonl", intake=intake):
        yield running, intake


async def test_new_conversations_and_messages_are_handed_to_the_intake_once(
    routed: tuple[Served, Recorder],
) -> None:
    served, intake = routed
    token = await served.token("chat", "history:read", "history:write:chat")
    opened = await _open(served.api, token, message=HELLO)
    assert opened.status == 201  # stored even when the intake fails
    talk = opened.body["conversation"]["id"]
    await _open(served.api, token, message={**HELLO, "body": "still there?"})
    said = {**HELLO, "body": "hello?", "external_id": "c-9"}
    for _ in range(2):  # the retry is not handed over again
        await served.api.post(f"/conversations/{talk}/messages", token, json_body=said)
    reply = {"direction": "out", "author_kind": "agent", "body": "Yes"}
    sent = await served.api.post(f"/conversations/{talk}/messages", token, json_body=reply)
    path = f"/conversations/{talk}/messages/{sent.body['id']}"
    for state in ("read", "sent"):  # the late report changes nothing: not handed over
        await served.api.patch(path, token, json_body={"delivery": state})
    assert intake.seen == [
        ("opened", talk, HELLO["body"]),
        ("message", talk, "still there?"),
        ("message", talk, "hello?"),
        ("message", talk, "Yes"),
        ("delivery", talk, "read"),
    ]


async def test_the_timeline_shows_each_conversations_count_and_last_message(
    api: Api, chat_token: str
) -> None:
    opened = (await _open(api, chat_token, message=HELLO)).body
    await _open(api, chat_token, message={**HELLO, "body": "second"})
    customer = opened["conversation"]["customer_id"]
    timeline = await api.get(f"/customers/{customer}/timeline", chat_token)
    (entry,) = timeline.body["entries"]
    assert entry["conversation"]["message_count"] == 2
    assert entry["conversation"]["last_message"]["body"] == "second"
