"""In a real headless chromium: a supervisor raises a waiting call's priority, then moves it
to another queue, and sees each change arrive live on the page; the interval charts and the
FCR/CSAT boxes are drawn. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Pause
from telephony.emulator import Caller
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import TO_AN_AGENT, Stack, running
from tests.web.test_browser import open_supervisor, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        # nobody takes the call: it stays waiting
        for view in live.service.acd.distributor.book.views():
            live.service.acd.agent_event(Pause(view.agent_id, "training"))
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def row_in(queue: str, call_id: str) -> str:
    return f".queue[data-queue='{queue}'] tr.waiting-call[data-call='{call_id}']"


def press(driver: Any, css: str) -> None:
    """Click a button of the live table where it is now: a click at the coordinates it had
    a moment ago may land beside it when a redraw moves the rows."""
    from selenium.webdriver.common.by import By

    driver.execute_script("arguments[0].click();", driver.find_element(By.CSS_SELECTOR, css))


def raise_priority(driver: Any, call_id: str) -> float:
    from selenium.webdriver.common.by import By

    row = row_in("support", call_id)
    wait_for(driver, row)
    before = float(driver.find_element(By.CSS_SELECTOR, f"{row} td.priority .total").text)
    screenshot(driver, "supervisor-call-before-raise")
    press(driver, f"{row} button.raise-priority")
    return before


def sees_priority(driver: Any, call_id: str, at_least: float) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    cell = f"{row_in('support', call_id)} td.priority .total"
    # the live table is redrawn as the figures move: a cell found may be gone when read
    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: float(d.find_element(By.CSS_SELECTOR, cell).text) >= at_least
    )
    screenshot(driver, "supervisor-call-raised")


def move_to_billing(driver: Any, call_id: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    row = row_in("support", call_id)
    Select(driver.find_element(By.CSS_SELECTOR, f"{row} select.move-to")).select_by_value("billing")
    press(driver, f"{row} button.move")
    wait_for(driver, row_in("billing", call_id))
    assert not driver.find_elements(By.CSS_SELECTOR, row)
    screenshot(driver, "supervisor-call-moved")


def sees_charts_and_quality(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    wait_for(driver, "#charts svg.chart.volume rect.bar.offered")
    wait_for(driver, "#kpis .kpi.csat")
    assert driver.find_elements(By.CSS_SELECTOR, "#charts svg.chart.sl")
    screenshot(driver, "supervisor-charts")


async def test_a_supervisor_raises_a_waiting_call_and_moves_it_and_sees_it_live(
    stack: Stack, driver: Any
) -> None:
    await asyncio.to_thread(open_supervisor, driver, stack.url)
    placed = await stack.emulator.place_call(
        Caller(number="+971501110088", dtmf=TO_AN_AGENT, barge_in=False)
    )
    call_id = placed.uniqueid
    before = await asyncio.to_thread(raise_priority, driver, call_id)
    await asyncio.to_thread(sees_priority, driver, call_id, before + 10)
    await asyncio.to_thread(move_to_billing, driver, call_id)
    await asyncio.to_thread(sees_charts_and_quality, driver)
    ticket_call = stack.service.acd.call(call_id)
    assert ticket_call is not None
    assert ticket_call.queue == "billing"
