"""The shipped config/ivr.yaml, prompts and catalog serving callers: by keys (no speech
service: the open question falls back to the main menu), and a price asked for in words,
then "anything else?" answered in words."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.callers import CallerProfile, InMemoryDirectory
from ivr.config_yaml import parse_yaml
from ivr.flow.flow import Flow, build_flow
from ivr.flow.models import IvrSettings, anchor_config_paths
from telephony.emulator import Caller

from .support import OPEN_MONDAY, FakeRecogniser, names, played, rig, shipped_classifier, write_wav

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Flow:
    monkeypatch.chdir(tmp_path)  # ivr.yaml's paths are relative to its own directory
    document = parse_yaml((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    anchor_config_paths(document.data, ROOT / "config")
    settings = IvrSettings.model_validate(document.data)
    prompts = settings.prompts.model_copy(update={"asterisk_dir": str(ROOT / "prompts")})
    speech = settings.speech.model_copy(update={"recordings_dir": tmp_path})
    return build_flow(settings.model_copy(update={"prompts": prompts, "speech": speech}))


async def test_english_caller_hears_the_offers_then_reaches_an_agent(shipped: Flow) -> None:
    async with rig(shipped, clock=OPEN_MONDAY) as r:
        result = await r.call(Caller(number="0501234567", dtmf="120", barge_in=False))

    assert names(played(result)) == [
        "en/choose-language",
        "en/welcome",
        "en/main-menu",
        "en/offer-double-speed",
        "en/anything-else",
        "en/transfer",
    ]
    assert r.acd.calls[0].language == "en"
    assert [e.node for e in r.reports[0].trace] == [
        "start",
        "hours",
        "language",
        "welcome",
        "reason",
        "main",
        "offers",
        "more",
        "agent",
    ]


async def test_known_arabic_customer_skips_the_language_menu_and_reports_a_fault(
    shipped: Flow,
) -> None:
    profile = CallerProfile(customer_id="7", tier="loyal", language="ar")
    callers = InMemoryDirectory([(profile, ["0501234567"], [])])
    async with rig(shipped, callers=callers, clock=OPEN_MONDAY) as r:
        result = await r.call(Caller(number="0501234567", dtmf="412345678#", barge_in=False))

    assert names(played(result)) == ["ar/welcome", "ar/main-menu", "ar/transfer"]
    assert any("/ar/enter-account" in c for c in result.commands if c.startswith("GET DATA"))
    (handed,) = r.acd.calls
    assert (handed.language, handed.queue, handed.call_type) == ("ar", "support", "technical_fault")
    assert (handed.account, handed.complexity, handed.tier) == ("12345678", 3, "loyal")


async def test_after_hours_the_closed_menu_ends_politely(shipped: Flow) -> None:
    saturday_evening = dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC)  # 19:00 in Dubai
    async with rig(shipped, clock=saturday_evening) as r:
        result = await r.call(Caller(dtmf="9", barge_in=False))

    assert names(played(result)) == [
        "en/closed",
        "en/invalid-option",
        "en/closed",
        "en/goodbye",
    ]
    assert r.reports[0].ending == "hangup"


@pytest.mark.parametrize(
    ("said", "price", "chosen"),
    [
        ("how much is the unlimited mobile plan", "price-mobile-unlimited", "named"),
        ("what is the price of mobile unlimitid", "price-mobile-unlimited", "named loosely"),
        ("how much does the unlimted mobile plan cost", "price-mobile-unlimited", "named loosely"),
        ("how much is it per month", "price-fibre-500", "for price_question"),  # the catalog's
    ],
)
async def test_a_price_asked_for_in_words_plays_the_product_named(
    shipped: Flow, tmp_path: Path, said: str, price: str, chosen: str
) -> None:
    voice = write_wav(tmp_path / "voice.wav", seconds=1.0)
    recogniser = FakeRecogniser([said])
    async with rig(shipped, recogniser=recogniser, classifier=shipped_classifier()) as r:
        result = await r.call(Caller(dtmf="1", speech=voice, barge_in=False))

    assert names(played(result))[2:4] == ["en/how-can-we-help", f"en/{price}"]
    trace = {entry.node: entry.result for entry in r.reports[0].trace}
    assert trace["reason"].startswith("intent price_question")
    assert trace["price"].endswith(f" AED, {chosen})")


@pytest.mark.parametrize(
    ("answer", "then", "node"),
    [
        ("no thanks", "en/goodbye", "goodbye"),
        ("no, I want an agent", "en/transfer", "agent"),
        ("the menu please", "en/main-menu", "main"),
    ],
)
async def test_after_a_price_asked_in_words_anything_else_is_answered_in_words(
    shipped: Flow, tmp_path: Path, answer: str, then: str, node: str
) -> None:
    voice = write_wav(tmp_path / "voice.wav", seconds=1.0)
    recogniser = FakeRecogniser(["how much is the unlimited mobile plan", answer])
    async with rig(shipped, recogniser=recogniser, classifier=shipped_classifier()) as r:
        result = await r.call(Caller(dtmf="1", speech=voice, barge_in=False))

    assert names(played(result))[3:6] == ["en/price-mobile-unlimited", "en/anything-else", then]
    assert ("more", f"-> {node}") in [(e.node, e.result) for e in r.reports[0].trace]
