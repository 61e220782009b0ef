"""The PBX core: channel factory and registry, counters, globals, AstDB and the event bus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telephony import ami_codec as ami
from telephony.emulator import events
from telephony.emulator.channel import Channel
from telephony.emulator.clock import Clock
from telephony.emulator.events import Pairs
from telephony.emulator.media import Prompts
from telephony.emulator.model import Customer
from telephony.emulator.phones import PhoneBook, PhoneLine

if TYPE_CHECKING:
    from telephony.emulator.atxfer import Consult
    from telephony.emulator.dial import Leg

log = logging.getLogger(__name__)

Listener = Callable[[Pairs], None]


@dataclass
class PbxConfig:
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    fallback_context: str = "hotline-fallback"
    queue_name: str = "hotline"
    queue_timeout_s: float = 60.0
    member_timeout_s: float = 15.0
    queue_retry_s: float = 5.0
    varset_events: bool = False
    agi_connect_timeout_s: float = 2.0  # real seconds
    trunk: str = "PJSIP/trunk"  # the endpoint customers are dialled over (`tech/number@name`)
    system_name: str = ""  # asterisk.conf systemname: uniqueids are `name-epoch.seq`


@dataclass
class Pbx:
    """Shared state of one emulated Asterisk (channel counters reset on restart, as Asterisk's)."""

    clock: Clock
    book: PhoneBook
    config: PbxConfig = field(default_factory=PbxConfig)
    prompts: Prompts = field(default_factory=Prompts)
    queue_callers: list[Channel] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    astdb: dict[tuple[str, str], str] = field(default_factory=dict)
    processed_calls: int = 0
    booted_v: float = 0.0
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    #: Customers beyond the trunk, by number (callbacks dial them).
    customers: dict[str, Customer] = field(default_factory=dict)
    #: Agents' legs in a Dial bridge, by channel name (AMI Atxfer finds them here).
    bridged: dict[str, Leg] = field(default_factory=dict)
    #: Attended transfers under way, by the agent's channel name (``atxfer``).
    consults: dict[str, Consult] = field(default_factory=dict)
    _counter: int = 0
    _listeners: list[Listener] = field(default_factory=list)

    # -- events ----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, pairs: Pairs) -> None:
        for listener in list(self._listeners):
            try:
                listener(pairs)
            except Exception:  # a broken listener must not break the call; task boundary-like
                log.exception("event listener failed")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """An owned background task (cancelled by the emulator's stop); failures are logged."""
        task = asyncio.create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator task failed", exc_info=task.exception())

    # -- channels --------------------------------------------------------------------------
    def reset_counters(self) -> None:
        self._counter = 0
        self.booted_v = self.clock.now_v()

    def uptime_s(self) -> int:
        return int(self.clock.now_v() - self.booted_v)

    def new_channel(
        self,
        tech: str,
        peer: str,
        *,
        linkedid: str = "",
        context: str,
        exten: str,
        caller_num: str = "",
        caller_name: str = "",
        language: str = "en",
        uniqueid: str | None = None,
    ) -> Channel:
        """A new channel named like chan_sip does (`SIP/peer-0000000a`, uniqueid `epoch.10`
        unless Originate's `ChannelId` chose one)."""
        seq = self._counter
        self._counter += 1
        prefix = f"{self.config.system_name}-" if self.config.system_name else ""
        uniqueid = uniqueid or f"{prefix}{int(self.clock.epoch())}.{seq}"
        ch = Channel(
            name=f"{tech}/{peer}-{seq:08x}",
            uniqueid=uniqueid,
            clock=self.clock,
            emit=self.emit,
            linkedid=linkedid,
            tech=tech,
            caller_num=caller_num,
            caller_name=caller_name,
            language=language,
            context=context,
            exten=exten,
            varset_events=self.config.varset_events,
        )
        self.channels[ch.name] = ch
        self.emit(events.channel_event(ami.EVENT_NEWCHANNEL, events.CALL, ch))
        return ch

    def destroy(self, ch: Channel, cause: int) -> None:
        """Final Hangup event; the channel leaves the registry."""
        if ch.gone.is_set():
            return
        if self.channels.get(ch.name) is ch:
            del self.channels[ch.name]
        ch.close_recordings()  # MixMonitor closes its files as the channel goes
        self.emit(events.hangup(ch, cause))
        ch.gone.set()

    def customer_line(self, target: str) -> PhoneLine | None:
        """`PJSIP/<number>@trunk`: a fresh line to that customer (a trunk carries many
        calls at once, so each dial gets its own), or None if nobody has that number."""
        tech, _, rest = target.partition("/")
        number, _, trunk = rest.partition("@")
        trunk_tech, _, trunk_name = self.config.trunk.partition("/")
        customer = self.customers.get(number)
        if customer is None or (tech.lower(), trunk) != (trunk_tech.lower(), trunk_name):
            return None
        return PhoneLine(customer.line_phone(self.config.trunk), in_queue=False)

    def find(self, name: str) -> Channel | None:
        ch = self.channels.get(name)
        if ch is None:  # Asterisk matches channel names case-insensitively
            lowered = name.lower()
            ch = next((c for n, c in self.channels.items() if n.lower() == lowered), None)
        return ch
