"""Chats and e-mails on the shipped config/, through the real service's conversation desk:
the supervisor's figures per channel and overall (live, and rebuilt from the event log after
a restart) equal what the history records of each conversation, and /metrics says the same.

One agent takes three chats at once (the others paused): each chat's handle time is what the
customer had, the agent's time is divided among the three. An e-mail waits reserved (the
backlog, live), then is answered; a chat waits with nobody free and its customer leaves.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from acd.agent_events import Pause
from history.identities import IdentityKind
from history.inputs import IdentityIn, Status
from history.models import InteractionRow
from history.outcomes import Outcome
from hotline.web.metrics import render

from .stack import Stack, running_stack, wait_until

SHORT_ABANDON_S = 0.2
OVERRIDES: dict[str, object] = {"queues.service_level.short_abandon_s": SHORT_ABANDON_S}
#: The one agent left ready: Alice speaks English and knows the internet product (support).
ALICE = "1001"
#: Chats handled side by side (agents.yaml: 3 chats at once).
SIDE_BY_SIDE = 3
#: The supervisor's KPIs are computed again after this long (``KpiView.every_s``).
KPIS_EVERY_S = 1.05
#: Times in the history are the wall clock's, the KPIs the ACD's: they agree to this.
CLOCKS_AGREE_S = 0.05


def visitor(n: int) -> IdentityIn:
    return IdentityIn(kind=IdentityKind.CHAT, value=f"visitor-{n}")


def mailbox(n: int) -> IdentityIn:
    return IdentityIn(kind=IdentityKind.EMAIL, value=f"customer{n}@example.com")


async def test_chats_and_emails_figures_equal_the_history_live_after_a_restart_and_in_metrics(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, overrides=OVERRIDES) as stack:
        acd, desk = stack.service.acd, stack.service.desk
        for view in acd.distributor.book.views():
            if view.agent_id != ALICE:
                acd.agent_event(Pause(view.agent_id, "meeting"))

        # Alice takes three chats at once, works them side by side, closes them.
        chats = [
            (await desk.customer_wrote("chat", "my internet is down", identity=visitor(n)))
            for n in range(SIDE_BY_SIDE)
        ]
        for said in chats:
            assert desk.holder(said.conversation_id) == ALICE
        await asyncio.sleep(0.1)
        for said in chats:
            await desk.accept(ALICE, said.conversation_id)
        await asyncio.sleep(0.6)
        for said in chats:
            desk.finish(ALICE, said.conversation_id, status=Status.RESOLVED)
            await asyncio.sleep(0.05)

        # An e-mail, offered to Alice and not yet accepted: the backlog, live.
        mail = await desk.customer_wrote(
            "email", "the router reboots", identity=mailbox(1), subject="Router"
        )
        await wait_until(lambda: desk.holder(mail.conversation_id) == ALICE)
        await asyncio.sleep(0.3)
        live = stack.service.supervisor_hub.snapshot()
        live_metrics = set(render(stack.service.supervisor_hub).splitlines())
        open_mail = [r for r in await conversations(stack) if r.channel == "email"]
        await desk.accept(ALICE, mail.conversation_id)
        await asyncio.sleep(0.2)
        desk.finish(ALICE, mail.conversation_id, status=Status.RESOLVED)

        # Nobody free: a chat waits, and its customer leaves.
        acd.agent_event(Pause(ALICE, "meeting"))
        gone = await desk.customer_wrote("chat", "hello? internet", identity=visitor(9))
        await asyncio.sleep(SHORT_ABANDON_S + 0.3)
        await desk.customer_left(gone.conversation_id)
        await desk.flush()
        await stack.flushed()
        await asyncio.sleep(KPIS_EVERY_S)  # the page's KPIs are made at most once a second
        before = stack.service.supervisor_hub.snapshot()

        # A new process rebuilds today's figures from the event log.
        await stack.stop_service()
        await stack.start_service()
        hub = stack.service.supervisor_hub
        await hub.kpis.state("ok")
        after = hub.snapshot()
        exposed = set(render(hub).splitlines())
        rows = await conversations(stack)

    # Live, the waiting e-mail is the backlog, as the history has it open.
    [waiting] = open_mail
    assert (waiting.ended_at, waiting.outcome) == (None, None)
    email_now = live["channels"]["email"]
    assert (email_now["backlog"], live["channels"]["all"]["backlog"]) == (1, 1)
    assert 0.3 <= email_now["oldest_age_s"] < 5
    assert 'hotline_channel_backlog{channel="email"} 1' in live_metrics

    # The history's conversations, by channel and outcome.
    assert all(r.ended_at is not None for r in rows)
    recorded = Counter((r.channel, r.outcome) for r in rows)
    assert recorded == {
        ("chat", Outcome.ANSWERED): SIDE_BY_SIDE,
        ("chat", Outcome.ABANDONED_QUEUE): 1,
        ("email", Outcome.ANSWERED): 1,
    }
    # The figures rebuilt after the restart are the ones before it (agents' time goes on: the
    # new run's agents are logged in, so only the tasks' time in hand is the same).
    assert same(after["channels"], before["channels"])
    assert same(
        {ch: u["used_s"] for ch, u in after["capacity"].items()},
        {ch: u["used_s"] for ch, u in before["capacity"].items()},
    )

    channels = after["channels"]
    for channel in ("chat", "email"):
        mine = [r for r in rows if r.channel == channel]
        answered = [r for r in mine if r.outcome == Outcome.ANSWERED]
        k = channels[channel]
        assert k["offered"] == len(mine)
        assert k["answered"] == len(answered)
        assert k["abandoned"] == sum(r.outcome == Outcome.ABANDONED_QUEUE for r in mine)
        assert (k["left"], k["waiting"], k["backlog"]) == (0, 0, 0)
        # each conversation's wait and handle time (accept to close; no wrap-up here) as the
        # history has them
        assert close(k["asa"], mean(r.wait_s for r in answered))
        assert close(k["aht"], mean(r.talk_s for r in answered))
    every = channels["all"]
    assert every["offered"] == len(rows)
    assert every["answered"] == sum(r.outcome == Outcome.ANSWERED for r in rows)
    # three chats side by side: each took its time, the agent's time was shared
    chat = channels["chat"]
    assert chat["agent_time"] < chat["aht"] / 2
    assert close(chat["agent_time"] * SIDE_BY_SIDE, chat["aht"], slack=0.35)
    assert after["capacity"]["chat"]["used_s"] > 0
    assert 0 < after["occupancy"] <= 1

    # /metrics carries the page's figures.
    for channel in ("chat", "email", "all"):
        k = channels[channel]
        assert f'hotline_channel_offered_today{{channel="{channel}"}} {k["offered"]}' in exposed
        assert f'hotline_channel_answered_today{{channel="{channel}"}} {k["answered"]}' in exposed
        assert f'hotline_channel_aht_seconds{{channel="{channel}"}} {k["aht"]!r}' in exposed
        for name, key in (("agent_time_seconds", "agent_time"), ("asa_seconds", "asa")):
            assert f'hotline_channel_{name}{{channel="{channel}"}} {k[key]!r}' in exposed
    assert 'hotline_contacts_today{queue="support",channel="chat",outcome="answered"} 3' in exposed
    assert f"hotline_occupancy_ratio {after['occupancy']!r}" in exposed


async def conversations(stack: Stack) -> list[Any]:
    await stack.service.desk.flush()
    await stack.flushed()
    async with stack.service.store.connect() as connection:
        found = await connection.execute(
            select(InteractionRow).where(InteractionRow.channel.in_(("chat", "email")))
        )
        return list(found.all())


def mean(values: Any) -> float:
    found = [float(v) for v in values]
    return sum(found) / len(found)


def close(a: float | None, b: float | None, *, slack: float = CLOCKS_AGREE_S) -> bool:
    return a is not None and b is not None and math.isclose(a, b, abs_tol=slack)


def same(a: Any, b: Any) -> bool:
    """Equal, times to the microsecond: the log keeps the wall clock's microseconds, the live
    figures the ACD's clock shifted to the wall clock's."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-5)
    return bool(a == b)
