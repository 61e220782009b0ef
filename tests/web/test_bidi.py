"""Values that read left to right (call ids, phone numbers, time ranges) keep their order in
Arabic pages: the i18n layer isolates them, and hotline.css lays the ``ltr-value`` class
out left to right."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from hotline.web.i18n import LTR_CLASS, ltr
from tests.web.browser import chromium, needs_chromium
from tests.web.support import Stack, running

CSS = resources.files("hotline.web").joinpath("static", "hotline.css").read_text("utf-8")
FSI, PDI = "\u2068", "\u2069"


def test_a_template_value_becomes_an_escaped_left_to_right_island() -> None:
    assert ltr("+971 50 111 0101") == (f'<bdi dir="ltr" class="{LTR_CLASS}">+971 50 111 0101</bdi>')
    assert ltr("<b>[[x]]") == f'<bdi dir="ltr" class="{LTR_CLASS}">&lt;b&gt;&#91;&#91;x]]</bdi>'


def test_the_stylesheet_isolates_the_class_left_to_right() -> None:
    rule = next(line for line in CSS.splitlines() if line.startswith(f".{LTR_CLASS} "))
    assert "direction: ltr" in rule
    assert "unicode-bidi: isolate" in rule


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(tmp_path) as live:
        yield live


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@needs_chromium
@pytest.mark.slow
async def test_scripts_keep_values_whole_in_an_arabic_page(stack: Stack, driver: Any) -> None:
    def in_the_browser() -> dict[str, Any]:
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(stack.url + "language/ar?next=/login")
        WebDriverWait(driver, 10).until(
            lambda d: d.execute_script("return document.documentElement.dir") == "rtl"
        )
        found: dict[str, Any] = driver.execute_script(
            """
            const island = LTR("10:00–10:15");
            document.body.append(island);
            const style = getComputedStyle(island);
            return {
              sentence: T("{n} contacts, {pending} within the repeat window",
                          {n: "+971 50 111 0101", pending: 2}),
              tag: island.tagName, dir: island.dir, cls: island.className,
              direction: style.direction, bidi: style.unicodeBidi,
            };
            """
        )
        driver.get(stack.url + "language/en?next=/login")
        found["english"] = driver.execute_script('return T("{n} contacts", {n: "1.2"})')
        return found

    found = await asyncio.to_thread(in_the_browser)

    assert f"{FSI}+971 50 111 0101{PDI}" in found["sentence"]
    assert f"{FSI}2{PDI}" in found["sentence"]
    assert (found["tag"], found["dir"], found["cls"]) == ("BDI", "ltr", LTR_CLASS)
    assert (found["direction"], found["bidi"]) == ("ltr", "isolate")
    assert FSI not in found["english"]  # left-to-right pages need no isolates
