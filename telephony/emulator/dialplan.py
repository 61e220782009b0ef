"""Runs a channel through the dialplan like pbx.c: one priority after the other, AGI(),
GotoIf, async gotos (AMI Redirect), then the `h` extension, Cdr and the final Hangup."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Final

from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.agi_link import AgiLink
from telephony.emulator.apps import find_app
from telephony.emulator.channel import Channel
from telephony.emulator.contexts import AGISTATUS, HANGUP_EXTEN, Contexts
from telephony.emulator.pbx import Pbx
from telephony.emulator.variables import format_callerid, substitute

log = logging.getLogger(__name__)

_GOTOIF: Final = re.compile(r'\s*\$\[\s*"?([^"]*?)"?\s*(!?=)\s*"?([^"]*?)"?\s*\]\s*\?(.*)')


class Dialplan:
    def __init__(
        self, pbx: Pbx, contexts: Contexts, on_command: Callable[[Channel, int], None] | None = None
    ) -> None:
        self._pbx = pbx
        self.contexts = contexts
        self._on_command = on_command

    async def run(self, ch: Channel, *, shutdown: Callable[[], bool] = lambda: False) -> None:
        """From the channel's current position until it hangs up or falls off the end."""
        started = time.time()
        try:
            await self._steps(ch)
        finally:
            await self._finish(ch, started, shutdown())

    async def _steps(self, ch: Channel) -> None:
        while True:
            steps = self.contexts.steps(ch.context, ch.exten)
            if steps is None or not 1 <= ch.priority <= len(steps):
                return
            app_name, raw = steps[ch.priority - 1]
            data = substitute(self._pbx, ch, raw)
            ch.app, ch.appdata = app_name, data
            ch.log.visited.append((ch.context, ch.exten, ch.priority, app_name))
            if ch.context == self.contexts.fallback:
                ch.log.fallback_used = True
            self._pbx.emit(events.newexten(ch, app_name, data))
            if app_name == "GotoIf":
                if self._goto_if(ch, data):
                    continue
                result = 0
            elif app_name == "AGI":
                result = await self._agi(ch, data)
            else:
                app = find_app(app_name)
                result = -1 if app is None else await app(self._pbx, ch, data)
            target = ch.take_goto()
            if target is not None:
                ch.context, ch.exten, ch.priority = target
                continue
            if result < 0 or ch.hung_up:
                return
            ch.priority += 1
            if app_name == "AGI":
                ch.log.after_agi = (ch.context, ch.exten, ch.priority)

    def _goto_if(self, ch: Channel, data: str) -> bool:
        m = _GOTOIF.fullmatch(data)
        if m is None:
            return False
        left, op, right, target = m.groups()
        if (left == right) != (op == "="):
            return False
        branch = target.split(":")[0]
        parts = branch.split(",")
        if len(parts) == 3:
            ch.context, ch.exten, ch.priority = parts[0], parts[1], int(parts[2])
            return True
        return False

    async def _agi(self, ch: Channel, data: str) -> int:
        url, *args = data.split(",")

        def hook(index: int) -> None:
            if self._on_command is not None:
                self._on_command(ch, index)

        link = AgiLink(self._pbx, self.contexts, ch, url, args, hook)
        status = await link.run()
        ch.set_var(AGISTATUS, status)
        ch.log.agi_status = status
        if status != "SUCCESS" and status != "FAILURE":
            return -1
        return 0

    async def _finish(self, ch: Channel, started: float, shutdown: bool) -> None:
        pbx = self._pbx
        if ch.gone.is_set():
            return
        if not ch.hung_up:
            ch.hang_up(by="dialplan")
        pbx.emit(events.hangup_request(ch, 16, soft=True))
        h_steps = self.contexts.steps(ch.context, HANGUP_EXTEN)
        if h_steps:
            ch.exten, ch.priority = HANGUP_EXTEN, 1
            while 1 <= ch.priority <= len(h_steps):  # GotoIf and AGI (dead) run here
                app_name, raw = h_steps[ch.priority - 1]
                data = substitute(pbx, ch, raw)
                pbx.emit(events.newexten(ch, app_name, data))
                ch.priority += 1
                if app_name == "GotoIf":
                    self._goto_if(ch, data)
                elif app_name == "AGI" and not shutdown:
                    await self._agi(ch, data)
        pbx.emit(events.cdr(self._cdr(ch, started)))
        cause = 0 if shutdown else (ch.hangupcause or 16)
        pbx.destroy(ch, cause)

    def _cdr(self, ch: Channel, started: float) -> list[tuple[str, str]]:
        end = time.time()
        fmt = "%Y-%m-%d %H:%M:%S"
        dial = next((d for d in reversed(ch.log.dials)), None)
        answered = ch.answered_v is not None
        billable = int(end - started) if answered else 0
        return [
            (ami.HEADER_ACCOUNT_CODE, ch.accountcode),
            ("Source", ch.caller_num),
            ("Destination", ch.dnid),
            ("DestinationContext", "hotline"),
            (ami.HEADER_CALLER_ID, format_callerid(ch.caller_name, ch.caller_num)),
            (ami.HEADER_CHANNEL, ch.name),
            ("DestinationChannel", dial.peer_channel or "" if dial else ""),
            ("LastApplication", ch.app),
            ("LastData", ch.appdata),
            ("StartTime", time.strftime(fmt, time.gmtime(started))),
            ("AnswerTime", time.strftime(fmt, time.gmtime(started)) if answered else ""),
            ("EndTime", time.strftime(fmt, time.gmtime(end))),
            ("Duration", str(int(end - started))),
            ("BillableSeconds", str(billable)),
            ("Disposition", "ANSWERED" if answered else "NO ANSWER"),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", ch.uniqueid),
            ("UserField", ""),
        ]
