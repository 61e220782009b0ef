"""In a real headless chromium, after real calls on the emulated Asterisk: a supervisor opens
the reports page (the last week by queue, its chart and table), changes the range to today's
15-minute intervals by channel, and downloads the CSV, which holds the table's cells; then
the page in Arabic. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import AgentState
from telephony.emulator import Caller
from tests.e2e.stack import wait_until
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import TO_AN_AGENT, running
from tests.web.test_browser import sign_in, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]

BUSY = {AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP}


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def table_cells(driver: Any) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#report-table tbody tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def change_range(driver: Any, day: str, grain: str, by: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.execute_script(
        "document.getElementById('report-from').value = arguments[0];"
        "document.getElementById('report-to').value = arguments[0];",
        day,
    )
    Select(driver.find_element(By.ID, "report-grain")).select_by_value(grain)
    Select(driver.find_element(By.ID, "report-by")).select_by_value(by)
    driver.find_element(By.ID, "report-show").click()


def download(driver: Any, folder: Path) -> str:
    from selenium.webdriver.common.by import By

    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    driver.find_element(By.ID, "report-csv").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.csv")]
        if done:
            return done[0].read_text("utf-8")
        time.sleep(0.1)
    raise AssertionError("no CSV downloaded")


async def test_a_supervisor_changes_the_range_and_downloads_the_csv(
    tmp_path: Path, driver: Any
) -> None:
    # A short wrap-up, over before the page is read: a wrap-up ending between the page and
    # the download would change the handle time between them.
    async with running(tmp_path, ring_s=1.0, overrides={"agents.policy.wrap_up_s": 0.5}) as stack:
        calls = [
            await stack.emulator.place_call(
                Caller(number=f"+97150122{n:04d}", dtmf=TO_AN_AGENT, barge_in=False)
            )
            for n in range(3)
        ]
        for call in calls:
            await call.wait_done(timeout_s=60)
        book = stack.service.acd.distributor.book

        def settled() -> bool:  # every call handled and wrapped up
            views = book.views()
            handled = sum(book.calls_handled(v.agent_id) for v in views)
            return handled == len(calls) and not any(v.state in BUSY for v in views)

        await wait_until(settled)
        await stack.service.acd_log.flush()
        await stack.service.history_writer.flush()
        url = stack.url
        today = date.today().isoformat()

        def journey() -> tuple[list[list[str]], str, list[list[str]]]:
            sign_in(driver, url, "sam")
            wait_for(driver, "header", "Reports")  # the navigation's link
            driver.get(url + "reports")
            wait_for(driver, "#report-status", "rows")
            wait_for(driver, "#report-table tbody", today)
            week = table_cells(driver)
            screenshot(driver, "reports-week-by-queue")
            change_range(driver, today, "interval", "channel")
            wait_for(driver, "#report-table tbody tr td", f"{today} ")  # an interval's label
            wait_for(driver, "#report-table tbody", "voice")
            shown = table_cells(driver)
            screenshot(driver, "reports-today-intervals-by-channel")
            with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
                text = download(driver, Path(folder))
            driver.get(url + "language/ar?next=/reports")
            wait_for(driver, "#report-status", "صفًا")
            screenshot(driver, "reports-arabic")
            driver.get("about:blank")
            return week, text, shown

        week, text, shown = await asyncio.to_thread(journey)

    assert len({row[0] for row in week}) == 7  # a week of days, quiet ones as zeros
    [centre] = [row for row in week if row[0] == today and row[1] == "all"]
    assert centre[2] == "3"  # today: 3 calls offered
    exported = list(csv.reader(io.StringIO(text)))
    assert exported[0][:3] == ["Period", "Group", "Offered"]
    assert exported[1:] == shown  # the file holds what the page shows
    assert {row[1] for row in shown} >= {"all", "voice"}
