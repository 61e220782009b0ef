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

* **Consult** (an attended transfer of the agent's leg, ``bridge_basic.c``): ``Setvar`` of
  the inheritable ``_HOTLINE_CONSULT_ENDPOINT`` (the colleague's phone) on the agent's leg,
  then ``Atxfer`` (``manager.c`` ``action_atxfer``: it queues the featuremap's ``atxfer``
  code and the extension as DTMF *read from* the leg, so the leg's bridge features must
  allow transfers: Dial option ``t``). The caller is held (music on hold) while the agent's
  leg talks to the transfer's ``Local/1@hotline-consult`` channel, which inherits the
  variable and dials the colleague. Asterisk answers ``Atxfer successfully queued``, or
  ``No attended transfer feature code found`` when features.conf has no ``atxfer``.
* **Cancel** the consult: ``CancelAtxfer`` (queues ``atxferabort``): the agent is back with
  the caller, the colleague's leg is hung up.
* **Complete** / **conference**: ``PlayDTMF`` with ``Receive: yes`` (app_senddtmf, class
  ``call``: the digit is queued as read from the leg, as Atxfer does) of each digit of
  ``atxfercomplete`` (the agent's leg leaves; the caller's bridge takes in the colleague)
  or ``atxferthreeway`` (all three in one bridge). ``PlayDTMF`` answers
  ``DTMF successfully queued`` or ``Channel not found``.

There is no AMI action to hold a call in Asterisk 20 (no ``Hold`` in any module's
``ast_manager_register_xml``): the phone holds (a re-INVITE with ``sendonly``), and Asterisk
reports it with the ``Hold``/``Unhold`` events. The desktop holds with the attended
transfer instead:

* **Hold**: ``Setvar`` of the inheritable ``_HOTLINE_HOLD_CALLER`` (the caller's channel)
  on the agent's leg, then ``Atxfer`` of the leg to ``20@hotline-consult`` (digits: Atxfer
  sends the extension as DTMF), which answers and waits in silence while the caller hears
  music on hold. Asterisk says ``Hold`` for the agent's leg as the transfer starts (as for
  a consult). The wait ends by itself when the caller or the agent's leg is gone, or after
  4 h (docker/asterisk/extensions.conf).
* **Resume**: ``CancelAtxfer`` (as a consult's cancel): the agent is back with the caller;
  Asterisk says ``Unhold`` for the agent's leg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from telephony.ami_codec import (
    ACTION_ATXFER,
    ACTION_CANCEL_ATXFER,
    ACTION_HANGUP,
    ACTION_PLAY_DTMF,
    ACTION_SETVAR,
    HEADER_CAUSE,
    HEADER_CHANNEL,
    HEADER_CONTEXT,
    HEADER_DIGIT,
    HEADER_EXTEN,
    HEADER_RECEIVE,
    HEADER_VALUE,
    HEADER_VARIABLE,
)

__all__ = [
    "ATXFER_COMPLETE",
    "ATXFER_THREEWAY",
    "CAUSE_NORMAL_CLEARING",
    "CONSULT_CONTEXT",
    "CONSULT_ENDPOINT_VAR",
    "CONSULT_EXTEN",
    "HOLD_CALLER_VAR",
    "HOLD_EXTEN",
    "MUTE_IN",
    "AmiAction",
    "cancel_consult",
    "consult",
    "consult_target",
    "hang_up",
    "hold",
    "hold_caller",
    "keys_received",
    "mute",
]

#: Q.850 cause 16: what the caller's side sees for a plain hang-up.
CAUSE_NORMAL_CLEARING: Final = 16
#: res_mutestream's dialplan function, on the audio that comes into Asterisk from the leg.
MUTE_IN: Final = "MUTEAUDIO(in)"
#: docker/asterisk/extensions.conf: the context and extension that ring the colleague.
CONSULT_CONTEXT: Final = "hotline-consult"
CONSULT_EXTEN: Final = "1"
#: The colleague's endpoint, set on the agent's leg (``_``: the transfer's Local inherits it).
CONSULT_ENDPOINT_VAR: Final = "_HOTLINE_CONSULT_ENDPOINT"
#: docker/asterisk/extensions.conf: the extension (in ``CONSULT_CONTEXT``) where a held
#: agent's leg waits, and the caller's channel it watches (it ends when the caller is gone).
HOLD_EXTEN: Final = "20"
HOLD_CALLER_VAR: Final = "_HOTLINE_HOLD_CALLER"
#: docker/asterisk/features.conf [general]: the attended transfer's keys.
ATXFER_COMPLETE: Final = "*2"
ATXFER_THREEWAY: Final = "*3"
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


def consult_target(channel: str, endpoint: str) -> AmiAction:
    """``Setvar`` of the colleague's endpoint (``PJSIP/agent1002``) on the agent's leg."""
    if not endpoint or any(c in endpoint for c in "\r\n,&()"):
        raise ValueError(f"not one endpoint: {endpoint!r}")
    return AmiAction(
        ACTION_SETVAR,
        (
            (HEADER_CHANNEL, _channel(channel)),
            (HEADER_VARIABLE, CONSULT_ENDPOINT_VAR),
            (HEADER_VALUE, endpoint),
        ),
    )


def consult(channel: str) -> AmiAction:
    """``Atxfer`` of the agent's leg to the consult extension (after ``consult_target``)."""
    return AmiAction(
        ACTION_ATXFER,
        (
            (HEADER_CHANNEL, _channel(channel)),
            (HEADER_EXTEN, CONSULT_EXTEN),
            (HEADER_CONTEXT, CONSULT_CONTEXT),
        ),
    )


def hold_caller(channel: str, caller: str) -> AmiAction:
    """``Setvar`` of the caller's channel on the agent's leg (before ``hold``)."""
    return AmiAction(
        ACTION_SETVAR,
        (
            (HEADER_CHANNEL, _channel(channel)),
            (HEADER_VARIABLE, HOLD_CALLER_VAR),
            (HEADER_VALUE, _channel(caller)),
        ),
    )


def hold(channel: str) -> AmiAction:
    """``Atxfer`` of the agent's leg to the hold extension: the caller hears music on hold."""
    return AmiAction(
        ACTION_ATXFER,
        (
            (HEADER_CHANNEL, _channel(channel)),
            (HEADER_EXTEN, HOLD_EXTEN),
            (HEADER_CONTEXT, CONSULT_CONTEXT),
        ),
    )


def cancel_consult(channel: str) -> AmiAction:
    """``CancelAtxfer``: back to the caller (ends a consult or the desktop's hold)."""
    return AmiAction(ACTION_CANCEL_ATXFER, ((HEADER_CHANNEL, _channel(channel)),))


def keys_received(channel: str, keys: str) -> tuple[AmiAction, ...]:
    """``PlayDTMF`` ``Receive: yes`` of each key, as if the agent's phone had sent them."""
    if not keys or any(k not in "0123456789*#ABCD" for k in keys):
        raise ValueError(f"not DTMF keys: {keys!r}")
    leg = _channel(channel)
    return tuple(
        AmiAction(
            ACTION_PLAY_DTMF,
            ((HEADER_CHANNEL, leg), (HEADER_DIGIT, key), (HEADER_RECEIVE, "yes")),
        )
        for key in keys
    )
