"""AMI actions on the fallback queue (members are the phones) and device states."""

from __future__ import annotations

import time
from dataclasses import dataclass

from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.ami_server import AmiSession, aid_tail, error, response, send_list
from telephony.emulator.events import Pairs
from telephony.emulator.pbx import Pbx
from telephony.emulator.phones import QUEUE_STATUS, PhoneLine

OK = ami.RESPONSE_SUCCESS


@dataclass
class QueueActions:
    pbx: Pbx

    def _members(self, member: str | None) -> list[PhoneLine]:
        return [
            line
            for line in self.pbx.book
            if line.in_queue and (member is None or line.phone.endpoint.lower() == member.lower())
        ]

    async def queue_status(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        queue = self.pbx.config.queue_name
        items: list[Pairs] = []
        if (msg.get(ami.HEADER_QUEUE) or queue) == queue:
            completed = sum(line.calls_taken for line in self.pbx.book)
            items.append(
                [
                    (ami.HEADER_EVENT, ami.EVENT_QUEUE_PARAMS),
                    (ami.HEADER_QUEUE, queue),
                    ("Max", "0"),
                    ("Strategy", "rrmemory"),
                    ("Calls", str(len(self.pbx.queue_callers))),
                    ("Holdtime", "0"),
                    ("TalkTime", "0"),
                    ("Completed", str(completed)),
                    ("Abandoned", "0"),
                    ("ServiceLevel", "0"),
                    ("ServicelevelPerf", "0.0"),
                    ("ServicelevelPerf2", "0.0"),
                    ("Weight", "0"),
                    *aid_tail(msg),
                ]
            )
            for line in self._members(msg.get(ami.HEADER_MEMBER)):
                items.append(
                    [
                        (ami.HEADER_EVENT, ami.EVENT_QUEUE_MEMBER),
                        (ami.HEADER_QUEUE, queue),
                        ("Name", line.phone.display_name),
                        ("Location", line.phone.endpoint),
                        *_member_fields(line)[1:],
                        *aid_tail(msg),
                    ]
                )
            for pos, ch in enumerate(self.pbx.queue_callers, start=1):
                items.append(
                    [
                        (ami.HEADER_EVENT, ami.EVENT_QUEUE_ENTRY),
                        (ami.HEADER_QUEUE, queue),
                        ("Position", str(pos)),
                        (ami.HEADER_CHANNEL, ch.name),
                        (ami.HEADER_UNIQUEID, ch.uniqueid),
                        (ami.HEADER_CALLER_ID_NUM, ch.caller_num or events.UNKNOWN),
                        (ami.HEADER_CALLER_ID_NAME, ch.caller_name or events.UNKNOWN),
                        (ami.HEADER_CONNECTED_LINE_NUM, events.UNKNOWN),
                        (ami.HEADER_CONNECTED_LINE_NAME, events.UNKNOWN),
                        ("Wait", str(int(ch.age_v()))),
                        ("Priority", "0"),
                        *aid_tail(msg),
                    ]
                )
        send_list(session, msg, "Queue status will follow", items, ami.EVENT_QUEUE_STATUS_COMPLETE)

    async def queue_summary(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        queue = self.pbx.config.queue_name
        items: list[Pairs] = []
        if (msg.get(ami.HEADER_QUEUE) or queue) == queue:
            members = self._members(None)
            available = [m for m in members if not m.paused and m.device_state == "NOT_INUSE"]
            items.append(
                [
                    (ami.HEADER_EVENT, ami.EVENT_QUEUE_SUMMARY),
                    (ami.HEADER_QUEUE, queue),
                    ("LoggedIn", str(len(members))),
                    ("Available", str(len(available))),
                    ("Callers", str(len(self.pbx.queue_callers))),
                    ("HoldTime", "0"),
                    ("TalkTime", "0"),
                    ("LongestHoldTime", "0"),
                    *aid_tail(msg),
                ]
            )
        send_list(
            session, msg, "Queue summary will follow", items, ami.EVENT_QUEUE_SUMMARY_COMPLETE
        )

    async def queue_pause(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        interface, paused = msg.get(ami.HEADER_INTERFACE), msg.get(ami.HEADER_PAUSED)
        if not interface or not paused:
            session.send(error(msg, "Need 'Interface' and 'Paused' headers."))
            return
        members = self._members(interface)
        if not members:
            session.send(error(msg, "Interface not found"))
            return
        line = members[0]
        line.paused = paused.lower() in ("true", "yes", "1")
        line.paused_reason = (msg.get("Reason") or "") if line.paused else ""
        if line.paused:
            line.last_pause = int(time.time())
        word = "paused" if line.paused else "unpaused"
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, f"Interface {word} successfully")))
        device = f"Queue:{self.pbx.config.queue_name}_pause_{line.phone.endpoint}"
        self.pbx.emit(events.device_state(device, "INUSE" if line.paused else "NOT_INUSE"))
        self._member_event(ami.EVENT_QUEUE_MEMBER_PAUSE, line)

    async def queue_add(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        await self._queue_membership(session, msg, add=True)

    async def queue_remove(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        await self._queue_membership(session, msg, add=False)

    async def _queue_membership(
        self, session: AmiSession, msg: ami.AmiMessage, *, add: bool
    ) -> None:
        verb = "add" if add else "remove"
        interface = msg.get(ami.HEADER_INTERFACE)
        if not interface:
            session.send(error(msg, "'Interface' not specified."))
            return
        if (msg.get(ami.HEADER_QUEUE) or "") != self.pbx.config.queue_name:
            session.send(
                error(
                    msg,
                    f"Unable to {verb} interface {'to' if add else 'from'} queue: No such queue",
                )
            )
            return
        line = self.pbx.book.get(interface)
        if line is None or line.in_queue == add:
            reason = "Already there" if add else "Not there"
            session.send(error(msg, f"Unable to {verb} interface: {reason}"))
            return
        line.in_queue = add
        text = "Added interface to queue" if add else "Removed interface from queue"
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, text)))
        self._member_event(
            ami.EVENT_QUEUE_MEMBER_ADDED if add else ami.EVENT_QUEUE_MEMBER_REMOVED, line
        )

    def _member_event(self, name: str, line: PhoneLine) -> None:
        fields = _member_fields(line)
        self.pbx.emit(
            [
                *events.head(name, events.AGENT),
                (ami.HEADER_QUEUE, self.pbx.config.queue_name),
                ("MemberName", line.phone.display_name),
                (ami.HEADER_INTERFACE, line.phone.endpoint),
                *fields[1:-1],
                ("Ringinuse", "0"),
                fields[-1],
            ]
        )

    async def device_state_list(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        aid, queue = msg.action_id, self.pbx.config.queue_name
        states = [
            (f"Queue:{queue}_pause_{line.phone.endpoint}", "INUSE" if line.paused else "NOT_INUSE")
            for line in self.pbx.book
        ]
        states += [(line.phone.endpoint, line.device_state) for line in self.pbx.book]
        states.append((f"Queue:{queue}_avail", "NOT_INUSE"))
        items = [events.device_state(device, state, aid or "") for device, state in states]
        if aid is None:
            items = [[p for p in item if p[0] != ami.HEADER_ACTION_ID] for item in items]
        send_list(
            session,
            msg,
            "Device State Changes will follow",
            items,
            ami.EVENT_DEVICE_STATE_LIST_COMPLETE,
        )


def _member_fields(line: PhoneLine) -> Pairs:
    """StateInterface ... Wrapuptime, as QueueMember and the QueueMember* events carry them."""
    return [
        ("Location", line.phone.endpoint),
        ("StateInterface", line.phone.endpoint),
        ("Membership", "static"),
        ("Penalty", "0"),
        ("CallsTaken", str(line.calls_taken)),
        ("LastCall", str(line.last_call)),
        ("LastPause", str(line.last_pause)),
        ("LoginTime", str(line.login_time)),
        ("InCall", "1" if line.state == "inuse" else "0"),
        (ami.HEADER_STATUS, str(QUEUE_STATUS[line.device_state])),
        (ami.HEADER_PAUSED, "1" if line.paused else "0"),
        (ami.HEADER_PAUSED_REASON, line.paused_reason),
        ("Wrapuptime", "0"),
    ]
