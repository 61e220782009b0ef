"""Listen, whisper and barge: Asterisk's ChanSpy, rung on the supervisor's own phone.

An AMI ``Originate`` calls the supervisor's endpoint; when it answers, Asterisk runs
``ChanSpy(<agent's endpoint>,<options>)``: ``q`` quiet (no beep, no name announced),
``w`` whisper (the agent hears the supervisor, the caller does not), ``B`` barge (both
hear). Every value comes from config or the user table, never from the request.
"""

from __future__ import annotations

from enum import StrEnum

from telephony.ami_client import AmiClient
from telephony.ami_codec import ACTION_ORIGINATE

APPLICATION = "ChanSpy"
RING_TIMEOUT_MS = 30_000


class SpyMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


OPTIONS = {SpyMode.LISTEN: "q", SpyMode.WHISPER: "qw", SpyMode.BARGE: "qB"}


async def spy(
    ami: AmiClient, *, supervisor_endpoint: str, agent_endpoint: str, agent_id: str, mode: SpyMode
) -> None:
    """Ring the supervisor; raises what the AMI client raises when Asterisk refuses."""
    await ami.action(
        ACTION_ORIGINATE,
        Channel=supervisor_endpoint,
        Application=APPLICATION,
        Data=f"{agent_endpoint},{OPTIONS[mode]}",
        CallerID=f'"{mode.value} {agent_id}" <{agent_id}>',
        Timeout=RING_TIMEOUT_MS,
        Async="true",
    )
