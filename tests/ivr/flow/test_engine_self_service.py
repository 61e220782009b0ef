"""Self-service and decisions: catalog messages, business hours, caller lookup, callbacks,
voicemail (over FastAGI to the Asterisk emulator)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from ivr.callers import CallerProfile, InMemoryDirectory
from telephony.emulator import Caller

from .support import (
    OPEN_MONDAY,
    FakeRecogniser,
    KeywordClassifier,
    flow_of,
    names,
    played,
    rig,
    write_wav,
)

CATALOG = """
    currency: AED
    products:
      fibre:
        name: Fibre 500
        price: 299
        prompt: price-fibre
        intents: [price_question]
      mobile:
        name: Unlimited mobile
        price: 149.5
        prompt: price-mobile
    offers:
      current:
        name: Double speed
        prompt: offer-current
        valid_from: 2026-01-01
        valid_until: 2026-12-31
      newest:
        name: Free router
        prompt: offer-newest
        valid_from: 2026-03-01
        valid_until: 2026-03-02
      expired:
        name: Old deal
        prompt: offer-expired
        valid_from: 2025-01-01
        valid_until: 2025-12-31
      future:
        name: Next year
        prompt: offer-future
        valid_from: 2027-01-01
        valid_until: 2027-12-31
"""

SHOP = """
    entry: choose
    business_hours: {timezone: Asia/Dubai}
    nodes:
      choose:
        menu:
          prompt: which-product
          options:
            "1": {goto: price, set: {product: fibre}}
            "2": {goto: price, set: {product: mobile}}
      price:
        catalog: {show: price, product_attribute: product, next: offers}
      offers:
        catalog: {show: offers, empty_prompt: no-offers, next: bye}
      bye:
        hangup: {prompt: goodbye}
"""


def shop(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(textwrap.dedent(CATALOG), encoding="utf-8")
    return catalog


async def test_price_of_the_chosen_product_then_only_offers_valid_today(tmp_path: Path) -> None:
    flow = flow_of(SHOP, tmp_path, prompts={"catalog": str(shop(tmp_path))})
    async with rig(flow, clock=OPEN_MONDAY) as r:  # 2026-03-02 in Dubai
        result = await r.call(Caller(dtmf="2"))

    assert names(played(result)) == [
        "en/which-product",
        "en/price-mobile",
        "en/offer-newest",  # the most recently started first
        "en/offer-current",
        "en/goodbye",
    ]
    trace = {entry.node: entry.result for entry in r.reports[0].trace}
    assert trace["price"] == "price of mobile (149.5 AED)"
    assert trace["offers"] == "offers newest, current"
    assert r.reports[0].ending == "hangup"


async def test_offer_validity_follows_the_hotlines_time_zone(tmp_path: Path) -> None:
    flow = flow_of(SHOP, tmp_path, prompts={"catalog": str(shop(tmp_path))})
    # 2026-03-02 21:30 UTC is already 2026-03-03 in Dubai: "newest" ended yesterday there.
    late = dt.datetime(2026, 3, 2, 21, 30, tzinfo=dt.UTC)
    async with rig(flow, clock=late) as r:
        result = await r.call(Caller(dtmf="1"))

    assert "en/offer-newest" not in names(played(result))
    assert "en/offer-current" in names(played(result))


async def test_no_offer_valid_plays_the_empty_prompt(tmp_path: Path) -> None:
    flow = flow_of(SHOP, tmp_path, prompts={"catalog": str(shop(tmp_path))})
    async with rig(flow, clock=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) as r:
        result = await r.call(Caller(dtmf="1"))

    assert names(played(result))[-2:] == ["en/no-offers", "en/goodbye"]


async def test_a_menu_choice_outranks_the_product_said_before_it(tmp_path: Path) -> None:
    flow = flow_of(
        SHOP.replace("entry: choose", "entry: reason")
        + """
      reason:
        ask: {prompt: how-can-we-help, intents: {price_question: choose}, next: bye, fallback: bye}
""",
        tmp_path,
        prompts={"catalog": str(shop(tmp_path))},
    )
    voice = write_wav(tmp_path / "voice.wav", seconds=1.0)
    recogniser = FakeRecogniser(["how much is the fibre 500"])
    intents = KeywordClassifier({"how much": ("price_question", "sales", 1)})
    async with rig(flow, recogniser=recogniser, classifier=intents) as r:
        result = await r.call(Caller(speech=voice, dtmf="2", barge_in=False))

    assert names(played(result))[:3] == [
        "en/how-can-we-help",
        "en/which-product",
        "en/price-mobile",
    ]


HOURS = """
    entry: hours
    business_hours:
      timezone: Asia/Dubai
      hours: {mon-fri: ["08:00-20:00"]}
      holidays: [{date: 2026-12-02, name: National Day}]
    nodes:
      hours:
        branch:
          cases:
            - {holiday: true, goto: holiday}
            - {open: false, goto: closed}
          default: agent
      holiday:
        hangup: {prompt: holiday}
      closed:
        hangup: {prompt: closed}
      agent:
        queue: {}
"""


async def test_outside_business_hours_the_closed_branch_is_taken(tmp_path: Path) -> None:
    flow = flow_of(HOURS, tmp_path)
    sunday_night = dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC)  # Monday 03:00 in Dubai
    async with rig(flow, clock=sunday_night) as r:
        result = await r.call(Caller())

    assert names(played(result)) == ["en/closed"]
    assert r.reports[0].trace[0].result == "case 2 -> closed"
    assert not r.acd.calls


async def test_holiday_closes_a_working_day(tmp_path: Path) -> None:
    flow = flow_of(HOURS, tmp_path)
    national_day = dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC)  # a Wednesday, 11:00 local
    async with rig(flow, clock=national_day) as r:
        result = await r.call(Caller())

    assert names(played(result)) == ["en/holiday"]


async def test_within_business_hours_the_call_is_queued(tmp_path: Path) -> None:
    flow = flow_of(HOURS, tmp_path)
    async with rig(flow, clock=OPEN_MONDAY) as r:
        await r.call(Caller())

    assert len(r.acd.calls) == 1


KNOWN_CALLER = """
    language: en
    languages: [en, ar]
    entry: identify
    nodes:
      identify:
        lookup: {by: caller_id, found: vip_check, next: agent}
      vip_check:
        branch:
          cases:
            - {attributes: {tier: key_account}, at_least: {open_issues: 1}, goto: vip}
          default: agent
      vip:
        queue: {queue: vip, prompt: welcome}
      agent:
        queue: {prompt: welcome}
"""


def directory() -> InMemoryDirectory:
    profile = CallerProfile(
        customer_id="42",
        name="Layla",
        tier="key_account",
        language="ar",
        open_issues=2,
        recent_contacts=1,
        last_contact_at=OPEN_MONDAY - dt.timedelta(days=2),
        last_agent="agent1001",
        tags=frozenset({"outage_area"}),
    )
    return InMemoryDirectory([(profile, ["+971501234567"], ["123456"])])


async def test_known_caller_gets_profile_language_tier_and_history(tmp_path: Path) -> None:
    flow = flow_of(KNOWN_CALLER, tmp_path)
    async with rig(flow, callers=directory()) as r:
        result = await r.call(Caller(number="0501234567"))

    (handed,) = r.acd.calls
    assert handed.queue == "vip"
    assert (handed.customer_id, handed.tier, handed.open_issues) == ("42", "key_account", 2)
    assert handed.language == "ar"
    assert handed.last_agent == "agent1001"
    assert handed.days_since_last_contact == 2.0
    assert handed.tags == frozenset({"outage_area"})
    assert names(played(result)) == ["ar/welcome"]
    assert r.reports[0].attributes["language_source"] == "profile"


async def test_unknown_caller_goes_on_as_a_new_customer(tmp_path: Path) -> None:
    flow = flow_of(KNOWN_CALLER, tmp_path)
    async with rig(flow, callers=directory()) as r:
        await r.call(Caller(number="0559999999"))

    (handed,) = r.acd.calls
    assert (handed.customer_id, handed.queue, handed.language) == (None, None, "en")
    assert r.reports[0].trace[0].result == "caller id: not found"


CALLBACK = """
    entry: callback
    nodes:
      callback:
        callback:
          confirm_prompt: callback-confirm
          confirm_keys_prompt: callback-keys
          enter_prompt: callback-enter
          done_prompt: callback-booked
          next: bye
      bye:
        hangup: {}
"""


async def test_callback_on_the_confirmed_caller_number(tmp_path: Path) -> None:
    flow = flow_of(CALLBACK, tmp_path)
    async with rig(flow) as r:
        # no barge-in: the caller hears the number said back before pressing 1
        result = await r.call(Caller(number="0501234567", dtmf="1", barge_in=False))

    (request,) = r.callbacks.requests
    assert request.number == "0501234567"
    assert 'SAY DIGITS 0501234567 "12"' in result.commands
    assert names(played(result))[-1] == "en/callback-booked"


async def test_callback_on_another_number_keyed_in(tmp_path: Path) -> None:
    flow = flow_of(CALLBACK, tmp_path)
    async with rig(flow) as r:
        await r.call(Caller(number="0501234567", dtmf="2044556677#"))

    assert [c.number for c in r.callbacks.requests] == ["044556677"]
    assert r.reports[0].attributes["callback_number"] == "044556677"


async def test_voicemail_records_a_message_then_hangs_up(tmp_path: Path) -> None:
    flow = flow_of(
        f"""
        entry: message
        nodes:
          message:
            voicemail:
              prompt: leave-message
              directory: {tmp_path / "voicemail"}
              max_s: 30
              goodbye_prompt: goodbye
        """,
        tmp_path,
    )
    speech = tmp_path / "message.wav"
    write_wav(speech, seconds=1.0)
    async with rig(flow) as r:
        result = await r.call(Caller(speech=speech))

    (recording,) = result.recordings
    assert recording.parent == tmp_path / "voicemail"
    assert r.reports[0].ending == "voicemail"
    assert r.reports[0].attributes["voicemail"] == str(recording)
    assert result.hung_up_by == "agi"
