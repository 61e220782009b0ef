"""In a real headless chromium: a waiting caller crosses queues.yaml's waiting threshold and
the supervisor sees it coloured with a word (not colour alone) and as an alert; a whisper
rings the supervisor's phone, connects and is stopped from the page; a forced log-out takes
a second click; the wallboard shows the same levels on a dark 1920×1080 screen, in English
and right to left in Arabic. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Pause
from telephony.emulator import Caller
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import TO_AN_AGENT, running
from tests.web.test_browser import sign_in, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]

LOW_WAITING = {"queues.thresholds.waiting": {"warn": 1, "crit": 3}}
FITS = (
    "const d = document.documentElement;"
    " return d.scrollHeight <= innerHeight && d.scrollWidth <= innerWidth"
    " && [...document.querySelectorAll('.wb-queue')].every("
    "(q) => q.getBoundingClientRect().bottom <= innerHeight)"
)
WARN_BACKGROUND = "rgba(255, 241, 194, 1)"  # hotline.css --warn-bg


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def supervisor_acts(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "sam")
    wait_for(driver, "#status", "live")
    # the alert: what crossed, where, since when
    alert = wait_for(driver, "#threshold-alerts li.lvl-warn[data-queue='support']", "WARNING")
    assert "waiting" in alert.text
    assert "since" in alert.text
    assert driver.find_element(By.ID, "threshold-calm").get_attribute("hidden") is not None
    # the queue's figure: coloured, and said in words with an icon
    chip = wait_for(
        driver, ".queue[data-queue='support'] .figure-level[data-metric='waiting']", "WARNING"
    )
    assert chip.get_attribute("data-level") == "warn"
    assert "▲" in chip.text
    assert chip.value_of_css_property("background-color") == WARN_BACKGROUND
    section = driver.find_element(By.CSS_SELECTOR, ".queue[data-queue='support']")
    assert section.get_attribute("data-level") == "warn"
    billing = driver.find_element(
        By.CSS_SELECTOR, ".queue[data-queue='billing'] .figure-level[data-metric='waiting']"
    )
    assert billing.get_attribute("data-level") == "ok"
    # whisper to Alice: the supervisor's phone rings, connects; stopped from the page
    driver.find_element(By.CSS_SELECTOR, "#agents tr[data-agent='1001'] button.spy-whisper").click()
    wait_for(driver, "#spies li.spy-connected", "connected")
    screenshot(driver, "supervisor-workspace-alert-and-whisper")
    driver.find_element(By.CSS_SELECTOR, "#spies li.spy-connected button.spy-stop").click()
    wait_for(driver, "#spies li.spy-ended", "stopped by sam")
    # a forced log-out asks for a second click
    out = driver.find_element(By.CSS_SELECTOR, "#agents tr[data-agent='1003'] button.force-logout")
    out.click()
    wait_for(driver, "#agents tr[data-agent='1003'] button.force-logout", "Confirm log-out")
    out.click()
    wait_for(driver, "#agents tr[data-agent='1003'][data-state='logged_out'] td.state", "logged")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, int(height) + 140))
    screenshot(driver, "supervisor-workspace")


def wallboard_shows(driver: Any, url: str) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1920, 1080)
    driver.get(url + "wallboard")
    card = ".wb-queue[data-queue='support'][data-level='warn']"
    wait_for(driver, card, "support")

    def warned(d: Any) -> tuple[str, str]:  # the board is redrawn live: read it in one go
        figure = d.find_element(By.CSS_SELECTOR, f"{card} .wb-figure.lvl-warn")
        return str(figure.text).lower(), str(figure.find_element(By.CSS_SELECTOR, ".wb-value").text)

    wait = WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,))
    text, value = wait.until(warned)
    assert "▲ warning" in text
    assert value == "1"
    assert len(driver.find_elements(By.CSS_SELECTOR, ".wb-queue")) == 3
    background = driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
    assert background == "rgba(13, 17, 23, 1)"  # the wall-screen theme
    # fitted: every queue on the screen, nothing to scroll
    assert driver.execute_script(FITS), "the wallboard overflows the screen"
    wait_for(driver, "#wb-alerts li.lvl-warn", "support")
    screenshot(driver, "wallboard")
    driver.get(url + "language/ar?next=/wallboard")
    card = wait_for(driver, ".wb-queue[data-queue='support'][data-level='warn']", "تحذير")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert driver.execute_script(FITS), "the Arabic wallboard overflows the screen"
    screenshot(driver, "wallboard-ar")


async def test_the_supervisor_sees_thresholds_alerts_spy_feedback_and_the_wallboard(
    tmp_path: Path, driver: Any
) -> None:
    async with running(tmp_path, overrides=LOW_WAITING) as stack:
        for view in stack.service.acd.distributor.book.views():  # nobody takes the call
            stack.service.acd.agent_event(Pause(view.agent_id, "training"))
        await stack.emulator.place_call(
            Caller(number="+971501110081", dtmf=TO_AN_AGENT, barge_in=False)
        )
        try:
            await asyncio.to_thread(supervisor_acts, driver, stack.url)
            await asyncio.to_thread(wallboard_shows, driver, stack.url)
        finally:  # the page's feed closed before the service stops
            await asyncio.to_thread(driver.get, "about:blank")
