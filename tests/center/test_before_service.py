"""A caller gone before the dialplan's ``AGI()`` ran: the ``h`` extension's session
(``AGI(<hotline>,ended-before-service)``) is routed to the recorder, never the IVR, and
leaves one closed record, never a second one."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from center.before_service import ARRIVAL, before_service
from center.call_interactions import HistoryInteractions
from history.errors import UnknownInteraction
from history.inputs import InteractionRef
from history.outcomes import Outcome
from history.writer import HistoryWriter
from ivr.flow.state import CallReport
from telephony import agi_codec as agi
from telephony.agi_codec import AgiEnvironment, AgiResponse, ResponseDecoder
from telephony.agi_server import ENDED_BEFORE_SERVICE, Fallback, FastAgiServer
from telephony.agi_session import AgiSession
from telephony.emulator import AsteriskEmulator, Caller

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Asterisk:
    """Answers each command with the reply given for it (by its first words)."""

    def __init__(self, env: dict[str, str], replies: dict[str, bytes]) -> None:
        self.session = AgiSession(AgiEnvironment(env), self)
        self.replies = replies
        self.written: list[str] = []

    def write(self, data: bytes) -> None:
        line = data.decode().rstrip("\n")
        self.written.append(line)
        reply = next(r for command, r in self.replies.items() if line.startswith(command))
        (response,) = ResponseDecoder().feed(reply)
        assert isinstance(response, AgiResponse)
        asyncio.get_running_loop().call_soon(self.session.feed, response)

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, str | None, dt.datetime | None]] = []

    def ended_before_service(
        self, call_id: str, caller_id: str | None, arrived: dt.datetime | None
    ) -> None:
        self.told.append((call_id, caller_id, arrived))


async def refuse(session: AgiSession) -> None:
    raise AssertionError("the IVR ran")


def h_session(cdr_start: bytes) -> Asterisk:
    env = {
        "agi_uniqueid": "1796581409.2",
        "agi_callerid": "+971501120000",
        "agi_arg_1": ENDED_BEFORE_SERVICE,
    }
    return Asterisk(env, {agi.GET_FULL_VARIABLE: cdr_start})


async def test_the_h_extensions_session_goes_to_the_recorder_not_the_ivr() -> None:
    recorder, asterisk = Recorder(), h_session(b"200 result=1 (1796581409.196456)\n")
    await before_service(recorder, refuse)(asterisk.session)
    arrived = dt.datetime(2026, 12, 6, 18, 23, 29, 196456, tzinfo=dt.UTC)
    assert recorder.told == [("1796581409.2", "+971501120000", arrived)]
    assert asterisk.written == [f"{agi.GET_FULL_VARIABLE} {ARRIVAL}"]


async def test_without_the_cdrs_start_the_arrival_is_the_uniqueids_second() -> None:
    recorder, asterisk = Recorder(), h_session(b"200 result=1 ()\n")
    await before_service(recorder, refuse)(asterisk.session)
    assert recorder.told[0][2] == dt.datetime(2026, 12, 6, 18, 23, 29, tzinfo=dt.UTC)


async def test_every_other_session_runs_the_handler() -> None:
    ran: list[str] = []

    async def ivr(session: AgiSession) -> None:
        ran.append(session.env.uniqueid)

    recorder = Recorder()
    for args in ({}, {"agi_arg_1": "first arg"}):
        asterisk = Asterisk({"agi_uniqueid": "1.1", **args}, {})
        await before_service(recorder, ivr)(asterisk.session)
    assert (ran, recorder.told) == (["1.1", "1.1"], [])


async def test_a_call_recorded_before_keeps_its_one_record(writer: HistoryWriter) -> None:
    """Idempotent by call id: the h session of a call another session recorded adds nothing."""
    interactions = HistoryInteractions(writer, wall=lambda: NOW)
    report = CallReport(
        call_id="c1",
        channel="SIP/caller-01",
        caller_number="+441632960777",
        flow_version="v1",
        started_at=NOW - dt.timedelta(seconds=30),
        ending="hangup",
        last_node="goodbye",
        attributes={},
        trace=(),
    )
    interactions.ivr_ended(report)
    interactions.ended_before_service("c1", "+441632960777", NOW - dt.timedelta(seconds=40))
    await interactions.flush()
    found = await writer.repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key="c1")
    )
    assert (found.outcome, found.started_at) == ("self_service", NOW - dt.timedelta(seconds=30))
    await interactions.close()


async def test_on_the_emulator_a_caller_gone_before_agi_leaves_one_closed_record(
    writer: HistoryWriter,
) -> None:
    """The emulator runs the h extension as the docker dialplan does: AGISTATUS unset, a
    session on the hung-up channel; a served call's h sends nothing."""
    interactions = HistoryInteractions(writer)
    served: list[str] = []

    async def ivr(session: AgiSession) -> None:
        served.append(session.env.uniqueid)
        await session.answer()

    route = before_service(interactions, interactions.calls(ivr))
    server = FastAgiServer(
        host="127.0.0.1",
        port=0,
        routes={"hotline": route},
        allowed_hosts=["127.0.0.1"],
        fallback=Fallback("hotline-fallback"),
    )
    await server.start()
    try:
        async with AsteriskEmulator(agi_port=server.port, time_scale=0.01) as emu:
            early = await emu.place_call(Caller(number="+971501120000"))
            early.hang_up()  # before the dialplan's first step: AGI() never runs
            gone = await early.wait_done(5)
            answered = await emu.place_call(Caller(number="+971501120001"))
            done = await answered.wait_done(5)
            await asyncio.sleep(0.05)  # the h session's last write
    finally:
        await server.close()
    await interactions.flush()
    assert gone.commands == (f"{agi.GET_FULL_VARIABLE} {ARRIVAL}", "SET VARIABLE HOTLINE_DONE 1")
    assert served == [done.uniqueid]  # the IVR never saw the early caller
    found = await writer.repository.get_interaction(
        InteractionRef(source="hotline", idempotency_key=gone.uniqueid)
    )
    assert found.outcome == Outcome.ABANDONED_IVR
    assert found.ended_at is not None
    assert found.started_at <= found.ended_at
    assert int(found.started_at.timestamp()) == int(gone.uniqueid.split(".")[0])
    with pytest.raises(UnknownInteraction):  # the served call's h sent no session
        await writer.repository.get_interaction(
            InteractionRef(source="hotline", idempotency_key=done.uniqueid)
        )
    await interactions.close()
