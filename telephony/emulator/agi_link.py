"""One run of AGI(agi://...): Asterisk's side of a FastAGI connection.

Connects to the service, sends the environment block in Asterisk's key order, then executes
one command line at a time. The `HANGUP` line is sent once, when the channel goes away (hang-up,
AMI Redirect, AGI HANGUP, shutdown): ~40 ms after the result of the command that was running,
or at once when idle; from then on the connection is in dead mode. When the service closes or
half-closes, one more `HANGUP` is written and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from telephony import agi_codec as agi
from telephony.emulator import events
from telephony.emulator.agi_commands import execute
from telephony.emulator.agi_control import PARTIAL, ControlStream
from telephony.emulator.agi_reply import TAIL_DELAY_V, AgiContext, Reply
from telephony.emulator.channel import Channel
from telephony.emulator.contexts import Contexts
from telephony.emulator.pbx import Pbx

log = logging.getLogger(__name__)

AGI_VERSION: Final = "20.20.1"
DEFAULT_PORT: Final = 4573
HANGUP_DELAY_V: Final = 0.040
THREAD_ID: Final = 140483689825984
READ_CHUNK: Final = 4096
#: Commands res_agi runs with the AGI socket as their control fd: a new line stops them
#: (SAY NUMBER is not stopped on Asterisk 20.20.1: it ends, answers, then reads the line).
INTERRUPTIBLE: Final = (
    agi.STREAM_FILE,
    agi.CONTROL_STREAM_FILE,
    agi.GET_OPTION,
    agi.GET_DATA,
    agi.WAIT_FOR_DIGIT,
)


class AgiLink:
    def __init__(
        self,
        pbx: Pbx,
        contexts: Contexts,
        ch: Channel,
        url: str,
        args: list[str],
        on_command: Callable[[int], None] | None = None,
    ) -> None:
        self._pbx = pbx
        self._ch = ch
        self._url = url
        self._args = args
        self._on_command = on_command
        self._ctx = AgiContext(pbx, ch, contexts)
        self._hangup_sent = False

    def environment(self) -> list[tuple[str, str]]:
        ch = self._ch
        script = urlsplit(self._url).path.lstrip("/")
        pairs = [
            ("agi_network", "yes"),
            ("agi_network_script", script),
            ("agi_request", self._url),
            ("agi_channel", ch.name),
            ("agi_language", ch.language),
            ("agi_type", ch.tech),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", AGI_VERSION),
            ("agi_callerid", ch.caller_num or "unknown"),
            ("agi_calleridname", ch.caller_name or "unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", ch.dnid or "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ch.accountcode),
            ("agi_threadid", str(THREAD_ID)),
        ]
        pairs += [(f"agi_arg_{i}", arg) for i, arg in enumerate(self._args, start=1)]
        return pairs

    async def run(self) -> str:
        """Returns AGISTATUS: SUCCESS, HANGUP or FAILURE (service unreachable)."""
        parts = urlsplit(self._url)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORT),
                timeout=self._pbx.config.agi_connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            log.info("AGI %s unreachable: %s", self._url, exc)
            return "FAILURE"
        if self._ch.hung_up:  # AGI() on a hung-up channel (the h extension): dead from the
            self._hangup_sent = self._ctx.dead = True  # start, with no HANGUP line (res_agi)
        try:
            writer.write(agi.encode_environment(self.environment()))
            await self._session(reader, writer)
        except (ConnectionError, OSError) as exc:
            log.info("AGI connection to %s lost: %s", self._url, exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return "HANGUP" if self._ch.interrupted else "SUCCESS"

    async def _read(self, reader: asyncio.StreamReader, control: ControlStream) -> None:
        try:
            while data := await reader.read(READ_CHUNK):
                control.deliver(data)
        except (ConnectionError, OSError):
            pass
        control.deliver(None)

    async def _send_hangup(self, writer: asyncio.StreamWriter) -> None:
        """The channel is gone: from now on the connection is in dead mode."""
        self._hangup_sent = self._ctx.dead = True
        writer.write(agi.HANGUP_LINE)
        await writer.drain()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        control = ControlStream()
        reading = asyncio.create_task(self._read(reader, control))
        ch = self._ch
        try:
            while True:
                if ch.interrupted and not self._hangup_sent:
                    await self._send_hangup(writer)
                polled = asyncio.ensure_future(control.readable())
                gone = asyncio.ensure_future(ch.interrupted_event.wait())
                waits = {polled} if self._hangup_sent else {polled, gone}
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                polled.cancel()
                gone.cancel()
                if not polled.done() or polled.cancelled():
                    continue  # the channel went away first: the HANGUP line, then poll again
                try:
                    line = control.fgets()
                except agi.AgiProtocolError as exc:
                    log.warning("AGI: bad input from the service, closing: %s", exc)
                    line = None
                if line is PARTIAL:
                    continue
                if line is None:  # the service closed or half-closed: Asterisk's last word
                    with contextlib.suppress(ConnectionError, OSError):
                        writer.write(agi.HANGUP_LINE)
                        await writer.drain()
                    return
                reply = await self._command_or_interruption(line, control)
                if reply is None:
                    continue  # stopped by the next line, which is run now
                writer.write(reply.data)
                await writer.drain()
                if reply.tail:
                    await self._pbx.clock.sleep(TAIL_DELAY_V)
                    writer.write(reply.tail)
                    await writer.drain()
                if ch.interrupted and not self._hangup_sent:
                    await self._pbx.clock.sleep(HANGUP_DELAY_V)
                    await self._send_hangup(writer)
        finally:
            reading.cancel()

    async def _command_or_interruption(self, line: str, control: ControlStream) -> Reply | None:
        """Runs one command; a media command that watches the AGI socket is stopped by bytes
        arriving on it (or the socket's end). Then WAIT FOR DIGIT answers 1 and the others
        do not answer at all (res_agi: "don't print a result line, as there is a new
        command"). Lines already in the stdio buffer stop nothing."""
        command = asyncio.ensure_future(self._command(line))
        if not line.upper().startswith(INTERRUPTIBLE):
            return await command
        polled = asyncio.ensure_future(control.readable())
        await asyncio.wait({command, polled}, return_when=asyncio.FIRST_COMPLETED)
        polled.cancel()
        if command.done():
            return command.result()
        command.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await command
        if line.upper().startswith(agi.WAIT_FOR_DIGIT):
            log.warning("The FD we were waiting for has something waiting. "
                        "Waitfordigit returning numeric 1")  # fmt: skip
            return Reply(b"200 result=1\n")
        return None

    async def _command(self, line: str) -> Reply:
        ch = self._ch
        ch.log.commands.append(line)
        if self._on_command is not None:
            self._on_command(len(ch.log.commands))
        command_id = random.randint(1, 2**31 - 1)
        self._pbx.emit(events.agi_exec(ch, command_id, line, None))
        reply = await execute(self._ctx, line)
        self._pbx.emit(events.agi_exec(ch, command_id, line, (reply.code, reply.outcome)))
        return reply
