"""Dial(): ringing the agents' phones (or a customer over the trunk), the outcomes, and the
two-party bridge.

Outcomes follow the recorded transcripts (agi_dial_*.jsonl): BUSY 17, CONGESTION 34 and
CHANUNAVAIL 20 are instant with result 0; NOANSWER after the timeout with result 0; CANCEL
(the caller hung up while ringing) -1; ANSWER -1 whoever hangs up (0 with option `g` when the
agent hangs up first). ANSWEREDTIME/DIALEDTIME are the caller channel's up-time and age.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from telephony import agi_codec as agi
from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.channel import RINGING, UP, Channel
from telephony.emulator.model import DialRecord
from telephony.emulator.pbx import Pbx
from telephony.emulator.phones import PhoneLine

CAUSE: dict[str, int] = {"BUSY": 17, "CONGESTION": 34, "CHANUNAVAIL": 20}
TIMING_VARS = ("ANSWEREDTIME", agi.VAR_ANSWEREDTIME_MS, "DIALEDTIME", agi.VAR_DIALEDTIME_MS)


@dataclass
class Leg:
    """The outbound channel to one phone."""

    line: PhoneLine
    ch: Channel
    #: in a Dial bridge: the caller's channel
    caller: Channel | None = None
    #: an attended transfer completed: the colleague's leg takes this one's place
    replaced_by: Leg | None = None
    #: an attended transfer made a conference: the colleague's leg, until the bridge ends
    extra: list[Leg] = field(default_factory=list)

    @property
    def dial_string(self) -> str:
        return self.line.phone.peer


def open_leg(
    pbx: Pbx,
    line: PhoneLine,
    caller: Channel | None,
    callerid: tuple[str, str] | None = None,
    uniqueid: str | None = None,
) -> Leg:
    """Newchannel plus the caller-ID events chan_sip sends before the INVITE."""
    phone = line.phone
    ch = pbx.new_channel(
        phone.tech,
        phone.peer,
        linkedid=caller.linkedid if caller else "",
        context="agents",
        exten="s",
        uniqueid=uniqueid,
    )
    if caller is not None:
        ch.caller_num, ch.exten = caller.exten, caller.exten
        ch.connected_num, ch.connected_name = caller.caller_num, caller.caller_name
        pbx.emit(events.newexten(ch, "AppDial", "(Outgoing Line)"))
        cid = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        pbx.emit(events.channel_event(ami.EVENT_NEW_CALLERID, events.CALL, ch, cid))
        pbx.emit(events.channel_event(ami.EVENT_NEW_CONNECTED_LINE, events.CALL, ch))
        return Leg(line, ch)
    ch.exten = ""
    pbx.emit(events.newexten(ch, "AppDial2", "(Outgoing Line)"))
    if callerid is not None:
        ch.caller_num, ch.caller_name = callerid
        cid = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
        pbx.emit(events.channel_event(ami.EVENT_NEW_CALLERID, events.CALL, ch, cid))
        ch.connected_num, ch.connected_name = callerid
        pbx.emit(events.channel_event(ami.EVENT_NEW_CONNECTED_LINE, events.CALL, ch))
    return Leg(line, ch)


def dial_begin(pbx: Pbx, leg: Leg, caller: Channel | None) -> None:
    pbx.emit(events.dial(ami.EVENT_DIAL_BEGIN, caller, leg.ch, ("DialString", leg.dial_string)))


def ring(pbx: Pbx, leg: Leg, caller: Channel | None) -> None:
    """Device state RINGING (reported twice by chan_sip with call-limit), Newstate, DialState."""
    pbx.book.set_state(leg.line, "ringing")
    leg.ch.set_state(RINGING)
    pbx.emit(events.device_state(leg.line.phone.endpoint, leg.line.device_state))
    pbx.emit(events.dial(ami.EVENT_DIAL_STATE, caller, leg.ch, (ami.HEADER_DIAL_STATUS, "RINGING")))


def answer(pbx: Pbx, leg: Leg, caller: Channel | None) -> None:
    pbx.book.set_state(leg.line, "inuse")
    leg.ch.set_state(UP)
    if caller is not None:
        leg.ch.exten = ""
    pbx.emit(events.dial(ami.EVENT_DIAL_END, caller, leg.ch, (ami.HEADER_DIAL_STATUS, "ANSWER")))


def fail(pbx: Pbx, leg: Leg, caller: Channel | None, status: str, cause: int) -> None:
    pbx.emit(events.dial(ami.EVENT_DIAL_END, caller, leg.ch, (ami.HEADER_DIAL_STATUS, status)))
    pbx.book.set_state(leg.line, "idle")
    leg.ch.hang_up(cause)
    pbx.destroy(leg.ch, cause)


async def bridge(pbx: Pbx, caller: Channel, leg: Leg, talk_v: float) -> str:
    """Bridges caller and agent until one hangs up: returns "agent" or "caller"."""
    b = events.Bridge(str(uuid.uuid4()))
    agent = leg.ch
    pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_CREATE, b))
    pbx.emit(events.newexten(agent, "AppDial", "(Outgoing Line)"))
    for ch in (agent, caller):
        b.num_channels += 1
        ch.bridge_id = b.uniqueid
        ch.bridge_changed()
        pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_ENTER, b, ch))
    leg.caller = caller
    pbx.bridged[agent.name] = leg
    while True:
        watcher = asyncio.create_task(agent.interrupted_event.wait())
        watcher.add_done_callback(lambda _: caller.wake())
        try:
            waited = await caller.wait(talk_v)
        finally:
            watcher.cancel()
        successor = leg.replaced_by
        if successor is None or waited.interrupted:
            break
        # an attended transfer completed (atxfer): the agent's leg leaves, the colleague's
        # takes its place in this bridge, for the colleague phone's talk time
        pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_LEAVE, b, agent))
        end_agent(pbx, leg)
        successor.extra = leg.extra
        leg, agent = successor, successor.ch
        leg.caller = caller
        pbx.bridged[agent.name] = leg
        agent.bridge_id = b.uniqueid
        agent.bridge_changed()
        pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_ENTER, b, agent))
        talk_v = leg.line.phone.talk_s
    pbx.bridged.pop(agent.name, None)
    drop_consult(pbx, agent.name)
    for extra in leg.extra:
        end_agent(pbx, extra)
    b.technology = "native_rtp"
    caller.bridge_id = agent.bridge_id = ""
    caller.bridge_changed()
    agent.bridge_changed()
    if waited.interrupted:
        for ch in (caller, agent):
            b.num_channels -= 1
            pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_LEAVE, b, ch))
        pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_DESTROY, b))
        end_agent(pbx, leg)
        return "caller"
    if not waited.woken:  # the agent's BYE
        pbx.emit(events.hangup_request(agent, 16, soft=False))
    b.num_channels -= 1
    pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_LEAVE, b, agent))
    end_agent(pbx, leg)
    b.num_channels -= 1
    pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_LEAVE, b, caller))
    pbx.emit(events.bridge_event(ami.EVENT_BRIDGE_DESTROY, b))
    caller.dtmf.push(caller.after_call_dtmf)
    return "agent"


def drop_consult(pbx: Pbx, agent_channel: str) -> None:
    """An attended transfer of this leg that is still a consult ends: the colleague's leg
    (ringing or talking) is hung up (``atxfer``)."""
    consult = pbx.consults.pop(agent_channel, None)
    if consult is None:
        return
    if consult.task is not None:
        consult.task.cancel()
    if consult.colleague is not None:
        end_agent(pbx, consult.colleague)


def end_agent(pbx: Pbx, leg: Leg) -> None:
    leg.ch.hang_up(16)
    cause = leg.ch.hangupcause or 16
    pbx.destroy(leg.ch, cause)
    pbx.book.set_state(leg.line, "idle")


def _times(caller: Channel) -> dict[str, str]:
    up_v = caller.logical_v - (caller.answered_logical_v or 0.0)
    age_v = caller.logical_v
    return {
        "ANSWEREDTIME": str(int(up_v)),
        agi.VAR_ANSWEREDTIME_MS: str(round(up_v * 1000)),
        "DIALEDTIME": str(int(age_v)),
        agi.VAR_DIALEDTIME_MS: str(round(age_v * 1000)),
    }


async def dial_app(pbx: Pbx, caller: Channel, data: str) -> int:
    """The Dial application: `tech/peer[&tech/peer...][,timeout[,options]]`."""
    parts = data.split(",")
    targets = [t.strip() for t in parts[0].split("&") if t.strip()]
    if not targets:
        return -1
    try:
        timeout_v: float | None = float(parts[1]) if len(parts) > 1 and parts[1].strip() else None
    except ValueError:
        timeout_v = None
    options = parts[2] if len(parts) > 2 else ""
    for name in TIMING_VARS:
        caller.set_var(name, "")
    failures: list[str] = []
    ringers: list[Leg] = []
    for target in targets:
        line = pbx.book.get(target) or pbx.customer_line(target)
        if line is None or line.phone.behaviour == "unavailable":
            failures.append("CHANUNAVAIL")
            continue
        status = "BUSY" if line.state != "idle" or line.phone.behaviour == "busy" else ""
        status = "CONGESTION" if not status and line.phone.behaviour == "congestion" else status
        leg = open_leg(pbx, line, caller) if line.state == "idle" else None
        if status:
            if leg is not None:
                dial_begin(pbx, leg, caller)
                pbx.emit(
                    events.dial(
                        ami.EVENT_DIAL_END, caller, leg.ch, (ami.HEADER_DIAL_STATUS, status)
                    )
                )
                leg.ch.hang_up(CAUSE[status])
                pbx.destroy(leg.ch, CAUSE[status])
            failures.append(status)
            continue
        assert leg is not None
        dial_begin(pbx, leg, caller)
        ring(pbx, leg, caller)
        ringers.append(leg)
    if not ringers:
        status = next(s for s in ("BUSY", "CONGESTION", "CHANUNAVAIL") if s in failures)
        caller.hangupcause = CAUSE[status]
        return _finish(caller, parts[0], status, 0)
    answerers = [
        leg
        for leg in ringers
        if leg.line.phone.behaviour == "answer"
        and (timeout_v is None or leg.line.phone.ring_s < timeout_v)
    ]
    winner = min(answerers, key=lambda leg: leg.line.phone.ring_s) if answerers else None
    waited = await caller.wait(winner.line.phone.ring_s if winner else timeout_v)
    if waited.interrupted or winner is None:
        status = "CANCEL" if waited.interrupted else "NOANSWER"
        for leg in ringers:
            fail(pbx, leg, caller, status, 0)
        return _finish(caller, parts[0], status, -1 if waited.interrupted else 0)
    for leg in ringers:
        if leg is not winner:
            fail(pbx, leg, caller, "CANCEL", 0)
    answer(pbx, winner, caller)
    caller.set_var(agi.VAR_DIALEDPEERNAME, winner.ch.name)
    caller.set_var(agi.VAR_DIALEDPEERNUMBER, winner.dial_string)
    pbx.book.answered(winner.line, int(pbx.clock.epoch()))
    start_v = caller.logical_v
    ended_by = await bridge(pbx, caller, winner, winner.line.phone.talk_s)
    caller.hangupcause = 16
    for name, value in _times(caller).items():
        caller.set_var(name, value)
    result = 0 if ended_by == "agent" and "g" in options and not caller.interrupted else -1
    record = DialRecord(
        parts[0],
        "ANSWER",
        winner.line.phone.endpoint,
        winner.ch.name,
        caller.logical_v - start_v,
        result,
    )
    caller.set_var(agi.VAR_DIALSTATUS, "ANSWER")
    caller.log.dials.append(record)
    return result


def _finish(caller: Channel, targets: str, status: str, result: int) -> int:
    caller.set_var(agi.VAR_DIALSTATUS, status)
    caller.log.dials.append(DialRecord(targets, status, result=result))
    return result
