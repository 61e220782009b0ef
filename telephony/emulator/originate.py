"""AMI Originate: ring a phone, and once it answers run the dialplan (or one application).

OriginateResponse Reason codes as Asterisk's: 0 failure (unreachable/unknown), 3 no answer,
4 answered, 5 busy, 8 congestion. A synchronous Originate answers the action only afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from telephony import ami_codec as ami
from telephony.emulator import dial, events
from telephony.emulator.apps import find_app
from telephony.emulator.channel import Channel
from telephony.emulator.pbx import Pbx
from telephony.emulator.variables import parse_callerid

REASON: Final = {"ANSWER": 4, "BUSY": 5, "CONGESTION": 8, "NOANSWER": 3, "CHANUNAVAIL": 0}
CAUSE: Final = {"BUSY": 17, "CONGESTION": 34, "NOANSWER": 19}


@dataclass(frozen=True)
class OriginateRequest:
    action_id: str | None
    channel: str
    context: str
    exten: str
    priority: int
    application: str
    data: str
    timeout_v: float
    callerid: tuple[str, str] | None  # (number, name)
    variables: tuple[tuple[str, str], ...]
    channel_id: str | None = None  # ChannelId: the uniqueid the new channel gets


def parse(msg: ami.AmiMessage) -> OriginateRequest | str:
    """The request, or the error message Asterisk answers with."""
    channel = msg.get(ami.HEADER_CHANNEL) or ""
    if not channel:
        return "Channel not specified"
    app = msg.get(ami.HEADER_APPLICATION) or ""
    exten, context = msg.get(ami.HEADER_EXTEN) or "", msg.get(ami.HEADER_CONTEXT) or ""
    priority_text = msg.get(ami.HEADER_PRIORITY) or ""
    if not app and not (exten and context and priority_text.isdigit()):
        return "Originate with 'Exten' requires 'Context' and 'Priority'"
    try:
        timeout_v = float(msg.get(ami.HEADER_TIMEOUT) or "30000") / 1000
    except ValueError:
        timeout_v = 30.0
    cid_text = msg.get(ami.HEADER_CALLER_ID)
    callerid = None
    if cid_text:
        name, num = parse_callerid(cid_text)
        callerid = (num, name)
    variables: list[tuple[str, str]] = []
    for item in msg.get_all(ami.HEADER_VARIABLE):
        for assignment in item.split(","):
            key, sep, value = assignment.partition("=")
            if sep and key.strip():
                variables.append((key.strip(), value))
    return OriginateRequest(
        msg.action_id,
        channel,
        context,
        exten,
        int(priority_text or "1"),
        app,
        msg.get(ami.HEADER_DATA) or "",
        timeout_v,
        callerid,
        tuple(variables),
        msg.get(ami.HEADER_CHANNEL_ID) or None,
    )


RunDialplan = Callable[[Channel], Coroutine[Any, Any, None]]


async def originate(
    pbx: Pbx, req: OriginateRequest, run_dialplan: RunDialplan, *, emit_response: bool
) -> bool:
    """Rings the phone; True once answered (the call then runs in its own task)."""
    line = pbx.book.get(req.channel)
    if line is None or line.phone.behaviour == "unavailable":
        _respond(pbx, req, None, "CHANUNAVAIL", emit_response)
        return False
    leg = dial.open_leg(pbx, line, None, req.callerid, req.channel_id)
    dial.dial_begin(pbx, leg, None)
    status = ""
    if line.state != "idle" or line.phone.behaviour == "busy":
        status = "BUSY"
    elif line.phone.behaviour == "congestion":
        status = "CONGESTION"
    else:
        dial.ring(pbx, leg, None)
        answers = line.phone.behaviour == "answer" and line.phone.ring_s < req.timeout_v
        waited = await leg.ch.wait(line.phone.ring_s if answers else req.timeout_v)
        status = "ANSWER" if answers and not waited.interrupted else "NOANSWER"
    if status != "ANSWER":
        pbx.emit(events.dial(ami.EVENT_DIAL_END, None, leg.ch, (ami.HEADER_DIAL_STATUS, status)))
        pbx.book.set_state(line, "idle")
        leg.ch.hang_up(CAUSE[status])
        pbx.destroy(leg.ch, CAUSE[status])
        _respond(pbx, req, None, status, emit_response)
        return False
    dial.answer(pbx, leg, None)
    _respond(pbx, req, leg.ch, status, emit_response)
    ch = leg.ch
    for key, value in req.variables:
        ch.set_var(key, value)
    talk = asyncio.get_running_loop().call_later(
        pbx.clock.real(line.phone.talk_s), _agent_bye, pbx, ch
    )

    async def run() -> None:
        try:
            if req.application:
                app = find_app(req.application)
                if app is not None:
                    await app(pbx, ch, req.data)
                ch.hang_up(16)
                pbx.destroy(ch, ch.hangupcause or 16)
            else:
                ch.context, ch.exten, ch.priority = req.context, req.exten, req.priority
                await run_dialplan(ch)
        finally:
            talk.cancel()
            pbx.book.set_state(line, "idle")

    pbx.spawn(run())
    return True


def _agent_bye(pbx: Pbx, ch: Channel) -> None:
    if not ch.hung_up:
        pbx.emit(events.hangup_request(ch, 16, soft=False))
        ch.hang_up(16, by="agent")


def _respond(pbx: Pbx, req: OriginateRequest, ch: Channel | None, status: str, emit: bool) -> None:
    if not emit:
        return
    pairs = [
        *events.head(ami.EVENT_ORIGINATE_RESPONSE, events.CALL),
        *([(ami.HEADER_ACTION_ID, req.action_id)] if req.action_id is not None else []),
        (ami.HEADER_RESPONSE, ami.RESPONSE_SUCCESS if ch is not None else ami.RESPONSE_FAILURE),
        (ami.HEADER_CHANNEL, ch.name if ch is not None else req.channel),
    ]
    if req.application:
        pairs += [(ami.HEADER_APPLICATION, req.application), (ami.HEADER_DATA, req.data)]
    else:
        pairs += [(ami.HEADER_CONTEXT, req.context), (ami.HEADER_EXTEN, req.exten)]
    pairs += [
        (ami.HEADER_REASON, str(REASON[status])),
        (ami.HEADER_UNIQUEID, ch.uniqueid if ch is not None else "<unknown>"),
    ]
    num, name = req.callerid or ("", "")
    pairs += [
        (ami.HEADER_CALLER_ID_NUM, num or events.UNKNOWN),
        (ami.HEADER_CALLER_ID_NAME, name or events.UNKNOWN),
    ]
    pbx.emit(pairs)
