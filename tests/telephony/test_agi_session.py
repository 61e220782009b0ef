"""AgiSession against a fake Asterisk that replays a recorded transcript's replies in order.

The fake checks that the session sends exactly the recorded commands. With `flexible_reads`,
GET VARIABLE and CHANNEL STATUS may differ from the recording (the session reads what it
needs; the recorder read other things): they are answered from the recorded values of that
point of the call, or as Asterisk answers an unset variable.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from telephony import agi_codec as agi
from telephony.agi_codec import Hangup, ResponseDecoder
from telephony.agi_session import (
    AgiCommandError,
    AgiProtocolFault,
    AgiSession,
    CallerHangup,
    DigitInput,
    Playback,
    Recording,
)
from tests.telephony.agi_peer import (
    REC,
    ScriptedAsterisk,
    recorded,
)
from tests.transcripts import ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK, load, names

# -- the IVR commands ----------------------------------------------------------------------


async def test_ivr_basic_commands_give_typed_results() -> None:
    fake = ScriptedAsterisk("agi_ivr_basic")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        await s.answer()
        assert await s.channel_status() == 6
        await s.verbose("IVR started for caller")
        await s.set_variable("IVR_LANG", "en")
        await s.set_variable("IVR_NOTE", "hello world with spaces")
        assert await s.get_variable("IVR_LANG") == "en"
        assert await s.get_variable("IVR_NOTE") == "hello world with spaces"
        assert await s.get_variable("NO_SUCH_VAR") is None
        assert await s.get_variable("CALLERID(num)") == "caller"
        assert await s.get_variable("CHANNEL") == s.env.channel
        assert await s.get_variable("UNIQUEID") == s.env.uniqueid
        assert await s.get_full_variable("${CALLERID(name)}") == "ivr_basic"
        assert await s.get_full_variable("${IVR_LANG}-${EXTEN}@${CONTEXT}") == "en-101@hotline"
        expr = "${IVR_NOTE} / ${CALLERID(all)}"
        assert await s.get_full_variable(expr) == 'hello world with spaces / "ivr_basic" <caller>'
        assert await s.get_full_variable("${NO_SUCH_VAR}") == ""
        assert await s.say_number(123) is None
        assert await s.say_digits("4711") is None
        assert await s.say_alpha("abc") is None
        assert await s.stream_file("hello-world") == Playback(None, 11234)
        assert await s.stream_file("hello-world", offset=8000) == Playback(None, 11234)
        assert await s.stream_file("no-such-prompt") == Playback(None, 0, played=False)
        assert not fake.session.dead
        custom = "/var/lib/asterisk/sounds/custom/lab-test"
        assert await s.stream_file(custom) == Playback(None, 18215)
        await s.playback("hello-world")
        await s.playback("no-such-prompt")
        assert await s.get_variable("PLAYBACKSTATUS") == "FAILED"
        assert await s.background("hello-world") is None
        assert await s.exec("Wait", "1") == 0
        assert await s.exec("NoSuchApp", "foo") == -2
        assert await s.exec("Set", "IVR_FROM_EXEC=via exec") == 0
        assert await s.get_variable("IVR_FROM_EXEC") == "via exec"
        await s.command(agi.EXEC, "Set", "IVR_UNQUOTED=two", "words")  # EXEC passes one arg
        assert await s.get_variable("IVR_UNQUOTED") == "two"
        await s.command(agi.NOOP)
        await s.command(agi.NOOP, "some", "text", "here")
        assert (await s.command(agi.DATABASE_PUT, "labfam", "key1", "value1")).result == "1"
        assert (await s.command(agi.DATABASE_GET, "labfam", "key1")).data == "value1"
        assert (await s.command(agi.DATABASE_GET, "labfam", "nokey")).result == "0"
        await s.command(agi.DATABASE_DEL, "labfam", "key1")
        await s.set_variable("IVR_RESULT", "ok")
        await s.hangup()
        assert s.dead
        assert await s.get_variable("IVR_LANG") == "en"  # dead mode still reads variables
        with pytest.raises(CallerHangup):
            await s.command(agi.STREAM_FILE, "hello-world", "")  # 511
    assert fake.finished


async def test_ivr_dtmf_digits_come_back_as_characters() -> None:
    fake = ScriptedAsterisk("agi_ivr_dtmf")
    s = fake.session
    all_digits = "0123456789*#"
    async with asyncio.timeout(5):
        await s.answer()
        assert await s.stream_file("hello-world") == Playback(None, 11234)
        assert await s.stream_file("demo-congrats", all_digits) == Playback("5", 16800)
        assert await s.stream_file("vm-sorry", all_digits) == Playback(None, 24580)
        assert await s.get_data("beep", 5000, 1) == DigitInput("7", timed_out=False)
        assert await s.get_data("beep", 2000, 4) == DigitInput("", timed_out=True)
        assert await s.get_data("beep", 3000, 4) == DigitInput("12", timed_out=True)
        assert await s.get_data("beep", 5000, 3) == DigitInput("34", timed_out=False)
        assert await s.wait_for_digit(5000) == "9"
        assert await s.wait_for_digit(2000) is None
        assert await s.wait_for_digit(-1) == "*"
        assert (await s.command(agi.GET_OPTION, "vm-sorry", "123", 3000)).result == "50"
        assert await s.background("demo-congrats") == "8"
        assert await s.get_full_variable("${CONTEXT},${EXTEN},${PRIORITY}") == "hotline,101,2"
        assert await s.say_digits("12345", "#") == "#"
        assert await s.get_data("demo-congrats", 3000, 2) == DigitInput("6", timed_out=True)
        await s.command(agi.GET_OPTION, "hello-world", "123", 2000)
        await s.hangup()
    assert s.dead
    assert fake.finished


async def test_record_file_reports_why_it_stopped() -> None:
    fake = ScriptedAsterisk("agi_record")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        rec = await s.record_file(f"{REC}/rec_silence", "wav", "#", 20000, silence_s=2)
        assert rec == Recording(f"{REC}/rec_silence.wav", "timeout", None, 59040)
        rec = await s.record_file(f"{REC}/rec_maxtime", timeout_ms=3000)
        assert rec == Recording(f"{REC}/rec_maxtime.wav", "timeout", None, 24000)
        rec = await s.record_file(f"{REC}/rec_dtmf", timeout_ms=20000, silence_s=5)
        assert rec == Recording(f"{REC}/rec_dtmf.wav", "dtmf", "#", 18880)
        rec = await s.record_file(f"{REC}/rec_noaudio", timeout_ms=2000, beep=False)
        assert (rec.reason, rec.endpos) == ("timeout", 0)
        with pytest.raises(AgiCommandError) as failed:
            await s.record_file(f"{REC}/rec_badfmt", "xyz", timeout_ms=2000, beep=False)
        assert failed.value.response.data == "writefile"
        assert not s.dead
        rec = await s.record_file(f"{REC}/rec_gsm", "gsm", timeout_ms=1500)
        assert rec.path.endswith(".gsm")
        assert await s.stream_file(f"{REC}/rec_silence") == Playback(None, 59040)
        await s.hangup()
    assert fake.finished


async def test_misc_commands_gosub_and_continue_at() -> None:
    fake = ScriptedAsterisk("agi_ivr_misc")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        await s.command(agi.SET_CALLERID, '"IVR Name" <5551234>')
        assert await s.get_full_variable("${CALLERID(all)}") == '"IVR Name" <5551234>'
        await s.command(agi.SET_CALLERID, "5550000")
        assert await s.get_full_variable("${CALLERID(all)}") == '"" <5550000>'
        for say in (agi.SAY_DATETIME, agi.SAY_DATE, agi.SAY_TIME):
            await s.command(say, 1700000000, "")
        await s.command(agi.SAY_PHONETIC, "ab", "")
        assert (await s.command(agi.CONTROL_STREAM_FILE, "hello-world", "")).endpos == -1
        assert await s.gosub("sub-lab", "s", 1, "arg one", "arg2") is True
        assert await s.get_variable("SUBVAR") == "set in sub"
        assert await s.get_variable("GOSUB_RETVAL") == "sub-ok"
        assert await s.gosub("nosuchcontext", "s", 1) is False
        await s.command(agi.DATABASE_PUT, "labfam", "k1", "v1")
        await s.command(agi.DATABASE_DELTREE, "labfam")
        await s.command(agi.DATABASE_GET, "labfam", "k1")
        await s.continue_at("hotline", "110", 1)
        assert await s.get_full_variable("${CONTEXT},${EXTEN},${PRIORITY}") == "hotline,110,0"
    assert fake.finished


async def test_music_on_hold_commands() -> None:
    fake = ScriptedAsterisk("agi_moh")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        await s.start_music_on_hold("default")
        await s.stop_music_on_hold()
        await s.start_music_on_hold()
        await s.stop_music_on_hold()
        await s.command(agi.SET_MUSIC, "on", "default")
        await s.command(agi.SET_MUSIC, "off")
        await s.music_on_hold("default", 3)
        await s.start_music_on_hold("nosuchclass")
        await s.stop_music_on_hold()
        await s.hangup()
        await s.stop_music_on_hold()  # nothing to stop on a dead channel: no command sent
    assert fake.finished


# -- hang-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize("hangup_delay_s", [0.0, 0.04])
async def test_hangup_during_stream_raises_caller_hangup(hangup_delay_s: float) -> None:
    fake = ScriptedAsterisk("agi_hangup_during_stream", hangup_delay_s=hangup_delay_s)
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        with pytest.raises(CallerHangup):
            await s.stream_file("demo-congrats", "#")
        assert s.dead
        with pytest.raises(CallerHangup):
            await s.stream_file("hello-world")  # known dead: raised without a round trip
        with pytest.raises(CallerHangup):
            await s.command(agi.STREAM_FILE, "hello-world", "")  # Asterisk's 511
        assert await s.get_variable("DIALSTATUS") is None
    assert fake.finished


async def test_hangup_during_get_data_raises_caller_hangup() -> None:
    fake = ScriptedAsterisk("agi_hangup_during_getdata")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        with pytest.raises(CallerHangup):
            await s.get_data("demo-congrats", 10000, 4)
        with pytest.raises(CallerHangup):
            await s.command(agi.GET_DATA, "beep", 1000, 1)
    assert fake.finished


@pytest.mark.parametrize("name", ["agi_hangup_during_waitfordigit", "agi_autohangup"])
async def test_hangup_during_wait_for_digit_raises_caller_hangup(name: str) -> None:
    fake = ScriptedAsterisk(name)
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        if name == "agi_autohangup":
            await s.command(agi.SET_AUTOHANGUP, 2)
        with pytest.raises(CallerHangup):
            await s.wait_for_digit(int(fake.script[fake.pos].command.split()[-1]))
        for e in fake.script[fake.pos :]:
            assert e.command == "GET VARIABLE HANGUPCAUSE"
            assert await s.get_variable("HANGUPCAUSE") == "0"
    assert fake.finished


async def test_hangup_during_record_keeps_the_partial_recording() -> None:
    fake = ScriptedAsterisk("agi_hangup_during_record")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        rec = await s.record_file(f"{REC}/rec_hangup", silence_s=5)
        assert rec == Recording(f"{REC}/rec_hangup.wav", "hangup", None, 20640)
        assert s.dead
        with pytest.raises(CallerHangup):
            await s.stream_file("hello-world")
    assert fake.finished


async def test_hangup_during_exec_playback_raises_caller_hangup() -> None:
    fake = ScriptedAsterisk("agi_hangup_during_exec_playback")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        with pytest.raises(CallerHangup):
            await s.playback(agi.split_command(fake.script[fake.pos].command)[-1])
        await replay_rest(fake)
    assert fake.finished


async def test_ami_redirect_looks_like_a_hangup_but_variables_stay_readable() -> None:
    fake = ScriptedAsterisk("agi_ami_redirect")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        await s.set_variable("IVR_STAGE", "menu")
        with pytest.raises(CallerHangup):
            await s.wait_for_digit(30000)
        assert await s.get_variable("IVR_STAGE") == "menu"
        assert await s.get_variable("FROM_AMI") == "set by ami"
        with pytest.raises(CallerHangup):
            await s.command(agi.CHANNEL_STATUS)
    assert fake.finished


async def test_idle_hangup_wakes_wait_hangup_and_later_commands_get_511() -> None:
    fake = ScriptedAsterisk("agi_errors")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        with pytest.raises(AgiCommandError) as unknown:
            await s.command("FOO", "BAR")
        assert unknown.value.code == 510
        with pytest.raises(AgiCommandError) as usage:
            await s.command(agi.STREAM_FILE)
        assert usage.value.code == 520
        assert len(usage.value.usage) == 5
        assert usage.value.usage[-1] == "    <value>FAILED</value>"
        for words in (("SAY NUMBER", "abc", ""), ("GET DATA",), ("EXEC",), ("WAIT FOR DIGIT",)):
            with pytest.raises(AgiCommandError):
                await s.command(*words)
        with pytest.raises(AgiCommandError):
            await s.command(agi.HANGUP, "too", "many", "args")
        assert (await s.command(agi.HANGUP, "SIP/no-such-channel-00000000")).result == "-1"
        await s.command("answer")
        assert (await s.command("stream file", "hello-world", "")).endpos == 11234
        await s.set_variable("IVR_X", "1")
        fake.skip()  # "GET VARIABLE IVR_X\r": not something our encoder can send
        assert await s.get_variable("IVR_X") == "1"
        fake.skip()  # the bare "\n" (510), then Asterisk's unsolicited HANGUP
        await s.wait_hangup()
        assert s.dead
        for words in ((agi.ANSWER,), (agi.STREAM_FILE, "hello-world", ""), (agi.CHANNEL_STATUS,)):
            with pytest.raises(CallerHangup):
                await s.command(*words)
        assert await s.get_variable("IVR_X") == "1"
        await s.verbose("after hangup")
        await s.command(agi.NOOP)
        assert await s.exec("Playback", "hello-world") == 0
        await s.set_variable("IVR_AFTER", "1")
        assert await s.get_full_variable("${IVR_AFTER}") == "1"
    assert fake.finished


# -- every transcript, raw ---------------------------------------------------------------------


async def replay_rest(fake: ScriptedAsterisk) -> None:
    while fake.pos < len(fake.script):
        words = agi.split_command(fake.script[fake.pos].command)
        if not words or "\r" in words[-1]:
            fake.skip()
            continue
        with contextlib.suppress(CallerHangup, AgiCommandError):
            await fake.session.command(*recorded(fake.script[fake.pos].command))


@pytest.mark.parametrize("name", names("agi_"))
async def test_every_transcript_replays_through_the_raw_command_api(name: str) -> None:
    for conn in sorted({r.conn for r in load(name)}, key=lambda c: c or 0):
        fake = ScriptedAsterisk(name, conn=conn)
        async with asyncio.timeout(5):
            await replay_rest(fake)
        assert fake.finished
        assert fake.session.dead == (agi.HANGUP_LINE in without_eof(name, conn))


def without_eof(name: str, conn: int | None) -> bytes:
    """Asterisk's bytes before the service closed (the final HANGUP answers our close)."""
    out = b""
    for r in load(name):
        if r.conn != conn:
            continue
        if r.dir == SERVICE_TO_ASTERISK and r.eof:
            break
        if r.dir == ASTERISK_TO_SERVICE:
            out += r.data.encode()
    return out


# -- connection faults ---------------------------------------------------------------------


async def test_connection_loss_during_a_command_raises_caller_hangup() -> None:
    fake = ScriptedAsterisk("agi_ivr_basic")
    fake.write = lambda data: None  # type: ignore[method-assign]  # the reply never comes
    task = asyncio.create_task(fake.session.stream_file("hello-world"))
    await asyncio.sleep(0)
    fake.session.connection_lost()
    with pytest.raises(CallerHangup):
        await task
    assert fake.session.dead
    with pytest.raises(CallerHangup):
        await fake.session.get_variable("X")  # nothing can be sent after EOF


async def test_command_timeout_closes_the_connection() -> None:
    fake = ScriptedAsterisk("agi_ivr_basic")
    fake.write = lambda data: None  # type: ignore[method-assign]  # Asterisk never answers
    with pytest.raises(CallerHangup) as gone:
        await fake.session.command(agi.NOOP, timeout_s=0.05)
    assert gone.value.reason == "command timeout"
    assert fake.closed
    assert fake.session.closed


async def _abandon(command: str, replies: bytes) -> tuple[list[bytes], str | None]:
    """``command`` whose caller stops waiting, then GET VARIABLE X; Asterisk answers the
    abandoned command and the fence with ``replies`` (then X's value is "x")."""
    fake = ScriptedAsterisk("agi_ivr_basic")
    sent: list[bytes] = []
    fake.write = sent.append  # type: ignore[method-assign,assignment]
    s = fake.session
    task = asyncio.create_task(s.command(command))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pending = asyncio.create_task(s.get_variable("X"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(sent) == 2, "nothing is written behind a fence Asterisk has not answered"
    for item in ResponseDecoder().feed(replies):
        s.feed(item)
    for _ in range(3):
        await asyncio.sleep(0)
    assert sent[2] == b"GET VARIABLE X\n"
    s.feed(agi.AgiResponse(200, "1", "x"))
    async with asyncio.timeout(5):
        value = await pending
    assert not fake.closed
    return sent, value


async def test_an_interrupted_prompt_without_a_reply_does_not_shift_the_replies() -> None:
    """Real Asterisk prints no result line for a STREAM FILE stopped by a new command: the
    fence that interrupts it is answered, and the next command gets its own reply."""
    sent, value = await _abandon("STREAM FILE", b"200 result=1 (hotline-fence-1)\n")
    assert value == "x"
    assert sent[1] == b"GET FULL VARIABLE hotline-fence-1\n"


async def test_a_prompt_that_ended_before_the_fence_has_its_reply_dropped() -> None:
    replies = b"200 result=0 endpos=11234\n200 result=1 (hotline-fence-1)\n"
    assert (await _abandon("STREAM FILE", replies))[1] == "x"


async def test_wait_for_digit_woken_by_the_fence_answers_one_and_is_dropped() -> None:
    replies = b"200 result=1\n200 result=1 (hotline-fence-1)\n"
    assert (await _abandon("WAIT FOR DIGIT", replies))[1] == "x"


async def test_a_fence_unanswered_is_written_again_and_only_the_newest_counts() -> None:
    """The fence read with its command waits in res_agi's stdio buffer: the session writes
    another (a new token); the stuck one's reply then comes first and is dropped with the
    command's, even after the caller hung up meanwhile."""
    fake = ScriptedAsterisk("agi_ivr_basic")
    sent: list[bytes] = []
    refenced = asyncio.Event()

    def write(data: bytes) -> None:
        sent.append(data)
        if len(sent) == 3:
            refenced.set()

    fake.write = write  # type: ignore[method-assign]
    s = fake.session
    task = asyncio.create_task(s.command("WAIT FOR DIGIT", 1000))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pending = asyncio.create_task(s.get_variable("X"))
    async with asyncio.timeout(5):
        await refenced.wait()
    assert sent[1:] == [
        b"GET FULL VARIABLE hotline-fence-1\n",
        b"GET FULL VARIABLE hotline-fence-2\n",
    ]
    s.feed(Hangup())
    replies = b"200 result=0\n200 result=1 (hotline-fence-1)\n200 result=1 (hotline-fence-2)\n"
    for item in ResponseDecoder().feed(replies):
        s.feed(item)
    for _ in range(3):
        await asyncio.sleep(0)
    assert sent[3:] == [b"GET VARIABLE X\n"]
    s.feed(agi.AgiResponse(200, "1", "x"))
    async with asyncio.timeout(5):
        assert await pending == "x"
    assert not fake.closed


async def test_a_fence_never_answered_is_ended_by_the_watchdog() -> None:
    fake = ScriptedAsterisk("agi_ivr_basic", media_timeout_s=0.05)
    fake.write = lambda data: None  # type: ignore[method-assign]
    s = fake.session
    task = asyncio.create_task(s.command("SAY NUMBER"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(CallerHangup) as gone:
        await s.get_variable("X")
    assert gone.value.reason == "command timeout"
    assert fake.closed


async def test_a_reply_arriving_while_its_cancelled_caller_unwinds_is_not_unsolicited() -> None:
    """The waiting caller's race: an offer cancels WAIT FOR DIGIT in the same loop turn as
    its reply arrives (the future is cancelled, the task has not yet unwound)."""
    fake = ScriptedAsterisk("agi_ivr_basic")
    sent: list[bytes] = []
    fake.write = sent.append  # type: ignore[method-assign,assignment]
    s = fake.session
    task = asyncio.create_task(s.wait_for_digit(100))
    await asyncio.sleep(0)
    task.cancel()  # cancels the awaited future at once; the task unwinds at its next step
    s.feed(agi.AgiResponse(200, "0"))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not fake.closed
    pending = asyncio.create_task(s.get_variable("X"))
    await asyncio.sleep(0)
    s.feed(agi.AgiResponse(200, "1", "x"))
    assert await pending == "x"
    assert len(sent) == 2


class Wire:
    """A transport the test reads from and answers by hand."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data.decode().removesuffix("\n"))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_an_unsolicited_reply_fails_the_next_command_then_the_session_works_on() -> None:
    wire = Wire()
    env = agi.EnvironmentDecoder().feed(b"agi_channel: SIP/caller-00000003\n\n")
    assert env is not None
    session = AgiSession(env, wire)
    session.feed(agi.AgiResponse(200, "0"))  # nobody asked
    assert wire.written == ["GET FULL VARIABLE hotline-fence-1"]  # whatever else came, dropped
    assert not wire.closed
    answering = asyncio.create_task(session.answer())
    await asyncio.sleep(0)
    session.feed(agi.AgiResponse(200, "0"))  # a late reply before the fence's: dropped too
    session.feed(agi.AgiResponse(200, "1", data="hotline-fence-1"))
    with pytest.raises(AgiProtocolFault, match="unsolicited"):
        await answering  # its result is unknown: the caller goes to the fallback
    continuing = asyncio.create_task(session.set_variable("HOTLINE_DONE", "1"))
    await asyncio.sleep(0)
    session.feed(agi.AgiResponse(200, "1"))
    await continuing
    assert wire.written[-1] == "SET VARIABLE HOTLINE_DONE 1"
    session.feed(agi.AgiResponse(200, "0"))  # a second fault: closed
    assert wire.closed


@pytest.mark.parametrize(
    ("source", "cut"),
    [("PJSIP/trunk-00000001", False), ("", True), (None, False)],
    ids=["the caller hung up", "Asterisk ended the channel", "connection gone"],
)
async def test_who_ended_a_call_is_asked_once_after_the_hangup(
    source: str | None, cut: bool
) -> None:
    """Asterisk 20's ``CHANNEL(hangupsource)`` (tests/asterisk/test_restart.py): the caller's
    channel when the caller hung up, empty after a restart or shutdown."""
    fake = ScriptedAsterisk("agi_ivr_basic")
    sent: list[bytes] = []
    fake.write = sent.append  # type: ignore[method-assign,assignment]
    s = fake.session
    s.feed(agi.Hangup())
    if source is None:
        s.connection_lost()
    asked = asyncio.create_task(s.cut_by_asterisk())
    await asyncio.sleep(0)
    if source is not None:
        assert sent == [b"GET FULL VARIABLE ${CHANNEL(hangupsource)}\n"]
        s.feed(agi.AgiResponse(200, "1", source))
    async with asyncio.timeout(5):
        assert await asked is cut
        assert await s.cut_by_asterisk() is cut  # remembered, not asked again
    assert len(sent) == (0 if source is None else 1)
