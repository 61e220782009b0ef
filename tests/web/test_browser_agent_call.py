"""In a real headless chromium: the agent's call-control buttons are off with no call, on
during one; Mute mutes the agent's leg in the (emulated) Asterisk, Hold (or H) holds the
call and Resume brings it back, and Transfer sends the call to the chosen queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from center.call_control import HOLD_SETTLE_S
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import Stack, running
from tests.web.test_agent import call_for_agent_1001
from tests.web.test_browser import sign_in, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path, ring_s=0.5) as live:  # phones answer; calls talk long
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def enabled(driver: Any, css: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_element(By.CSS_SELECTOR, css).is_enabled())


async def until(check: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await asyncio.to_thread(check):  # noqa: ASYNC110 (a browser to poll)
            await asyncio.sleep(0.1)


async def test_the_agent_mutes_then_transfers_the_call_from_the_page(
    stack: Stack, driver: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    await asyncio.to_thread(sign_in, driver, stack.url, "1001")
    await asyncio.to_thread(wait_for, driver, "#agent")
    hang_up = 'button[data-call="hangup"]'
    assert not await asyncio.to_thread(enabled, driver, hang_up)  # no call: nothing to control

    call_id = await call_for_agent_1001(stack)
    await until(lambda: enabled(driver, hang_up))
    await asyncio.to_thread(
        lambda: driver.find_element(By.CSS_SELECTOR, 'button[data-call="mute"]').click()
    )
    await asyncio.to_thread(wait_for, driver, 'button[data-call="mute"]', "Unmute")
    leg = stack.emulator.pbx.find(stack.service.acd.distributor.book.view("1001").channel or "")
    assert leg is not None
    assert leg.muted == {"in"}
    await asyncio.to_thread(screenshot, driver, "agent-call-muted")

    # H holds (the caller hears music on hold) and the button resumes; no transfer meanwhile
    hold = 'button[data-call="hold"]'
    await asyncio.to_thread(lambda: driver.find_element(By.TAG_NAME, "body").send_keys("h"))
    await asyncio.to_thread(wait_for, driver, hold, "Resume")
    assert leg.on_hold
    assert not await asyncio.to_thread(enabled, driver, 'button[data-call="transfer"]')
    await asyncio.sleep(HOLD_SETTLE_S)
    await asyncio.to_thread(lambda: driver.find_element(By.CSS_SELECTOR, hold).click())
    await asyncio.to_thread(wait_for, driver, hold, "Hold")
    await until(lambda: not leg.on_hold)

    def transfer() -> None:
        Select(driver.find_element(By.ID, "transfer-to")).select_by_value("queue:billing")
        driver.find_element(By.CSS_SELECTOR, 'button[data-call="transfer"]').click()

    await asyncio.to_thread(transfer)
    await until(lambda: stack.service.acd.call(f"{call_id}-t1") is not None)
    await until(lambda: not enabled(driver, hang_up))  # the call is no longer this agent's
    call = stack.service.acd.call(f"{call_id}-t1")
    assert call is not None
    assert call.queue == "billing"


async def test_the_agent_consults_a_colleague_then_completes_from_the_page(
    stack: Stack, driver: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from acd.agent_events import Ready

    await asyncio.to_thread(sign_in, driver, stack.url, "1001")
    await asyncio.to_thread(wait_for, driver, "#call-consult")
    consult, complete = 'button[data-consult="consult"]', 'button[data-consult="complete"]'
    call_id = await call_for_agent_1001(stack)
    stack.service.acd.agent_event(Ready("1004"))
    await until(lambda: enabled(driver, consult))
    assert not await asyncio.to_thread(enabled, driver, complete)  # nothing to complete yet

    def ask_1004() -> None:
        Select(driver.find_element(By.ID, "consult-with")).select_by_value("1004")
        driver.find_element(By.CSS_SELECTOR, consult).click()

    await asyncio.to_thread(ask_1004)
    await until(lambda: enabled(driver, complete))
    shown = await asyncio.to_thread(lambda: driver.find_element(By.ID, "call-consulting").text)
    assert "1004" in shown
    assert not await asyncio.to_thread(enabled, driver, consult)  # one consult at a time
    await until(lambda: any(n.startswith("PJSIP/agent1004-") for n in stack.emulator.pbx.channels))
    await asyncio.to_thread(screenshot, driver, "agent-call-consulting")
    await asyncio.to_thread(lambda: driver.find_element(By.CSS_SELECTOR, complete).click())
    book = stack.service.acd.distributor.book
    await until(lambda: book.view("1004").call_id == f"{call_id}-t1")  # Bob has the caller
    await until(lambda: not enabled(driver, 'button[data-call="hangup"]'))  # not 1001's call
