"""Call recording on Asterisk 20, as pure values (no I/O): the ``MixMonitor`` application a
caller's AGI session runs, and the AMI action that pauses and resumes what it records.

* **Record**: ``EXEC MixMonitor <file>.wav,b`` on the caller's channel, before it is bridged
  to an agent. ``app_mixmonitor.c``: the file is opened at once (a bare WAV header), the
  format comes from the extension, missing directories are made; option ``b`` writes audio
  only while the channel is in a bridge (``mixmonitor_autochan_is_bridged``), so the hold
  music, announcements and the after-call survey are not in the file, and a transferred
  call's next conversation is appended to the same file. Both directions are mixed (what
  the caller says and what they hear). The recording ends when the channel hangs up.
* **Pause / resume** (PCI DSS: while a card number is given): AMI ``MixMonitorMute`` with
  ``Direction: both``. It sets the mute flags of the channel's MixMonitor audiohooks
  (``ast_audiohook_set_mute_all``); ``audiohook.c`` then hands MixMonitor frames of zeros,
  so the file keeps its timeline and holds **silence** for the paused time. Registered with
  classes ``system`` and ``call`` (either is enough: ``manager.c`` checks for any overlap),
  so the ``call`` class hotline already has for hang-up and mute covers it. Asterisk
  answers ``Success``; ``No such channel``; ``Cannot set mute flag`` for a channel with no
  audiohook at all (never recorded). (``PauseMonitor``/``UnpauseMonitor`` belong to the
  deprecated ``app_monitor``, which Asterisk 21 removed.)

The file name is built here from a directory the admin configured and the call's id; a
character that ``EXEC`` or MixMonitor would read as syntax (``,`` separates arguments,
``$`` starts a substitution, ``|`` and parentheses are option syntax) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from telephony.agi_codec import APP_MIXMONITOR
from telephony.ami_codec import (
    ACTION_MIXMONITOR_MUTE,
    HEADER_CHANNEL,
    HEADER_DIRECTION,
    HEADER_STATE,
)
from telephony.call_actions import AmiAction

__all__ = [
    "BRIDGED_ONLY",
    "MIXMONITOR_BOTH",
    "MixMonitorCommand",
    "mix_monitor",
    "pause_recording",
    "recording_name",
]

#: MixMonitor's option: write audio only while the channel is bridged (to an agent).
BRIDGED_ONLY: Final = "b"
#: MixMonitorMute's direction for both what the channel says and what it hears.
MIXMONITOR_BOTH: Final = "both"
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./+-]+$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class MixMonitorCommand:
    """The application and its one argument, for ``AgiSession.exec``."""

    app: str
    data: str


def recording_name(call_id: str, extension: str) -> str:
    """A file name for the call's recording: its id with anything but ``[A-Za-z0-9_.-]``
    replaced (a uniqueid is ``1700000000.42``)."""
    stem = _UNSAFE_NAME.sub("_", call_id).strip(".") or "call"
    return f"{stem}.{extension}"


def mix_monitor(path: str) -> MixMonitorCommand:
    """Record the channel's bridged audio into ``path`` (absolute; its extension is the
    format)."""
    if not _SAFE_PATH.fullmatch(path) or "/../" in path or path.endswith("/.."):
        raise ValueError(f"not a recording path MixMonitor can be given safely: {path!r}")
    return MixMonitorCommand(APP_MIXMONITOR, f"{path},{BRIDGED_ONLY}")


def pause_recording(channel: str, *, paused: bool) -> AmiAction:
    """Pause (silence) or resume every MixMonitor recording of ``channel``."""
    if not channel or channel.startswith("/") or any(c in channel for c in "\r\n"):
        raise ValueError(f"not one channel's name: {channel!r}")
    return AmiAction(
        ACTION_MIXMONITOR_MUTE,
        (
            (HEADER_CHANNEL, channel),
            (HEADER_DIRECTION, MIXMONITOR_BOTH),
            (HEADER_STATE, "1" if paused else "0"),
        ),
    )
