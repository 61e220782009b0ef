"""Reloads and faults: a call keeps its flow version; a failing step costs the caller
nothing but a trip to the fallback queue, and is logged once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ivr.callers import CallerProfile
from telephony.emulator import Caller

from .support import FALLBACK, flow_of, names, played, rig, wait_until

VERSIONED = """
    entry: main
    nodes:
      main:
        menu:
          prompt: menu-{v}
          options: {{"1": after}}
          timeout_s: 60
          max_tries: 1
      after:
        play: {{prompt: after-{v}, next: agent}}
      agent:
        queue: {{}}
"""


async def test_a_reload_mid_call_leaves_that_call_on_the_version_it_started_with(
    tmp_path: Path,
) -> None:
    old = flow_of(VERSIONED.format(v="v1"), tmp_path)
    new = flow_of(VERSIONED.format(v="v2"), tmp_path)
    assert old.version != new.version
    async with rig(old, time_scale=0.02) as r:
        waiting = await r.emulator.place_call(Caller(number="0501111111"))
        await wait_until(
            lambda: any(c.startswith("WAIT FOR DIGIT") for c in waiting.result().commands)
        )

        r.engine.swap(new)
        later = await r.emulator.place_call(Caller(number="0502222222", dtmf="1"))
        waiting.press("1")
        first, second = await waiting.wait_done(10), await later.wait_done(10)

    assert names(played(first)) == ["en/menu-v1", "en/after-v1"]
    assert names(played(second)) == ["en/menu-v2", "en/after-v2"]
    versions = {report.caller_number: report.flow_version for report in r.reports}
    assert versions == {"0501111111": old.version, "0502222222": new.version}


class BrokenDirectory:
    async def find_by_phone(self, number: str) -> CallerProfile | None:
        raise RuntimeError("directory unavailable")

    async def find_by_account(self, account: str) -> CallerProfile | None:
        raise RuntimeError("directory unavailable")


async def test_a_failing_step_is_logged_once_and_the_caller_sent_to_the_fallback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flow = flow_of(
        """
        entry: hello
        nodes:
          hello:
            play: {prompt: welcome, next: identify}
          identify:
            lookup: {next: agent}
          agent:
            queue: {}
        """,
        tmp_path,
    )
    async with rig(flow, callers=BrokenDirectory()) as r:
        result = await r.call(Caller(number="0501234567"))

    assert result.after_agi == (FALLBACK.context, FALLBACK.extension, FALLBACK.priority)
    assert result.fallback_phone == "SIP/agent1001"
    (report,) = r.reports
    assert report.ending == "error"
    assert [(e.node, e.result) for e in report.trace] == [
        ("hello", "played"),
        ("identify", "failed: RuntimeError"),
    ]
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "node identify failed" in errors[0].getMessage()
    assert not r.acd.calls
