"""FastAgiServer over real sockets on 127.0.0.1, with the test playing Asterisk."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from telephony.agi_codec import EnvironmentDecoder, encode_environment
from telephony.agi_server import AgiLimits, Fallback, FastAgiServer, Handler
from telephony.agi_session import AgiSession, CallerHangup
from tests.transcripts import ASTERISK_TO_SERVICE, stream

FALLBACK = Fallback("hotline-fallback")
#: What the server writes last to a live call it ends on purpose (a crash writes nothing).
DONE = "SET VARIABLE HOTLINE_DONE 1"
FALLBACK_COMMANDS = ["SET CONTEXT hotline-fallback", "SET EXTENSION s", "SET PRIORITY 1", DONE]
LOCAL = ["127.0.0.0/8"]
Answer = Callable[[str], bytes]


def env_block(script: str = "hotline", **changes: str) -> bytes:
    """The recorded environment of a real call, with the script (and any field) changed."""
    env = EnvironmentDecoder().feed(stream("agi_ivr_basic", ASTERISK_TO_SERVICE))
    assert env is not None
    variables = dict(env.variables) | {"agi_network_script": script} | changes
    return encode_environment(list(variables.items()))


def ok(command: str) -> bytes:
    return b"200 result=1 (x)\n" if command.startswith("GET VARIABLE") else b"200 result=0\n"


class Asterisk:
    """One FastAGI connection, Asterisk's side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.commands: list[str] = []

    @classmethod
    async def call(cls, port: int, data: bytes | None = None) -> Asterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if data is not None:
            writer.write(data)
        return cls(reader, writer)

    async def command(self, timeout_s: float = 2.0) -> str | None:
        """The next command line, or None at EOF."""
        async with asyncio.timeout(timeout_s):
            line = await self.reader.readline()
        if not line:
            return None
        self.commands.append(line.decode().removesuffix("\n"))
        return self.commands[-1]

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def serve(self, answer: Answer = ok, timeout_s: float = 2.0) -> list[str]:
        """Answers every command until the service closes; returns the commands."""
        while (command := await self.command(timeout_s)) is not None:
            self.send(answer(command))
        self.writer.close()
        return self.commands

    async def closed_by_service(self, timeout_s: float = 2.0) -> bool:
        async with asyncio.timeout(timeout_s):
            return await self.reader.read(1) == b""


ServerFactory = Callable[..., "asyncio.Future[FastAgiServer] | Any"]


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Any]]:
    servers: list[FastAgiServer] = []

    async def start(
        routes: Mapping[str, Handler], *, allowed: list[str] = LOCAL, **limits: Any
    ) -> FastAgiServer:
        server = FastAgiServer(
            host="127.0.0.1", port=0, routes=routes, allowed_hosts=allowed,
            fallback=FALLBACK, limits=AgiLimits(**limits),
        )  # fmt: skip
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
        assert not server._tasks, "connection tasks leaked"


@pytest.fixture
def agi_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="telephony.agi")
    return caplog


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def answer_and_tag(session: AgiSession) -> None:
    await session.answer()
    await session.set_variable("ROUTE", session.env.script)


# -- routing and fallback ------------------------------------------------------------------


async def test_calls_are_routed_by_script_without_query_string(start_server: Any) -> None:
    server = await start_server({"hotline": answer_and_tag, "/sales/": answer_and_tag})
    async with asyncio.timeout(5):
        for script, route in [("hotline?lang=de", "hotline"), ("sales", "sales")]:
            ast = await Asterisk.call(server.port, env_block(script))
            assert await ast.serve() == ["ANSWER", f"SET VARIABLE ROUTE {route}", DONE]


async def test_unknown_script_sends_the_call_to_the_fallback(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    server = await start_server({"hotline": answer_and_tag})
    async with asyncio.timeout(5):
        ast = await Asterisk.call(server.port, env_block("nosuch"))
        assert await ast.serve() == FALLBACK_COMMANDS
    assert ["nosuch" in r.getMessage() for r in warnings(agi_log)] == [True]


async def test_handler_exception_is_logged_once_and_call_goes_to_fallback(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    async def broken(session: AgiSession) -> None:
        await session.answer()
        raise RuntimeError("boom")

    server = await start_server({"hotline": broken})
    async with asyncio.timeout(5):
        assert await (await Asterisk.call(server.port, env_block())).serve() == [
            "ANSWER",
            *FALLBACK_COMMANDS,
        ]
    (record,) = warnings(agi_log)
    assert record.exc_info is not None
    assert "boom" in str(record.exc_info[1])


async def test_caller_hangup_ends_the_call_quietly(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()
        await session.stream_file("hello-world", "#")

    def asterisk(command: str) -> bytes:  # the caller hangs up during the prompt
        return b"200 result=-1 endpos=2400\nHANGUP\n" if "STREAM" in command else b"200 result=0\n"

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(5):
        assert await (await Asterisk.call(server.port, env_block())).serve(asterisk) == [
            "ANSWER",
            'STREAM FILE hello-world "#"',
        ]
    assert warnings(agi_log) == []
    assert any("caller gone" in r.getMessage() for r in agi_log.records)


async def test_hangup_while_idle_wakes_the_handler_which_may_still_read_variables(
    start_server: Any,
) -> None:
    seen: list[str | None] = []

    async def hold(session: AgiSession) -> None:
        await session.start_music_on_hold()
        await session.wait_hangup()
        seen.append(await session.get_variable("IVR_STAGE"))

    server = await start_server({"hotline": hold})
    async with asyncio.timeout(5):
        ast = await Asterisk.call(server.port, env_block())
        assert await ast.command() == "EXEC StartMusicOnHold"
        ast.send(b"200 result=0\nHANGUP\n")
        assert await ast.serve() == ["EXEC StartMusicOnHold", "GET VARIABLE IVR_STAGE"]
    assert seen == ["x"]


async def test_hangup_in_the_same_packet_as_the_environment_reaches_the_session(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(5):
        assert await (await Asterisk.call(server.port, env_block() + b"HANGUP\n")).serve() == []
    assert warnings(agi_log) == []


async def test_non_utf8_environment_value_reaches_the_handler_replaced(start_server: Any) -> None:
    names: list[str] = []

    async def note(session: AgiSession) -> None:
        names.append(session.env.caller_id_name)

    server = await start_server({"hotline": note})
    data = env_block().replace(b"agi_calleridname: ivr_basic", b"agi_calleridname: J\xf6rg")
    async with asyncio.timeout(5):
        assert await (await Asterisk.call(server.port, data)).serve() == [DONE]
    assert names == ["J\ufffdrg"]


# -- hostile peers ---------------------------------------------------------------------------


async def test_peers_outside_the_allow_list_are_refused_and_logged_once(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    called: list[AgiSession] = []

    async def record(session: AgiSession) -> None:
        called.append(session)

    server = await start_server({"hotline": record}, allowed=["10.0.0.0/8", "192.168.1.5"])
    async with asyncio.timeout(5):
        for _ in range(3):
            ast = await Asterisk.call(server.port, env_block())
            assert await ast.closed_by_service()
            assert ast.commands == []
    assert called == []
    assert ["127.0.0.1" in r.getMessage() for r in warnings(agi_log)] == [True]


def test_allow_list_entries_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match=r"asterisk\.example"):
        FastAgiServer(host="127.0.0.1", port=0, routes={}, allowed_hosts=["asterisk.example"],
                      fallback=FALLBACK)  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [b"agi_x: " + b"y" * 20000, b"agi_x: 1\n" * 3000, b"\x00\xff GARBAGE \x80\n\n"],
    ids=["long-line", "huge-block", "garbage"],
)
async def test_bad_environment_closes_only_that_connection(start_server: Any, data: bytes) -> None:
    server = await start_server({"hotline": answer_and_tag})
    async with asyncio.timeout(5):
        bad = await Asterisk.call(server.port, data)
        assert await bad.closed_by_service()
        good = await Asterisk.call(server.port, env_block())
        assert await good.serve() == ["ANSWER", "SET VARIABLE ROUTE hotline", DONE]


async def test_half_written_environment_then_eof_is_closed_without_spinning(
    start_server: Any,
) -> None:
    server = await start_server({"hotline": answer_and_tag})
    async with asyncio.timeout(5):
        half = await Asterisk.call(server.port, env_block()[:100])
        half.writer.write_eof()
        assert await half.closed_by_service()
        cpu = time.process_time()
        await asyncio.sleep(0.3)
        assert time.process_time() - cpu < 0.1
        good = await Asterisk.call(server.port, env_block())
        assert await good.serve() == ["ANSWER", "SET VARIABLE ROUTE hotline", DONE]
    assert not server.connections


async def test_silent_peer_is_closed_after_the_header_timeout(start_server: Any) -> None:
    server = await start_server({"hotline": answer_and_tag}, header_timeout_s=0.1)
    async with asyncio.timeout(5):
        silent = await Asterisk.call(server.port)
        assert await silent.closed_by_service(timeout_s=4.0)


def ok_and_fences(command: str) -> bytes:
    """Asterisk's answers, the fence's token carried back as GET FULL VARIABLE does."""
    if command.startswith("GET FULL VARIABLE hotline-fence-"):
        return f"200 result=1 ({command.rsplit(' ', 1)[1]})\n".encode()
    return ok(command)


@pytest.mark.parametrize(
    "fault",
    [b"this is not AGI\n", b"200 result=0\n200 result=0\n", b"200 result=0 (" + b"x" * 9000],
    ids=["garbage", "an unsolicited reply", "an over-long line"],
)
async def test_a_protocol_fault_sends_that_call_to_the_fallback_and_no_other(
    start_server: Any, fault: bytes
) -> None:
    outcomes: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.answer()
            await session.verbose("still here")
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(type(error).__name__)
            raise

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(5):
        bad = await Asterisk.call(server.port, env_block())
        good = await Asterisk.call(server.port, env_block())
        assert await bad.command() == "ANSWER"
        bad.send(fault)
        if fault.endswith(b"x"):
            bad.send(b"x" * 100 + b"\n")  # the rest of the long line, dropped as it comes
        assert await bad.serve(ok_and_fences) == [
            "ANSWER",
            "GET FULL VARIABLE hotline-fence-1",  # drops what the fault left in the stream
            *FALLBACK_COMMANDS,
        ]
        assert await good.serve() == ["ANSWER", 'VERBOSE "still here" 1', DONE]
    assert sorted(outcomes) == ["AgiProtocolFault", "ok"]


async def test_a_second_protocol_fault_closes_the_connection(start_server: Any) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(5):
        bad = await Asterisk.call(server.port, env_block())
        assert await bad.command() == "ANSWER"
        bad.send(b"garbage\n")
        assert await bad.command() == "GET FULL VARIABLE hotline-fence-1"
        bad.send(b"more garbage\n")
        assert await bad.closed_by_service()


# -- timeouts and limits ---------------------------------------------------------------------


async def test_idle_handler_is_stopped_and_the_call_goes_to_the_fallback(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    async def stuck(session: AgiSession) -> None:
        await session.answer()
        await asyncio.sleep(30)

    server = await start_server({"hotline": stuck}, idle_timeout_s=0.2)
    async with asyncio.timeout(5):  # a hang guard: the handler itself sleeps 30 s
        assert await (await Asterisk.call(server.port, env_block())).serve() == [
            "ANSWER",
            *FALLBACK_COMMANDS,
        ]
    assert any("sent nothing" in r.getMessage() for r in warnings(agi_log))


async def test_long_command_is_not_idle(start_server: Any) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.stream_file("long-prompt")

    async def slow(ast: Asterisk) -> list[str]:
        assert await ast.command() == 'STREAM FILE long-prompt ""'
        await asyncio.sleep(0.4)  # the prompt plays longer than the idle timeout
        ast.send(b"200 result=0 endpos=3200\n")
        return await ast.serve()

    server = await start_server({"hotline": ivr}, idle_timeout_s=0.2)
    async with asyncio.timeout(5):
        assert await slow(await Asterisk.call(server.port, env_block())) == [
            'STREAM FILE long-prompt ""',
            DONE,
        ]


async def test_a_handler_pausing_less_than_the_idle_timeout_between_commands_is_not_idle(
    start_server: Any,
) -> None:
    async def ivr(session: AgiSession) -> None:
        for _ in range(8):  # 0.8 s in all, well over the idle timeout
            await session.get_variable("X")
            await asyncio.sleep(0.1)

    server = await start_server({"hotline": ivr}, idle_timeout_s=0.3)
    async with asyncio.timeout(5):
        commands = await (await Asterisk.call(server.port, env_block())).serve()
    assert commands == ["GET VARIABLE X"] * 8 + [DONE]


async def test_unanswered_quick_command_times_out_and_closes(start_server: Any) -> None:
    reasons: list[str] = []

    async def ivr(session: AgiSession) -> None:
        try:
            await session.get_variable("X")
        except CallerHangup as exc:
            reasons.append(exc.reason)

    server = await start_server({"hotline": ivr}, command_timeout_s=0.1)
    async with asyncio.timeout(5):
        ast = await Asterisk.call(server.port, env_block())
        assert await ast.command() == "GET VARIABLE X"
        assert await ast.closed_by_service()
    assert reasons == ["command timeout"]


async def test_calls_beyond_max_sessions_go_to_the_fallback(start_server: Any) -> None:
    release = asyncio.Event()

    async def wait(session: AgiSession) -> None:
        await session.answer()
        await release.wait()

    server = await start_server({"hotline": wait}, max_sessions=2)
    async with asyncio.timeout(5):
        first = [await Asterisk.call(server.port, env_block()) for _ in range(2)]
        for ast in first:
            assert await ast.command() == "ANSWER"
            ast.send(b"200 result=0\n")
        assert server.active_sessions == 2
        assert await (await Asterisk.call(server.port, env_block())).serve() == FALLBACK_COMMANDS
        release.set()
        assert [await ast.serve() for ast in first] == [["ANSWER", DONE], ["ANSWER", DONE]]
    assert server.active_sessions == 0


async def test_many_concurrent_sessions_all_complete(start_server: Any) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.answer()
        for _ in range(5):
            await session.get_variable("X")
        await session.verbose("done")

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(20):
        calls = [await Asterisk.call(server.port, env_block()) for _ in range(300)]
        results = await asyncio.gather(*(ast.serve() for ast in calls))
    assert all(len(commands) == 8 for commands in results)
    assert server.active_sessions == 0
    await asyncio.sleep(0)
    assert not server._tasks


async def test_replies_split_across_reads_of_many_connections_reach_their_own_call(
    start_server: Any,
) -> None:
    """Every connection is read into the server's one buffer: a reply half-read on one
    connection must not be overwritten by the next connection's read."""
    seen: dict[str, str | None] = {}

    async def ivr(session: AgiSession) -> None:
        seen[session.env.uniqueid] = await session.get_variable("WHO")

    server = await start_server({"hotline": ivr})
    async with asyncio.timeout(5):
        calls = [
            await Asterisk.call(server.port, env_block(agi_uniqueid=f"u{i}")) for i in range(3)
        ]
        for ast in calls:
            assert await ast.command() == "GET VARIABLE WHO"
        for i, ast in enumerate(calls):  # each connection's first half, read on its own
            ast.send(f"200 result=1 (caller-{i}".encode())
            await ast.writer.drain()
            await asyncio.sleep(0.02)
        for i, ast in reversed(list(enumerate(calls))):
            ast.send(f"-of-{i})\n".encode())
        assert [await ast.serve() for ast in calls] == [["GET VARIABLE WHO", DONE]] * 3
    assert seen == {f"u{i}": f"caller-{i}-of-{i}" for i in range(3)}


async def test_close_sends_live_calls_to_the_fallback_and_leaves_no_task(
    start_server: Any,
) -> None:
    cancelled: list[bool] = []

    async def wait(session: AgiSession) -> None:
        await session.answer()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    server = await start_server({"hotline": wait})
    async with asyncio.timeout(5):
        ast = await Asterisk.call(server.port, env_block())
        assert await ast.command() == "ANSWER"
        ast.send(b"200 result=0\n")
        await asyncio.sleep(0.05)  # the handler is now waiting
        assert server.active_sessions == 1
        serving = asyncio.create_task(ast.serve())
        await server.close()
        assert await serving == ["ANSWER", *FALLBACK_COMMANDS]
    assert cancelled == [True]
    assert not server._tasks
    assert not server.connections


async def test_a_crashed_handler_leaves_the_call_without_the_done_mark(start_server: Any) -> None:
    """A session closed without HOTLINE_DONE (a killed service, the watchdog) is the
    dialplan's cue to send the call to the fallback."""

    async def dies(session: AgiSession) -> None:
        await session.answer()
        session.abort("simulated crash")

    server = await start_server({"hotline": dies})
    async with asyncio.timeout(5):
        assert await (await Asterisk.call(server.port, env_block())).serve() == ["ANSWER"]


async def test_a_prompt_asterisk_never_answers_is_ended_by_the_watchdog(
    start_server: Any, agi_log: pytest.LogCaptureFixture
) -> None:
    async def ivr(session: AgiSession) -> None:
        await session.stream_file("hello-world")

    server = await start_server({"hotline": ivr}, media_timeout_s=0.2)
    async with asyncio.timeout(5):
        ast = await Asterisk.call(server.port, env_block())
        assert await ast.command() == 'STREAM FILE hello-world ""'
        assert await ast.closed_by_service()
    assert any("watchdog" in r.getMessage() for r in warnings(agi_log))
