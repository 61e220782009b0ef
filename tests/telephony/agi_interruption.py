"""What Asterisk answers when a command arrives while media plays: scenarios run the same way
against the emulator (tests/telephony) and the real Asterisk 20 (tests/asterisk).

res_agi runs STREAM FILE, GET DATA and WAIT FOR DIGIT with the AGI socket as their control
fd: a new line stops them. WAIT FOR DIGIT then answers ``200 result=1``; the others print no
result line. SAY NUMBER is not stopped (measured on Asterisk 20.20.1): it says the whole
number, answers, and only then reads the next line. Each scenario starts a command, writes
a fence (``GET FULL VARIABLE <token>``) while it runs, and returns every line Asterisk sent
up to the fence's reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from telephony.agi_codec import AgiEnvironment, ResponseDecoder
from telephony.agi_session import AgiSession

#: (command started, the lines expected before the fence's own reply).
SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "stream_file": ('STREAM FILE hello-world "#"', []),
    # a number said as core sound files (ivr.spoken_numbers), so that an offer stops it
    "number_file": ('STREAM FILE digits/1 "1"', []),
    "say_number": ('SAY NUMBER 42 "#"', ["200 result=0"]),
    "get_data": ("GET DATA hello-world 5000 4", []),
    "wait_for_digit": ("WAIT FOR DIGIT 10000", ["200 result=1"]),
}
#: How long the command runs before the fence is written (the media is longer than this).
INTERRUPT_AFTER_S = 0.3


class Peer(Protocol):
    """The FastAGI server's end of one call."""

    def send(self, line: str) -> None: ...
    async def line(self) -> str: ...


async def interrupt(
    peer: Peer, command: str, token: str = "fence-1", timeout_s: float = 5.0
) -> list[str]:
    """Lines before the fence's reply; the fence's reply is checked here."""
    peer.send(command)
    await asyncio.sleep(INTERRUPT_AFTER_S)
    peer.send(f"GET FULL VARIABLE {token}")
    before: list[str] = []
    async with asyncio.timeout(timeout_s):
        while (line := (await peer.line()).rstrip("\n")) != f"200 result=1 ({token})":
            assert line, f"the connection ended before the fence's reply; got {before}"
            before.append(line)
    return before


#: How long a line that Asterisk has in its stdio buffer is shown not to be run.
STALL_S = 1.0


async def pipelined(peer: Peer) -> tuple[list[str], list[str]]:
    """Two commands in one write: res_agi reads both into its stdio buffer, runs the first,
    and polls the socket for the next; the second waits there until more bytes arrive.
    Returns the replies read within ``STALL_S``, then those after a NOOP is written."""
    peer.send("GET VARIABLE NOPE_A\nGET VARIABLE NOPE_B")
    first = [(await peer.line()).rstrip("\n")]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STALL_S):
            first.append((await peer.line()).rstrip("\n"))
    peer.send("NOOP")
    after: list[str] = []
    async with asyncio.timeout(5):
        while len(first) + len(after) < 3:
            after.append((await peer.line()).rstrip("\n"))
    return first, after


class _SlowReader:
    """A transport that hands the peer what was written within ``gather_s`` as one write:
    Asterisk reading late (a loaded machine), so one ``read`` takes several lines."""

    def __init__(self, peer: Peer, gather_s: float = 0.02) -> None:
        self._peer, self._gather_s = peer, gather_s
        self._held: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        if not self._held:
            asyncio.get_running_loop().call_later(self._gather_s, self._flush)
        self._held.append(data)

    def _flush(self) -> None:
        data, self._held = b"".join(self._held), []
        if not self.closing:
            self._peer.send(data.decode().removesuffix("\n"))

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing


async def abandoned_unread(peer: Peer) -> str | None:
    """hotline's session abandons a hold slice (an offer came) before Asterisk read it: the
    command and its fence arrive in one read. Returns the next command's answer (a variable
    that is not set: None) once the session got through."""
    transport = _SlowReader(peer)
    session = AgiSession(AgiEnvironment({"agi_channel": "test"}), transport)
    decoder = ResponseDecoder()

    async def pump() -> None:
        while line := await peer.line():
            for item in decoder.feed(line.encode()):
                session.feed(item)
        session.connection_lost()

    reading = asyncio.create_task(pump())
    try:
        slice_ = asyncio.create_task(session.wait_for_digit(1000))
        await asyncio.sleep(0.005)  # written, not yet sent
        slice_.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slice_
        async with asyncio.timeout(10):
            return await session.get_variable("HOTLINE_NOPE")
    finally:
        transport.closing = True
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
