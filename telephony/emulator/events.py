"""AMI event builders with Asterisk 20's exact field order (see ami_call_flow.jsonl).

Every builder returns the ordered (key, value) pairs of one message; the AMI server encodes
them. Field names that only appear in one builder are spelled there, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telephony import ami_codec as ami

if TYPE_CHECKING:
    from telephony.emulator.channel import Channel

Pairs = list[tuple[str, str]]

UNKNOWN: Final = "<unknown>"
STATE_DESC: Final = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing"}
STATE_DESC_UP: Final = {6: "Up", 7: "Busy", 8: "Dialing Offhook", 9: "Pre-ring"}
CAUSE_TEXT: Final = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    127: "Interworking, unspecified",
}
# privilege classes
CALL: Final = "call"
DIALPLAN: Final = "dialplan"
AGI: Final = "agi"
DTMF: Final = "dtmf"
SYSTEM: Final = "system"
SECURITY: Final = "security"
CLASS: Final = "class"
AGENT: Final = "agent"
CDR: Final = "cdr"


def state_desc(state: int) -> str:
    return STATE_DESC.get(state) or STATE_DESC_UP.get(state, "Unknown")


def cause_text(cause: int) -> str:
    return CAUSE_TEXT.get(cause, "Unknown")


def head(name: str, privilege: str) -> Pairs:
    return [(ami.HEADER_EVENT, name), (ami.HEADER_PRIVILEGE, f"{privilege},all")]


def snapshot(ch: Channel, prefix: str = "") -> Pairs:
    """The standard channel block (Channel ... Linkedid), optionally `Dest`-prefixed."""
    return [
        (prefix + ami.HEADER_CHANNEL, ch.name),
        (prefix + ami.HEADER_CHANNEL_STATE, str(ch.state)),
        (prefix + ami.HEADER_CHANNEL_STATE_DESC, state_desc(ch.state)),
        (prefix + ami.HEADER_CALLER_ID_NUM, ch.caller_num or UNKNOWN),
        (prefix + ami.HEADER_CALLER_ID_NAME, ch.caller_name or UNKNOWN),
        (prefix + ami.HEADER_CONNECTED_LINE_NUM, ch.connected_num or UNKNOWN),
        (prefix + ami.HEADER_CONNECTED_LINE_NAME, ch.connected_name or UNKNOWN),
        (prefix + ami.HEADER_LANGUAGE, ch.language),
        (prefix + ami.HEADER_ACCOUNT_CODE, ch.accountcode),
        (prefix + ami.HEADER_CONTEXT, ch.context),
        (prefix + ami.HEADER_EXTEN, ch.exten),
        (prefix + ami.HEADER_PRIORITY, str(ch.priority)),
        (prefix + ami.HEADER_UNIQUEID, ch.uniqueid),
        (prefix + ami.HEADER_LINKEDID, ch.linkedid),
    ]


def channel_event(name: str, privilege: str, ch: Channel, *extra: tuple[str, str]) -> Pairs:
    return [*head(name, privilege), *snapshot(ch), *extra]


def newexten(ch: Channel, app: str, data: str) -> Pairs:
    return channel_event(
        ami.EVENT_NEWEXTEN,
        DIALPLAN,
        ch,
        ("Extension", ch.exten),
        (ami.HEADER_APPLICATION, app),
        ("AppData", data),
    )


def hangup(ch: Channel, cause: int) -> Pairs:
    return channel_event(
        ami.EVENT_HANGUP,
        CALL,
        ch,
        (ami.HEADER_CAUSE, str(cause)),
        (ami.HEADER_CAUSE_TXT, cause_text(cause)),
    )


def hangup_request(ch: Channel, cause: int, *, soft: bool) -> Pairs:
    name = ami.EVENT_SOFT_HANGUP_REQUEST if soft else ami.EVENT_HANGUP_REQUEST
    return channel_event(name, CALL, ch, (ami.HEADER_CAUSE, str(cause)))


def var_set(ch: Channel, variable: str, value: str) -> Pairs:
    return channel_event(
        ami.EVENT_VAR_SET, DIALPLAN, ch, (ami.HEADER_VARIABLE, variable), (ami.HEADER_VALUE, value)
    )


def dtmf(ch: Channel, digit: str, *, end: bool) -> Pairs:
    if not end:
        return channel_event(
            ami.EVENT_DTMF_BEGIN,
            DTMF,
            ch,
            (ami.HEADER_DIGIT, digit),
            (ami.HEADER_DIRECTION, "Received"),
        )
    return channel_event(
        ami.EVENT_DTMF_END,
        DTMF,
        ch,
        (ami.HEADER_DIGIT, digit),
        ("DurationMs", "100"),
        (ami.HEADER_DIRECTION, "Received"),
    )


def agi_exec(ch: Channel, command_id: int, command: str, end: tuple[int, str] | None) -> Pairs:
    """AGIExecStart, or AGIExecEnd when `end` = (ResultCode, Result text)."""
    name = ami.EVENT_AGI_EXEC_START if end is None else ami.EVENT_AGI_EXEC_END
    pairs = channel_event(
        name, AGI, ch, ("CommandId", str(command_id)), (ami.HEADER_COMMAND, command)
    )
    if end is not None:
        pairs += [("ResultCode", str(end[0])), ("Result", end[1])]
    return pairs


def dial(name: str, caller: Channel | None, dest: Channel, *extra: tuple[str, str]) -> Pairs:
    """DialBegin/DialState/DialEnd (and queue Agent* events): caller block, then `Dest` block.

    An originated call has no caller: the event starts at the Dest block."""
    caller_block = snapshot(caller) if caller is not None else []
    privilege = AGENT if name.startswith("Agent") else CALL
    return [*head(name, privilege), *caller_block, *snapshot(dest, "Dest"), *extra]


@dataclass
class Bridge:
    uniqueid: str
    technology: str = "simple_bridge"
    num_channels: int = 0


def bridge_block(bridge: Bridge) -> Pairs:
    return [
        (ami.HEADER_BRIDGE_UNIQUEID, bridge.uniqueid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", bridge.technology),
        ("BridgeCreator", UNKNOWN),
        ("BridgeName", UNKNOWN),
        ("BridgeNumChannels", str(bridge.num_channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_event(name: str, bridge: Bridge, ch: Channel | None = None) -> Pairs:
    return [*head(name, CALL), *bridge_block(bridge), *(snapshot(ch) if ch is not None else [])]


def device_state(device: str, state: str, action_id: str | None = None) -> Pairs:
    """DeviceStateChange: an event (Privilege) or a DeviceStateList item (ActionID second)."""
    if action_id is None:
        first = head(ami.EVENT_DEVICE_STATE_CHANGE, CALL)
    else:
        first = [
            (ami.HEADER_EVENT, ami.EVENT_DEVICE_STATE_CHANGE),
            (ami.HEADER_ACTION_ID, action_id),
        ]
    return [*first, (ami.HEADER_DEVICE, device), (ami.HEADER_STATE, state)]


def contact_status(endpoint: str, uri: str, status: str) -> Pairs:
    """ContactStatus (res_pjsip): a phone's contact registered (NonQualified, then
    Reachable once qualified), Unreachable, or Removed, as Asterisk 20 tells it."""
    return [
        *head(ami.EVENT_CONTACT_STATUS, SYSTEM),
        ("URI", uri),
        ("ContactStatus", status),
        ("AOR", endpoint),
        ("EndpointName", endpoint),
        ("RoundtripUsec", "0" if status != "Reachable" else "1200"),
    ]


def fully_booted(uptime: int, *, booting: bool = False) -> Pairs:
    """The one synthesized at login (Uptime first) or the real boot one (Status first)."""
    status = ("Status", "Fully Booted")
    times = [("Uptime", str(uptime)), ("LastReload", str(uptime))]
    body = [status, *times] if booting else [*times, status]
    return [*head(ami.EVENT_FULLY_BOOTED, SYSTEM), *body]


def shutdown(*, restart: bool) -> Pairs:
    return [
        *head(ami.EVENT_SHUTDOWN, SYSTEM),
        (ami.HEADER_SHUTDOWN, "Cleanly"),
        (ami.HEADER_RESTART, "True" if restart else "False"),
    ]


def talking_start(ch: Channel) -> Pairs:
    """func_talkdetect: the caller's first frame above the energy threshold (Asterisk 20's
    stasis_channels.c sends it as a ``call`` event)."""
    return channel_event(ami.EVENT_CHANNEL_TALKING_START, CALL, ch)


def talking_stop(ch: Channel, duration_ms: int) -> Pairs:
    """func_talkdetect: the silence after the talk lasted the silence threshold;
    ``Duration`` is the talk's ms (from its start to where the silence began)."""
    return channel_event(ami.EVENT_CHANNEL_TALKING_STOP, CALL, ch, ("Duration", str(duration_ms)))


def musiconhold(ch: Channel, start: bool, klass: str) -> Pairs:
    if start:
        return channel_event(ami.EVENT_MUSIC_ON_HOLD_START, CALL, ch, ("Class", klass))
    return channel_event(ami.EVENT_MUSIC_ON_HOLD_STOP, CALL, ch)


def cdr(fields: Sequence[tuple[str, str]]) -> Pairs:
    return [*head(ami.EVENT_CDR, CDR), *fields]
