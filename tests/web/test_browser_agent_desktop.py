"""The agent desktop as an agent uses it, in headless chromium on the whole service with the
shipped config: agent 1001 signs in (only the actions that make sense are enabled; the time
in state ticks), a customer's chat is offered (the tab's title blinks), the agent accepts it
with the A key, answers with a canned response typed as /greeting and sent with Ctrl+Enter
(the customer gets it with their name and the agent's filled in), transfers the chat to Bob,
who is paused (the task waits for Bob alone and reaches him when he is ready), pauses for
lunch from the reasons' select (the pause timer runs against lunch's hour), opens the
shortcuts' help with ?, and sees the page right to left in Arabic. Screenshots in
test-artifacts/."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.agent_events import AgentState, Pause, Ready
from tests.e2e.stack import wait_until
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import Stack, running
from tests.web.test_browser import sign_in, visible, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]

GREETING = "Hello Nadia, this is Alice. How can I help you today?"
CLOCK = re.compile(r"^\d{2}:\d{2}")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def _enabled(driver: Any) -> dict[str, bool]:
    from selenium.webdriver.common.by import By

    buttons = driver.find_elements(By.CSS_SELECTOR, "button[data-action]")
    return {b.get_attribute("data-action"): b.is_enabled() for b in buttons}


def signs_in(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "1001")
    wait_for(driver, "#state", "available")
    # ready while ready, log in while logged in, wrap-up done outside wrap-up: not clickable
    assert _enabled(driver) == {
        "login": False,
        "ready": False,
        "pause": True,
        "wrapup-done": False,
        "logout": True,
    }
    timer = driver.find_element(By.CSS_SELECTOR, '#timers [data-timer="state_s"] dd')
    assert CLOCK.match(timer.text), timer.text
    first = timer.text
    wait_until_text_changes(driver, timer, first)
    reasons = [
        o.get_attribute("value")
        for o in driver.find_elements(By.CSS_SELECTOR, "#pause-reason option")
    ]
    assert reasons == ["break", "lunch", "training", "coaching", "admin work"]


def wait_until_text_changes(driver: Any, element: Any, before: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 5).until(lambda _: element.text != before)


def takes_the_chat(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait_for(driver, "#desk-offers .offer .who", "Nadia")
    WebDriverWait(driver, 5).until(lambda d: d.title.startswith("● "))  # the tab says so
    screenshot(driver, "agent-desktop-offer")
    driver.find_element(By.TAG_NAME, "body").send_keys("a")  # A accepts
    box = wait_for(driver, "#desk-chats .conv form.reply textarea")
    WebDriverWait(driver, 5).until(lambda d: not d.title.startswith("● "))
    box.send_keys("/gre")
    wait_for(driver, "#desk-chats .conv .canned-suggest li.chosen", "/greeting")
    box.send_keys(Keys.ENTER)  # the suggestion chosen, not sent
    assert box.get_attribute("value") == GREETING
    screenshot(driver, "agent-desktop-canned")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_for(driver, "#desk-chats .conv .msg.from-agent", GREETING)


def transfers_it_to_bob(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    target = driver.find_element(By.CSS_SELECTOR, "#desk-chats .conv .transfer select")
    target.click()  # the colleagues are fetched fresh
    Select(target).select_by_value("agent:1002")
    driver.find_element(By.CSS_SELECTOR, "#desk-chats .conv .transfer button").click()
    wait_for(driver, "#desk-empty")
    assert not driver.find_elements(By.CSS_SELECTOR, "#desk-chats .conv")


def pauses_for_lunch(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "pause-reason")).select_by_value("lunch")
    driver.find_element(By.TAG_NAME, "body").send_keys("p")  # P pauses
    wait_for(driver, "#state", "paused")
    wait_for(driver, "#reason", "lunch")
    pause = wait_for(driver, '#timers [data-timer="pause_s"] dd', "/ 1:00:00")
    assert CLOCK.match(pause.text), pause.text
    assert _enabled(driver)["ready"]
    assert not _enabled(driver)["wrapup-done"]
    # lunch is once a day: its option is no longer offered
    lunch = driver.find_element(By.CSS_SELECTOR, '#pause-reason option[value="lunch"]')
    assert not lunch.is_enabled()
    screenshot(driver, "agent-desktop-paused")
    driver.find_element(By.TAG_NAME, "body").send_keys("?")
    wait_for(driver, "#help[open]")
    assert "Ctrl" in driver.find_element(By.ID, "help").text
    screenshot(driver, "agent-desktop-help")


def in_arabic(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "language/ar")
    driver.get(url + "agent")
    wait_for(driver, "#state", "في استراحة")  # paused
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    wait_for(driver, "#reason", "غداء")
    screenshot(driver, "agent-desktop-arabic")


async def _customer_says(
    http: aiohttp.ClientSession, stack: Stack
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(stack.url + "chat/ws", headers={"Origin": stack.url.rstrip("/")})
    await ws.send_json({"type": "hello", "visitor": None, "last": 0, "name": "Nadia"})
    await ws.send_json({"type": "message", "id": "m1", "text": "My fibre is down"})
    return ws


async def _heard(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
    async with asyncio.timeout(10):
        async for message in ws:
            frame = json.loads(message.data)
            if frame.get("type") == "message" and frame["message"]["text"] == text:
                return


async def test_an_agent_takes_a_chat_answers_from_a_canned_reply_transfers_it_and_pauses(
    stack: Stack, driver: Any
) -> None:
    acd = stack.service.acd
    for other in ("1002", "1003", "1004", "1005"):  # the chat comes to Alice
        acd.agent_event(Pause(other, "training"))
    await asyncio.to_thread(signs_in, driver, stack.url)
    async with aiohttp.ClientSession() as http:
        customer = await _customer_says(http, stack)
        await asyncio.to_thread(takes_the_chat, driver)
        await _heard(customer, GREETING)
        (task,) = [t.task_id for t in acd.distributor.tasks_of("1001")]
        await asyncio.to_thread(transfers_it_to_bob, driver)
        # directed to Bob: it waits for him (Alice is free), and reaches him once he is ready
        await asyncio.sleep(0.5)
        assert acd.distributor.workload.holder(task) is None
        acd.agent_event(Ready("1002"))
        await wait_until(lambda: acd.distributor.workload.holder(task) == "1002", timeout_s=5)
        await customer.close()
    await asyncio.to_thread(pauses_for_lunch, driver)
    view = acd.distributor.book.view("1001")
    assert (view.state, view.pause_reason) == (AgentState.PAUSED, "lunch")
    await asyncio.to_thread(in_arabic, driver, stack.url)
    assert visible(driver.title)
