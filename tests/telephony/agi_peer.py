"""A fake Asterisk for AgiSession tests: it replays a recorded transcript's replies in order
and checks that the session sends exactly the recorded commands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from telephony import agi_codec as agi
from telephony.agi_codec import CommandDecoder, EnvironmentDecoder, ResponseDecoder
from telephony.agi_session import AgiSession
from tests.transcripts import ASTERISK_TO_SERVICE, SERVICE_TO_ASTERISK, load, stream

REC = "/var/spool/asterisk/recording"
READS = ("GET VARIABLE ", "CHANNEL STATUS")


@dataclass
class Exchange:
    command: str  # the line the recorder sent, without its "\n"
    reply: bytes  # everything Asterisk sent until the next command


def exchanges(name: str, conn: int | None = None) -> list[Exchange]:
    out: list[Exchange] = []
    for r in load(name):
        if r.conn != conn:
            continue
        if r.eof:
            break  # what follows answers the service's close, not a command
        if r.dir == SERVICE_TO_ASTERISK:
            out.append(Exchange(r.data.removesuffix("\n"), b""))
        elif out:
            out[-1].reply += r.data.encode()
    return out


def recorded(line: str) -> list[str]:
    """The recorded line as `command` arguments: the command name as one word, then its args."""
    words = agi.split_command(line)
    name, _ = agi.parse_command(words)
    n = len(name.split()) if name else 1
    return [" ".join(words[:n]), *words[n:]]


def is_read(line: str) -> bool:
    return line.startswith(READS)


class ScriptedAsterisk:
    """A transport for AgiSession that answers like the recording did."""

    def __init__(
        self, name: str, *, conn: int | None = None, flexible_reads: bool = False,
        hangup_delay_s: float = 0.0, media_timeout_s: float = 600.0,
    ) -> None:  # fmt: skip
        self.script = exchanges(name, conn)
        self.pos = 0
        self.block_start = 0
        self.flexible = flexible_reads
        self.hangup_delay_s = hangup_delay_s
        self.sent: list[str] = []
        self.closed = False
        self.hung_up = False
        self._commands = CommandDecoder()
        self._replies = ResponseDecoder()
        env = EnvironmentDecoder().feed(stream(name, ASTERISK_TO_SERVICE, conn))
        assert env is not None
        self.session = AgiSession(
            env, self, hangup_grace_s=0.2, command_timeout_s=2.0, media_timeout_s=media_timeout_s
        )

    # transport
    def write(self, data: bytes) -> None:
        for line in self._commands.feed(data):
            self.sent.append(line)
            self._deliver(self._answer(line))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    # script
    def skip(self) -> None:
        """Plays the next exchange's HANGUP lines only (its command was not ours to send)."""
        self._deliver(hangups(self.script[self.pos].reply))
        self.pos += 1

    @property
    def finished(self) -> bool:
        rest = self.script[self.pos :]
        return all(is_read(e.command) for e in rest) if self.flexible else not rest

    def _answer(self, line: str) -> bytes:
        if self.flexible:
            end = self._block_end()
            for i in range(self.block_start, end):
                if self.script[i].command == line and is_read(line):
                    self._skip_to(max(self.pos, i + 1))
                    return without_hangups(self.script[i].reply)
            if is_read(line):
                if line.startswith("GET VARIABLE"):
                    return b"200 result=0\n"
                return agi.DEAD_CHANNEL if self.hung_up else b"200 result=6\n"
            self._skip_to(end)
        assert self.pos < len(self.script), f"unexpected command after the script: {line!r}"
        expected = self.script[self.pos]
        assert line == expected.command, f"sent {line!r}, recording has {expected.command!r}"
        self.pos += 1
        self.block_start = self.pos
        return expected.reply

    def _block_end(self) -> int:
        end = self.pos
        while end < len(self.script) and is_read(self.script[end].command):
            end += 1
        return end

    def _skip_to(self, index: int) -> None:
        while self.pos < index:
            self.skip()

    def _deliver(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(self._feed, without_hangups(data))
        if hangups(data):
            if self.hangup_delay_s:
                loop.call_later(self.hangup_delay_s, self._feed, hangups(data))
            else:
                loop.call_soon(self._feed, hangups(data))

    def _feed(self, data: bytes) -> None:
        for item in self._replies.feed(data):
            if isinstance(item, agi.Hangup):
                self.hung_up = True
            self.session.feed(item)


def hangups(data: bytes) -> bytes:
    return b"".join(x for x in data.splitlines(keepends=True) if x == agi.HANGUP_LINE)


def without_hangups(data: bytes) -> bytes:
    return b"".join(x for x in data.splitlines(keepends=True) if x != agi.HANGUP_LINE)
