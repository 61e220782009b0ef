"""The pages in a real headless chromium: each role signs in, a call appears live on the
supervisor's page, a supervisor pauses an agent, and roles are refused where they do not
reach. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from telephony.emulator import Caller
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import PASSWORD, TO_AN_AGENT, Stack, running

pytestmark = [needs_chromium, pytest.mark.slow]
WAIT_S = 10


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def sign_in(driver: Any, url: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()


T = TypeVar("T")


def stale(error: Exception) -> bool:
    """An element gone with its page or re-rendered. Chromium 156.0.8078.129 may say so as an
    inspector error ("Node with given id does not belong to the document")."""
    from selenium.common.exceptions import StaleElementReferenceException

    return isinstance(error, StaleElementReferenceException) or (
        "does not belong to the document" in str(error)
    )


def wait_for(driver: Any, css: str, text: str | None = None) -> Any:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    if text is None:
        return wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def shown(browser: Any) -> bool:
        # the text as read: without the invisible isolates T() puts around values in Arabic
        try:
            return text in visible(browser.find_element(By.CSS_SELECTOR, css).text)
        except WebDriverException as error:
            if not stale(error):
                raise
            return False  # re-rendered meanwhile: look again

    wait.until(shown)
    return driver.find_element(By.CSS_SELECTOR, css)


def read(driver: Any, css: str, what: Callable[[Any], T]) -> T:
    """``what`` of the element at ``css`` (its properties, say), read again while the page
    re-renders it (a live page replaces its rows as the floor changes)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def attempt(browser: Any) -> tuple[T] | None:
        try:
            return (what(browser.find_element(By.CSS_SELECTOR, css)),)
        except WebDriverException as error:
            if not stale(error):
                raise
            return None

    found = WebDriverWait(driver, WAIT_S).until(attempt)
    assert found is not None  # until() returns only a true value
    return found[0]


def submit(driver: Any, button_css: str) -> None:
    """Click a button that posts its form, and wait for the page the post answers: until the
    old page is gone, its elements still say what they said before the click."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, button_css).click()

    def gone(_: Any) -> bool:
        try:
            page.is_enabled()
        except WebDriverException as error:
            if not stale(error):
                raise
            return True
        return False

    WebDriverWait(driver, WAIT_S).until(gone)


def visible(text: str) -> str:
    """``text`` without Unicode's invisible bidi isolates (LRI, RLI, FSI, PDI)."""
    return text.translate(dict.fromkeys(range(0x2066, 0x206A)))


def each_role_lands_on_its_page(driver: Any, url: str) -> None:
    for name, path, marker in (
        ("sam", "/supervisor", "#agents"),
        ("ada", "/supervisor", "#agents"),
        ("1001", "/agent", "#agent"),
    ):
        driver.delete_all_cookies()
        sign_in(driver, url, name)
        wait_for(driver, marker)
        assert driver.current_url.endswith(path), driver.current_url
        assert name in driver.find_element("id", "whoami").text
        screenshot(driver, f"signed-in-{name}")
    # the agent (still signed in) is refused the supervisor's page
    driver.get(url + "supervisor")
    wait_for(driver, "#forbidden")
    screenshot(driver, "agent-refused-supervisor")


async def test_each_role_signs_in_and_an_agent_is_refused_the_supervisor_page(
    stack: Stack, driver: Any
) -> None:
    await asyncio.to_thread(each_role_lands_on_its_page, driver, stack.url)


def open_supervisor(driver: Any, url: str) -> None:
    sign_in(driver, url, "sam")
    wait_for(driver, "#status", "live")
    wait_for(driver, "#agents tbody tr[data-agent='1002']")


def see_call(driver: Any) -> None:
    wait_for(driver, "tr.waiting-call")
    screenshot(driver, "supervisor-call-waiting")


def pause_agent(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    row = "#agents tbody tr[data-agent='1002']"
    driver.find_element(By.CSS_SELECTOR, f"{row} button.pause").click()
    wait_for(driver, f"{row} button.ready")
    assert "supervisor" in driver.find_element(By.CSS_SELECTOR, row).text
    screenshot(driver, "supervisor-paused-agent")


async def test_a_supervisor_sees_a_call_arrive_live_and_pauses_an_agent(
    stack: Stack, driver: Any
) -> None:
    await asyncio.to_thread(open_supervisor, driver, stack.url)
    # pause first: the waiting call soon rings agents out (no answer) and pauses them itself
    await asyncio.to_thread(pause_agent, driver)
    assert stack.service.acd.distributor.book.view("1002").pause_reason == "supervisor"
    before = await asyncio.to_thread(lambda: driver.execute_script("return performance.now()"))
    await stack.emulator.place_call(
        Caller(number="+971501110077", dtmf=TO_AN_AGENT, barge_in=False)
    )
    await asyncio.to_thread(see_call, driver)
    # no reload happened: the page's clock kept running from before the call
    after = await asyncio.to_thread(lambda: driver.execute_script("return performance.now()"))
    assert after > before


def login_page_without_session(driver: Any, url: str) -> None:
    driver.get(url + "supervisor")
    wait_for(driver, "#login")
    screenshot(driver, "no-session-login")


def login_page_after_expiry(driver: Any, url: str) -> None:
    driver.get(url + "agent")
    wait_for(driver, "#login")
    assert "Traceback" not in driver.page_source
    screenshot(driver, "expired-session-login")


async def test_an_absent_or_expired_session_gets_the_login_page(stack: Stack, driver: Any) -> None:
    await asyncio.to_thread(login_page_without_session, driver, stack.url)
    await asyncio.to_thread(sign_in, driver, stack.url, "1001")
    await asyncio.to_thread(wait_for, driver, "#agent")
    stack.service.web_auth.sessions.expire_all()
    await asyncio.to_thread(login_page_after_expiry, driver, stack.url)
