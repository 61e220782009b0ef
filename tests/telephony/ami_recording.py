"""What Asterisk answers to ``MixMonitorMute``, the action that pauses and resumes a call's
recording (telephony.recording_actions), as one scenario run on a recorded caller's leg and
its agent's leg against the real Asterisk (tests/asterisk/test_recording.py) and the
emulator (tests/center/test_recording.py): they must answer alike."""

from __future__ import annotations

from telephony.ami_client import AmiActionError, AmiClient
from telephony.ami_codec import (
    ACTION_MIXMONITOR_MUTE,
    HEADER_CHANNEL,
    HEADER_DIRECTION,
    HEADER_STATE,
)
from telephony.call_actions import AmiAction
from telephony.recording_actions import pause_recording

#: A channel no call has.
NO_SUCH_CHANNEL = "PJSIP/nobody-00000000"

#: (response, message) for each step of ``answers``.
EXPECTED = [
    ("Success", ""),  # pause the caller's recording
    ("Success", ""),  # pause again: nothing changes
    ("Success", ""),  # resume
    ("Error", "Invalid direction specified. Must be read, write or both"),
    ("Error", "No state specified"),
    ("Error", "Cannot set mute flag"),  # the agent's leg: no audiohook, nothing recorded
    ("Error", "No such channel"),
]


async def _answer(ami: AmiClient, action: AmiAction) -> tuple[str, str]:
    try:
        reply = await ami.action(action.name, timeout_s=5, **action.as_kwargs())
    except AmiActionError as error:
        reply = error.response
    return reply.response or "", reply.message or ""


async def answers(ami: AmiClient, *, caller_leg: str, agent_leg: str) -> list[tuple[str, str]]:
    sideways = AmiAction(
        ACTION_MIXMONITOR_MUTE,
        ((HEADER_CHANNEL, caller_leg), (HEADER_DIRECTION, "sideways"), (HEADER_STATE, "1")),
    )
    stateless = AmiAction(
        ACTION_MIXMONITOR_MUTE, ((HEADER_CHANNEL, caller_leg), (HEADER_DIRECTION, "both"))
    )
    steps = [
        pause_recording(caller_leg, paused=True),
        pause_recording(caller_leg, paused=True),
        pause_recording(caller_leg, paused=False),
        sideways,
        stateless,
        pause_recording(agent_leg, paused=True),
        pause_recording(NO_SUCH_CHANNEL, paused=True),
    ]
    return [await _answer(ami, step) for step in steps]
