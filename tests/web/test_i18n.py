"""English and Arabic pages: every text the pages mark has an Arabic entry, the user's
language is chosen by the switch or the browser, and Arabic pages lay out right to left."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.agent_events import AgentState
from hotline.web.auth.users import Role
from hotline.web.i18n import catalog, markers, translate
from hotline.web.templates import escape, render
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import PASSWORD, Stack, running

WEB = Path(str(resources.files("hotline.web")))
SCRIPT_TEXT = re.compile(r"\bT\(\s*\"((?:[^\"\\]|\\.)*)\"")
PAGE_TITLE = re.compile(r"\bpage\(\s*request,\s*\"([^\"]+)\"")
PYTHON_MARKER = re.compile(r"\[\[([^\[\]{}\n]+)\]\]")
#: Where the mechanism itself is described (its examples are not page text).
MECHANISM = {"i18n/__init__.py", "static/i18n.js", "templates.py"}


def marked_texts() -> dict[str, set[str]]:
    """Every English text a template, a script or a handler marks, and where."""
    found: dict[str, set[str]] = {}
    for path in sorted(WEB.rglob("*")):
        if str(path.relative_to(WEB)) in MECHANISM:
            continue
        if path.suffix == ".html":
            texts = markers(path.read_text("utf-8"))
        elif path.suffix == ".js":
            texts = SCRIPT_TEXT.findall(path.read_text("utf-8"))
        elif path.suffix == ".py":
            source = path.read_text("utf-8")
            texts = PYTHON_MARKER.findall(source) + PAGE_TITLE.findall(source)
        else:
            continue
        for text in texts:
            found.setdefault(text, set()).add(str(path.relative_to(WEB)))
    return found


def test_every_marked_text_has_an_arabic_translation() -> None:
    arabic = catalog("ar")
    texts = marked_texts()
    assert len(texts) > 40  # the scan sees the pages
    missing = {text: sorted(where) for text, where in texts.items() if text not in arabic}
    assert not missing, f"add these to hotline/web/i18n/ar.json: {missing}"


def test_each_text_is_translated_once() -> None:
    """A text twice in ar.json keeps only its last translation (JSON objects are maps):
    two helpers' words for one English text, one silently lost."""
    pairs = json.loads(
        (WEB / "i18n" / "ar.json").read_text("utf-8"), object_pairs_hook=lambda kv: kv
    )
    twice = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
    assert twice == []


def test_agent_states_and_roles_shown_by_the_pages_are_translated() -> None:
    shown = {str(state) for state in AgentState} | {str(role) for role in Role}
    # what supervisor.js passes to T() from data: table headings, chart series, spy modes
    shown |= {"offered", "answered", "abandoned", "priority", "wait", "intent", "ringing"}
    shown |= {"listen", "whisper", "barge"}
    # the callers' table headings, and Asterisk's link as the page words it
    shown |= {"caller", "agents free", "connected", "disconnected", "listening", "not listening"}
    assert shown <= set(catalog("ar"))


def test_markers_are_replaced_and_values_cannot_forge_one() -> None:
    page = render("forbidden.html", roles="admin", name="[[Sign out]]", role="agent")
    arabic = translate(page, "ar")
    assert "هذه الصفحة ليست لدورك" in arabic
    assert "تسجيل الخروج" not in arabic  # the user's name stayed a name
    assert "&#91;&#91;Sign out]]" in arabic
    assert translate("<b>[[no such text]]</b>", "ar") == "<b>no such text</b>"
    assert escape("<x>") == "&lt;x&gt;"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


@pytest.mark.slow
async def test_the_browser_language_or_the_switch_chooses_the_page_language(
    stack: Stack,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        headers = {"Accept-Language": "fr-FR, ar;q=0.8, en;q=0.5"}
        async with http.get(stack.url + "login", headers=headers) as response:
            page = await response.text()
        assert '<html lang="ar" dir="rtl">' in page
        assert "تسجيل الدخول" in page
        assert "[[" not in page

        async with http.get(
            stack.url + "language/en?next=/login", allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/login"
        async with http.get(stack.url + "login", headers=headers) as response:
            assert '<html lang="en" dir="ltr">' in await response.text()

        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            url = stack.url + "language/ar"
            async with http.get(url, params={"next": target}, allow_redirects=False) as response:
                assert response.headers["Location"] == "/"
        async with http.get(stack.url + "language/xx") as response:
            assert response.status == 404


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@needs_chromium
@pytest.mark.slow
async def test_an_agent_works_in_arabic_right_to_left(stack: Stack, driver: Any) -> None:
    import asyncio

    def in_arabic() -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(stack.url + "login")
        driver.find_element(By.CSS_SELECTOR, 'header .languages a[lang="ar"]').click()
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
        )
        driver.find_element(By.NAME, "name").send_keys("1001")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
        WebDriverWait(driver, 10).until(ec.text_to_be_present_in_element((By.ID, "state"), "متاح"))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ar"
        ready = driver.find_element(By.CSS_SELECTOR, 'button[data-action="ready"]')
        assert ready.text == "جاهز"
        # right to left: the page's start is on the right
        header = driver.find_element(By.TAG_NAME, "header")
        title = header.find_element(By.TAG_NAME, "strong")
        assert title.location["x"] > header.size["width"] / 2
        screenshot(driver, "agent-in-arabic")

    await asyncio.to_thread(in_arabic)
