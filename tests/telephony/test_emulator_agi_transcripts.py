"""The emulator answers the recorded services' commands with the recorded Asterisk's bytes."""

from __future__ import annotations

import re

import pytest

from telephony.emulator import AgentPhone, Caller
from tests.telephony.emulator_harness import Replay, replay


def assert_same(run: Replay, *, mask: dict[str, re.Pattern[str]] | None = None) -> None:
    """Every reply equals the recording; `mask` blanks timing-derived numbers per command."""
    for command, expected, actual in run.pairs():
        for prefix, pattern in (mask or {}).items():
            if command.startswith(prefix):
                expected, actual = pattern.sub("#", expected), pattern.sub("#", actual)
        assert actual == expected, f"reply to {command!r}"


ENDPOS_OF_DIGIT = re.compile(r"(?<=endpos=)\d+")
NUMBER_IN_PARENS = re.compile(r"\(\d+\)")


async def test_ivr_basic_replies_match_the_recording() -> None:
    run = await replay("agi_ivr_basic", Caller(name="ivr_basic"), exten="101")
    assert_same(run)
    assert run.result.variables["IVR_RESULT"] == "ok"
    assert run.result.hung_up_by == "agi"


async def test_ivr_dtmf_with_scripted_digits_matches_the_recording() -> None:
    caller = Caller(name="ivr_dtmf", dtmf="5,7,12,34#9,*28#6,,")
    run = await replay("agi_ivr_dtmf", caller, exten="101")
    digit_positions = {
        'STREAM FILE demo-congrats "0123456789*#"': ENDPOS_OF_DIGIT,
        'GET OPTION vm-sorry "123"': ENDPOS_OF_DIGIT,
    }
    assert_same(run, mask=digit_positions)


async def test_ivr_misc_gosub_callerid_and_continuing_in_the_dialplan() -> None:
    run = await replay("agi_ivr_misc", Caller(name="ivr_misc"))
    assert_same(run)
    assert ("hotline", "110", 1, "NoOp") in run.result.visited
    assert run.result.after_agi == ("hotline", "110", 1)
    assert run.result.agi_status == "SUCCESS"


@pytest.mark.parametrize(
    ("name", "exten"),
    [
        ("agi_moh", "100"),
        ("agi_commands_before_answer", "101"),
        ("agi_halfclose_while_alive", "100"),
        ("agi_args", "102"),
        ("agi_autohangup", "100"),
    ],
)
async def test_simple_scenarios_match_the_recording(name: str, exten: str) -> None:
    scenario = name.removeprefix("agi_")
    caller_name = {"commands_before_answer": "answer_no_rtp"}.get(scenario, scenario)
    run = await replay(name, Caller(name=caller_name), exten=exten)
    assert_same(run)


async def test_errors_usage_blocks_dead_mode_and_idle_hangup_match_the_recording() -> None:
    caller = Caller(name="errors", hangup_on_command=15, hangup_delay_s=1.0)
    run = await replay("agi_errors", caller)
    assert_same(run)
    assert run.result.hung_up_by == "caller"


@pytest.mark.parametrize(
    ("name", "command", "after_s"),
    [
        ("agi_hangup_during_stream", 2, 3.0),
        ("agi_hangup_during_waitfordigit", 2, 2.0),
        ("agi_hangup_during_getdata", 2, 2.0),
        ("agi_hangup_during_record", 2, 3.0),
        ("agi_hangup_during_exec_playback", 2, 2.0),
    ],
)
async def test_caller_hangup_during_a_command_matches_the_recording(
    name: str, command: int, after_s: float, tmp_path: object
) -> None:
    caller = Caller(
        name=name.removeprefix("agi_"), hangup_on_command=command, hangup_delay_s=after_s
    )
    run = await replay(
        name, caller, rewrite=lambda s: s.replace("/var/spool/asterisk/recording", str(tmp_path))
    )
    assert_same(run)
    assert run.result.hung_up_by == "caller"


AGENT = "SIP/agent1001"


async def test_dial_answered_then_agent_hangs_up_returns_minus_one_with_caller_up() -> None:
    phones = [AgentPhone(AGENT, "answer", ring_s=1.0, talk_s=4.0)]
    caller = Caller(name="dial_answered_agent_hangup")
    run = await replay("agi_dial_answered_agent_hangup", caller, phones=phones)
    assert_same(run, mask={"GET VARIABLE ANSWEREDTIME_MS": NUMBER_IN_PARENS,
                           "GET VARIABLE DIALEDTIME_MS": NUMBER_IN_PARENS})  # fmt: skip
    (dial,) = run.result.dials
    assert (dial.status, dial.answered_by, dial.result) == ("ANSWER", AGENT, -1)


async def test_dial_option_g_returns_zero_when_the_agent_hangs_up() -> None:
    phones = [AgentPhone(AGENT, "answer", ring_s=1.0, talk_s=4.0)]
    run = await replay(
        "agi_dial_answered_agent_hangup_g",
        Caller(name="dial_answered_agent_hangup_g"),
        phones=phones,
    )
    assert_same(run)


async def test_dial_answered_then_caller_hangs_up() -> None:
    phones = [AgentPhone(AGENT, "answer", ring_s=1.0, talk_s=60.0)]
    caller = Caller(name="dial_answered_caller_hangup", hangup_on_command=2, hangup_delay_s=6.0)
    run = await replay("agi_dial_answered_caller_hangup", caller, phones=phones)
    assert_same(run)


async def test_dial_cancelled_when_the_caller_hangs_up_while_ringing() -> None:
    phones = [AgentPhone(AGENT, "noanswer")]
    caller = Caller(
        name="dial_caller_hangup_while_ringing", hangup_on_command=2, hangup_delay_s=5.0
    )
    run = await replay("agi_dial_caller_hangup_while_ringing", caller, phones=phones)
    assert_same(run)
    assert run.result.dials[0].status == "CANCEL"


async def test_dial_noanswer_busy_congestion_and_unavailable() -> None:
    run = await replay(
        "agi_dial_noanswer", Caller(name="dial_noanswer"), phones=[AgentPhone(AGENT, "noanswer")]
    )
    assert_same(run)
    phones = [AgentPhone(AGENT, "busy"), AgentPhone("SIP/agent1003", "congestion")]
    run = await replay(
        "agi_dial_busy_congestion", Caller(name="dial_busy_congestion"), phones=phones
    )
    assert_same(run)
    phones = [AgentPhone("SIP/agent1004", "unavailable"), AgentPhone("SIP/agent1002", "noanswer")]
    run = await replay("agi_dial_unavailable", Caller(name="dial_unavailable"), phones=phones)
    assert_same(run)
    assert [d.status for d in run.result.dials] == ["CHANUNAVAIL", "CHANUNAVAIL", "NOANSWER"]
