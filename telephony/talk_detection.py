"""A caller's voice heard by Asterisk while a prompt plays: what spoken barge-in stands on.

AGI runs one command at a time and tells nothing while ``STREAM FILE`` plays, except a key.
Asterisk's ``TALK_DETECT`` function (func_talkdetect) watches the caller's audio on the
channel it is set on and raises ``ChannelTalkingStart`` over AMI on the first frame louder
than its energy threshold (dsp.conf's ``silencethreshold``, 256, unless given). This module
turns those events into a ``Talk`` (started, stopped) per watched channel, by uniqueid; the
speech turn sets ``TALK_DETECT`` over AGI, plays its prompt and stops it when talk starts.

``ChannelTalkingStop`` (the caller quiet for the silence time given to ``TALK_DETECT``)
ends a spoken answer when the flow's ``speech.endpoint`` is ``talk``: hotline then sends
AMI ``PlayDTMF`` of ``STOP_KEY`` with ``Receive: yes`` (app_senddtmf), which ends ``RECORD
FILE`` as if the caller had pressed it. ``RECORD FILE``'s own silence detection (``s=``)
reads the caller at 8 kHz (res_agi.c sets the read format to slin for its DSP) and counts
in whole seconds; ended this way, the recording keeps a wideband caller's 16 kHz and stops
well under a second after the last word.

The events need the AMI user's ``read=`` to include ``call`` (their class in Asterisk 20's
code; its docs say ``class``) and an ``eventfilter=`` that lets ``ChannelTalkingStart`` and
``ChannelTalkingStop`` through (hotline.ami_events). Without AMI nothing is heard: prompts
play to their end, as without barge-in, and answers end on RECORD FILE's silence detection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from telephony.ami_codec import (
    EVENT_CHANNEL_TALKING_START,
    EVENT_CHANNEL_TALKING_STOP,
    HEADER_UNIQUEID,
    AmiMessage,
)
from telephony.call_actions import keys_received

#: ``SET VARIABLE`` names that turn talk detection on (value ``silence_ms,energy``) and off.
TALK_DETECT_SET: Final = "TALK_DETECT(set)"
TALK_DETECT_REMOVE: Final = "TALK_DETECT(remove)"
#: func_talkdetect's own silence threshold: when it would raise ``ChannelTalkingStop``.
SILENCE_MS: Final = 2500
#: The key hotline "receives" on the caller's channel to end a recording: no phone's
#: keypad has it, so it is never a caller's answer.
STOP_KEY: Final = "D"
#: How long hotline waits for Asterisk to take ``PlayDTMF``.
_ACTION_TIMEOUT_S = 2.0


def talk_detect_value(energy: int, silence_ms: int = SILENCE_MS) -> str:
    """``TALK_DETECT(set)``'s value: the silence after which the caller has stopped, and the
    energy above which a frame is talk (func_talkdetect passes it to ``ast_dsp_set_threshold``)."""
    return f"{silence_ms},{energy}"


class Ami(Protocol):
    """What this module needs of the AMI client."""

    @property
    def connected(self) -> bool: ...

    def on_event(self, name: str, callback: Callable[[AmiMessage], None]) -> Callable[[], None]: ...

    async def action(
        self, name: str, /, *, timeout_s: float | None = None, **fields: str
    ) -> AmiMessage: ...


class Talk:
    """One watched channel: its caller started talking, and stopped."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()


class TalkEvents:
    """``ChannelTalkingStart`` and ``...Stop`` by channel uniqueid, for the channels watched."""

    def __init__(self, ami: Ami) -> None:
        self._ami = ami
        self._watched: dict[str, Talk] = {}
        ami.on_event(EVENT_CHANNEL_TALKING_START, self._started)
        ami.on_event(EVENT_CHANNEL_TALKING_STOP, self._stopped)

    @contextmanager
    def watch(self, uniqueid: str) -> Iterator[Talk]:
        """The channel's caller starting and stopping to talk, while the block runs."""
        talk = Talk()
        self._watched[uniqueid] = talk
        try:
            yield talk
        finally:
            if self._watched.get(uniqueid) is talk:
                del self._watched[uniqueid]

    @property
    def connected(self) -> bool:
        """Whether Asterisk's events can be heard and actions sent now."""
        return self._ami.connected

    async def end_recording(self, channel: str) -> None:
        """``RECORD FILE`` on ``channel`` ends as if the caller pressed ``STOP_KEY``."""
        for action in keys_received(channel, STOP_KEY):
            await self._ami.action(action.name, timeout_s=_ACTION_TIMEOUT_S, **action.as_kwargs())

    def _started(self, message: AmiMessage) -> None:
        talk = self._watched.get(message.get(HEADER_UNIQUEID) or "")
        if talk is not None:
            talk.started.set()

    def _stopped(self, message: AmiMessage) -> None:
        talk = self._watched.get(message.get(HEADER_UNIQUEID) or "")
        if talk is not None:
            talk.stopped.set()
