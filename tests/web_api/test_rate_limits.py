"""API rate limits (issue 16, finding 6): one read token at 1,000 requests/s made 44 % of
them time out and pushed writes into the spool. Now a token, and an address, past its
bucket gets 429 with Retry-After at once, and nobody else is slowed by it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hotline.config import ConfigError, load_config
from hotline.web.api.context import ApiSettings
from hotline.web.api.rate_limit import RateLimits
from tests.history.conftest import ManualClock, Target

from .conftest import CHAT_SCOPES, Api, Served, serve

LIMITS = RateLimits(per_token_per_s=2, per_token_burst=5, per_address_per_s=5, per_address_burst=30)


class Seconds:
    """The rate limits' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
async def limited(
    sqlite_target: Target, clock: ManualClock, tmp_path: Path, seconds: Seconds
) -> AsyncIterator[Served]:
    store = sqlite_target.engine()
    settings = ApiSettings(rate_limits=LIMITS, rate_clock=seconds)
    try:
        async for running in serve(store, clock, tmp_path / "spool.jsonl", settings):
            yield running
    finally:
        await store.dispose()


async def test_a_token_past_its_bucket_gets_429_with_retry_after(
    limited: Served, seconds: Seconds
) -> None:
    flood = await limited.token("flood", "history:read")
    calm = await limited.token("calm", "history:read")
    answers = await asyncio.gather(
        *(limited.api.get("/customers", flood, params={"chat": "x"}) for _ in range(50))
    )
    statuses = [a.status for a in answers]
    assert statuses.count(200) == 5  # the burst
    assert statuses.count(429) == 45
    refused = next(a for a in answers if a.status == 429)
    assert refused.code == "rate_limited"
    assert refused.headers["Retry-After"] == "1"
    # Another token from the same address is not held up by the flood ...
    assert (await limited.api.get("/customers", calm, params={"chat": "x"})).status == 200
    # ... and the flooding token may go on once its bucket refilled.
    seconds.now += 1.0
    assert (await limited.api.get("/customers", flood, params={"chat": "x"})).status == 200


async def test_an_address_past_its_bucket_gets_429_whatever_tokens_it_makes_up(
    limited: Served,
) -> None:
    guesses = [f"hl_made-up-{n}" for n in range(60)]
    answers = await asyncio.gather(*(limited.api.get("/customers/1", g) for g in guesses))
    statuses = [a.status for a in answers]
    assert statuses.count(401) == 30  # the address's burst: each checked, and refused
    assert statuses.count(429) == 30
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    ) as elsewhere:
        other = Api(elsewhere, limited.api.base)
        assert (await other.get("/openapi.json")).status == 200  # another address: served


async def test_429_is_documented_for_every_operation(limited: Served) -> None:
    document = (await limited.api.get("/openapi.json")).body
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert "429" in operation["responses"], (method, path)


async def test_without_limits_the_api_is_not_limited(served: Served) -> None:
    token = await served.token("chat", *CHAT_SCOPES)
    answers = await asyncio.gather(
        *(served.api.get("/customers", token, params={"chat": "x"}) for _ in range(30))
    )
    assert {a.status for a in answers} == {200}


def test_rate_limits_come_from_hotline_yaml_and_are_validated(tmp_path: Path) -> None:
    (tmp_path / "hotline.yaml").write_text(
        "web:\n  api_rate_limits:\n    per_token_per_s: 0\n    per_address_burst: 10\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="per_token_per_s"):
        load_config(tmp_path, environ={})
    (tmp_path / "hotline.yaml").write_text(
        "web:\n  api_rate_limits:\n    per_token_per_s: 5\n", encoding="utf-8"
    )
    limits = load_config(tmp_path, environ={}).web.api_rate_limits
    assert (limits.per_token_per_s, limits.per_address_burst) == (5, 200)
