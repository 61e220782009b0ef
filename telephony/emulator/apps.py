"""Dialplan applications, shared by the dialplan runner and AGI `EXEC`.

Each returns what Asterisk's application returns: 0 to go on, -1 when the channel hung up (or
a bridged call ended), a digit's ASCII code for an interrupted Background. None means the
application does not exist (EXEC answers -2).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Final

from telephony import agi_codec as agi
from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.channel import ALL_DIGITS, UP, Channel
from telephony.emulator.dial import dial_app
from telephony.emulator.media import RATE
from telephony.emulator.pbx import Pbx
from telephony.emulator.queue import queue_app
from telephony.emulator.variables import parse_callerid

App = Callable[[Pbx, Channel, str], Awaitable[int]]
PLAYBACKSTATUS: Final = "PLAYBACKSTATUS"
MIXMONITOR_FILENAME: Final = "MIXMONITOR_FILENAME"
_CALLERID_PART: Final = re.compile(r"CALLERID\((all|num|number|name)\)", re.IGNORECASE)


async def answer_app(pbx: Pbx, ch: Channel, data: str) -> int:
    ch.set_state(UP)
    return 0


async def noop_app(pbx: Pbx, ch: Channel, data: str) -> int:
    return 0


async def hangup_app(pbx: Pbx, ch: Channel, data: str) -> int:
    cause = int(data) if data.strip().isdigit() else None
    ch.hang_up(cause, by="dialplan")
    return -1


async def playback_app(pbx: Pbx, ch: Channel, data: str) -> int:
    files = data.split(",")[0]
    samples = pbx.prompts.total(files, ch.language)
    if samples is None:
        ch.set_var(PLAYBACKSTATUS, "FAILED")
        return 0
    waited = await ch.wait(samples / RATE)
    if waited.interrupted:
        return -1
    ch.set_var(PLAYBACKSTATUS, "SUCCESS")
    return 0


async def background_app(pbx: Pbx, ch: Channel, data: str) -> int:
    """Plays the prompt; any digit interrupts it and is returned (as the AGI sees it)."""
    samples = pbx.prompts.total(data.split(",")[0], ch.language) or 0
    queued = ch.listens(ALL_DIGITS, asking=True)
    waited = await ch.wait(samples / RATE, accept=ALL_DIGITS, queued=queued)
    if waited.interrupted:
        return -1
    return ord(waited.digit) if waited.digit else 0


async def wait_app(pbx: Pbx, ch: Channel, data: str) -> int:
    try:
        seconds = float(data or "0")
    except ValueError:
        seconds = 0.0
    return -1 if (await ch.wait(seconds)).interrupted else 0


async def moh_app(pbx: Pbx, ch: Channel, data: str) -> int:
    """MusicOnHold(class[,duration]): blocks for the duration, or until hang-up."""
    klass, _, duration = data.partition(",")
    pbx.emit(events.musiconhold(ch, True, klass or "default"))
    try:
        seconds: float | None = float(duration) if duration.strip() else None
    except ValueError:
        seconds = None
    waited = await ch.wait(seconds)
    pbx.emit(events.musiconhold(ch, False, ""))
    return -1 if waited.interrupted else 0


async def start_moh_app(pbx: Pbx, ch: Channel, data: str) -> int:
    pbx.emit(events.musiconhold(ch, True, data.split(",")[0] or "default"))
    return 0


async def stop_moh_app(pbx: Pbx, ch: Channel, data: str) -> int:
    pbx.emit(events.musiconhold(ch, False, ""))
    return 0


async def set_app(pbx: Pbx, ch: Channel, data: str) -> int:
    name, sep, value = data.partition("=")
    if not sep or not name.strip():
        return 0
    part = _CALLERID_PART.fullmatch(name.strip())
    if part is None:
        ch.set_var(name.strip(), value)
        return 0
    which = part.group(1).lower()  # CALLERID(all|num|name)=: the channel's caller ID
    if which == "all":
        ch.caller_name, ch.caller_num = parse_callerid(value)
    elif which in ("num", "number"):
        ch.caller_num = value
    else:
        ch.caller_name = value
    cid = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
    pbx.emit(events.channel_event(ami.EVENT_NEW_CALLERID, events.CALL, ch, cid))
    return 0


async def mixmonitor_app(pbx: Pbx, ch: Channel, data: str) -> int:
    """MixMonitor(file.ext[,options]): records the channel from now on (``b``: only while
    bridged) until it hangs up; returns at once."""
    if not data.split(",")[0].strip():
        return -1
    monitor = ch.record(data)
    if monitor is None:
        return 0  # Asterisk logs "Cannot open" and goes on
    ch.set_var(MIXMONITOR_FILENAME, str(monitor.path))
    return 0


async def chanspy_app(pbx: Pbx, ch: Channel, data: str) -> int:
    """ChanSpy(prefix,options): spies on a live channel whose name starts with ``prefix``
    (no audio here), looking again every 100 ms while there is none, until the spying
    channel hangs up; option ``E``: returns (0) once the channel it spied on hangs up, so
    an originated spy leg ends with the spied call, as app_chanspy does."""
    prefix, _, options = data.partition(",")
    prefix = prefix.strip().lower()
    exit_on_hangup = "E" in options
    while not ch.hung_up:
        spied = next(
            (
                other
                for name, other in pbx.channels.items()
                if other is not ch and not other.hung_up and name.lower().startswith(prefix)
            ),
            None,
        )
        if spied is None:
            await ch.sleep(0.1)
            continue
        ended = asyncio.ensure_future(spied.interrupted_event.wait())
        spying = asyncio.ensure_future(ch.wait(None))
        try:
            await asyncio.wait({ended, spying}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (ended, spying):
                task.cancel()
            await asyncio.gather(ended, spying, return_exceptions=True)
        if spied.hung_up and exit_on_hangup and not ch.hung_up:
            return 0
        await ch.sleep(0.1)  # then looks for a channel again (a redirect is no hang-up)
    return -1


APPS: Final[dict[str, App]] = {
    "answer": answer_app,
    "noop": noop_app,
    "verbose": noop_app,
    "log": noop_app,
    "hangup": hangup_app,
    agi.APP_PLAYBACK.lower(): playback_app,
    agi.APP_BACKGROUND.lower(): background_app,
    "wait": wait_app,
    agi.APP_MUSIC_ON_HOLD.lower(): moh_app,
    agi.APP_START_MUSIC_ON_HOLD.lower(): start_moh_app,
    agi.APP_STOP_MUSIC_ON_HOLD.lower(): stop_moh_app,
    "set": set_app,
    agi.APP_DIAL.lower(): dial_app,
    "queue": queue_app,
    agi.APP_MIXMONITOR.lower(): mixmonitor_app,
    "chanspy": chanspy_app,
}


def find_app(name: str) -> App | None:
    return APPS.get(name.lower())
