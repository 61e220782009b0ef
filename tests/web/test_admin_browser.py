"""The admin pages in a real headless chromium at a tablet's width: an admin changes an
agent's skill level and finds the change, with its diff, in the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.test_browser import sign_in, wait_for
from tests.web_admin.conftest import Admin, admin  # noqa: F401  (the fixture)

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        browser.set_window_size(800, 1100)  # a tablet held upright
        yield browser


def change_a_skill_level(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "ada")
    wait_for(driver, "#whoami")
    driver.find_element(By.LINK_TEXT, "Agents").click()
    wait_for(driver, "#agents")
    driver.find_element(By.LINK_TEXT, "1002").click()
    level = wait_for(driver, 'input[name="level:billing"]')
    level.clear()
    level.send_keys("4")
    screenshot(driver, "admin-agent-edit")
    driver.find_element(By.CSS_SELECTOR, '#agent-form button[value="save"]').click()
    wait_for(driver, "#saved", "saved")
    assert driver.find_element(By.NAME, "level:billing").get_attribute("value") == "4"
    driver.find_element(By.LINK_TEXT, "Audit log").click()
    row = wait_for(driver, "#audit tbody tr", "agent 1002: billing 2 -> 4")
    assert "config/agents.yaml" in row.text
    assert "ada" in row.text
    row.find_element(By.TAG_NAME, "summary").click()
    diff = row.find_element(By.CSS_SELECTOR, "pre.diff").text
    assert "+    skills: {lang.en: 3, product.internet: 2, product.tv: 3, billing: 4" in diff
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 800, f"the page is {width}px wide on an 800px tablet"
    screenshot(driver, "admin-audit-log")


async def test_an_admin_changes_a_skill_level_and_sees_it_in_the_audit_log(
    admin: Admin,  # noqa: F811
    driver: Any,
) -> None:
    await asyncio.to_thread(change_a_skill_level, driver, admin.url)
    assert "billing: 4" in (admin.config_dir / "agents.yaml").read_text()
