"""In a real headless chromium, during calls: the supervisor's page names callers and agents,
shows the aged priority with its terms, a pending pause, and the alert when the only
Arabic-speaking agent is paused while an Arabic caller waits (in English and in Arabic);
the agent's screen-pop shows the customer, what the IVR learnt from the caller's voice,
open issues and a readable timeline. Screenshots land in test-artifacts/."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.agent_events import Pause
from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewCustomer, NewInteraction, NewNote, Status
from telephony.emulator import Caller
from tests.web.browser import chromium, needs_chromium, screenshot
from tests.web.support import TO_AN_AGENT, Stack, running
from tests.web.test_browser import read, sign_in, wait_for

pytestmark = [needs_chromium, pytest.mark.slow]

#: "2": Arabic, then "0" at the main menu: an agent.
ARABIC_TO_AN_AGENT = "20"
NUMBER = "+971501110042"


@pytest.fixture
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def whole_page(driver: Any, name: str) -> None:
    """A screenshot of the whole page, not only what a 900-pixel window shows."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, int(height) + 140))
    screenshot(driver, name)
    driver.set_window_size(1280, 900)


async def wait_until_offered(stack: Stack, agent_id: str) -> str:
    async with asyncio.timeout(15):
        while (call_id := stack.service.acd.distributor.book.view(agent_id).call_id) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return call_id


async def leave(driver: Any) -> None:
    """Close the page's feed before the service stops (it waits for open feeds)."""
    await asyncio.to_thread(driver.get, "about:blank")


def supervisor_sees_the_floor(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "sam")
    wait_for(driver, "#status", "live")
    wait_for(driver, "#alerts-box:not([hidden]) li.alert.all_paused", "Amira")
    wait_for(driver, "#alerts li.alert.all_paused", "lang.ar>=2")
    wait_for(driver, "#alerts li.alert.all_paused", "break")
    # the Arabic caller by number, at an aged priority made of named terms
    row = "tr.waiting-call"
    wait_for(driver, f"{row} td.caller", "+971501110077")
    wait_for(driver, f"{row} td.priority .terms", "waiting")
    # agents by name, the one asked to pause during her call shows it pending
    wait_for(driver, "#agents tr[data-agent='1005'] td.agent", "Amira")
    wait_for(driver, "#agents tr[data-agent='1001'] .pending", "coaching")
    wait_for(driver, "#agents tr[data-agent='1001'] td.caller", "+971501110042")
    wait_for(driver, ".queue[data-queue='support'] .staff")
    # every channel together, then each: the waiting Arabic caller is the voice backlog
    wait_for(driver, "#channels tr[data-channel='all'] th", "all channels")
    voice = "#channels tr[data-channel='voice']"
    wait_for(driver, f"{voice} th", "voice")
    assert read(driver, f"{voice} td:nth-of-type(8)", lambda cell: cell.text) == "1"  # the backlog
    whole_page(driver, "supervisor-live-view")
    driver.find_element(By.CSS_SELECTOR, 'header .languages a[lang="ar"]').click()
    wait_for(driver, "#status", "مباشر")
    wait_for(driver, "#alerts li.alert.all_paused", "Amira")
    wait_for(driver, "#channels tr[data-channel='all'] th", "كل القنوات")  # all channels
    wait_for(driver, "#channels tr[data-channel='voice'] th", "صوت")  # voice
    isolation = read(
        driver,
        "tr.waiting-call td.caller .ltr-value",
        lambda number: [number.value_of_css_property(p) for p in ("direction", "unicode-bidi")],
    )
    assert isolation == ["ltr", "isolate"]
    whole_page(driver, "supervisor-live-view-arabic")


def supervisor_sees_asterisk_down(driver: Any) -> None:
    """(the page is in Arabic by now)"""

    wait_for(driver, "#status.down", "Asterisk")
    wait_for(driver, "#link-detail", "AMI: غير متصل")  # disconnected
    assert "مباشر" not in read(driver, "#status", lambda status: status.text)  # not "live"
    wait_for(driver, "#agents-box.stale .live-stale:not([hidden])")
    wait_for(driver, "#queues-box.stale .live-stale:not([hidden])")
    whole_page(driver, "supervisor-asterisk-down")


async def test_the_supervisor_sees_names_aged_priorities_a_pending_pause_and_who_is_missing(
    tmp_path: Path, driver: Any
) -> None:
    async with running(tmp_path, ring_s=0.5) as stack:
        acd = stack.service.acd
        for other in ("1002", "1003", "1004"):
            acd.agent_event(Pause(other, "training"))
        acd.agent_event(Pause("1005", "break"))  # the only agent who speaks Arabic
        await stack.emulator.place_call(Caller(number=NUMBER, dtmf=TO_AN_AGENT, barge_in=False))
        await wait_until_offered(stack, "1001")
        acd.agent_event(Pause("1001", "coaching"))  # during the call: pending until it is over
        await stack.emulator.place_call(
            Caller(number="+971501110077", dtmf=ARABIC_TO_AN_AGENT, barge_in=False)
        )
        try:
            await asyncio.to_thread(supervisor_sees_the_floor, driver, stack.url)
            await stack.emulator.ami.stop()  # Asterisk's manager goes away
            await asyncio.to_thread(supervisor_sees_asterisk_down, driver)
        except Exception:
            await asyncio.to_thread(whole_page, driver, "supervisor-live-view-failed")
            raise
        finally:
            await leave(driver)


async def known_customer(stack: Stack) -> None:
    """Jane, a loyal customer: a chat yesterday with a note, an e-mail still open."""
    repository = stack.service.history
    customer = await repository.create_customer(
        NewCustomer(
            name="Jane Caller",
            tier="loyal",
            identities=(IdentityIn(kind=IdentityKind.PHONE, value=NUMBER),),
        )
    )
    now = dt.datetime.now(dt.UTC)
    chat = await repository.append_interaction(
        NewInteraction(
            channel=Channel.CHAT,
            customer_id=customer.id,
            started_at=now - dt.timedelta(days=1, hours=2),
            ended_at=now - dt.timedelta(days=1, hours=1, minutes=50),
            intent="technical_fault",
            outcome="answered",
            agent="1002",  # Bob: not a problem solver, so the fault call does not wait for him
            status=Status.RESOLVED,
            idempotency_key="chat-yesterday",
            source="chat",
        )
    )
    await repository.add_note(
        NewNote(
            author="agent:1002",
            body="Router restarted; asked her to call if the line drops again.",
            interaction_id=chat.id,
            source="chat",
            idempotency_key="chat-yesterday-note",
        )
    )
    await repository.append_interaction(
        NewInteraction(
            channel=Channel.EMAIL,
            customer_id=customer.id,
            started_at=now - dt.timedelta(hours=3),
            intent="billing",
            status=Status.OPEN,
            idempotency_key="email-this-morning",
            source="email",
        )
    )


def agent_sees_the_pop(driver: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    sign_in(driver, url, "1001")
    wait_for(driver, "#pop:not([hidden]) #pop-caller", "Jane Caller")
    wait_for(driver, "#pop-customer", "loyal")
    wait_for(driver, "#pop-ivr .transcript", "internet is not working")  # Whisper's words
    ivr = driver.find_element(By.ID, "pop-ivr").text
    assert "technical fault" in ivr
    assert "%" in ivr  # how sure the classifier was
    assert "product = fibre-500" in ivr
    assert "reason" in ivr  # the menu path
    wait_for(driver, "#pop-issues .channel-email")  # the e-mail still open
    timeline = driver.find_element(By.ID, "pop-timeline").text
    assert "chat" in timeline.lower()
    assert "Router restarted" in timeline
    assert "with Bob" in timeline  # the agent by name, and the note's author too
    assert "agent:1002" not in timeline
    assert "yesterday" in timeline  # relative time, not an ISO timestamp
    assert "+00:00" not in timeline
    whole_page(driver, "agent-screen-pop")
    driver.find_element(By.CSS_SELECTOR, 'header .languages a[lang="ar"]').click()
    wait_for(driver, "#pop:not([hidden]) #pop-caller", "Jane Caller")
    wait_for(driver, "#pop-timeline", "أمس")  # "yesterday", in Arabic
    whole_page(driver, "agent-screen-pop-arabic")


async def test_the_agent_screen_pop_shows_the_customer_and_what_the_ivr_learnt(
    tmp_path: Path, driver: Any
) -> None:
    pytest.importorskip("faster_whisper")
    from ivr.speech.synth import synthesis_available, synthesize

    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    voice = synthesize("my fibre internet is not working", tmp_path / "voice")
    async with running(tmp_path, ring_s=0.5, speech=True) as stack:
        speech = stack.service.speech
        async with asyncio.timeout(90):
            while "en" not in speech.languages:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await known_customer(stack)
        for other in ("1002", "1003", "1004", "1005"):
            stack.service.acd.agent_event(Pause(other, "training"))
        # "1": English; the open question answered by voice; then the account number
        await stack.emulator.place_call(
            Caller(number=NUMBER, dtmf="1654321#", speech=voice, barge_in=False)
        )
        await wait_until_offered(stack, "1001")
        try:
            await asyncio.to_thread(agent_sees_the_pop, driver, stack.url)
        except Exception:
            await asyncio.to_thread(whole_page, driver, "agent-screen-pop-failed")
            raise
        finally:
            await leave(driver)
