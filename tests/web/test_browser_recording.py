"""In a real headless chromium: the agent's Pause recording button is off with no call, on
during a recorded one; it pauses the recording in the (emulated) Asterisk, the page says
so, and Resume recording takes it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import Stack, running
from tests.web.test_agent import call_for_agent_1001
from tests.web.test_browser import sign_in, wait_for
from tests.web.test_browser_agent_call import enabled, until

pytestmark = [needs_chromium, pytest.mark.slow]

TOGGLE = "#recording-toggle"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    recorded = {"recording.mode": "record", "recording.directory": str(tmp_path / "recordings")}
    async with running(tmp_path, ring_s=0.5, overrides=recorded) as live:
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def muted(channel: Any) -> bool:
    return bool(channel.mixmonitors[0].muted)


def click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


async def test_the_agent_pauses_and_resumes_the_recording_from_the_page(
    stack: Stack, driver: Any
) -> None:
    await asyncio.to_thread(sign_in, driver, stack.url, "1001")
    await asyncio.to_thread(wait_for, driver, "#agent")
    assert not await asyncio.to_thread(enabled, driver, TOGGLE)  # no call

    await call_for_agent_1001(stack)
    await until(lambda: enabled(driver, TOGGLE))
    await asyncio.to_thread(wait_for, driver, "#recording-state", "Recording")
    await asyncio.to_thread(click, driver, TOGGLE)
    await asyncio.to_thread(wait_for, driver, "#recording-state", "Recording paused")
    await asyncio.to_thread(wait_for, driver, TOGGLE, "Resume recording")
    caller = next(c for c in stack.emulator.pbx.channels.values() if c.mixmonitors)
    assert muted(caller)  # MixMonitorMute reached the caller's channel
    await asyncio.to_thread(screenshot, driver, "agent-recording-paused")

    await asyncio.to_thread(click, driver, TOGGLE)
    await asyncio.to_thread(wait_for, driver, TOGGLE, "Pause recording")
    assert not muted(caller)
    await stack.service.call_control.hang_up("1001")
    await until(lambda: not enabled(driver, TOGGLE))
