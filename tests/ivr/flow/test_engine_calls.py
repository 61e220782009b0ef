"""Callers pressing keys through a flow, over real FastAGI to the Asterisk emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ivr.flow.flow import Flow
from telephony.emulator import Caller

from .support import FALLBACK, flow_of, names, played, rig

MENUS = """
    language: en
    languages: [en, ar]
    entry: language
    nodes:
      language:
        menu:
          prompt: choose-language
          options:
            "1": {goto: main, set: {language: en}}
            "2": {goto: main, set: {language: ar}}
          max_tries_target: main
      main:
        menu:
          prompt: main-menu
          options:
            "3": {goto: account, set: {call_type: billing, queue: billing}}
            "0": agent
          invalid_prompt: invalid-option
          no_input_prompt: no-input
          max_tries: 3
          max_tries_target: operator
      account:
        collect:
          prompt: enter-account
          min_digits: 6
          max_digits: 8
          next: agent
      agent:
        queue: {prompt: transfer}
      operator:
        queue: {queue: operators}
"""


@pytest.fixture
def menus(tmp_path: Path) -> Flow:
    return flow_of(MENUS, tmp_path)


async def test_keys_lead_to_the_queue_with_call_type_language_and_account(menus: Flow) -> None:
    async with rig(menus) as r:
        result = await r.call(Caller(number="0501234567", dtmf="13123456#"))

    (handed,) = r.acd.calls
    assert (handed.call_type, handed.language, handed.account) == ("billing", "en", "123456")
    assert handed.queue == "billing"
    assert handed.caller_number == "0501234567"
    assert [e.node for e in handed.trace] == ["language", "main", "account"]
    assert result.after_agi == (FALLBACK.context, FALLBACK.extension, FALLBACK.priority)
    assert result.variables["HOTLINE_QUEUE"] == "billing"
    assert result.variables["HOTLINE_CALL_TYPE"] == "billing"
    (report,) = r.reports
    assert report.ending == "queued"
    findings = json.loads(json.dumps(report.findings()))  # the screen-pop's JSON
    assert findings["path"] == ["language", "main", "account", "agent"]
    assert findings["attributes"]["account"] == "123456"


async def test_invalid_key_is_told_and_the_menu_asked_again(menus: Flow) -> None:
    async with rig(menus) as r:
        result = await r.call(Caller(dtmf="170"))

    assert names(played(result)) == [
        "en/choose-language",
        "en/main-menu",
        "en/invalid-option",
        "en/main-menu",
        "en/transfer",
    ]
    main = r.reports[0].trace[1]
    assert (main.node, main.input, main.result) == ("main", "dtmf 7 (invalid), dtmf 0", "-> agent")


async def test_silence_is_asked_again_then_sent_to_the_max_tries_target(menus: Flow) -> None:
    async with rig(menus) as r:
        result = await r.call(Caller(dtmf="1"))

    prompts = names(played(result))
    assert prompts.count("en/main-menu") == 3
    assert prompts.count("en/no-input") == 2
    assert r.acd.calls[0].queue == "operators"
    assert r.reports[0].trace[1].input == "no input, no input, no input"


async def test_caller_hanging_up_mid_menu_ends_the_flow_and_keeps_the_trace(
    menus: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with rig(menus) as r:
        # 1 ANSWER, 2-3 language menu (prompt, digit), 4 main menu prompt, 5 WAIT FOR DIGIT
        result = await r.call(Caller(dtmf="1", hangup_on_command=5))

    assert result.hung_up_by == "caller"
    assert not result.fallback_used
    (report,) = r.reports
    assert report.ending == "caller_hangup"
    assert report.last_node == "main"
    assert [(e.node, e.result) for e in report.trace] == [
        ("language", "-> main"),
        ("main", "caller hung up"),
    ]
    assert report.attributes["language"] == "en"
    assert not r.acd.calls
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]


async def test_arabic_chosen_plays_arabic_prompts_and_routes_on_language(menus: Flow) -> None:
    async with rig(menus) as r:
        result = await r.call(Caller(dtmf="20"))

    assert names(played(result)) == ["en/choose-language", "ar/main-menu", "ar/transfer"]
    assert "SET VARIABLE CHANNEL(language) ar" in result.commands
    assert r.acd.calls[0].language == "ar"
    assert r.reports[0].attributes["language_source"] == "caller"


async def test_account_number_failing_validation_is_asked_again(tmp_path: Path) -> None:
    flow = flow_of(
        """
        entry: account
        nodes:
          account:
            collect:
              prompt: enter-account
              min_digits: 4
              max_digits: 12
              luhn: true
              invalid_prompt: invalid-account
              next: agent
          agent:
            queue: {}
        """,
        tmp_path,
    )
    async with rig(flow) as r:
        result = await r.call(Caller(dtmf="1234#79927398713#"))

    assert names(played(result)).count("en/invalid-account") == 1
    assert r.acd.calls[0].account == "79927398713"
    assert r.reports[0].trace[0].input == "digits 1234 (invalid), digits *******8713"


async def test_prompt_missing_at_run_time_is_logged_and_the_flow_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = flow_of(
        """
        entry: hello
        nodes:
          hello:
            play: {prompt: [welcome, news], next: agent}
          agent:
            queue: {}
        """,
        tmp_path,
        missing=["news"],
    )
    async with rig(flow) as r:
        result = await r.call(Caller())

    assert result.fallback_used
    assert r.reports[0].ending == "queued"
    assert "prompt news missing" in r.reports[0].trace[0].result
    assert "prompt 'news' (en) could not be played" in caplog.text


async def test_a_node_without_an_end_is_stopped_and_sent_to_the_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = flow_of(  # check_flow refuses this loop; the engine still must not spin
        """
        entry: a
        max_steps: 10
        nodes:
          a: {goto: b}
          b: {goto: a}
        """,
        tmp_path,
    )
    async with rig(flow) as r:
        result = await r.call(Caller())

    assert result.fallback_used
    assert r.reports[0].ending == "fallback"
    assert len(r.reports[0].trace) == 10
    assert "10 steps without reaching an end" in caplog.text
