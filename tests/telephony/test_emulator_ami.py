"""The emulator's AMI: byte-compared with the recordings where values are deterministic,
field-order-compared where they are not (timestamps, ids)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable

import pytest

from telephony.emulator import AgentPhone, AsteriskEmulator, Caller
from tests import transcripts as tr
from tests.telephony.emulator_harness import RawAmi, ScriptedAgi, fields, name_of

AMI_NORMALISE = (
    (re.compile(r"Timestamp: [\d.]+"), "Timestamp: T"),
    (re.compile(r"(Uptime|LastReload): \d+"), r"\1: N"),
    (re.compile(r"(EventTV|SessionTV): [^\r]+"), r"\1: TV"),
    (re.compile(r"SessionID: 0x[0-9a-f]+"), "SessionID: 0xID"),
    (re.compile(r"IPV4/TCP/127\.0\.0\.1/\d+"), "IPV4/TCP/127.0.0.1/PORT"),
)
LAB_USERS = {"ivr": "ivrsecret"}


def normalise(text: str) -> str:
    for pattern, replacement in AMI_NORMALISE:
        text = pattern.sub(replacement, text)
    return text


@pytest.fixture
async def emulator() -> AsyncIterator[AsteriskEmulator]:
    emu = AsteriskEmulator(ami_users=LAB_USERS, time_scale=0.01, login_failure_delay_s=0.05)
    await emu.start()
    yield emu
    await emu.stop()


async def ami_replay(port: int, name: str, keep: Callable[[str], bool] = lambda d: True) -> None:
    """Sends the recorded service writes (those `keep` accepts) and checks every reply."""
    groups: list[tuple[str, list[tr.Record]]] = []
    for record in tr.load(name):
        if record.dir == tr.SERVICE_TO_ASTERISK:
            groups.append((record.data, []))
        elif groups:
            groups[-1][1].append(record)
    ami = await RawAmi.connect(port)
    assert ami.banner == "Asterisk Call Manager/9.0.0\r\n"
    try:
        async with asyncio.timeout(5):
            for data, replies in groups:
                if not keep(data):
                    continue
                ami.send(data)
                for reply in replies:
                    if reply.eof:
                        assert await ami.reader.read() == b"", "Asterisk closed here"
                    elif reply.data != "\r\n":  # chan_sip's stray blank line
                        got = await ami.message()
                        assert normalise(got) == normalise(reply.data), f"reply to {data!r}"
    finally:
        await ami.close()


async def test_login_ping_logoff_match_the_recording(emulator: AsteriskEmulator) -> None:
    await ami_replay(emulator.ami_port, "ami_login_ping_logoff")
    await ami_replay(emulator.ami_port, "ami_login_events_off")


async def test_login_failure_is_delayed_then_closes(emulator: AsteriskEmulator) -> None:
    started = time.monotonic()
    await ami_replay(emulator.ami_port, "ami_login_failure")
    assert time.monotonic() - started >= 0.05


UNSUPPORTED_IDS = re.compile(
    r"ActionID: (command-[12]|corestatus|coresettings|sippeers|sipshowpeer"
    r"|devicestatelist|extensionstate)"
)


async def test_idle_actions_errors_and_input_framing_match_the_recording(
    emulator: AsteriskEmulator,
) -> None:
    emulator.pbx.globals["LAB_GLOBAL"] = "global value"
    await ami_replay(
        emulator.ami_port, "ami_actions_idle", keep=lambda d: not UNSUPPORTED_IDS.search(d)
    )


def recorded_events(name: str, skip: frozenset[str]) -> list[str]:
    return [
        r.data
        for r in tr.load(name)
        if r.dir == tr.ASTERISK_TO_SERVICE and r.data.startswith("Event: ")
        and name_of(r.data) not in skip
    ]  # fmt: skip


NOT_EMULATED = frozenset(
    {"VarSet", "RTCPSent", "ExtensionStatus", "QueueMemberStatus", "FullyBooted", "SuccessfulAuth"}
)


async def test_call_flow_events_follow_the_recording_in_order_and_field_order() -> None:
    phones = [AgentPhone("SIP/agent1001", "answer", ring_s=1.0, talk_s=4.0)]
    async with ScriptedAgi() as agi:
        emu = AsteriskEmulator(agi_port=agi.port, phones=phones, time_scale=0.01)
        await emu.start()
        try:
            ami = await RawAmi.connect(emu.ami_port)
            await ami.login()
            call = await emu.place_call(Caller(name="ami_call_flow", dtmf="5"))
            peer = await agi.next()
            assert await peer.command("ANSWER") == "200 result=0\n"
            assert await peer.command('STREAM FILE hello-world ""') == "200 result=0 endpos=11234\n"
            assert await peer.command("GET DATA beep 3000 1") == "200 result=5\n"
            assert await peer.command("SET VARIABLE IVR_RESULT transfer") == "200 result=1\n"
            assert await peer.command("EXEC Dial SIP/agent1001,15") == "200 result=-1\n"
            assert await peer.command("GET VARIABLE DIALSTATUS") == "200 result=1 (ANSWER)\n"
            assert await peer.command("HANGUP") == "200 result=1\n"
            assert await peer.line() == "HANGUP\n"
            assert await peer.half_close() == b"HANGUP\n"
            result = await call.wait_done(5)
            got = await ami.until(
                lambda m: m.startswith("Event: Hangup") and call.channel in m and "Exten: h" in m
            )
            await ami.close()
        finally:
            await emu.stop()
    expected = recorded_events("ami_call_flow_devstate", NOT_EMULATED | {"Cdr"})
    actual = [m for m in got if name_of(m) not in NOT_EMULATED | {"Cdr"}]
    assert len(expected) > 40
    assert [name_of(m) for m in actual] == [name_of(m) for m in expected]
    for mine, theirs in zip(actual, expected, strict=True):
        assert [k for k, _ in fields(mine)] == [k for k, _ in fields(theirs)], name_of(theirs)
    cdr = next(m for m in got if name_of(m) == "Cdr")
    recorded_cdr = recorded_events("ami_call_flow", frozenset())
    assert [k for k, _ in fields(cdr)] == [
        k for k, _ in fields(next(m for m in recorded_cdr if name_of(m) == "Cdr"))
    ]
    assert result.dials[0].answered_by == "SIP/agent1001"


async def test_originate_async_answered_busy_and_unreachable() -> None:
    phones = [
        AgentPhone("SIP/agent1001", "answer", ring_s=1.0, talk_s=30.0),
        AgentPhone("SIP/agent1003", "busy"),
        AgentPhone("SIP/agent1004", "unavailable"),
    ]
    async with AsteriskEmulator(phones=phones, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login()
        target = (("Context", "hotline"), ("Exten", "111"), ("Priority", "1"))
        ami.action(
            "Originate", ("ActionID", "o1"), ("Channel", "SIP/agent1001"), *target,
            ("CallerID", '"AMI Originate" <9999>'), ("Variable", "ORIG_VAR=1"), ("Async", "true"),
        )  # fmt: skip
        got = await ami.until(lambda m: m.startswith("Event: OriginateResponse"))
        assert got[0] == (
            "Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n"
        )
        recorded = recorded_events("ami_originate", frozenset())
        ok = next(m for m in recorded if name_of(m) == "OriginateResponse")
        assert [k for k, _ in fields(got[-1])] == [k for k, _ in fields(ok)]
        assert "Reason: 4\r\n" in got[-1]
        assert "DialStatus: ANSWER" in next(m for m in got if name_of(m) == "DialEnd")
        playback = await ami.until(lambda m: "Application: Playback" in m)
        assert "Exten: 111" in playback[-1]

        ami.action(
            "Originate", ("ActionID", "o2"), ("Channel", "SIP/agent1003"), *target, ("Async", "1")
        )
        got = await ami.until(lambda m: m.startswith("Event: OriginateResponse"))
        busy = next(m for m in recorded if "ActionID: orig-async-busy" in m)
        assert normalise_ids(got[-1]) == normalise_ids(busy).replace("orig-async-busy", "o2")

        ami.action(
            "Originate", ("ActionID", "o3"), ("Channel", "SIP/agent1004"), *target, ("Async", "1")
        )
        got = await ami.until(lambda m: m.startswith("Event: OriginateResponse"))
        assert "Response: Failure\r\n" in got[-1]
        assert "Reason: 0\r\n" in got[-1]

        ami.action("Originate", ("ActionID", "o4"), ("Channel", "SIP/agent1001"), *target)
        first = await ami.message()  # phone still in the first call: busy
        assert first == "Response: Error\r\nActionID: o4\r\nMessage: Originate failed\r\n\r\n"
        ami.action("Originate", ("ActionID", "o5"), ("Channel", "SIP/agent1001"))
        reply = await ami.until(lambda m: m.startswith("Response"))
        assert "Originate with 'Exten' requires 'Context' and 'Priority'" in reply[-1]
        await ami.close()


def normalise_ids(text: str) -> str:
    return re.sub(r"-[0-9a-f]{8}\b", "-X", re.sub(r"\d{10}\.\d+", "U", text))


async def test_sync_originate_answers_after_the_phone_and_holds_events() -> None:
    phones = [AgentPhone("SIP/agent1001", "answer", ring_s=1.0, talk_s=0.5)]
    async with AsteriskEmulator(phones=phones, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login()
        ami.action(
            "Originate", ("ActionID", "sync"), ("Channel", "SIP/agent1001"),
            ("Application", "Wait"), ("Data", "1"),
        )  # fmt: skip
        first = await ami.message()
        assert first.startswith("Response: Success\r\nActionID: sync\r\n")
        held = await ami.until(lambda m: m.startswith("Event: DialEnd"))
        assert [name_of(m) for m in held][:2] == ["Newchannel", "Newexten"]
        await ami.close()


async def test_redirect_looks_like_a_hangup_to_the_agi_and_the_call_continues_there() -> None:
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login(events="off")
        call = await emu.place_call(Caller(name="ami_redirect"))
        peer = await agi.next()
        await peer.command("ANSWER")
        await peer.command("SET VARIABLE IVR_STAGE menu")
        peer.writer.write(b"WAIT FOR DIGIT 30000\n")
        ami.action(
            "Setvar", ("Channel", call.channel), ("Variable", "FROM_AMI"), ("Value", "set by ami")
        )
        assert "Variable Set" in await ami.message()
        ami.action("Redirect", ("ActionID", "r"), ("Channel", call.channel), ("Context", "hotline"),
                   ("Exten", "110"), ("Priority", "1"))  # fmt: skip
        assert await ami.message() == (
            "Response: Success\r\nActionID: r\r\nMessage: Redirect successful\r\n\r\n"
        )
        assert await peer.line() == "200 result=-1\n"
        assert await peer.line() == "HANGUP\n"
        assert await peer.command("GET VARIABLE IVR_STAGE") == "200 result=1 (menu)\n"
        assert await peer.command("GET VARIABLE FROM_AMI") == "200 result=1 (set by ami)\n"
        assert await peer.command("CHANNEL STATUS") == (
            "511 Command Not Permitted on a dead channel or intercept routine\n"
        )
        assert await peer.half_close() == b"HANGUP\n"
        result = await call.wait_done(5)
        await ami.close()
    assert result.agi_status == "HANGUP"
    assert [v[:3] for v in result.visited[-4:]] == [("hotline", "110", p) for p in (1, 2, 3, 4)]


async def test_ami_hangup_lingers_while_the_agi_is_open_then_redirect_fails() -> None:
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login(events="off")
        call = await emu.place_call(Caller(name="ami_hangup"))
        peer = await agi.next()
        await peer.command("ANSWER")
        peer.writer.write(b"WAIT FOR DIGIT 30000\n")
        await asyncio.sleep(0.01)
        for _ in range(2):
            ami.action("Hangup", ("Channel", call.channel), ("Cause", "16"))
            assert "Message: Channel Hungup" in await ami.message()
        ami.action("Redirect", ("Channel", call.channel), ("Exten", "110"), ("Priority", "1"))
        assert "Message: Redirect failed, channel not up." in await ami.message()
        assert await peer.line() == "200 result=-1\n"
        assert await peer.line() == "HANGUP\n"
        assert await peer.command("GET VARIABLE HANGUPCAUSE") == "200 result=1 (16)\n"
        await peer.half_close()
        result = await call.wait_done(5)
        await ami.close()
    assert (result.hung_up_by, result.hangup_cause) == ("ami", 16)


def recorded_items(name: str, event: str) -> list[str]:
    return [r.data for r in tr.load(name) if r.data.startswith(f"Event: {event}\r\n")]


async def test_core_show_channels_and_status_list_shapes_match_the_recording() -> None:
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login(events="off")
        call = await emu.place_call(Caller(name="ami_redirect"))
        peer = await agi.next()
        await peer.command("ANSWER")
        await peer.command("SET VARIABLE IVR_STAGE menu")
        peer.writer.write(b"WAIT FOR DIGIT 30000\n")
        await asyncio.sleep(0.01)
        ami.action("CoreShowChannels", ("ActionID", "c1"))
        shown = await ami.until(lambda m: "EventList: Complete" in m)
        ami.action("Status", ("ActionID", "s1"), ("Channel", call.channel),
                   ("Variables", "IVR_STAGE,CALLERID(num)"))  # fmt: skip
        status = await ami.until(lambda m: "EventList: Complete" in m)
        call.hang_up()
        await peer.half_close()
        await call.wait_done(5)
        await ami.close()
    name = "ami_actions_with_call"
    for got, event in ((shown, "CoreShowChannel"), (status, "Status")):
        recorded = recorded_items(name, event)[0 if event == "CoreShowChannel" else 1]
        assert [k for k, _ in fields(got[1])] == [k for k, _ in fields(recorded)]
    assert "Application: AGI\r\nApplicationData: agi://127.0.0.1:" in shown[1]
    assert (
        "Variable: IVR_STAGE=menu\r\nVariable: CALLERID(num)=caller\r\nActionID: s1\r\n"
        in status[1]
    )
    assert status[2].endswith("ListItems: 1\r\nItems: 1\r\n\r\n")


async def test_queue_status_summary_and_pause_shapes_match_the_recording() -> None:
    phones = [AgentPhone(f"SIP/agent100{i}") for i in (1, 2, 3)]
    async with AsteriskEmulator(phones=phones, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login()
        ami.action("QueueSummary", ("ActionID", "qs"), ("Queue", "hotline"))
        summary = await ami.until(lambda m: "EventList: Complete" in m)
        ami.action("QueueStatus", ("ActionID", "qst"), ("Queue", "hotline"))
        status = await ami.until(lambda m: "EventList: Complete" in m)
        pause = (("Interface", "SIP/agent1002"), ("Paused", "true"), ("Reason", "lunch"))
        ami.action("QueuePause", ("ActionID", "qp"), ("Queue", "hotline"), *pause)
        paused = await ami.until(lambda m: m.startswith("Event: QueueMemberPause"))
        ami.action("QueuePause", ("Interface", "SIP/agent9999"), ("Paused", "true"))
        missing = await ami.until(lambda m: m.startswith("Response"))
        await ami.close()
    name = "ami_queue_actions"
    recorded = {
        e: recorded_items(name, e)[0] for e in ("QueueSummary", "QueueParams", "QueueMember")
    }
    assert [k for k, _ in fields(summary[1])] == [k for k, _ in fields(recorded["QueueSummary"])]
    assert "LoggedIn: 3\r\nAvailable: 3\r\n" in summary[1]
    assert [k for k, _ in fields(status[1])] == [k for k, _ in fields(recorded["QueueParams"])]
    assert [k for k, _ in fields(status[2])] == [k for k, _ in fields(recorded["QueueMember"])]
    assert status[-1].endswith("ListItems: 4\r\n\r\n")
    assert paused[0] == (
        "Response: Success\r\nActionID: qp\r\nMessage: Interface paused successfully\r\n\r\n"
    )
    pause_event = recorded_items(name, "QueueMemberPause")[0]
    assert [k for k, _ in fields(paused[-1])] == [k for k, _ in fields(pause_event)]
    assert "Paused: 1\r\nPausedReason: lunch\r\n" in paused[-1]
    assert "Message: Interface not found" in missing[-1]


async def test_restart_sends_shutdown_hangs_up_calls_refuses_then_accepts() -> None:
    async with ScriptedAgi() as agi:
        emu = AsteriskEmulator(agi_port=agi.port, time_scale=0.01, restart_refuse_s=0.2)
        await emu.start()
        try:
            port = emu.ami_port
            ami = await RawAmi.connect(port)
            await ami.login()
            call = await emu.place_call(Caller(name="shutdown"))
            peer = await agi.next()
            await peer.command("ANSWER")
            peer.writer.write(b"WAIT FOR DIGIT 60000\n")
            await asyncio.sleep(0.01)
            restarting = asyncio.create_task(emu.restart())
            assert await peer.line() == "200 result=-1\n"
            assert await peer.line() == "HANGUP\n"
            assert await peer.command("NOOP") == "200 result=0\n"
            await peer.half_close()
            got = await ami.until(lambda m: m.startswith("Event: Shutdown"))
            soft = next(m for m in got if name_of(m) == "SoftHangupRequest")
            assert "Cause: 4\r\n" in soft
            assert "Cause: 0\r\nCause-txt: Unknown" in next(
                m for m in got if name_of(m) == "Hangup"
            )
            assert await ami.reader.read() == b""
            await ami.close()
            await asyncio.sleep(0.05)
            with pytest.raises(ConnectionRefusedError):
                await RawAmi.connect(port)
            await restarting
            again = await RawAmi.connect(port)
            await again.login()
            await again.close()
            result = await call.wait_done(5)
            assert result.hung_up_by == "shutdown"
            second = await emu.place_call(Caller())
            assert second.channel.endswith("-00000000")
            second.hang_up()
        finally:
            await emu.stop()


async def test_device_state_list_and_cli_command_forms() -> None:
    phones = [AgentPhone("SIP/agent1001"), AgentPhone("SIP/agent1004", "unavailable")]
    async with AsteriskEmulator(phones=phones, time_scale=0.01) as emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login(events="off")
        ami.action("DeviceStateList", ("ActionID", "d"))
        got = await ami.until(lambda m: "EventList: Complete" in m)
        ami.action("Command", ("ActionID", "c"), ("Command", "core show version"))
        version = await ami.message()
        await ami.close()
    states = [dict(fields(m)) for m in got[1:-1]]
    assert {"Device": "SIP/agent1004", "Event": "DeviceStateChange", "ActionID": "d",
            "State": "UNAVAILABLE"} in states  # fmt: skip
    assert [k for k, _ in fields(got[1])] == ["Event", "ActionID", "Device", "State"]
    assert got[-1].endswith(f"ListItems: {len(states)}\r\n\r\n")
    assert version.startswith(
        "Response: Success\r\nActionID: c\r\nMessage: Command output follows\r\nOutput: Asterisk 20"
    )


async def test_chanspy_with_option_e_hangs_the_spy_up_when_the_spied_call_ends() -> None:
    """As app_chanspy's ``E`` does on the real Asterisk (tests/asterisk/test_spy.py): the
    supervisor's originated leg ends with the call it listened to."""
    phones = [AgentPhone("SIP/agent1002", "answer", ring_s=0.2, talk_s=3600)]
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, phones=phones, time_scale=0.01) as emu,
    ):
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login()
        call = await emu.place_call(Caller())
        peer = await agi.next()
        await peer.command("ANSWER")
        ami.action(
            "Originate", ("ActionID", "spy"), ("Channel", "SIP/agent1002"),
            ("Application", "ChanSpy"), ("Data", f"{call.channel.rsplit('-', 1)[0]},qE"),
            ("Async", "true"),
        )  # fmt: skip
        (response,) = (await ami.until(lambda m: "Event: OriginateResponse" in m))[-1:]
        assert "Response: Success" in response
        spy = dict(fields(response))["Channel"]
        assert spy in emu.pbx.channels
        call.hang_up()
        ended = await ami.until(lambda m: "Event: Hangup" in m and f"Channel: {spy}\r" in m)
        assert f"Channel: {call.channel}\r" in "".join(ended)  # the spied call went first
        # ChanSpy returned: nobody hung the supervisor's phone up (its BYE is an hour away)
        assert not [m for m in ended if "Event: HangupRequest" in m and f"Channel: {spy}\r" in m]
        assert spy not in emu.pbx.channels
        await ami.close()
