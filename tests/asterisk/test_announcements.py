"""An offer landing while a waiting caller hears a number (position, expected wait): the
number is core sound files played one ``STREAM FILE`` each (ivr/spoken_numbers.py), so
the fence stops the file that plays, the rest of the number is never played and the Dial
follows; with ``SAY NUMBER`` the offer waited for the whole number. Asserted on the order
of the AGI exchanges in Asterisk's own log, not on the clock."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from acd.agent_events import Ready
from history.outcomes import Outcome
from ivr.spoken_numbers import number_files
from telephony.agi_session import AgiSession, Playback

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, settled

pytestmark = pytest.mark.asterisk

#: The expected wait while the only other agent talks: ceil(7500 s / 60) = 125 minutes.
MINUTES = 125
AGI_LINE = re.compile(r"<(?P<channel>[^>]+)>AGI (?P<way>Rx <<|Tx >>) (?P<text>.*)$")


def agi_exchanges(log: str, channel: str) -> list[str]:
    """``Rx STREAM FILE ...`` / ``Tx 200 result=...`` lines of one channel, in order."""
    found = []
    for line in log.splitlines():
        match = AGI_LINE.search(line)
        if match and match["channel"] == channel:
            found.append(f"{match['way'][:2]} {match['text'].strip()}")
    return found


async def test_an_offer_landing_while_a_number_is_said_stops_it_and_dials(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = "+971501110042"
    files = number_files(MINUTES, "en")
    assert len(files) == 4  # digits/1, hundred, 20, 5
    talking = SippAgent("1001", sip_dir, ring_s=0.2, talk_s=15.0)
    free = SippAgent("1004", sip_dir, ring_s=0.2, talk_s=0.5)
    for agent in (talking, free):
        await agent.start(pbx)
    overrides = {
        "waiting.defaults.announce": {
            "first_after_s": 0,
            "every_s": 600,
            "position": False,
            "expected_wait": True,
        },
        "waiting.defaults.assumed_talk_s": 7500,
    }
    since = len(pbx.log())
    playing: list[str] = []  # the number's first file Asterisk started, when it did
    original = AgiSession.stream_file

    async def stream_file(
        session: AgiSession, prompt: str, escape_digits: str = "", offset: int | None = None
    ) -> Playback:
        if prompt == files[0] and not playing:
            playing.append(prompt)
            asyncio.get_running_loop().create_task(free_when_playing())
        return await original(session, prompt, escape_digits, offset)

    async def free_when_playing() -> None:
        """Once Asterisk has read the STREAM FILE (its log says so), an agent comes free."""
        await pbx.until(lambda: f"AGI Rx << STREAM FILE {files[0]} " in pbx.log()[since:])
        service.hotline.acd.agent_event(Ready("1004"))

    monkeypatch.setattr(AgiSession, "stream_file", stream_file)
    try:
        async with running_service(pbx, tmp_path, overrides) as service:
            service.only_agents("1001")
            first = SippCaller("+971501110041", sip_dir, TO_AN_AGENT, hold_s=60)
            await first.start(pbx)
            await pbx.until(
                lambda: service.hotline.acd.distributor.book.view("1001").state.value == "on_call",
                timeout_s=30,
            )
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            exit_codes = await asyncio.gather(first.wait(90), caller.wait(90))
            interactions = await settled(pbx, service)
    finally:
        for agent in (talking, free):
            await agent.stop()
    assert list(exit_codes) == [0, 0]
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert [i["outcome"] for i in interactions] == [Outcome.ANSWERED] * 2
    assert interactions[1]["agent"] == "1004"

    log = pbx.log()[since:]
    (channel,) = {
        m["channel"]
        for line in log.splitlines()
        if (m := AGI_LINE.search(line)) and m["text"].startswith(f"STREAM FILE {files[0]} ")
    }
    exchanges = agi_exchanges(log, channel)
    started = next(
        i for i, line in enumerate(exchanges) if line.startswith(f"Rx STREAM FILE {files[0]} ")
    )
    after = exchanges[started + 1 :]
    # No reply to the interrupted file: the next line is the fence, then its reply
    assert after[0].startswith("Rx GET FULL VARIABLE hotline-fence-"), exchanges
    assert after[1].startswith("Tx 200 result=1 (hotline-fence-"), exchanges
    dial = next(i for i, line in enumerate(after) if line.startswith("Rx EXEC Dial"))
    # the rest of the number was never played, nor anything else before the Dial
    assert not [line for line in after[:dial] if line.startswith("Rx STREAM FILE")], exchanges
    assert not [line for line in exchanges if any(f" {f} " in line for f in files[1:])]
