"""What Asterisk answers to the call-control actions hotline sends (telephony.call_actions),
as one scenario run on a live agent leg against the real Asterisk
(tests/asterisk/test_call_control.py) and the emulator (tests/center/test_call_control.py):
they must answer alike."""

from __future__ import annotations

from telephony.ami_client import AmiActionError, AmiClient
from telephony.ami_codec import ACTION_SETVAR, HEADER_CHANNEL, HEADER_VALUE, HEADER_VARIABLE
from telephony.call_actions import AmiAction, hang_up, mute

#: A channel no call has.
NO_SUCH_CHANNEL = "PJSIP/nobody-00000000"

#: (response, message) for each step of ``answers``.
EXPECTED = [
    ("Success", "Variable Set"),  # mute the agent's voice
    ("Success", "Variable Set"),  # mute again: nothing changes
    ("Error", "Variable not set"),  # MUTEAUDIO(sideways): not a direction
    ("Success", "Variable Set"),  # unmute
    ("Error", "No such channel"),  # mute a channel that is not there
    ("Error", "No such channel"),  # hang up a channel that is not there
]


async def _answer(ami: AmiClient, action: AmiAction) -> tuple[str, str]:
    try:
        reply = await ami.action(action.name, timeout_s=5, **action.as_kwargs())
    except AmiActionError as error:
        reply = error.response
    return reply.response or "", reply.message or ""


async def answers(ami: AmiClient, agent_leg: str) -> list[tuple[str, str]]:
    sideways = AmiAction(
        ACTION_SETVAR,
        (
            (HEADER_CHANNEL, agent_leg),
            (HEADER_VARIABLE, "MUTEAUDIO(sideways)"),
            (HEADER_VALUE, "on"),
        ),
    )
    steps = [
        mute(agent_leg, on=True),
        mute(agent_leg, on=True),
        sideways,
        mute(agent_leg, on=False),
        mute(NO_SUCH_CHANNEL, on=True),
        hang_up(NO_SUCH_CHANNEL),
    ]
    return [await _answer(ami, step) for step in steps]
