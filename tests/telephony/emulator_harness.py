"""Replays the service side of a recorded AGI transcript against the emulator.

A raw FastAGI server (no project code) sends exactly the recorded commands, half-closes or
closes where the recording did, and collects the emulator's lines; the test compares them with
what the real Asterisk sent, after normalising what legitimately differs (channel suffixes,
uniqueids, thread ids, the FastAGI port).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from telephony.emulator import AgentPhone, AsteriskEmulator, Caller, CallResult
from tests import transcripts as tr

NORMALISE: Sequence[tuple[re.Pattern[str], str]] = (
    (re.compile(r"-[0-9a-f]{8}\b"), "-XXXXXXXX"),
    (re.compile(r"\b\d{10}\.\d+\b"), "UNIQUEID"),
    (re.compile(r"agi_threadid: \d+"), "agi_threadid: N"),
    (re.compile(r"agi://127\.0\.0\.1:\d+/"), "agi://127.0.0.1:PORT/"),
)
EOF_MARK = "<EOF>"


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Step:
    action: str  # send | halfclose | close
    data: str = ""
    expected: list[str] = field(default_factory=list)


def plan(name: str) -> tuple[list[str], list[Step]]:
    """The lines Asterisk sent before the first command, and each service step with the
    lines Asterisk sent after it."""
    prelude: list[str] = []
    steps: list[Step] = []
    for record in tr.load(name):
        if record.dir == tr.ASTERISK_TO_SERVICE:
            (steps[-1].expected if steps else prelude).append(
                EOF_MARK if record.eof else record.data
            )
        elif record.eof:
            steps.append(Step("halfclose" if "half-closed" in record.note else "close"))
        else:
            steps.append(Step("send", record.data))
    return prelude, steps


@dataclass
class Replay:
    expected: list[str]
    actual: list[str]
    result: CallResult
    commands: list[str]

    def pairs(self) -> list[tuple[str, str, str]]:
        """(command, expected reply, actual reply) per step, normalised."""
        return list(zip(self.commands, self.expected, self.actual, strict=True))


async def _serve(
    steps: list[Step], prelude: list[str], out: list[str], rewrite: Callable[[str], str]
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out.append("".join([(await reader.readline()).decode() for _ in prelude]))
        for step in steps:
            if step.action == "send":
                writer.write(rewrite(step.data).encode())
            elif step.action == "halfclose":
                writer.write_eof()
            else:
                writer.close()
                out.append("")
                return
            got = []
            for line in step.expected:
                if line == EOF_MARK:
                    got.append(EOF_MARK if await reader.read() == b"" else "<more data>")
                else:
                    got.append((await reader.readline()).decode())
            out.append("".join(got))
        writer.close()

    return handler


async def replay(
    name: str,
    caller: Caller,
    *,
    exten: str = "100",
    phones: Sequence[AgentPhone] = (),
    rewrite: Callable[[str], str] = lambda s: s,
    time_scale: float = 0.01,
) -> Replay:
    prelude, steps = plan(name)
    out: list[str] = []
    server = await asyncio.start_server(await _serve(steps, prelude, out, rewrite), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    emulator = AsteriskEmulator(
        agi_port=port, phones=phones, time_scale=time_scale, unknown_prompt_s=None
    )
    await emulator.start()
    try:
        call = await emulator.place_call(caller, exten=exten)
        result = await call.wait_done(timeout_s=10)
    finally:
        await emulator.stop()
        server.close()
        await server.wait_closed()
    expected = ["".join(prelude)] + ["".join(s.expected) for s in steps]
    commands = ["<environment>"] + [s.data or s.action for s in steps]
    if steps and steps[-1].action == "close":
        expected[-1] = ""
    return Replay([normalise(e) for e in expected], [normalise(a) for a in out], result, commands)


# -- raw AMI client and scripted FastAGI service, for the AMI tests --------------------------


class RawAmi:
    """A bare AMI connection: bytes in, whole messages (as text) out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.banner = ""

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ami = cls(reader, writer)
        ami.banner = (await reader.readline()).decode()
        return ami

    def send(self, text: str) -> None:
        self.writer.write(text.encode())

    def action(self, name: str, *pairs: tuple[str, str]) -> None:
        body = "".join(f"{k}: {v}\r\n" for k, v in (("Action", name), *pairs))
        self.send(body + "\r\n")

    async def message(self) -> str:
        return (await self.reader.readuntil(b"\r\n\r\n")).decode()

    async def until(self, predicate: Callable[[str], bool]) -> list[str]:
        """Messages up to and including the first one matching `predicate`."""
        out = []
        while True:
            out.append(await self.message())
            if predicate(out[-1]):
                return out

    async def login(
        self, user: str = "hotline", secret: str = "secret", events: str = "on"
    ) -> None:
        self.action("Login", ("Username", user), ("Secret", secret), ("Events", events))
        first = await self.message()
        assert first.startswith("Response: Success"), first
        if events == "on":
            await self.until(lambda m: m.startswith("Event: SuccessfulAuth"))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def fields(message: str) -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) if ": " in line else (line.rstrip(":"), "")  # type: ignore[misc]
            for line in message.split("\r\n") if line]  # fmt: skip


def name_of(message: str) -> str:
    return message.split("\r\n", 1)[0].split(": ", 1)[1]


class ScriptedAgi:
    """A FastAGI server whose sessions are driven by a test coroutine, line by line."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[AgiPeer] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> ScriptedAgi:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value
        peer = AgiPeer(reader, writer, env)
        await self.sessions.put(peer)
        await peer.closed.wait()

    async def next(self) -> AgiPeer:
        return await self.sessions.get()


@dataclass
class AgiPeer:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    env: dict[str, str]
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def command(self, line: str) -> str:
        self.writer.write((line + "\n").encode())
        return (await self.reader.readline()).decode()

    def send(self, line: str) -> None:
        self.writer.write((line + "\n").encode())

    async def line(self) -> str:
        return (await self.reader.readline()).decode()

    async def half_close(self) -> bytes:
        self.writer.write_eof()
        rest = await self.reader.read()
        self.writer.close()
        self.closed.set()
        return rest

    def close(self) -> None:
        self.writer.close()
        self.closed.set()
