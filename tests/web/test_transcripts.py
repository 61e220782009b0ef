"""Post-call transcripts on the supervisor's pages (hotline/web/transcripts.py), on the
shipped service over the emulated Asterisk with recording on: a recorded call's transcript
is searched by phrase (case and diacritics folded), category and date by a supervisor,
each search in the access log; trends per queue; agents are refused."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from center.call_analytics import analyse, fold
from history.access_log import AccessLog
from history.transcripts import TranscriptWrite
from tests.web.browser import chromium, needs_chromium
from tests.web.support import Stack, running, signed_in
from tests.web.test_agent import NUMBER, call_for_agent_1001, jar
from tests.web.test_browser import sign_in, wait_for
from tests.web.test_recordings import ended

SAID = "I will CANCEL my account and call my lawyer, this is terrible"
SPOT = {"cancellation": ["cancel my account"], "legal": ["lawyer"]}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    recorded = {"recording.mode": "record", "recording.directory": str(tmp_path / "recordings")}
    async with running(tmp_path, ring_s=0.5, overrides=recorded) as live:
        yield live


async def transcribed_call(stack: Stack) -> tuple[str, int]:
    """A recorded call to agent 1001, ended, with its transcript: (call id, customer id)."""
    call_id = await call_for_agent_1001(stack)
    customer = await stack.service.history.find_customer("phone", NUMBER)
    assert customer is not None
    await stack.service.call_control.hang_up("1001")
    await ended(stack, call_id)
    found = analyse(SAID, SPOT)
    written = await stack.service.history.write_transcript(
        TranscriptWrite(
            source="hotline",
            call_id=call_id,
            language="en",
            model="whisper base",
            text=SAID,
            folded=fold(SAID),
            audio_s=6.0,
            decode_s=1.2,
            spotted=found.spotted,
            sentiment=found.sentiment,
            at=dt.datetime.now(dt.UTC),
        )
    )
    assert written is not None
    return call_id, customer.id


async def test_a_supervisor_searches_transcripts_and_sees_trends(stack: Stack) -> None:
    call_id, customer_id = await transcribed_call(stack)
    base = stack.url + "page-api/supervisor/transcripts"
    async with jar() as http:
        await signed_in(http, stack.url, "sam")
        async with http.get(base, params={"q": "cancel MY"}) as response:
            (shown,) = (await response.json())["transcripts"]
        assert (shown["call_id"], shown["customer_id"], shown["queue"]) == (
            call_id,
            customer_id,
            "support",
        )
        assert shown["spotted"] == {"cancellation": ["cancel my account"], "legal": ["lawyer"]}
        assert shown["real_time_factor"] == 0.2
        async with http.get(base, params={"category": "competitor"}) as response:
            assert (await response.json())["transcripts"] == []
        async with http.get(base, params={"since": "2999-01-01"}) as response:
            assert (await response.json())["transcripts"] == []
        async with http.get(base, params={"since": "yesterday"}) as response:
            assert response.status == 422
        async with http.get(stack.url + "supervisor") as response:
            page = await response.text()
        assert 'id="transcripts-box"' in page
        assert '<script src="/static/transcripts.js"></script>' in page
        async with http.get(base + "/trends", params={"by": "queue"}) as response:
            trends = await response.json()
        assert trends["trends"] == [
            {
                "queue": "support",
                "calls": 1,
                "mean_sentiment": analyse(SAID, SPOT).sentiment,  # the one call's
                "spotted": {"cancellation": 1, "legal": 1},
            }
        ]
    async with jar() as http:  # agents do not read other calls' transcripts
        await signed_in(http, stack.url, "1001")
        async with http.get(base, params={"q": "cancel"}) as response:
            assert response.status == 403

    await stack.service.history_writer.flush()
    reads = await AccessLog(stack.service.store).query(customer_id=customer_id, actor="sam")
    assert [(r.what, r.route) for r in reads] == [
        ("searchTranscripts", "/page-api/supervisor/transcripts")
    ]


def search_on_the_page(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "sam")
    wait_for(driver, "#transcript-trends tbody td", "support")
    driver.find_element(By.CSS_SELECTOR, "#transcript-search input[name=q]").send_keys("lawyer")
    driver.find_element(By.CSS_SELECTOR, "#transcript-search button[type=submit]").click()
    wait_for(driver, "#transcript-results .transcript-text", "call my lawyer")


@needs_chromium
@pytest.mark.slow
async def test_the_supervisor_page_searches_and_shows_trends(stack: Stack) -> None:
    await transcribed_call(stack)
    with chromium() as driver:
        await asyncio.to_thread(search_on_the_page, driver, stack.url)
