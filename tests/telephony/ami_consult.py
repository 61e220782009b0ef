"""What Asterisk answers to the consult actions hotline sends (telephony.call_actions:
Atxfer, CancelAtxfer, PlayDTMF), as one scenario run on a live agent leg with no consult
under way, against the real Asterisk (tests/asterisk/test_consult.py) and the emulator
(tests/center/test_consult.py): they must answer alike."""

from __future__ import annotations

from telephony.ami_client import AmiActionError, AmiClient
from telephony.ami_codec import ACTION_ATXFER, ACTION_PLAY_DTMF, HEADER_CHANNEL, HEADER_CONTEXT
from telephony.call_actions import AmiAction, cancel_consult, consult, keys_received

#: A channel no call has.
NO_SUCH_CHANNEL = "PJSIP/nobody-00000000"

#: (response, message) for each step of ``answers``.
EXPECTED = [
    ("Error", "No extension specified"),  # Atxfer without an extension
    ("Error", "Channel specified does not exist"),  # Atxfer of a channel that is not there
    ("Error", "Channel specified does not exist"),  # CancelAtxfer of one
    ("Error", "Channel not found"),  # PlayDTMF to one
    ("Error", "No digit specified"),  # PlayDTMF without a digit
    ("Success", "DTMF successfully queued"),  # a key read from the leg: it reaches the caller
]


async def _answer(ami: AmiClient, action: AmiAction) -> tuple[str, str]:
    try:
        reply = await ami.action(action.name, timeout_s=5, **action.as_kwargs())
    except AmiActionError as error:
        reply = error.response
    return reply.response or "", reply.message or ""


async def answers(ami: AmiClient, agent_leg: str) -> list[tuple[str, str]]:
    steps = [
        AmiAction(
            ACTION_ATXFER, ((HEADER_CHANNEL, agent_leg), (HEADER_CONTEXT, "hotline-consult"))
        ),
        consult(NO_SUCH_CHANNEL),
        cancel_consult(NO_SUCH_CHANNEL),
        keys_received(NO_SUCH_CHANNEL, "5")[0],
        AmiAction(ACTION_PLAY_DTMF, ((HEADER_CHANNEL, agent_leg), ("Receive", "yes"))),
        keys_received(agent_leg, "5")[0],
    ]
    return [await _answer(ami, step) for step in steps]
