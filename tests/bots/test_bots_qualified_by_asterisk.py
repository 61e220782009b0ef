"""The bots against a real Asterisk 20 on the project's PJSIP config (docker/asterisk), where
every phone is qualified (``qualify_frequency``): Asterisk sees each bot Avail and keeps
it so, and a caller bot reaches an agent bot through the hotline while OPTIONS arrive at
both of them, and stays on the call past the 32 s an unmatched ACK would allow; and
``hotline bots`` as the README runs it.

Runs on the real-Asterisk rig's session Asterisk (tests/conftest.py), skipped with the
rig's reason when this machine has no bundle.
No hotline service listens on the rig's AGI port, so calls to 100 take the dialplan's
fallback: Asterisk's own Queue() over the agents' phones.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from telephony.bots.agent import AgentBot
from telephony.bots.caller import CallerBot, Wait
from telephony.bots.phone import Account
from tests.asterisk.rig import Asterisk, free_udp_range, sip_password

from .sip_peer import free_rtp_port, free_udp_ports

pytestmark = pytest.mark.slow

AGENT = "agent1001"
CALLER = "bot1"
HOTLINE = "100"


def account(pbx: Asterisk, username: str) -> Account:
    (sip,) = free_udp_ports(1)
    rtp = free_rtp_port()
    return Account(
        "127.0.0.1",
        username,
        sip_password(username),
        "127.0.0.1",
        sip,
        pbx.ports.sip,
        rtp_low=rtp,
        rtp_high=rtp,
    )


@pytest.fixture
def agent(pbx: Asterisk) -> Iterator[AgentBot]:
    bot = AgentBot(account(pbx, AGENT), ring_s=1.0, talk_s=45.0)
    bot.start()
    yield bot
    bot.stop()


def contact_status(pbx: Asterisk, endpoint: str) -> str:
    """``Avail``, ``Unavail``, ``NonQual``, ``Unknown``... of the endpoint's contact."""
    for line in pbx.cli(f"pjsip show contacts like {endpoint}").splitlines():
        words = line.split()
        if words[:1] == ["Contact:"] and words[1].startswith(f"{endpoint}/"):
            return str(words[3])
    return "absent"


def until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)
    return check()


def test_asterisk_sees_an_agent_bot_available_and_keeps_it_so(
    pbx: Asterisk, agent: AgentBot
) -> None:
    assert until(lambda: contact_status(pbx, AGENT) == "Avail", 10), contact_status(pbx, AGENT)
    for _ in range(5):  # qualify now, as qualify_frequency does every 30 s
        pbx.cli(f"pjsip qualify {AGENT}")
        time.sleep(0.5)
        assert contact_status(pbx, AGENT) == "Avail"
    assert agent.options_answered() >= 6


class Qualifier:
    """Makes Asterisk send OPTIONS to the given endpoints every ``period_s``."""

    def __init__(self, pbx: Asterisk, endpoints: tuple[str, ...], period_s: float) -> None:
        self._stop = threading.Event()
        self.statuses: list[str] = []

        def qualify() -> None:
            while not self._stop.wait(period_s):
                for endpoint in endpoints:
                    pbx.cli(f"pjsip qualify {endpoint}")
                self.statuses.append(contact_status(pbx, AGENT))

        self._thread = threading.Thread(target=qualify, daemon=True)

    def __enter__(self) -> Qualifier:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def test_a_caller_bot_reaches_an_agent_bot_while_asterisk_qualifies_both(
    pbx: Asterisk, agent: AgentBot
) -> None:
    assert until(lambda: contact_status(pbx, AGENT) == "Avail", 10)
    caller = CallerBot(account(pbx, CALLER))
    before = agent.options_answered()
    with Qualifier(pbx, (AGENT, CALLER), period_s=1.0) as qualifier:
        # Longer than 32 s: a caller whose ACK matched no dialog was hung up by then.
        outcome = caller.call(HOTLINE, [Wait(36.0)], answer_timeout_s=20.0)

    assert outcome.error is None
    assert outcome.answered
    assert not outcome.far_end_hung_up, f"Asterisk hung up after {outcome.heard_s:.1f} s"
    assert agent.answered == 1  # the fallback queue rang the (qualified) agent bot
    assert agent.options_answered() > before
    assert outcome.options_answered > 0
    assert qualifier.statuses
    assert set(qualifier.statuses) == {"Avail"}


def test_hotline_bots_as_the_readme_runs_it(pbx: Asterisk, tmp_path: Path) -> None:
    """The command itself, in its own process (so a stuck phone fails the test, never the
    run)."""
    first_port = free_udp_range(4)
    rtp_port = free_rtp_port() // 100 * 100  # 3 bots x 100 ports, below Asterisk's own
    command = [
        sys.executable, "-m", "hotline.cli", "bots",
        "--asterisk", "127.0.0.1",
        "--port", str(pbx.ports.sip),
        "--agents", "2",
        "--callers", "1",
        "--script", "wait:2,press:1,wait:8",
        "--talk", "3",
        "--agent-password", sip_password("agent{id}"),
        "--caller-password", sip_password("bot{n}"),
        "--sip-port", str(first_port),
        "--rtp-port", str(min(rtp_port, 19700)),
        "--record-dir", str(tmp_path),
    ]  # fmt: skip
    ran = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "hotline bots: 1/1 calls completed" in ran.stdout
    assert "hotline bots: agents answered 1 calls" in ran.stderr
    assert list(tmp_path.glob("bot1-100-*.wav"))


def test_an_agent_bot_whose_call_is_cancelled_while_ringing_never_answers_it(
    pbx: Asterisk,
) -> None:
    """The call goes while the fallback queue rings the agent bot: Asterisk CANCELs the
    INVITE, the bot answers 200 and 487 and does not pick the dead call up."""
    slow = AgentBot(account(pbx, AGENT), ring_s=3.0, talk_s=5.0)
    slow.start()
    try:
        assert until(lambda: contact_status(pbx, AGENT) == "Avail", 10)
        caller = CallerBot(account(pbx, CALLER))
        with ThreadPoolExecutor(1) as pool:
            calling = pool.submit(caller.call, HOTLINE, [Wait(30.0)], answer_timeout_s=20.0)
            ringing = until(lambda: any(f"PJSIP/{AGENT}-" in c for c in pbx.channels()), 20)
            pbx.cli("channel request hangup all")  # the caller's call ends: the queue's too
            calling.result(timeout=40)
        assert ringing
        assert until(lambda: slow.cancelled == 1, 15)  # its ring time over, it did not answer
        assert until(lambda: not pbx.channels(), 10)
    finally:
        slow.stop()
    assert slow.answered == 0
