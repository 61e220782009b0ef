"""The emulator honours manager.conf's `eventfilter=` per AMI user, as Asterisk's manager.c
does: regexes on the whole event text, include filters then exclude filters, and only events
(never action responses, list items or the login's FullyBooted) are filtered."""

from __future__ import annotations

import asyncio

import pytest

from telephony import ami_codec as ami
from telephony.emulator import AgentPhone, AsteriskEmulator, Caller
from telephony.emulator.ami_filter import EventFilter
from tests.ports import unused_port
from tests.telephony.emulator_harness import RawAmi, name_of

SECRET = "secret"
WHITELIST = ("^Event: Newchannel[[:space:]]", "^Event: Hangup[[:space:]]")
BLACKLIST = ("!Event: Newexten", "!Event: VarSet")
# unanchored, so it matches Hangup and HangupRequest alike; the exclude filter takes one back
BOTH = ("Event: Hangup", "!Event: HangupRequest")
FILTERS = {"whitelisted": WHITELIST, "blacklisted": BLACKLIST, "both": BOTH}
USERS = {name: SECRET for name in ("unfiltered", *FILTERS)}


def event_text(name: str, *pairs: tuple[str, str]) -> str:
    pairs = ((ami.HEADER_EVENT, name), (ami.HEADER_PRIVILEGE, "call,all"), *pairs)
    return ami.encode_message(pairs).decode()


def test_no_filters_let_every_event_through() -> None:
    assert EventFilter().allows(event_text("Newexten"))


def test_include_filters_only_pass_what_one_of_them_matches() -> None:
    only = EventFilter(WHITELIST)
    assert only.allows(event_text("Newchannel"))
    assert only.allows(event_text("Hangup"))
    assert not only.allows(event_text("HangupRequest"))  # anchored: exactly the event
    assert not only.allows(event_text("Newexten", ("AppData", "Event: Newchannel")))


def test_exclude_filters_only_pass_what_none_of_them_matches() -> None:
    except_dialplan = EventFilter(BLACKLIST)
    assert except_dialplan.allows(event_text("Newchannel"))
    assert not except_dialplan.allows(event_text("Newexten"))
    assert not except_dialplan.allows(event_text("VarSet"))


def test_include_then_exclude_when_there_are_both() -> None:
    hangups = EventFilter(BOTH)
    assert hangups.allows(event_text("Hangup"))
    assert not hangups.allows(event_text("HangupRequest"))  # included, then excluded
    assert not hangups.allows(event_text("Newchannel"))  # never included


def test_filters_are_regexes_on_the_whole_event_text() -> None:
    agents_only = EventFilter(["Channel: (PJ)?SIP/agent[[:digit:]]+-"])
    assert agents_only.allows(event_text("Newstate", ("Channel", "PJSIP/agent2001-0000002a")))
    assert not agents_only.allows(event_text("Newstate", ("Channel", "PJSIP/trunk-0000002b")))


@pytest.mark.parametrize("bad", ["XX[X", "!", "!(", ""])
def test_a_filter_that_does_not_compile_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="eventfilter"):
        EventFilter([bad])


def test_filters_for_a_user_that_does_not_exist_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown AMI users"):
        AsteriskEmulator(ami_users={"hotline": SECRET}, ami_event_filters={"hotlne": WHITELIST})


async def login(port: int, user: str) -> tuple[RawAmi, list[str]]:
    """Logs `user` in; returns the connection and what the login itself brought."""
    session = await RawAmi.connect(port)
    session.action("Login", ("Username", user), ("Secret", SECRET), ("Events", "on"))
    greeting = [await session.message(), await session.message()]
    return session, greeting


async def drain(session: RawAmi) -> list[str]:
    """Every message up to now: a Ping's response comes after all that was sent before it."""
    session.action("Ping", ("ActionID", "drain"))
    got = await session.until(lambda m: "ActionID: drain" in m)
    return got[:-1]


async def test_each_user_receives_the_events_its_filters_let_through_and_no_other() -> None:
    phones = [AgentPhone("SIP/agent1001", "answer", ring_s=1.0, talk_s=2.0)]
    emulator = AsteriskEmulator(
        agi_port=unused_port(),  # no service: the call takes the fallback queue to the agent
        ami_users=USERS,
        ami_event_filters=FILTERS,
        phones=phones,
        time_scale=0.01,
        varset_events=True,
    )
    async with emulator, asyncio.timeout(10):
        sessions = {user: await login(emulator.ami_port, user) for user in USERS}
        for _, greeting in sessions.values():  # the login's own FullyBooted is never filtered
            assert greeting[0].startswith("Response: Success")
            assert name_of(greeting[1]) == ami.EVENT_FULLY_BOOTED
        for session, _ in sessions.values():  # the others' logins (SuccessfulAuth)
            await drain(session)
        await (await emulator.place_call(Caller(number="5551234"))).wait_done(5)
        await asyncio.sleep(0.1)  # the agent's leg winds down too
        got = {user: await drain(session) for user, (session, _) in sessions.items()}
        lists = {}
        for user, (session, _) in sessions.items():  # list items are never filtered either
            session.action(ami.ACTION_CORE_SHOW_CHANNELS, ("ActionID", "list"))
            lists[user] = await session.until(lambda m: "EventList: Complete" in m)
            await session.close()

    everything = got["unfiltered"]
    names = {name_of(m) for m in everything}
    assert {"Newexten", "VarSet", "HangupRequest", "DialBegin", "Hangup"} <= names
    assert got["whitelisted"] == [m for m in everything if name_of(m) in {"Newchannel", "Hangup"}]
    assert got["blacklisted"] == [m for m in everything if name_of(m) not in {"Newexten", "VarSet"}]
    assert got["both"] == [m for m in everything if name_of(m) == "Hangup"]
    assert got["both"]
    for user in FILTERS:
        assert [name_of(m) for m in lists[user][1:]] == [ami.EVENT_CORE_SHOW_CHANNELS_COMPLETE]
