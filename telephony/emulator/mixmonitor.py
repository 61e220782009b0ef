"""MixMonitor on an emulated channel, as ``app_mixmonitor.c`` behaves (see
``telephony.recording_actions``): the file exists from the start (a bare WAV header); with
option ``b`` audio is written only while the channel is in a bridge; ``MixMonitorMute``
makes the written audio zeros (silence) until unmuted; the file is complete when the
channel goes.

The emulator carries no real audio between its parties, so what a recording holds stands for
the conversation: a 440 Hz tone for every virtual second recorded and not paused, zeros for
every paused second, nothing for time outside a bridge (with ``b``). Durations are virtual
seconds of the emulator's clock, so a test can find a pause in the file where it was made.
"""

from __future__ import annotations

import array
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from telephony.emulator.clock import Clock
from telephony.emulator.media import RATE, write_recording

log = logging.getLogger(__name__)

#: The stand-in for the conversation's audio: amplitude and pitch of its tone.
TONE_AMPLITUDE: Final = 8000
TONE_HZ: Final = 440.0
_CYCLE: Final = array.array(
    "h", (round(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / RATE)) for n in range(RATE))
)
_FORMATS: Final = {".wav": "wav", ".sln": "sln", ".raw": "raw", ".gsm": "gsm"}


@dataclass
class MixMonitor:
    """One MixMonitor on one channel: the spans it has written so far."""

    base: str  # the file's path without its extension
    fmt: str
    clock: Clock
    bridged_only: bool
    bridged: bool = False
    muted: bool = False
    #: (virtual seconds, paused) of what was written, in order
    spans: list[tuple[float, bool]] = field(default_factory=list)
    _since_v: float | None = None
    closed: bool = False
    #: the file Asterisk holds open: deleted meanwhile, its audio goes nowhere
    _inode: int | None = None

    @classmethod
    def start(cls, data: str, clock: Clock, *, bridged: bool) -> MixMonitor | None:
        """``MixMonitor(file.ext[,options])``; None when the file name is unusable."""
        filename, _, options = data.partition(",")
        path = Path(filename.strip())
        fmt = _FORMATS.get(path.suffix.lower())
        if fmt is None or not path.is_absolute():
            return None
        monitor = cls(str(path.with_suffix("")), fmt, clock, bridged_only="b" in options)
        written = write_recording(monitor.base, fmt, array.array("h"))  # opened at once, empty
        monitor._inode = written.stat().st_ino
        monitor.update(bridged=bridged)
        return monitor

    @property
    def path(self) -> Path:
        return Path(self.base + "." + self.fmt)

    @property
    def writing(self) -> bool:
        return not self.closed and (self.bridged or not self.bridged_only)

    def update(self, *, bridged: bool | None = None, muted: bool | None = None) -> None:
        """The channel entered or left a bridge, or the recording was (un)muted."""
        self._cut()
        if bridged is not None:
            self.bridged = bridged
        if muted is not None:
            self.muted = muted
        if self.writing:
            self._since_v = self.clock.now_v()

    def close(self) -> Path:
        """The channel is gone: the file is written in full."""
        if not self.closed:
            self._cut()
            self.closed = True
            if not self._still_open():
                log.debug("MixMonitor %s: deleted while recording; nothing left", self.path)
                return self.path
            audio = array.array("h")
            for seconds, paused in self.spans:
                audio.extend(_silence(seconds) if paused else _tone(seconds))
            write_recording(self.base, self.fmt, audio)
            log.debug("MixMonitor %s: %d samples", self.path, len(audio))
        return self.path

    def _still_open(self) -> bool:
        """Asterisk writes to the file it opened: if that name was unlinked (or is another
        file now), what it writes is gone with the inode."""
        try:
            return self.path.stat().st_ino == self._inode
        except FileNotFoundError:
            return False

    def _cut(self) -> None:
        if self._since_v is not None:
            self.spans.append((max(self.clock.now_v() - self._since_v, 0.0), self.muted))
            self._since_v = None


def _samples(seconds: float) -> int:
    return round(seconds * RATE)


def _silence(seconds: float) -> array.array[int]:
    return array.array("h", bytes(2 * _samples(seconds)))


def _tone(seconds: float) -> array.array[int]:
    count = _samples(seconds)
    whole, rest = divmod(count, RATE)
    return _CYCLE * whole + _CYCLE[:rest]
