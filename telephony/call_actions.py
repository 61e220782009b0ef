"""The AMI actions of an agent's call control, as pure values (no I/O): what to send to
Asterisk 20 to hang up a leg or mute what an agent says.

* **Hang up**: ``Hangup`` of one channel by its exact name (``manager.c``
  ``ast_manager_hangup_helper``; a name starting with ``/`` would be a regex over every
  channel, so such a name is refused here). Class ``call`` (or ``system``).
* **Mute**: ``Setvar`` of the function ``MUTEAUDIO(in)`` on the agent's leg: res_mutestream's
  ``mute_channel`` puts a frame-suppressing hook on the leg's inbound audio (what the agent
  says) and the customer hears silence. The module's own ``MuteAudio`` action calls the
  same ``mute_channel``, but it is registered with class ``system`` (which also allows
  ``ModuleLoad``, ``Reload``, ``Restart``...); ``Setvar`` needs only ``call``, which
  ``Hangup`` needs anyway. Asterisk answers ``Variable Set``, or ``Variable not set`` when
  the module is not loaded or the direction is not ``in``/``out``/``all``.

There is no AMI action to hold a call in Asterisk 20 (no ``Hold`` in any module's
``ast_manager_register_xml``): hold is the phone's (a re-INVITE with ``sendonly``), and
Asterisk reports it with the ``Hold``/``Unhold`` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from telephony.ami_codec import (
    ACTION_HANGUP,
    ACTION_SETVAR,
    HEADER_CAUSE,
    HEADER_CHANNEL,
    HEADER_VALUE,
    HEADER_VARIABLE,
)

__all__ = [
    "CAUSE_NORMAL_CLEARING",
    "MUTE_IN",
    "AmiAction",
    "hang_up",
    "mute",
]

#: Q.850 cause 16: what the caller's side sees for a plain hang-up.
CAUSE_NORMAL_CLEARING: Final = 16
#: res_mutestream's dialplan function, on the audio that comes into Asterisk from the leg.
MUTE_IN: Final = "MUTEAUDIO(in)"
_ON: Final = "on"
_OFF: Final = "off"


@dataclass(frozen=True, slots=True)
class AmiAction:
    """One action: its name and fields, in the order they are sent."""

    name: str
    fields: tuple[tuple[str, str], ...]

    def as_kwargs(self) -> dict[str, str]:
        return dict(self.fields)


def _channel(channel: str) -> str:
    if not channel or channel.startswith("/") or any(c in channel for c in "\r\n"):
        raise ValueError(f"not one channel's name: {channel!r}")
    return channel


def hang_up(channel: str, cause: int = CAUSE_NORMAL_CLEARING) -> AmiAction:
    """``Hangup`` of exactly ``channel``."""
    return AmiAction(
        ACTION_HANGUP, ((HEADER_CHANNEL, _channel(channel)), (HEADER_CAUSE, str(cause)))
    )


def mute(channel: str, *, on: bool) -> AmiAction:
    """Mute (or unmute) what comes in from ``channel``: the agent's voice on their leg."""
    return AmiAction(
        ACTION_SETVAR,
        (
            (HEADER_CHANNEL, _channel(channel)),
            (HEADER_VARIABLE, MUTE_IN),
            (HEADER_VALUE, _ON if on else _OFF),
        ),
    )
