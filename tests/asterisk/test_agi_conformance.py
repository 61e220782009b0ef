"""The emulator's AGI answers where they matter most, checked on the real Asterisk: the
same scenarios (tests/telephony/agi_interruption.py) run here over a SIPp call and in
tests/telephony/test_emulator_calls.py over the emulator, with the same expectations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.telephony.agi_interruption import (
    SCENARIOS,
    abandoned_unread,
    interrupt,
    pipelined,
)

from .rig import Asterisk
from .sipp import SippCaller, Step

pytestmark = pytest.mark.asterisk


class RawPeer:
    """The FastAGI server's end of one real call, with no project code in the way."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, line: str) -> None:
        self.writer.write((line + "\n").encode())

    async def line(self) -> str:
        return (await self.reader.readline()).decode()

    async def command(self, line: str) -> str:
        self.send(line)
        async with asyncio.timeout(5):
            return (await self.line()).rstrip("\n")


@asynccontextmanager
async def a_call(
    pbx: Asterisk, sip_dir: Path, number: str, steps: Sequence[Step] = ()
) -> AsyncIterator[RawPeer]:
    """A SIPp customer's call (doing ``steps`` once answered), its AGI session served here;
    ended as hotline ends one."""
    peers: asyncio.Queue[RawPeer] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass  # the environment block
        await peers.put(RawPeer(reader, writer))

    server = await asyncio.start_server(accept, "127.0.0.1", pbx.ports.agi)
    caller = SippCaller(number, sip_dir, steps, hold_s=20)
    try:
        await caller.start(pbx)
        async with asyncio.timeout(15):
            peer = await peers.get()
        assert await peer.command("ANSWER") == "200 result=0"
        yield peer
        assert await peer.command("SET VARIABLE HOTLINE_DONE 1") == "200 result=1"
        assert await peer.command("HANGUP") == "200 result=1"
        peer.writer.close()
        await caller.wait(30)
    finally:
        server.close()
        await server.wait_closed()
    await pbx.until(lambda: not pbx.channels())


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_a_command_written_while_media_plays_is_answered_as_the_emulator_says(
    pbx: Asterisk, sip_dir: Path, scenario: str
) -> None:
    command, expected = SCENARIOS[scenario]
    async with a_call(pbx, sip_dir, "+971501119001") as peer:
        assert await interrupt(peer, command) == expected
        assert await peer.command("GET VARIABLE NOPE") == "200 result=0"


async def test_a_command_written_behind_another_waits_until_more_bytes_come(
    pbx: Asterisk, sip_dir: Path
) -> None:
    async with a_call(pbx, sip_dir, "+971501119002") as peer:
        assert await pipelined(peer) == (["200 result=0"], ["200 result=0", "200 result=0"])


async def test_a_hold_slice_abandoned_before_asterisk_read_it_does_not_stall_the_session(
    pbx: Asterisk, sip_dir: Path
) -> None:
    """hotline's session writes WAIT FOR DIGIT and, an offer having come, its fence; Asterisk
    reads both at once: the fence waits in res_agi's stdio buffer, answered only when the
    session writes another."""
    async with a_call(pbx, sip_dir, "+971501119003") as peer:
        assert await abandoned_unread(peer) is None
        assert await peer.command("GET VARIABLE NOPE") == "200 result=0"
