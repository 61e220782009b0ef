"""A spoken answer ended by talk detection instead of RECORD FILE's silence detection: one
scenario run the same way against the emulator (tests/telephony) and the real Asterisk 20
(tests/asterisk/test_talk_end.py).

hotline sets ``TALK_DETECT(set)`` (func_talkdetect), records in ``wav16`` without ``s=``,
and when AMI says ``ChannelTalkingStop`` for the caller's channel it sends ``PlayDTMF``
``Receive: yes`` of ``D``, an escape digit of the recording, which ends it as a keypress
would. The caller says a tone (``SPEECH_S``) some time into the recording.
"""

from __future__ import annotations

import array
import asyncio
import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from telephony import ami_codec as ami
from telephony.talk_detection import STOP_KEY
from tests.telephony.emulator_harness import RawAmi, fields, name_of

#: How long the caller speaks (a 440 Hz tone, loud: far above the 256 energy threshold).
SPEECH_S = 1.5
#: ``TALK_DETECT(set)`` values: silence ms, energy threshold.
TALK_DETECT = "800,256"
#: What Asterisk 20.20.1 sends (main/stasis_channels.c ``talking_*_to_ami``): the channel
#: snapshot; the stop adds ``Duration``, the talk's ms (from its start to when the silence
#: began).
SNAPSHOT_HEADERS = [
    "Event", "Privilege", "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
    "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode",
    "Context", "Exten", "Priority", "Uniqueid", "Linkedid",
]  # fmt: skip
STOP_HEADERS = [*SNAPSHOT_HEADERS, "Duration"]
#: res_agi rewinds a recording ended by a key by 200 ms of 8 kHz samples (file.c's
#: DEFAULT_SAMPLES_PER_MS), whatever the file's rate: 0.1 s of a wav16.
DTMF_REWIND_SAMPLES = 1600
RATE_16K = 16000
_RECORD_DTMF = re.compile(r"200 result=(\d+) \(dtmf\) endpos=(\d+)")


class Peer(Protocol):
    """The FastAGI server's end of one call."""

    def send(self, line: str) -> None: ...
    async def line(self) -> str: ...


async def command(peer: Peer, line: str) -> str:
    peer.send(line)
    async with asyncio.timeout(10):
        return (await peer.line()).rstrip("\n")


@dataclass(frozen=True)
class TalkEnd:
    """What one spoken answer ended by ``ChannelTalkingStop`` gave."""

    reply: str  # RECORD FILE's
    key: int  # its result (the key's ASCII code)
    endpos: int
    rate: int  # the file's
    channels: int
    width: int
    frames: array.array[int]
    start: list[tuple[str, str]]  # ChannelTalkingStart's headers
    stop: list[tuple[str, str]]
    talk_s: float  # from ChannelTalkingStart to ChannelTalkingStop, wall clock / time scale
    played: str  # PlayDTMF's response


def loud_seconds(frames: array.array[int], rate: int) -> float:
    """How long the recording is loud (the tone), by 10 ms blocks."""
    block = rate // 100
    loud = sum(
        1
        for i in range(0, len(frames), block)
        if max((abs(s) for s in frames[i : i + block]), default=0) > 2000
    )
    return loud / 100


async def _event(ami_conn: RawAmi, name: str, channel: str) -> list[tuple[str, str]]:
    while True:
        message = await ami_conn.message()
        if name_of(message) == name and f"Channel: {channel}\r\n" in message:
            return fields(message)


async def talk_end(
    peer: Peer,
    ami_conn: RawAmi,
    base: Path,
    settings: tuple[str, ...] = (TALK_DETECT,),
    time_scale: float = 1.0,
) -> TalkEnd:
    """The answered call's turn: TALK_DETECT set (each of ``settings`` in turn: a second set
    updates the first), RECORD FILE in wav16, ended by PlayDTMF on ChannelTalkingStop;
    TALK_DETECT removed. ``ami_conn`` is logged in with the ``call`` events."""
    reply = await command(peer, "GET VARIABLE CHANNEL")
    channel = reply.split("(", 1)[1].rstrip(")")
    for value in settings:
        assert await command(peer, f'SET VARIABLE TALK_DETECT(set) "{value}"') == "200 result=1"
    peer.send(f'RECORD FILE {base} wav16 "#{STOP_KEY}" 20000 0 BEEP')
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(20 * time_scale + 10):
        start = await _event(ami_conn, ami.EVENT_CHANNEL_TALKING_START, channel)
        started = loop.time()
        stop = await _event(ami_conn, ami.EVENT_CHANNEL_TALKING_STOP, channel)
        talk_s = (loop.time() - started) / time_scale
        ami_conn.action(
            ami.ACTION_PLAY_DTMF,
            (ami.HEADER_CHANNEL, channel),
            (ami.HEADER_DIGIT, STOP_KEY),
            (ami.HEADER_RECEIVE, "yes"),
        )
        played = await ami_conn.until(lambda m: m.startswith("Response:"))
        recorded = (await peer.line()).rstrip("\n")
    assert await command(peer, 'SET VARIABLE TALK_DETECT(remove) ""') == "200 result=1"
    match = _RECORD_DTMF.fullmatch(recorded)
    assert match, recorded
    with wave.open(str(base) + ".wav16", "rb") as w:
        audio = (w.getframerate(), w.getnchannels(), w.getsampwidth())
        frames = array.array("h", w.readframes(w.getnframes()))
    return TalkEnd(
        recorded, int(match[1]), int(match[2]), *audio, frames, start, stop, talk_s, played[-1]
    )


def check(turn: TalkEnd, silence_ms: int = 800) -> None:
    """What the real Asterisk 20.20.1 does, which the emulator must do too."""
    assert turn.key == ord(STOP_KEY), turn.reply
    assert (turn.rate, turn.channels, turn.width) == (RATE_16K, 1, 2)
    assert turn.endpos == len(turn.frames)  # 16 kHz samples
    assert turn.played.startswith("Response: Success\r\n"), turn.played
    assert "Message: DTMF successfully queued\r\n" in turn.played
    assert [k for k, _ in turn.start] == SNAPSHOT_HEADERS
    assert [k for k, _ in turn.stop] == STOP_HEADERS
    start, stop = dict(turn.start), dict(turn.stop)
    assert start["Privilege"] == stop["Privilege"] == "call,all"
    assert start["Uniqueid"] == stop["Uniqueid"]
    assert abs(int(stop["Duration"]) - SPEECH_S * 1000) <= 150, stop["Duration"]
    assert abs(turn.talk_s - (SPEECH_S + silence_ms / 1000)) <= 0.3, turn.talk_s
    # the whole answer is kept; after it, the silence up to the key (less the rewind)
    assert abs(loud_seconds(turn.frames, turn.rate) - SPEECH_S) <= 0.1
    tail_s = (len(turn.frames) - last_loud(turn.frames)) / turn.rate
    rewind_s = DTMF_REWIND_SAMPLES / RATE_16K
    assert abs(tail_s - (silence_ms / 1000 - rewind_s)) <= 0.3, tail_s


def last_loud(frames: array.array[int]) -> int:
    return max((i for i, s in enumerate(frames) if abs(s) > 2000), default=0)
