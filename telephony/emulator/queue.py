"""Queue(): Asterisk's app_queue over the phones (the fallback when the service is away).

rrmemory over the members in configuration order, ringinuse=no, member timeout and retry from
the PBX config; paused, busy, congested and unreachable members are skipped. Returns -1 once a
bridged call ends (the caller may still be up, see agi_ami_queue_call.jsonl), 0 on timeout.
"""

from __future__ import annotations

from telephony import ami_codec as ami
from telephony.emulator import dial, events
from telephony.emulator.channel import Channel
from telephony.emulator.model import DialRecord
from telephony.emulator.pbx import Pbx
from telephony.emulator.phones import PhoneLine

_SKIP = frozenset({"busy", "congestion", "unavailable"})


def _member(queue: str, line: PhoneLine) -> list[tuple[str, str]]:
    return [
        (ami.HEADER_QUEUE, queue),
        (ami.HEADER_INTERFACE, line.phone.endpoint),
        ("MemberName", line.phone.display_name),
    ]


def _caller_event(pbx: Pbx, name: str, caller: Channel, *extra: tuple[str, str]) -> None:
    pbx.emit(events.channel_event(name, events.AGENT, caller, *extra))


async def queue_app(pbx: Pbx, caller: Channel, data: str) -> int:
    """`Queue(name,options,URL,announce,timeout)`."""
    args = data.split(",")
    queue = args[0].strip()
    if queue != pbx.config.queue_name:
        caller.set_var("QUEUESTATUS", "JOINUNAVAIL")
        return 0
    try:
        timeout_v = float(args[4]) if len(args) > 4 and args[4].strip() else None
    except ValueError:
        timeout_v = None
    pbx.queue_callers.append(caller)
    position = pbx.queue_callers.index(caller) + 1
    count = ("Count", str(len(pbx.queue_callers)))
    _caller_event(
        pbx,
        ami.EVENT_QUEUE_CALLER_JOIN,
        caller,
        (ami.HEADER_QUEUE, queue),
        ("Position", str(position)),
        count,
    )
    pbx.emit(events.musiconhold(caller, True, "default"))
    waited_v = 0.0
    try:
        while timeout_v is None or waited_v < timeout_v:
            for line in pbx.book.queue_order():
                if line.paused or line.state != "idle" or line.phone.behaviour in _SKIP:
                    continue
                remaining = None if timeout_v is None else timeout_v - waited_v
                limit = (
                    pbx.config.member_timeout_s
                    if remaining is None
                    else min(pbx.config.member_timeout_s, remaining)
                )
                if limit <= 0:
                    break
                rang_v = await _ring_member(pbx, caller, queue, line, limit, waited_v)
                if rang_v is None:
                    return -1
                waited_v += rang_v
            pause = pbx.config.queue_retry_s
            if timeout_v is not None:
                pause = min(pause, timeout_v - waited_v)
            if pause > 0:
                waited = await caller.wait(pause)
                waited_v += waited.elapsed_v
                if waited.interrupted:
                    _abandon(pbx, caller, queue, position, waited_v)
                    return -1
        pbx.emit(events.musiconhold(caller, False, ""))
        _leave(pbx, caller, queue)
        caller.set_var("QUEUESTATUS", "TIMEOUT")
        return 0
    finally:
        if caller in pbx.queue_callers:
            pbx.queue_callers.remove(caller)


async def _ring_member(
    pbx: Pbx, caller: Channel, queue: str, line: PhoneLine, limit: float, held_v: float
) -> float | None:
    """Rings one member: the virtual seconds it rang unanswered, or None when the call is over
    (bridged and ended, or the caller abandoned)."""
    leg = dial.open_leg(pbx, line, caller)
    leg.ch.caller_num = ""
    pbx.emit(events.dial(ami.EVENT_AGENT_CALLED, caller, leg.ch, *_member(queue, line)))
    dial.dial_begin(pbx, leg, caller)
    dial.ring(pbx, leg, caller)
    answers = line.phone.behaviour == "answer" and line.phone.ring_s < limit
    waited = await caller.wait(line.phone.ring_s if answers else limit)
    if waited.interrupted:
        dial.fail(pbx, leg, caller, "CANCEL", 0)
        _abandon(pbx, caller, queue, pbx.queue_callers.index(caller) + 1, held_v + waited.elapsed_v)
        return None
    if not answers:
        ring_time = ("RingTime", str(round(waited.elapsed_v * 1000)))
        pbx.emit(
            events.dial(
                ami.EVENT_AGENT_RINGNOANSWER, caller, leg.ch, *_member(queue, line), ring_time
            )
        )
        dial.fail(pbx, leg, caller, "NOANSWER", 0)
        return waited.elapsed_v
    dial.answer(pbx, leg, caller)
    leg.ch.exten = caller.exten
    pbx.emit(events.musiconhold(caller, False, ""))
    _leave(pbx, caller, queue)
    hold = ("HoldTime", str(int(held_v + waited.elapsed_v)))
    pbx.emit(
        events.dial(
            ami.EVENT_AGENT_CONNECT,
            caller,
            leg.ch,
            *_member(queue, line),
            hold,
            ("RingTime", str(int(waited.elapsed_v))),
        )
    )
    pbx.book.answered(line, int(pbx.clock.epoch()))
    caller.log.fallback_phone = line.phone.endpoint
    start_v = caller.logical_v
    ended_by = await dial.bridge(pbx, caller, leg, line.phone.talk_s)
    talk_v = caller.logical_v - start_v
    reason = ("Reason", ended_by)
    pbx.emit(
        events.dial(
            ami.EVENT_AGENT_COMPLETE,
            caller,
            leg.ch,
            *_member(queue, line),
            hold,
            ("TalkTime", str(int(talk_v))),
            reason,
        )
    )
    caller.log.dials.append(
        DialRecord(line.phone.endpoint, "ANSWER", line.phone.endpoint, leg.ch.name, talk_v, -1)
    )
    return None


def _leave(pbx: Pbx, caller: Channel, queue: str) -> None:
    position = pbx.queue_callers.index(caller) + 1 if caller in pbx.queue_callers else 1
    if caller in pbx.queue_callers:
        pbx.queue_callers.remove(caller)
    count = ("Count", str(len(pbx.queue_callers)))
    _caller_event(
        pbx,
        ami.EVENT_QUEUE_CALLER_LEAVE,
        caller,
        (ami.HEADER_QUEUE, queue),
        ("Position", str(position)),
        count,
    )


def _abandon(pbx: Pbx, caller: Channel, queue: str, position: int, held_v: float) -> None:
    if caller in pbx.queue_callers:
        pbx.queue_callers.remove(caller)
    _caller_event(
        pbx,
        ami.EVENT_QUEUE_CALLER_ABANDON,
        caller,
        (ami.HEADER_QUEUE, queue),
        ("Position", str(position)),
        ("OriginalPosition", str(position)),
        ("HoldTime", str(int(held_v))),
    )
