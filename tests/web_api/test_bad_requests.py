"""Hostile or broken requests get a clear 4xx in one JSON shape, and the server carries on.

Malformed JSON is 400; well-formed JSON that breaks the schema is 422 with the path to
the field at fault; unknown ids are 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hotline.web.api.context import ApiSettings
from tests.history.conftest import ManualClock, Target

from .conftest import CHAT_SCOPES, Answer, Api, Served, serve


@pytest.fixture
async def token(sqlite_served: Served) -> str:
    return await sqlite_served.token("chat", *CHAT_SCOPES)


@pytest.fixture
def api(sqlite_served: Served) -> Api:
    return sqlite_served.api


def loc(answer: Answer) -> list[object]:
    return list(answer.body["error"]["details"][0]["loc"])


KEY = {"Idempotency-Key": "k1"}


async def test_malformed_json_is_400(api: Api, token: str) -> None:
    for data in (b'{"channel": ', b"", b'{"wait_s": NaN, "channel": "chat"}', b"\xff\xfe"):
        answer = await api.post(
            "/interactions",
            token,
            data=data,
            headers=KEY | {"Content-Type": "application/json"},
        )
        assert (answer.status, answer.code) == (400, "bad_json"), data


async def test_a_body_that_is_not_json_is_415(api: Api, token: str) -> None:
    answer = await api.post(
        "/customers", token, data=b"name=Jane", headers={"Content-Type": "text/plain"}
    )
    assert (answer.status, answer.code) == (415, "unsupported_media_type")


async def test_a_schema_violation_is_422_with_the_path_to_the_field(api: Api, token: str) -> None:
    bad_channel = await api.post("/interactions", token, json_body={"channel": "fax"}, headers=KEY)
    assert (bad_channel.status, bad_channel.code) == (422, "validation_failed")
    assert loc(bad_channel) == ["body", "channel"]
    assert bad_channel.body["error"]["message"].startswith("body.channel: ")

    long_value = {"channel": "chat", "identity": {"kind": "chat", "value": "x" * 400}}
    nested = await api.post("/interactions", token, json_body=long_value, headers=KEY)
    assert loc(nested) == ["body", "identity", "value"]

    other_source = {"channel": "chat", "source": "hotline"}
    impostor = await api.post("/interactions", token, json_body=other_source, headers=KEY)
    assert (loc(impostor), impostor.body["error"]["details"][0]["type"]) == (
        ["body", "source"],
        "extra_forbidden",
    )

    many = await api.post("/interactions", token, json_body={"csat": 9}, headers=KEY)
    assert {tuple(d["loc"]) for d in many.body["error"]["details"]} == {
        ("body", "channel"),
        ("body", "csat"),
    }


async def test_refused_values_are_not_echoed_back(api: Api, token: str) -> None:
    answer = await api.get("/customers", token, params={"phone": "call me on 555"})
    assert (answer.status, loc(answer)) == (422, ["query", "phone"])
    assert "555" not in str(answer.body)
    created = await api.post(
        "/customers",
        token,
        json_body={"identities": [{"kind": "email", "value": "not-an-address"}]},
    )
    assert (created.status, loc(created)) == (422, ["body", "identities", 0, "value"])
    assert "not-an-address" not in str(created.body)


async def test_bad_query_and_path_parameters_are_422_located(api: Api, token: str) -> None:
    customer = await api.post("/customers", token, json_body={"name": "Jane"})
    timeline = f"/customers/{customer.body['id']}/timeline"
    cases = [
        (timeline, {"limit": "0"}, ["query", "limit"]),
        (timeline, {"limit": "ten"}, ["query", "limit"]),
        (timeline, {"limt": "10"}, ["query", "limt"]),
        (timeline, {"cursor": "bm90IGEgY3Vyc29y"}, ["query", "cursor"]),
        (timeline, {"channel": "fax"}, ["query", "channel", 0]),
        ("/customers/abc", None, ["path", "customer_id"]),
        ("/customers/99999999999999999999", None, ["path", "customer_id"]),
        ("/customers", {"phone": "+447700900123", "email": "a@example.com"}, ["query"]),
    ]
    for path, params, where in cases:
        answer = await api.get(path, token, params=params)
        assert (answer.status, loc(answer)) == (422, where), (path, params)


async def test_unknown_ids_and_paths_are_404_and_wrong_methods_405(api: Api, token: str) -> None:
    for path in ("/customers/4242", "/customers/4242/timeline", "/interactions/4242", "/nope"):
        answer = await api.get(path, token)
        assert (answer.status, answer.code) == (404, "not_found"), path
    by_ref = await api.get("/interactions/by-ref", token, params={"key": "never"})
    assert by_ref.status == 404
    wrong = await api.call("DELETE", "/customers/1", token)
    assert (wrong.status, wrong.code) == (405, "method_not_allowed")
    assert "GET" in wrong.headers["Allow"]


@pytest.fixture
async def small(sqlite_target: Target, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Served]:
    store = sqlite_target.engine()
    try:
        settings = ApiSettings(max_body_bytes=1024)
        async for running in serve(store, clock, tmp_path / "spool.jsonl", settings):
            yield running
    finally:
        await store.dispose()


async def test_an_oversized_body_is_413_before_it_is_read_and_the_server_carries_on(
    small: Served,
) -> None:
    token = await small.token("chat", *CHAT_SCOPES)
    big = {"channel": "chat", "transcript": "x" * 2000}
    answer = await small.api.post("/interactions", token, json_body=big, headers=KEY)
    assert (answer.status, answer.code) == (413, "body_too_large")

    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"channel": "chat", "transcript": "'
        for _ in range(10):
            yield b"y" * 200
        yield b'"}'

    http = small.api.http
    url = small.api.base + "/api/v1/interactions"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"} | KEY
    async with http.post(url, data=chunked(), headers=headers) as streamed:
        assert streamed.status == 413
    fine = await small.api.post("/interactions", token, json_body={"channel": "chat"}, headers=KEY)
    assert fine.status == 201
