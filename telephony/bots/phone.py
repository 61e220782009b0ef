"""A pyVoIP softphone registered to Asterisk, and the timing of audio on a call.

pyVoIP is threaded and blocking; bots run it in threads and the CLI awaits them with
``asyncio.to_thread``. Its RTP thread sends 20 ms (160 samples) per packet from a buffer,
so audio written to a call is paced by sleeping for its length.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pyVoIP.VoIP import CallState, PhoneStatus, VoIPCall

from telephony.bots.audio import RATE
from telephony.bots.sip_front_door import BotPhone

__all__ = ["FRAME", "Account", "play", "registered", "wait_for_state"]

FRAME = 160  # samples per 20 ms RTP packet


@dataclass(frozen=True)
class Account:
    """A PJSIP endpoint the bot registers as (docker/asterisk/pjsip.conf)."""

    asterisk: str
    username: str
    password: str
    my_ip: str
    sip_port: int
    asterisk_port: int = 5060
    rtp_low: int = 20000
    rtp_high: int = 20999


def registered(
    account: Account,
    on_call: Callable[[VoIPCall], None] | None = None,
    *,
    timeout_s: float = 10.0,
) -> BotPhone:
    """A started phone once Asterisk has accepted its registration. It answers Asterisk's
    OPTIONS (``qualify_frequency``) in every state and refuses what it does not handle
    (sip_front_door.py)."""
    phone = BotPhone(
        account.asterisk,
        account.asterisk_port,
        account.username,
        account.password,
        my_ip=account.my_ip,
        sip_port=account.sip_port,
        rtp_low=account.rtp_low,
        rtp_high=account.rtp_high,
        on_call=on_call,
    )
    phone.start()
    deadline = time.monotonic() + timeout_s
    while phone.get_status() != PhoneStatus.REGISTERED:
        if time.monotonic() > deadline or phone.get_status() == PhoneStatus.FAILED:
            phone.stop()
            raise TimeoutError(f"{account.username}: not registered at {account.asterisk}")
        time.sleep(0.05)
    return phone


def wait_for_state(call: VoIPCall, states: set[CallState], timeout_s: float) -> CallState:
    deadline = time.monotonic() + timeout_s
    while call.state not in states and time.monotonic() < deadline:
        time.sleep(0.02)
    return call.state


def play(call: VoIPCall, samples: bytes, heard: bytearray) -> None:
    """Send ``samples`` in real time while keeping what comes back in ``heard``."""
    for start in range(0, len(samples), FRAME):
        if call.state != CallState.ANSWERED:
            return
        call.write_audio(samples[start : start + FRAME])
        heard += call.read_audio(FRAME, blocking=False)
        time.sleep(FRAME / RATE)
