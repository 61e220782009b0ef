"""SIP bots through a real Asterisk and a running hotline (docker/docker-compose.yml):
agent bots register as agents' phones, caller bots dial the hotline, press keys and speak.

Run with ``HOTLINE_TEST_ASTERISK=<asterisk host> .venv/bin/pytest -m asterisk tests/bots``
(``HOTLINE_TEST_MY_IP``: this machine's address as Asterisk sees it, if not the route's).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from telephony.bots.agent import AgentBot
from telephony.bots.caller import CallerBot, Press, Say, Wait
from telephony.bots.phone import Account

ASTERISK = os.environ.get("HOTLINE_TEST_ASTERISK", "")

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(
        not ASTERISK,
        reason="no Asterisk to call: start docker/docker-compose.yml and set "
        "HOTLINE_TEST_ASTERISK=<its host> to run the SIP bots against it",
    ),
]

HOTLINE = "100"


def my_ip() -> str:
    configured = os.environ.get("HOTLINE_TEST_MY_IP")
    if configured:
        return configured
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((ASTERISK, 5060))
        return str(probe.getsockname()[0])


def agent_bot(agent_id: int, sip_port: int) -> AgentBot:
    account = Account(ASTERISK, f"agent{agent_id}", f"change-me-{agent_id}", my_ip(), sip_port)
    return AgentBot(account, ring_s=1.0, talk_s=5.0)


def caller_bot(n: int, sip_port: int, tmp_path: Path) -> CallerBot:
    account = Account(
        ASTERISK, f"bot{n}", f"bot-{n}", my_ip(), sip_port, rtp_low=30000, rtp_high=30099
    )
    return CallerBot(account, record_dir=tmp_path)


def test_a_caller_pressing_keys_is_answered_by_a_registered_agent(tmp_path: Path) -> None:
    agents = [agent_bot(agent_id, 5071 + i) for i, agent_id in enumerate((1001, 1002, 1004))]
    for agent in agents:
        agent.start()
    try:
        outcome = caller_bot(1, 5080, tmp_path).call(
            HOTLINE, [Wait(2), Press("1"), Wait(14), Press("0"), Wait(25)]
        )
    finally:
        for agent in agents:
            agent.stop()
    assert outcome.answered, outcome.error
    assert sum(agent.answered for agent in agents) == 1
    assert outcome.heard_s > 10
    assert outcome.recording is not None


def test_a_caller_who_speaks_reaches_an_agent(tmp_path: Path) -> None:
    from ivr.speech.synth import synthesis_available, synthesize

    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    voice = synthesize("my internet is not working", tmp_path / "voice")
    agents = [agent_bot(agent_id, 5071 + i) for i, agent_id in enumerate((1001, 1004))]
    for agent in agents:
        agent.start()
    try:
        outcome = caller_bot(2, 5081, tmp_path).call(
            HOTLINE, [Wait(2), Press("1"), Wait(4), Say(voice), Wait(8), Press("654321#"), Wait(25)]
        )
    finally:
        for agent in agents:
            agent.stop()
    assert outcome.answered, outcome.error
    assert sum(agent.answered for agent in agents) == 1
