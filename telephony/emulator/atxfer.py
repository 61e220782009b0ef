"""Attended transfer of an agent's leg (``bridge_basic.c``), as hotline drives it over AMI:
``Atxfer`` (consult the colleague named by the leg's ``HOTLINE_CONSULT_ENDPOINT``),
``CancelAtxfer`` (back to the caller), ``PlayDTMF`` with ``Receive: yes`` of the
``atxfercomplete`` (``*2``) or ``atxferthreeway`` (``*3``) keys; and the desktop's hold,
``Atxfer`` to the hold extension (``20``), which waits in silence until ``CancelAtxfer``.

Modelled: the colleague's phone is rung (its ring time, its behaviour) and answers; a
complete puts the colleague's leg in the caller's bridge in place of the agent's (which
hangs up; ``dial.bridge`` carries on with the colleague's talk time); a conference keeps
the colleague's leg until the bridge ends; a cancel hangs the colleague's leg up. A hold
says ``Hold`` for the agent's leg and its cancel ``Unhold`` (as Asterisk 20 does for any
attended transfer; here only for the hold); either party hanging up during it ends the
call as when the agent is talking (the hold extension ends with them). Not
modelled: the transfer's Local channels, music on hold, the 3 s digit timeout, and a
conference outliving its agent (Asterisk keeps the caller and the colleague talking when
the agent leaves; here the bridge ends with the agent's leg).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from telephony.emulator import dial
from telephony.emulator.pbx import Pbx

#: docker/asterisk/features.conf (Asterisk's defaults too)
COMPLETE: Final = "*2"
THREEWAY: Final = "*3"
ENDPOINT_VAR: Final = "HOTLINE_CONSULT_ENDPOINT"
#: docker/asterisk/extensions.conf: hotline-consult's hold extension.
HOLD_EXTEN: Final = "20"


@dataclass
class Consult:
    agent: dial.Leg
    task: asyncio.Task[None] | None = None
    colleague: dial.Leg | None = None
    keys: str = ""
    conference: bool = False
    hold: bool = False


def consults(pbx: Pbx) -> dict[str, Consult]:
    """The consults under way, by the agent's channel name."""
    return pbx.consults


def start(pbx: Pbx, agent_channel: str, exten: str = "1") -> None:
    """``Atxfer``: ring the colleague, or hold (nothing happens when the leg is in no Dial
    bridge or no colleague is named, as Asterisk's digits go nowhere)."""
    leg = pbx.bridged.get(agent_channel)
    if leg is None or agent_channel in consults(pbx):
        return
    if exten == HOLD_EXTEN:
        consults(pbx)[agent_channel] = Consult(leg, hold=True)
        leg.ch.hold(True)
        return
    endpoint = leg.ch.variables.get("_" + ENDPOINT_VAR) or leg.ch.variables.get(ENDPOINT_VAR)
    if not endpoint:
        return
    consult = Consult(leg)
    consults(pbx)[agent_channel] = consult
    consult.task = asyncio.create_task(_ring(pbx, consult, endpoint))


async def _ring(pbx: Pbx, consult: Consult, endpoint: str) -> None:
    line = pbx.book.get(endpoint)
    if line is None or line.state != "idle" or line.phone.behaviour != "answer":
        return  # Dial fails: the agent is back with the caller
    colleague = dial.open_leg(pbx, line, None)
    dial.dial_begin(pbx, colleague, None)
    dial.ring(pbx, colleague, None)
    if not await colleague.ch.sleep(line.phone.ring_s):
        dial.fail(pbx, colleague, None, "CANCEL", 0)
        return
    dial.answer(pbx, colleague, None)
    pbx.book.answered(line, int(pbx.clock.epoch()))
    consult.colleague = colleague


def cancel(pbx: Pbx, agent_channel: str) -> None:
    """``CancelAtxfer``: the colleague's leg is hung up (or the hold ends); the agent is
    back."""
    consult = consults(pbx).get(agent_channel)
    if consult is not None and consult.hold:
        consult.agent.ch.hold(False)
    dial.drop_consult(pbx, agent_channel)


def key(pbx: Pbx, agent_channel: str, digit: str) -> None:
    """A key read from the agent's leg (PlayDTMF Receive)."""
    consult = consults(pbx).get(agent_channel)
    if consult is None or consult.colleague is None:
        return  # (during a hold, Asterisk's keys would go to the hold extension)
    consult.keys = (consult.keys + digit)[-2:]
    if consult.keys == COMPLETE:
        del consults(pbx)[agent_channel]
        consult.agent.replaced_by = consult.colleague
        if consult.agent.caller is not None:
            consult.agent.caller.wake()
    elif consult.keys == THREEWAY:
        del consults(pbx)[agent_channel]
        consult.agent.extra.append(consult.colleague)
