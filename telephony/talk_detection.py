"""A caller's voice heard by Asterisk while a prompt plays: what spoken barge-in stands on.

AGI runs one command at a time and tells nothing while ``STREAM FILE`` plays, except a key.
Asterisk's ``TALK_DETECT`` function (func_talkdetect) watches the caller's audio on the
channel it is set on and raises ``ChannelTalkingStart`` over AMI on the first frame louder
than its energy threshold (dsp.conf's ``silencethreshold``, 256, unless given). This module
turns those events into one ``asyncio.Event`` per watched channel, by uniqueid; the speech
turn sets ``TALK_DETECT`` over AGI, plays its prompt and stops it when the event comes.

The events need the AMI user's ``read=`` to include ``class`` and an ``eventfilter=`` that
lets ``ChannelTalkingStart`` through (hotline.ami_events). Without AMI nothing is heard and
prompts play to their end, as without barge-in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from telephony.ami_codec import EVENT_CHANNEL_TALKING_START, HEADER_UNIQUEID, AmiMessage

#: ``SET VARIABLE`` names that turn talk detection on (value ``silence_ms,energy``) and off.
TALK_DETECT_SET: Final = "TALK_DETECT(set)"
TALK_DETECT_REMOVE: Final = "TALK_DETECT(remove)"
#: func_talkdetect's own silence threshold: when it would raise ``ChannelTalkingStop``.
SILENCE_MS: Final = 2500


def talk_detect_value(energy: int) -> str:
    """``TALK_DETECT(set)``'s value: Asterisk's silence time, and the energy above which a
    frame is talk (func_talkdetect passes it to ``ast_dsp_set_threshold``)."""
    return f"{SILENCE_MS},{energy}"


class OnEvent(Protocol):
    """What this module needs of the AMI client."""

    def on_event(self, name: str, callback: Callable[[AmiMessage], None]) -> Callable[[], None]: ...


class TalkEvents:
    """``ChannelTalkingStart`` by channel uniqueid, for the channels being watched."""

    def __init__(self, ami: OnEvent) -> None:
        self._watched: dict[str, asyncio.Event] = {}
        ami.on_event(EVENT_CHANNEL_TALKING_START, self._saw)

    @contextmanager
    def watch(self, uniqueid: str) -> Iterator[asyncio.Event]:
        """An event set when the channel's caller starts talking, while the block runs."""
        talking = asyncio.Event()
        self._watched[uniqueid] = talking
        try:
            yield talking
        finally:
            if self._watched.get(uniqueid) is talking:
                del self._watched[uniqueid]

    def _saw(self, message: AmiMessage) -> None:
        talking = self._watched.get(message.get(HEADER_UNIQUEID) or "")
        if talking is not None:
            talking.set()
