"""The web chat end to end in two real headless chromium sessions: a customer on a
business's site (another origin, the one line of the loader) and agent 1001 on the agent
page, on the whole service with the shipped config. The customer writes, the agent sees
the offer with its countdown, accepts and replies; the customer sees the agent typing and
the reply; the customer sends a message the server never acknowledges, reloads, and still
has the whole thread, that message sent again and kept once; the agent's page says what
they hold ("1 chat"); the agent closes it as resolved; the history has one conversation
with every message. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from acd.agent_events import Pause
from history.identities import IdentityKind
from history.inputs import Channel, Status
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import Stack, running
from tests.web.test_browser import sign_in, visible, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]

ASKED = "My internet is down since this morning <b>really</b>"
ANSWER = "Hello Nadia, I am checking your line now."
THANKS = "Thanks!"
SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example Broadband</title>
<style>body {{ font-family: sans-serif; margin: 2em; background: #f4f1ea; }}</style></head>
<body><h1>Example Broadband</h1><p>Fibre from 25 a month. Questions? Chat with us.</p>
<script src="{hotline}chat/loader.js" data-label="Chat with us" async></script>
</body></html>"""


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


@pytest.fixture
def customer() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def agent() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@asynccontextmanager
async def shop_site(hotline: str) -> AsyncIterator[str]:
    """The business's own site, on another origin: a page with the loader's one line."""

    async def home(request: web.Request) -> web.Response:
        return web.Response(text=SHOP_PAGE.format(hotline=hotline), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# the agent ------------------------------------------------------------------------------
def agent_signs_in(driver: Any, url: str) -> None:
    sign_in(driver, url, "1001")
    wait_for(driver, "#desk-empty")
    wait_for(driver, "#state", "available")


def agent_sees_the_offer(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    offer = wait_for(driver, "#desk-offers .offer")
    wait_for(driver, "#desk-offers .offer .who", "Nadia")
    text = visible(offer.text)
    assert ASKED in text  # the customer's words, markup shown as text
    assert "s left to accept" in text
    assert not offer.find_elements(By.CSS_SELECTOR, ".preview b")
    screenshot(driver, "chat-agent-offer")
    offer.find_element(By.CSS_SELECTOR, "button.accept").click()
    wait_for(driver, "#desk-chats .conv")
    wait_for(driver, "#state", "available · 1 chat")  # what the agent holds, per channel


def agent_starts_typing(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, "#desk-chats .conv form.reply textarea")
    box.send_keys(ANSWER)


def agent_sends(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, "#desk-chats .conv form.reply textarea")
    box.send_keys(Keys.ENTER)
    wait_for(driver, "#desk-chats .conv .msg.from-agent", ANSWER)


def agent_sees_it_read(driver: Any) -> None:
    wait_for(driver, "#desk-chats .conv .msg.from-agent .tick.read")
    wait_for(driver, "#desk-chats .conv .typing", "Nadia is typing")
    screenshot(driver, "chat-agent-conversation")


def agent_reads_it_in_arabic(driver: Any, url: str) -> None:
    """The page in Arabic (right to left): the conversation is back from the snapshot."""
    driver.get(url + "language/ar?next=/agent")
    wait_for(driver, "#desk-chats .conv .msg.from-agent", ANSWER)
    assert driver.execute_script("return document.documentElement.dir") == "rtl"
    wait_for(driver, "#desk-chats .conv button.close-resolved", "إغلاق")
    screenshot(driver, "chat-agent-arabic")


def agent_closes_as_resolved(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, "#desk-chats .conv button.close-resolved").click()
    WebDriverWait(driver, 10).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "#desk-chats .conv")
    )
    wait_for(driver, "#desk-empty")
    screenshot(driver, "chat-agent-closed")


# the customer ---------------------------------------------------------------------------
def into_the_chat(driver: Any) -> None:
    """Into the widget's frame (opened by the loader)."""
    driver.switch_to.default_content()
    frame = wait_for(driver, "#hotline-chat-frame")
    driver.switch_to.frame(frame)


def customer_writes(driver: Any, shop: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(shop)
    wait_for(driver, "#hotline-chat-button").click()
    into_the_chat(driver)
    wait_for(driver, "#prechat")
    driver.find_element(By.NAME, "name").send_keys("Nadia")
    driver.find_element(By.CSS_SELECTOR, "#prechat button[type=submit]").click()
    text = wait_for(driver, "#text")
    text.send_keys(ASKED)
    text.send_keys(Keys.ENTER)
    wait_for(driver, ".msg.from-customer .state", "sent")
    wait_for(driver, "#notice", "agent")  # waiting: "An agent will be with you shortly."
    driver.switch_to.default_content()
    screenshot(driver, "chat-customer-waiting")


def customer_sees_the_agent_typing(driver: Any) -> None:
    into_the_chat(driver)
    wait_for(driver, "#notice", "Alice joined the chat")
    wait_for(driver, "#typing", "Alice is typing")
    driver.switch_to.default_content()
    screenshot(driver, "chat-customer-agent-typing")


def customer_sees_the_reply_and_types(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    into_the_chat(driver)
    wait_for(driver, ".msg.from-agent .text", ANSWER)
    driver.find_element(By.ID, "text").send_keys("Thank")
    driver.switch_to.default_content()
    screenshot(driver, "chat-customer-reply")


def customer_reloads(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    into_the_chat(driver)
    # the connection stops carrying the page's frames: "Thanks!" is sent, never acknowledged
    driver.execute_script("WebSocket.prototype.send = function () {};")
    box = driver.find_element(By.ID, "text")
    box.send_keys("s!")  # after the "Thank" typed before
    box.send_keys(Keys.ENTER)
    wait_for(driver, "#thread li:last-child .state.pending")
    driver.switch_to.default_content()
    driver.refresh()
    into_the_chat(driver)  # the loader reopens the chat it had open
    wait_for(driver, ".msg.from-agent .text", ANSWER)
    # sent again and acknowledged (stored: it has its id; the agent may have read it already)
    wait_for(driver, "#thread li[data-id]:last-child .state:not(.pending)")
    texts = [visible(t.text) for t in driver.find_elements(By.CSS_SELECTOR, ".msg .text")]
    assert texts == [ASKED, ANSWER, THANKS]
    assert not driver.find_elements(By.CSS_SELECTOR, ".msg .text b")  # text, not markup
    assert driver.find_element(By.ID, "prechat").get_attribute("hidden") is not None
    driver.switch_to.default_content()
    screenshot(driver, "chat-customer-reloaded")


def customer_sees_it_closed(driver: Any) -> None:
    into_the_chat(driver)
    wait_for(driver, "#notice", "The agent closed the chat")
    driver.switch_to.default_content()
    screenshot(driver, "chat-customer-closed")


def arabic_widget(driver: Any, url: str) -> None:
    """A new visitor's widget in Arabic: right to left, the pre-chat form first."""
    driver.set_window_size(380, 560)
    driver.get(url + "chat/widget?lang=ar")
    wait_for(driver, "#prechat", "اسمك")
    assert driver.execute_script("return document.documentElement.dir") == "rtl"
    screenshot(driver, "chat-widget-arabic")


async def test_a_customer_and_an_agent_chat_in_two_browsers(
    stack: Stack, customer: Any, agent: Any
) -> None:
    service = stack.service
    for other in ("1002", "1003", "1004", "1005"):
        service.acd.agent_event(Pause(other, "test"))
    async with shop_site(stack.url) as shop:
        service.chat.settings = service.chat.settings.model_copy(
            update={"allowed_origins": (shop,)}
        )
        await asyncio.gather(
            asyncio.to_thread(agent_signs_in, agent, stack.url),
            asyncio.to_thread(customer_writes, customer, shop),
        )
        await asyncio.to_thread(agent_sees_the_offer, agent)
        await asyncio.to_thread(agent_starts_typing, agent)
        await asyncio.to_thread(customer_sees_the_agent_typing, customer)
        await asyncio.to_thread(agent_sends, agent)
        await asyncio.to_thread(customer_sees_the_reply_and_types, customer)
        await asyncio.to_thread(agent_sees_it_read, agent)
        await asyncio.to_thread(customer_reloads, customer)
        await asyncio.to_thread(agent_reads_it_in_arabic, agent, stack.url)
        await asyncio.to_thread(agent_closes_as_resolved, agent)
        await asyncio.to_thread(customer_sees_it_closed, customer)
        await asyncio.to_thread(arabic_widget, agent, stack.url)

    await service.desk.flush()
    repository = service.history
    (who,) = [
        c
        for c in await _chat_customers(stack)
        if any(i.kind is IdentityKind.CHAT for i in c.identities)
    ]
    assert who.name == "Nadia"
    timeline = await repository.timeline(who.id)
    (entry,) = timeline.entries  # one interaction
    talk = entry.interaction
    assert (talk.channel, talk.status, talk.agent) == (Channel.CHAT, Status.RESOLVED, "1001")
    thread = await service.conversations.thread(talk.id)
    assert [m.body for m in thread.messages] == [ASKED, ANSWER, THANKS]


async def _chat_customers(stack: Stack) -> list[Any]:
    from sqlalchemy import select

    from history.models import IdentityRow

    async with stack.service.store.connect() as conn:
        rows = await conn.execute(
            select(IdentityRow.customer_id).where(IdentityRow.kind == IdentityKind.CHAT.value)
        )
        ids = sorted({r[0] for r in rows})
    return [await stack.service.history.get_customer(i) for i in ids]
