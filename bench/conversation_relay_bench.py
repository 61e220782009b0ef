"""Chats across nodes (``center.conversation_relay``): how long a conversation's notice (a
customer's message, for the agent's page on the other node) takes from one node's desk to
the other's, paced at ``--rate`` and in a burst, and an agent's reply delivered by the node
holding the customer (asked, taken, answered), beside a Redis PING round trip (the
baseline, in the same run). Both relays are in this process, on a redis-server this
bench starts on a free loopback port; CPU is this process's (both relays' and the
client's), per notice.

    .venv/bin/python bench/conversation_relay_bench.py [--notices 5000] [--replies 1000]
        [--rate 500] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402 -- after the sys.path line

from center.conversation_relay import ConversationRelay  # noqa: E402
from center.desk_events import DeskEvent  # noqa: E402
from center.desk_outlets import Outlet  # noqa: E402
from history.inputs import AuthorKind, Channel, Delivery, Direction, Status  # noqa: E402
from history.records import Interaction, Message  # noqa: E402
from hotline.web.typing_relay import TypingRelay  # noqa: E402
from tests.cluster.rig import REDIS, RedisServer  # noqa: E402

KEY = b"the relay bench's signing key..."
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


class Absent(Exception):
    pass


class Desk:
    def __init__(self) -> None:
        self.listeners: list[Callable[[DeskEvent], None]] = []
        self.outlets: dict[str, Outlet] = {}
        self.heard: Callable[[DeskEvent], None] = lambda event: None

    def subscribe(
        self, listener: Callable[[DeskEvent], None], *, everywhere: bool = False
    ) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def relayed(self, event: DeskEvent) -> None:
        self.heard(event)

    def register_outlet(
        self, channel: str, outlet: Outlet, *, message_ids: Callable[[], str] | None = None
    ) -> None:
        self.outlets[channel] = outlet


def message(n: int) -> Message:
    return Message(
        id=n, conversation_id=1, channel=Channel.CHAT, direction=Direction.IN,
        author_kind=AuthorKind.CUSTOMER, author_id=None, author_name="Mona", subject=None,
        body="my internet is down since this morning, the light is red", sent_at=NOW,
        delivery=Delivery.QUEUED, delivery_at=NOW, external_id=f"m{n}", in_reply_to=None,
        references=None, attachments=(), created_at=NOW,
    )  # fmt: skip


CHAT = Interaction(
    id=1, customer_id=7, channel=Channel.CHAT, direction=Direction.IN, started_at=NOW,
    ended_at=None, intent=None, call_type=None, priority=None, queue="support", agent="1001",
    wait_s=None, talk_s=None, outcome=None, status=Status.OPEN, disposition=None,
    recording_ref=None, transcript=None, csat=None, source="chat", external_id=None,
    idempotency_key=None, created_at=NOW, updated_at=NOW,
)  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(notices: int, replies: int, rate: float) -> None:
    assert REDIS is not None, "redis-server is not installed: run scripts/system-deps.sh"
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            await measure(server.url, notices, replies, rate)
        finally:
            server.stop()


async def measure(url: str, notices: int, replies: int, rate: float) -> None:
    client = aioredis.Redis.from_url(url)
    pings: list[float] = []
    cpu = time.process_time()
    for _ in range(replies):
        started = time.perf_counter()
        await client.ping()
        pings.append(time.perf_counter() - started)
    ping_cpu = (time.process_time() - cpu) / replies
    await client.aclose()

    desks = Desk(), Desk()
    relays = [ConversationRelay(url, "bench:desk", name, KEY) for name in "ab"]
    for relay, desk in zip(relays, desks, strict=True):
        relay.carry(desk, TypingRelay())

    async def customer_here(conversation: Interaction, said: Message) -> None:
        pass

    async def customer_not_here(conversation: Interaction, said: Message) -> None:
        raise Absent

    relays[0].outlet(desks[0], "chat", customer_here, absent=Absent)
    relays[1].outlet(desks[1], "chat", customer_not_here, absent=Absent)
    for relay in relays:
        await relay.start()
    try:
        sent_at: dict[int, float] = {}
        took: list[float] = []
        expected = [0]
        done = asyncio.Event()

        def heard(event: DeskEvent) -> None:
            assert event.message is not None
            took.append(time.perf_counter() - sent_at[event.message.id])
            if len(took) == expected[0]:
                done.set()

        def tell(n: int) -> None:
            sent_at[n] = time.perf_counter()
            for listener in desks[0].listeners:
                listener(DeskEvent("message", 1, "chat", "chat-1.1", None, message(n)))

        desks[1].heard = heard
        # paced: the latency of one notice among others at ``rate``/s
        expected[0] = notices
        cpu, start = time.process_time(), time.perf_counter()
        for n in range(notices):
            tell(n)
            await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.perf_counter()))
        await asyncio.wait_for(done.wait(), 60)
        notice_cpu = (time.process_time() - cpu) / notices
        paced = list(took)
        # a burst: as many as the relay carries back to back
        took.clear()
        done.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(notices, 2 * notices):
            tell(n)
            if n % 50 == 0:
                await asyncio.sleep(0)
        await asyncio.wait_for(done.wait(), 60)
        wall = time.perf_counter() - wall
        burst_cpu = (time.process_time() - cpu) / notices

        answered: list[float] = []
        cpu = time.process_time()
        for n in range(replies):
            started = time.perf_counter()
            await desks[1].outlets["chat"](CHAT, message(100_000 + n))
            answered.append(time.perf_counter() - started)
        reply_cpu = (time.process_time() - cpu) / replies
    finally:
        for relay in relays:
            await relay.close()

    print(f"{'what':<44} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms each':>12}")
    print(
        f"{'Redis PING round trip (baseline)':<44} {pct(pings, 0.5):8.3f} "
        f"{pct(pings, 0.99):8.3f} {ping_cpu * 1000:12.3f}"
    )
    print(
        f"{f'notice, desk A -> desk B, {rate:.0f}/s':<44} {pct(paced, 0.5):8.3f} "
        f"{pct(paced, 0.99):8.3f} {notice_cpu * 1000:12.3f}"
    )
    print(
        f"{'notice, a burst back to back':<44} {pct(took, 0.5):8.3f} "
        f"{pct(took, 0.99):8.3f} {burst_cpu * 1000:12.3f}"
    )
    print(
        f"{'agent reply on B, delivered by A (answered)':<44} {pct(answered, 0.5):8.3f} "
        f"{pct(answered, 0.99):8.3f} {reply_cpu * 1000:12.3f}"
    )
    print(
        f"burst: {notices} notices in {wall:.2f} s wall ({notices / wall:.0f}/s);"
        f" paced mean {statistics.fmean(paced) * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notices", type=int, default=5000)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=500.0, help="paced notices per second")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    notices, replies = (500, 100) if args.quick else (args.notices, args.replies)
    asyncio.run(run(notices, replies, args.rate))


if __name__ == "__main__":
    main()
