"""Digits said instead of keyed, in a collect step (an account number) and a callback step
(a phone number): "six five four three two one" heard (a fake recogniser), read back ("I
heard" and Asterisk's SAY DIGITS), confirmed by voice or key 1; a "no" asks again; a key
pressed over the question goes on with keys; what was said stays out of the trace. A
callback's caller ID is confirmed by a yes, or replaced after a no."""

from __future__ import annotations

from pathlib import Path

from ivr.flow.flow import Flow
from telephony.emulator import Caller

from .support import FakeRecogniser, flow_of, rig, write_wav
from .test_engine_self_service import CALLBACK as KEYED_CALLBACK

COLLECT = """
    entry: account
    nodes:
      account:
        collect:
          prompt: enter-account
          min_digits: 6
          max_digits: 8
          invalid_prompt: invalid-account
          next: agent
          speech: {heard_prompt: digits-heard, confirm_prompt: digits-confirm}
      agent:
        queue: {}
"""
SAID = "my account is six five four three two one"


def _flow(tmp_path: Path) -> Flow:
    return flow_of(COLLECT, tmp_path)


def _voice(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "voice.wav", seconds=1.0)


async def test_said_digits_read_back_and_confirmed_by_voice_are_kept(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID, "yes that's right"])
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(speech=_voice(tmp_path), barge_in=False))

    (handed,) = r.acd.calls
    assert handed.attributes["account"] == "654321"
    assert 'SAY DIGITS 654321 "12"' in result.commands  # read back, keys 1/2 stop it
    (entry, *_) = r.reports[0].trace
    assert entry.result == "account collected"
    assert entry.input is not None
    assert "654321" not in entry.input  # the account number is not in the trace
    assert "4321" not in entry.input.replace("**4321", "")


async def test_a_no_to_the_read_back_asks_again(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID, "no", "six five four three two two", "yes"])
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        await r.call(Caller(speech=_voice(tmp_path), barge_in=False))

    assert r.acd.calls[0].attributes["account"] == "654322"


async def test_key_1_confirms_the_read_back(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID])
    # silent through the question, the recording and "I heard"; 1 over the digits read back
    caller = Caller(speech=[_voice(tmp_path)], dtmf=",,,1", barge_in=True)
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        await r.call(caller)

    assert r.acd.calls[0].attributes["account"] == "654321"


async def test_keys_pressed_instead_of_speaking_are_taken_as_keys(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([])
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(dtmf="7654321#"))

    assert r.acd.calls[0].attributes["account"] == "7654321"
    assert recogniser.heard == []  # the first key ended the recording: nothing to hear
    assert sum(c.startswith("WAIT FOR DIGIT") for c in result.commands) == 7  # 6 keys and #


async def test_digits_too_short_are_invalid_and_asked_again(tmp_path: Path) -> None:
    recogniser = FakeRecogniser(["four five six", SAID, "yes"])
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(speech=_voice(tmp_path), barge_in=False))

    assert r.acd.calls[0].attributes["account"] == "654321"
    assert sum("invalid-account" in c for c in result.commands) == 1


async def test_a_failing_recogniser_leaves_the_caller_the_keys(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([None])  # busy, slow or crashed
    async with rig(_flow(tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(speech=_voice(tmp_path), dtmf=",,123456#", barge_in=False))

    assert r.acd.calls[0].attributes["account"] == "123456"
    assert any(c.startswith("GET DATA") for c in result.commands)


CALLBACK = KEYED_CALLBACK.replace(
    "next: bye",
    """invalid_prompt: invalid-option
          next: bye
          speech: {heard_prompt: digits-heard, confirm_prompt: digits-confirm}""",
)


async def test_a_callback_number_said_is_read_back_and_booked(tmp_path: Path) -> None:
    said = "oh five oh, double one, two three four five six"
    recogniser = FakeRecogniser([said, "yes"])
    async with rig(flow_of(CALLBACK, tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(speech=_voice(tmp_path), barge_in=False))

    assert [c.number for c in r.callbacks.requests] == ["0501123456"]
    assert 'SAY DIGITS 0501123456 "12"' in result.commands
    (entry, _) = r.reports[0].trace  # the number said stays out of it
    assert entry.input == "spoke, said 'yes', entered a number (10 digits)"


async def test_the_caller_id_confirmed_by_a_yes(tmp_path: Path) -> None:
    recogniser = FakeRecogniser(["yes please"])
    async with rig(flow_of(CALLBACK, tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(number="0501234567", speech=_voice(tmp_path), barge_in=False))

    assert [c.number for c in r.callbacks.requests] == ["0501234567"]
    assert "callback-keys" not in " ".join(result.commands)  # the spoken question instead
    assert any("digits-confirm" in c for c in result.commands)


async def test_a_no_to_the_caller_id_then_another_number_said(tmp_path: Path) -> None:
    recogniser = FakeRecogniser(["no", "zero four four five five six six seven seven", "yeah"])
    async with rig(flow_of(CALLBACK, tmp_path), recogniser=recogniser) as r:
        await r.call(Caller(number="0501234567", speech=_voice(tmp_path), barge_in=False))

    assert [c.number for c in r.callbacks.requests] == ["044556677"]


async def test_a_callback_number_too_short_is_asked_again(tmp_path: Path) -> None:
    recogniser = FakeRecogniser(["five five five", "zero four four five five six six seven", "yes"])
    async with rig(flow_of(CALLBACK, tmp_path), recogniser=recogniser) as r:
        result = await r.call(Caller(speech=_voice(tmp_path), barge_in=False))

    assert [c.number for c in r.callbacks.requests] == ["04455667"]
    assert sum("invalid-option" in c for c in result.commands) == 1
