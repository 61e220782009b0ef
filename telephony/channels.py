"""Asterisk's live channels as the service knows them, kept true across AMI reconnects.

Channel events (Newchannel, Newstate, Hangup) keep the table current. While the AMI link is
down events are lost, so every login rebuilds the table from ``CoreShowChannels``: a channel
that ended meanwhile disappears, one that started appears. The ACD's watchdog reconciles
agents and calls against this table, which is how a stale state repairs itself.

``ChannelTable`` is pure (messages in, state out); ``ChannelTracker`` ties it to an
``AmiClient``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from telephony.ami_client import AmiClient, AmiError
from telephony.ami_codec import (
    ACTION_CORE_SHOW_CHANNELS,
    EVENT_CORE_SHOW_CHANNEL,
    EVENT_HANGUP,
    EVENT_NEWCHANNEL,
    EVENT_NEWSTATE,
    AmiMessage,
)

log = logging.getLogger(__name__)

#: Events that change the table; everything else is ignored by it.
TRACKED_EVENTS = (EVENT_NEWCHANNEL, EVENT_NEWSTATE, EVENT_HANGUP)


@dataclass(frozen=True)
class LiveChannel:
    """One channel as Asterisk last described it (the standard snapshot block)."""

    uniqueid: str
    name: str
    linkedid: str
    state: int
    state_desc: str
    caller_id: str
    context: str
    exten: str

    @classmethod
    def from_message(cls, message: AmiMessage) -> LiveChannel | None:
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            return None
        state = message.get("ChannelState", "")
        return cls(
            uniqueid=uniqueid,
            name=message.get("Channel", "") or "",
            linkedid=message.get("Linkedid", uniqueid) or uniqueid,
            state=int(state) if state and state.isdigit() else -1,
            state_desc=message.get("ChannelStateDesc", "") or "",
            caller_id=message.get("CallerIDNum", "") or "",
            context=message.get("Context", "") or "",
            exten=message.get("Exten", "") or "",
        )


@dataclass(frozen=True)
class Resync:
    """What a rebuild from ``CoreShowChannels`` changed: events the service missed."""

    appeared: tuple[LiveChannel, ...]
    vanished: tuple[LiveChannel, ...]


class ChannelTable:
    """Live channels by uniqueid, fed with AMI messages."""

    def __init__(self) -> None:
        self._channels: dict[str, LiveChannel] = {}

    def __len__(self) -> int:
        return len(self._channels)

    def __iter__(self) -> Iterator[LiveChannel]:
        return iter(list(self._channels.values()))

    def __contains__(self, uniqueid: object) -> bool:
        return uniqueid in self._channels

    def get(self, uniqueid: str) -> LiveChannel | None:
        return self._channels.get(uniqueid)

    def by_name(self, name: str) -> LiveChannel | None:
        return next((c for c in self._channels.values() if c.name == name), None)

    def apply(self, message: AmiMessage) -> None:
        """Apply one channel event; a Hangup for an unknown channel is a no-op."""
        channel = LiveChannel.from_message(message)
        if channel is None:
            return
        if message.event == EVENT_HANGUP:
            self._channels.pop(channel.uniqueid, None)
        elif message.event in (EVENT_NEWCHANNEL, EVENT_NEWSTATE):
            self._channels[channel.uniqueid] = channel

    def replace(self, snapshot: Iterable[AmiMessage]) -> Resync:
        """Replace the table with a ``CoreShowChannels`` answer; say what changed."""
        fresh: dict[str, LiveChannel] = {}
        for item in snapshot:
            channel = LiveChannel.from_message(item)
            if channel is not None:
                fresh[channel.uniqueid] = channel
        appeared = tuple(c for u, c in fresh.items() if u not in self._channels)
        vanished = tuple(c for u, c in self._channels.items() if u not in fresh)
        self._channels = fresh
        return Resync(appeared=appeared, vanished=vanished)


ResyncListener = Callable[[Resync], None]


class ChannelTracker:
    """Keeps a ``ChannelTable`` true: live events, and a rebuild after every login."""

    def __init__(self, ami: AmiClient, table: ChannelTable | None = None) -> None:
        self._ami = ami
        self.table = table if table is not None else ChannelTable()
        self._listeners: list[ResyncListener] = []
        self._buffer: list[AmiMessage] | None = None  # events that arrive during a rebuild
        self._unsubscribe = [ami.on_event(name, self._on_event) for name in TRACKED_EVENTS]
        ami.on_connected(self._on_connected)
        self.resyncs = 0

    def on_resync(self, listener: ResyncListener) -> None:
        """``listener(resync)`` after each rebuild: the ACD repairs what it missed."""
        self._listeners.append(listener)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    async def resync(self) -> Resync | None:
        """Rebuild from ``CoreShowChannels``; None if Asterisk could not be asked."""
        self._buffer = []
        try:
            answer = await self._ami.list_action(ACTION_CORE_SHOW_CHANNELS)
        except (AmiError, TimeoutError) as exc:
            log.warning("could not list Asterisk's channels to resync: %s", exc)
            return None
        finally:
            buffered, self._buffer = self._buffer, None
        items = [m for m in answer.events if m.event == EVENT_CORE_SHOW_CHANNEL]
        result = self.table.replace(items)
        for message in buffered:  # events newer than the snapshot win
            self.table.apply(message)
        self.resyncs += 1
        log.info(
            "channels resynchronised from Asterisk: %d live, %d appeared, %d vanished",
            len(self.table),
            len(result.appeared),
            len(result.vanished),
        )
        for listener in self._listeners:
            listener(result)
        return result

    def _on_event(self, message: AmiMessage) -> None:
        if self._buffer is not None:
            self._buffer.append(message)
        self.table.apply(message)

    async def _on_connected(self, reconnected: bool) -> None:
        await self.resync()
