"""AMI actions after login: replies in Asterisk 20's field order (ami_*.jsonl).

List actions answer `EventList: start`, then items, then `...Complete`; the ActionID is the
second line of CoreShowChannel/DeviceStateChange items and the last line of Status,
QueueParams, QueueMember and QueueSummary items.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from telephony import ami_codec as ami
from telephony.emulator import atxfer, events, originate
from telephony.emulator.ami_queue import QueueActions
from telephony.emulator.ami_server import (
    AmiServer,
    AmiSession,
    aid_tail,
    error,
    item_head,
    parse_event_mask,
    response,
    send_list,
)
from telephony.emulator.channel import Channel
from telephony.emulator.contexts import Contexts
from telephony.emulator.pbx import Pbx
from telephony.emulator.variables import get_var

OK: Final = ami.RESPONSE_SUCCESS
LIST_COMMANDS_HINT: Final = "Use Action: ListCommands to show available commands."
#: What Asterisk's ``ast_true`` takes for yes.
AST_TRUE: Final = frozenset({"yes", "true", "y", "t", "1", "on"})
#: What its ``ast_false`` takes for no (MixMonitorMute: anything else mutes).
AST_FALSE: Final = frozenset({"no", "false", "n", "f", "0", "off"})
VERSION_LINE: Final = "Asterisk 20.20.1 built by emulator @ hotline on a x86_64 running Linux"


def mute_direction(variable: str) -> str | None:
    """``MUTEAUDIO(in)`` -> ``in``; None for a plain variable."""
    name, _, rest = variable.partition("(")
    if name.upper() != "MUTEAUDIO" or not rest.endswith(")"):
        return None
    return rest[:-1].strip().lower()


@dataclass
class Actions:
    pbx: Pbx
    contexts: Contexts
    server: AmiServer
    run_dialplan: originate.RunDialplan

    def __post_init__(self) -> None:
        self._queue = QueueActions(self.pbx)

    async def dispatch(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        action = (msg.action or "").strip()
        handler = self._handlers().get(action.lower())
        if handler is None:
            text = f"Invalid/unknown command: {action}. {LIST_COMMANDS_HINT}"
            session.send(error(msg, text))
            self.server.broadcast(self.server.bad_request(session, action))
            return
        await handler(session, msg)

    def _handlers(self) -> dict[str, Callable[[AmiSession, ami.AmiMessage], Awaitable[None]]]:
        return {
            ami.ACTION_PING.lower(): self.ping,
            ami.ACTION_EVENTS.lower(): self.events,
            ami.ACTION_COMMAND.lower(): self.command,
            ami.ACTION_CORE_STATUS.lower(): self.core_status,
            ami.ACTION_CORE_SETTINGS.lower(): self.core_settings,
            ami.ACTION_CORE_SHOW_CHANNELS.lower(): self.core_show_channels,
            ami.ACTION_STATUS.lower(): self.status,
            ami.ACTION_GETVAR.lower(): self.getvar,
            ami.ACTION_SETVAR.lower(): self.setvar,
            ami.ACTION_HANGUP.lower(): self.hangup,
            ami.ACTION_REDIRECT.lower(): self.redirect,
            ami.ACTION_ORIGINATE.lower(): self.originate,
            ami.ACTION_MIXMONITOR_MUTE.lower(): self.mixmonitor_mute,
            ami.ACTION_ATXFER.lower(): self.atxfer,
            ami.ACTION_CANCEL_ATXFER.lower(): self.cancel_atxfer,
            ami.ACTION_PLAY_DTMF.lower(): self.play_dtmf,
            ami.ACTION_QUEUE_STATUS.lower(): self._queue.queue_status,
            ami.ACTION_QUEUE_SUMMARY.lower(): self._queue.queue_summary,
            ami.ACTION_QUEUE_PAUSE.lower(): self._queue.queue_pause,
            ami.ACTION_QUEUE_ADD.lower(): self._queue.queue_add,
            ami.ACTION_QUEUE_REMOVE.lower(): self._queue.queue_remove,
            ami.ACTION_DEVICE_STATE_LIST.lower(): self._queue.device_state_list,
        }

    # -- simple ----------------------------------------------------------------------------
    async def ping(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        session.send(
            response(
                msg, OK, (ami.HEADER_PING, "Pong"), (ami.HEADER_TIMESTAMP, f"{time.time():.6f}")
            )
        )

    async def events(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        session.mask = parse_event_mask(msg.get(ami.HEADER_EVENT_MASK))
        state = "Off" if session.mask is not None and not session.mask else "On"
        session.send(response(msg, OK, (ami.HEADER_EVENTS, state)))

    async def command(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        cli = " ".join((msg.get(ami.HEADER_COMMAND) or "").split())
        lines = self._cli(cli)
        status = OK if lines is not None else ami.RESPONSE_ERROR
        if lines is None:
            words = cli.split()
            hint = " ".join(words[:2])
            tail = "for other possible commands"
            lines = [f"No such command '{cli}' (type 'core show help {hint}' {tail})"]
        head = (ami.HEADER_MESSAGE, "Command output follows")
        session.send(response(msg, status, head, *((ami.HEADER_OUTPUT, line) for line in lines)))

    def _cli(self, cli: str) -> list[str] | None:
        if cli == "core show version":
            return [VERSION_LINE]
        if cli == "core show uptime":
            return [f"System uptime: {self.pbx.uptime_s()} seconds"]
        if cli in ("core show channels", "core show channels concise"):
            rows = [
                f"{c.name} {c.context} {c.exten} {c.priority} {c.app}({c.appdata})"
                for c in self.pbx.channels.values()
            ]
            count = len(self.pbx.channels)
            return [
                *rows,
                f"{count} active channel{'s' if count != 1 else ''}",
                f"{count} active call{'s' if count != 1 else ''}",
            ]
        return None

    async def core_status(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        boot = time.time() - self.pbx.uptime_s()
        date, clock = (
            time.strftime("%Y-%m-%d", time.localtime(boot)),
            time.strftime("%H:%M:%S", time.localtime(boot)),
        )
        session.send(
            response(
                msg,
                OK,
                ("CoreStartupDate", date),
                ("CoreStartupTime", clock),
                ("CoreReloadDate", date),
                ("CoreReloadTime", clock),
                ("CoreCurrentCalls", str(len(self.pbx.channels))),
                ("CoreProcessedCalls", str(self.pbx.processed_calls)),
            )
        )

    async def core_settings(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        """As Asterisk 20.20.1 answers (SystemName: asterisk.conf's, empty when unset)."""
        session.send(
            response(
                msg,
                OK,
                ("AMIversion", "9.0.0"),
                ("AsteriskVersion", "20.20.1"),
                ("SystemName", self.pbx.config.system_name),
                ("CoreMaxCalls", "0"),
                ("CoreMaxLoadAvg", "0.000000"),
                ("CoreRunUser", ""),
                ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"),
                ("CoreRealTimeEnabled", "No"),
                ("CoreCDRenabled", "Yes"),
                ("CoreHTTPenabled", "No"),
                ("SoundsSearchCustomDir", "No"),
            )
        )

    # -- channels --------------------------------------------------------------------------
    def _channel(self, session: AmiSession, msg: ami.AmiMessage, missing: str) -> Channel | None:
        name = msg.get(ami.HEADER_CHANNEL)
        if not name:
            session.send(error(msg, missing))
            return None
        ch = self.pbx.find(name)
        if ch is None:
            session.send(error(msg, "No such channel"))
        return ch

    async def core_show_channels(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        items = []
        for ch in list(self.pbx.channels.values()):
            secs = int(ch.age_v())
            duration = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            items.append(
                [
                    *item_head(ami.EVENT_CORE_SHOW_CHANNEL, msg),
                    *events.snapshot(ch),
                    (ami.HEADER_APPLICATION, ch.app),
                    ("ApplicationData", ch.appdata),
                    ("Duration", duration),
                    ("BridgeId", ch.bridge_id),
                ]
            )
        send_list(
            session, msg, "Channels will follow", items, ami.EVENT_CORE_SHOW_CHANNELS_COMPLETE
        )

    async def status(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        if msg.get(ami.HEADER_CHANNEL):
            one = self._channel(session, msg, "")
            if one is None:
                return
            channels = [one]
        else:
            channels = list(self.pbx.channels.values())
        wanted = [v.strip() for v in (msg.get(ami.HEADER_VARIABLES) or "").split(",") if v.strip()]
        items = []
        for ch in channels:
            item = [
                (ami.HEADER_EVENT, ami.EVENT_STATUS),
                (ami.HEADER_PRIVILEGE, "Call"),
                *events.snapshot(ch),
                ("Type", ch.tech),
                ("DNID", ch.dnid),
                ("EffectiveConnectedLineNum", ch.connected_num or events.UNKNOWN),
                ("EffectiveConnectedLineName", ch.connected_name or events.UNKNOWN),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge_id),
                (ami.HEADER_APPLICATION, ch.app),
                (ami.HEADER_DATA, ch.appdata),
                ("Nativeformats", "(ulaw)"),
                ("Readformat", "ulaw"),
                ("Readtrans", ""),
                ("Writeformat", "ulaw"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(ch.age_v()))),
            ]
            item += [(ami.HEADER_VARIABLE, f"{v}={get_var(self.pbx, ch, v) or ''}") for v in wanted]
            items.append(item + aid_tail(msg))
        extra = [(ami.HEADER_ITEMS, str(len(items)))]
        send_list(
            session, msg, "Channel status will follow", items, ami.EVENT_STATUS_COMPLETE, extra
        )

    async def getvar(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        variable = msg.get(ami.HEADER_VARIABLE)
        if not variable:
            session.send(error(msg, "No variable specified"))
            return
        ch = None
        if msg.get(ami.HEADER_CHANNEL):
            ch = self._channel(session, msg, "")
            if ch is None:
                return
        value = get_var(self.pbx, ch, variable) or ""
        session.send(response(msg, OK, (ami.HEADER_VARIABLE, variable), (ami.HEADER_VALUE, value)))

    async def setvar(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        variable = msg.get(ami.HEADER_VARIABLE)
        if not variable:
            session.send(error(msg, "No variable specified"))
            return
        value = msg.get(ami.HEADER_VALUE) or ""
        if msg.get(ami.HEADER_CHANNEL):
            ch = self._channel(session, msg, "")
            if ch is None:
                return
            direction = mute_direction(variable)
            if direction is not None:  # res_mutestream's function, not a variable
                if not ch.mute(direction, value.lower() in AST_TRUE):
                    session.send(error(msg, "Variable not set"))
                    return
            else:
                ch.set_var(variable, value)
        elif mute_direction(variable) is not None:  # res_mutestream: "No channel was provided"
            session.send(error(msg, "Variable not set"))
            return
        else:
            self.pbx.globals[variable] = value
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "Variable Set")))

    async def mixmonitor_mute(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        """app_mixmonitor's ``manager_mute_mixmonitor``: its checks in its order."""
        direction = (msg.get(ami.HEADER_DIRECTION) or "").lower()
        if not direction:
            session.send(error(msg, "No direction specified. Must be read, write or both"))
            return
        if direction not in ("read", "write", "both"):
            session.send(error(msg, "Invalid direction specified. Must be read, write or both"))
            return
        if not msg.get(ami.HEADER_CHANNEL):
            session.send(error(msg, "No channel specified"))
            return
        state = msg.get(ami.HEADER_STATE) or ""
        if not state:
            session.send(error(msg, "No state specified"))
            return
        ch = self._channel(session, msg, "No channel specified")
        if ch is None:
            return
        # the emulator models "both" (what hotline sends): read or write alone mute it too
        if not ch.mute_recordings(state.strip().lower() not in AST_FALSE):
            session.send(error(msg, "Cannot set mute flag"))
            return
        session.send(response(msg, OK))

    # -- attended transfer (manager.c action_atxfer / action_cancel_atxfer, app_senddtmf) ----
    async def atxfer(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        name = msg.get(ami.HEADER_CHANNEL)
        if not name:
            session.send(error(msg, "No channel specified"))
            return
        if not msg.get(ami.HEADER_EXTEN):
            session.send(error(msg, "No extension specified"))
            return
        ch = self.pbx.find(name)
        if ch is None:
            session.send(error(msg, "Channel specified does not exist"))
            return
        atxfer.start(self.pbx, ch.name, msg.get(ami.HEADER_EXTEN) or "")
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "Atxfer successfully queued")))

    async def cancel_atxfer(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        name = msg.get(ami.HEADER_CHANNEL)
        if not name:
            session.send(error(msg, "No channel specified"))
            return
        ch = self.pbx.find(name)
        if ch is None:
            session.send(error(msg, "Channel specified does not exist"))
            return
        atxfer.cancel(self.pbx, ch.name)
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "CancelAtxfer successfully queued")))

    async def play_dtmf(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        ch = self.pbx.find(msg.get(ami.HEADER_CHANNEL) or "")
        if ch is None:
            session.send(error(msg, "Channel not found"))
            return
        digit = msg.get(ami.HEADER_DIGIT) or ""
        if not digit:
            session.send(error(msg, "No digit specified"))
            return
        if (msg.get(ami.HEADER_RECEIVE) or "").strip().lower() in AST_TRUE:
            # queued as if the phone sent it: read by an AGI command waiting for keys
            # (RECORD FILE's escape digits too) or by the bridge's attended transfer
            ch.offer_digit(digit[0])
            atxfer.key(self.pbx, ch.name, digit[0])
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "DTMF successfully queued")))

    async def hangup(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        ch = self._channel(session, msg, "No channel specified")
        if ch is None:
            return
        cause = msg.get(ami.HEADER_CAUSE) or ""
        ch.hang_up(int(cause) if cause.isdigit() else 16, by="ami")
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "Channel Hungup")))

    async def redirect(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        name = msg.get(ami.HEADER_CHANNEL)
        if not name:
            session.send(error(msg, "Channel not specified"))
            return
        ch = self.pbx.find(name)
        if ch is None:
            session.send(error(msg, f"Channel does not exist: {name}"))
            return
        if ch.hung_up:
            session.send(error(msg, "Redirect failed, channel not up."))
            return
        exten = msg.get(ami.HEADER_EXTEN) or ""
        priority = msg.get(ami.HEADER_PRIORITY) or "1"
        if not exten or not priority.isdigit():
            session.send(error(msg, "Redirect failed"))
            return
        ch.redirect(msg.get(ami.HEADER_CONTEXT) or ch.context, exten, int(priority))
        session.send(response(msg, OK, (ami.HEADER_MESSAGE, "Redirect successful")))

    async def originate(self, session: AmiSession, msg: ami.AmiMessage) -> None:
        req = originate.parse(msg)
        if isinstance(req, str):
            session.send(error(msg, req))
            return
        queued = response(msg, OK, (ami.HEADER_MESSAGE, "Originate successfully queued"))
        if (msg.get(ami.HEADER_ASYNC) or "").lower() in ("true", "yes", "1"):
            session.send(queued)
            task = originate.originate(self.pbx, req, self.run_dialplan, emit_response=True)
            self.pbx.spawn(task)
            return
        session.hold_events()
        try:
            answered = await originate.originate(
                self.pbx, req, self.run_dialplan, emit_response=False
            )
            session.send(queued if answered else error(msg, "Originate failed"))
        finally:
            session.release_events()
