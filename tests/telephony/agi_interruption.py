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
