"""Callers gone before the dialplan's ``AGI()`` ran: still one closed record each.

A caller who hangs up after Asterisk answers but before ``AGI()`` reaches hotline never had
a session here. The ``h`` extension of ``[hotline]`` (docker/asterisk/extensions.conf) tells:
``AGISTATUS`` is unset when ``AGI()`` never ran (it sets it whenever it ran, hung up, failed
or not), and then it runs ``AGI(<hotline>,ended-before-service)`` on the hung-up channel.
``before_service`` routes that session here, without the IVR: the call's arrival is read
from the channel (``GET FULL VARIABLE`` answers on a dead channel; the CDR's start, else the
uniqueid's epoch), and the recorder writes one closed interaction keyed by the uniqueid, so
it cannot double a record another session of the same call wrote (the store skips the key).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Final, Protocol

from center.call_interactions import AgiHandler
from telephony.agi_server import ENDED_BEFORE_SERVICE
from telephony.agi_session import AgiCommandError, AgiSession, CallerHangup

__all__ = ["ARRIVAL", "EarlyHangups", "before_service", "channel_arrival"]

#: The channel's arrival: its CDR's start, raw (epoch seconds with microseconds).
ARRIVAL: Final = "${CDR(start,u)}"
#: An Asterisk uniqueid: ``[system-]<epoch seconds>.<sequence>``.
_UNIQUEID: Final = re.compile(r"(?:.*-)?(\d{9,})\.\d+")


class EarlyHangups(Protocol):
    """``center.call_interactions.HistoryInteractions``'s side of it."""

    def ended_before_service(
        self, call_id: str, caller_id: str | None, arrived: dt.datetime | None
    ) -> None: ...


def before_service(recorder: EarlyHangups, handler: AgiHandler) -> AgiHandler:
    """``handler`` for every session but the ``h`` extension's ``ended-before-service``,
    which only records the call."""

    async def routed(session: AgiSession) -> None:
        env = session.env
        if env.args[:1] != (ENDED_BEFORE_SERVICE,):
            await handler(session)
            return
        arrived = await channel_arrival(session)
        recorder.ended_before_service(env.uniqueid or "unknown", env.caller_id, arrived)

    return routed


async def channel_arrival(session: AgiSession) -> dt.datetime | None:
    """When the channel was created: its CDR's start, else its uniqueid's second, else None."""
    raw: str | None = None
    with contextlib.suppress(CallerHangup, AgiCommandError):
        raw = await session.get_full_variable(ARRIVAL)
    with contextlib.suppress(ValueError):
        if (seconds := float(raw or "")) > 0:
            return dt.datetime.fromtimestamp(seconds, dt.UTC)
    if m := _UNIQUEID.fullmatch(session.env.uniqueid):
        return dt.datetime.fromtimestamp(int(m.group(1)), dt.UTC)
    return None
