"""An admin's round of the admin pages in a real headless chromium at a tablet's width:
renames and disables a user, finds a mistake in the IVR flow on its diagram and in the
editor (nothing saved), and opens the hotline on Sundays with a new holiday."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.test_browser import sign_in, submit, wait_for
from tests.web_admin.conftest import Admin, admin  # noqa: F401  (the fixture)

pytestmark = [needs_chromium, pytest.mark.slow]
WIDTH = 800


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        browser.set_window_size(WIDTH, 1100)  # a tablet held upright
        yield browser


def _fits(driver: Any, page: str) -> None:
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page} is {width}px wide on an {WIDTH}px tablet"


def users(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, "Users").click()
    wait_for(driver, "#users")
    driver.find_element(By.LINK_TEXT, "sam").click()
    name = wait_for(driver, 'input[name="display_name"]')
    name.send_keys("Sam Okafor")
    driver.find_element(By.CSS_SELECTOR, "#user-form button[type=submit]").click()
    wait_for(driver, "#saved", "saved")
    driver.find_element(By.CSS_SELECTOR, "#disable-form button").click()
    wait_for(driver, "#user-state", "disabled")
    screenshot(driver, "admin-user-disabled")
    _fits(driver, "the user page")
    driver.find_element(By.LINK_TEXT, "All users").click()
    row = wait_for(driver, '#users tr[data-user="sam"]', "Sam Okafor")
    assert "disabled" in row.text


def flow(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, "IVR flow").click()
    wait_for(driver, "#flow-status", "no errors")
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.flow-diagram g.flow-node")) > 15
    screenshot(driver, "admin-flow")
    _fits(driver, "the flow page")
    driver.execute_script(
        "const t = document.getElementById('flow-text');"
        "t.value = t.value.replace('\"4\": fault', '\"4\": fualt');"
        "t.dispatchEvent(new Event('input'));"
    )
    submit(driver, "#flow-preview")
    wait_for(driver, "#flow-status", "1 error(s)")
    bad = driver.find_element(By.CSS_SELECTOR, 'g.flow-bad[data-node="main"]')
    assert "unknown node 'fualt'" in bad.text
    error = wait_for(driver, "#flow-error li", "unknown node 'fualt'")
    link = error.find_element(By.CSS_SELECTOR, "a[data-line]")
    line = int(link.text)
    assert driver.find_element(By.ID, f"gutter-{line}").get_attribute("class") == "bad"
    link.click()
    selected = driver.execute_script(
        "const t = document.getElementById('flow-text');"
        "return t.value.slice(t.selectionStart, t.selectionEnd);"
    )
    assert selected.strip() == '"4": fualt'
    submit(driver, "#flow-save")  # refused: nothing written
    wait_for(driver, "#flow-status", "1 error(s)")
    screenshot(driver, "admin-flow-refused")


def hours(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.LINK_TEXT, "Business hours").click()
    sunday = wait_for(driver, 'input[name="day:sun"]')
    sunday.send_keys("10:00-14:00")
    driver.execute_script(
        "document.querySelector('input[name=\"holiday_date:2\"]').value = '2026-12-25';"
    )
    driver.find_element(By.NAME, "holiday_name:2").send_keys("Christmas")
    driver.find_element(By.CSS_SELECTOR, "#hours-form button[type=submit]").click()
    wait_for(driver, "#saved", "saved")
    assert driver.find_element(By.NAME, "holiday_name:2").get_attribute("value") == "Christmas"
    screenshot(driver, "admin-hours")
    _fits(driver, "the hours page")


def walk(driver: Any, url: str) -> None:
    sign_in(driver, url, "ada")
    wait_for(driver, "#whoami")
    users(driver)
    flow(driver)
    hours(driver)


async def test_an_admin_edits_a_user_checks_the_flow_and_sets_the_hours(
    admin: Admin,  # noqa: F811
    driver: Any,
) -> None:
    before = (admin.config_dir / "ivr.yaml").read_text()
    await asyncio.to_thread(walk, driver, admin.url)
    sam = await admin.service.web_auth.users.find("sam")
    assert sam is not None
    assert sam.disabled
    assert sam.display_name == "Sam Okafor"
    after = (admin.config_dir / "ivr.yaml").read_text()
    assert "fualt" not in after
    assert after != before
    assert "    - {date: 2026-12-25, name: Christmas}\n" in after
    summaries = [e.summary for e in await admin.service.audit.recent()]
    assert summaries[0].startswith("business hours: sun closed -> 10:00-14:00")
