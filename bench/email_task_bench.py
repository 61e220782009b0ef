"""E-mail into tasks: messages/s the service's SMTP server accepts as routed tasks (stored and
queued in the ACD), on SQLite and on PostgreSQL, beside the bare intake in the same run.

N client connections (aiosmtplib, this process) each send M typical customer messages (the
intake bench's: ~85 KB, text + HTML + a 60 KB PDF) to a server in its own process on
127.0.0.1; every message has its own Message-ID and one of 500 customers' addresses. Three
servers, measured in the same run:

* ``intake``: the baseline, ``InboundSmtpServer`` with a no-op callback (parsing, checks,
  the 250 after the callback), as bench/email_intake_bench.py measures it;
* ``sqlite`` / ``postgresql``: the e-mail channel as the service runs it
  (``center.email_channel``): the sender's customer and thread looked up, a conversation
  opened, the message and its PDF stored (the file fsync'd in the attachment store), the
  intent classified by the IVR's model from config/intents.yaml, the customer's profile
  read, the task queued in the ACD built from config/ (no agent logged in: every task waits),
  and only then the 250.

Wall time is the senders', from the first MAIL to the last reply; server CPU is the server
process's user+system time over the same span. After each run the server says how many
tasks its ACD holds and how many conversations its store has, checked against the messages
accepted.

    .venv/bin/python bench/email_task_bench.py [--connections 1,10,50] [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's packages
sys.path.insert(0, str(ROOT / "bench"))

from email_intake_bench import (  # noqa: E402  (after the path is set)
    HOST,
    RECIPIENT,
    Run,
    measure_batches,
    typical_message,
)
from email_intake_bench import row as intake_row  # noqa: E402

if TYPE_CHECKING:
    from channels.email.smtp_server import SmtpServerSettings

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SERVERS = ("intake", "sqlite", "postgresql")
CUSTOMERS = 500
_ID_MARK = b"<bench-"


# -- the servers under test (child process) ---------------------------------------------------


async def serve_intake() -> None:
    from channels.email.message import InboundEmail
    from channels.email.smtp_server import InboundSmtpServer

    async def on_mail(email: InboundEmail, raw: bytes) -> None:
        return None

    server = InboundSmtpServer(_server_settings(), on_mail)
    await server.start()
    print(f"PORT {server.port}", flush=True)

    async def counts() -> tuple[int, int]:
        return 0, 0

    await _answer_counts(counts)


async def serve_channel(backend: str) -> None:
    from sqlalchemy import func, select, text

    from acd.build import build_acd
    from acd.events import InMemoryEventSink
    from center.conversation_routing import ConversationRouting
    from center.conversations import ConversationDesk
    from center.email_channel import EmailChannel
    from center.service import AcdService
    from channels.email.settings import EmailSettings
    from history.attachments import AttachmentStore
    from history.conversations import Conversations
    from history.models import InteractionRow
    from history.repository import HistoryRepository
    from history.store import create_engine, migrate
    from hotline.config import load_config
    from ivr.callers import HistoryDirectory
    from ivr.intent.classifier import build_classifier

    config = load_config(ROOT / "config", environ={})
    scratch = Path(tempfile.mkdtemp(prefix="email-task-bench-"))
    schema = None
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{scratch}/hotline.db")
    else:
        schema = f"email_task_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        async with admin.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_engine(PG_URL, schema=schema)
    await migrate(engine)
    repository = HistoryRepository(engine, attachments=AttachmentStore(scratch / "files"))
    conversations = Conversations(repository)
    acd = AcdService(
        build_acd(config.priority, config.queues, config.agents, config.skills),
        sink=InMemoryEventSink(keep=False),
    )
    await acd.start(login_all=False)
    classifier = build_classifier(config.intents)
    queues = config.queues
    desk = ConversationDesk(
        conversations,
        acd,
        ConversationRouting(
            queues.conversation_queue or "",
            dict(queues.conversations.queues),
            language=config.ivr.language,
        ),
        directory=HistoryDirectory(repository),
        classify=classifier.classify,
    )
    settings = EmailSettings.model_validate(
        {
            "enabled": True,
            "host": HOST,
            "port": 0,
            "accepted_recipients": [RECIPIENT],
            "from_address": RECIPIENT,
            "relay": {"host": HOST, "port": 1, "security": "none"},  # no reply is sent
            "limits": {
                "max_connections": 10_000,
                "max_connections_per_peer": 10_000,
                "max_messages_per_peer_per_minute": 1_000_000,
            },
        }
    )
    channel = EmailChannel(settings, desk, conversations, environ={})
    await channel.start()
    print(f"PORT {channel.port}", flush=True)

    async def counts() -> tuple[int, int]:
        await desk.flush()
        async with engine.connect() as connection:
            held = await connection.execute(select(func.count()).select_from(InteractionRow))
            stored = int(held.scalar_one())
        return sum(1 for _ in acd.distributor.router.calls()), stored

    try:
        await _answer_counts(counts)
    finally:
        await channel.close()
        await desk.stop()
        await acd.close()
        await engine.dispose()
        if schema is not None:
            async with admin.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()


def _server_settings() -> SmtpServerSettings:
    from channels.email.smtp_policy import PeerLimitSettings
    from channels.email.smtp_server import SmtpServerSettings

    peers = PeerLimitSettings(
        max_connections=10_000, max_connections_per_peer=10_000,
        max_messages_per_peer_per_minute=1_000_000,
    )  # fmt: skip
    return SmtpServerSettings(
        accepted_recipients=(RECIPIENT,), host=HOST, port=0, hostname="mx.hotline.test",
        peers=peers,
    )  # fmt: skip


async def _answer_counts(counts: Callable[[], Awaitable[tuple[int, int]]]) -> None:
    """Each line on stdin is answered with ``COUNTS <tasks waiting> <conversations>``; the
    end of stdin ends the server."""
    while line := await asyncio.to_thread(sys.stdin.readline):
        if line.strip() == "COUNTS":
            tasks, stored = await counts()
            print(f"COUNTS {tasks} {stored}", flush=True)


# -- the generator (the customers' mail systems) ------------------------------------------------


class Mail:
    """Typical messages, each sent with a Message-ID and a customer address of its own."""

    def __init__(self) -> None:
        self.templates = [typical_message(i) for i in range(50)]
        self.serial = itertools.count()
        self.run = uuid.uuid4().hex[:6]

    def batch(self, count: int) -> list[bytes]:
        bodies = []
        for _ in range(count):
            n = next(self.serial)
            raw = self.templates[n % len(self.templates)]
            head, _, tail = raw.partition(_ID_MARK)
            unique = f"{self.run}-{n}".encode()
            tail = tail.split(b"@", 1)[1]
            customer = f"customer{n % CUSTOMERS}@example.com".encode()
            head = head.replace(f"customer{n % len(self.templates)}@example.com".encode(), customer)
            bodies.append(head + _ID_MARK + unique + b"@" + tail)
        return bodies


async def measure(port: int, pid: int, connections: int, messages: int, mail: Mail) -> Run:
    return await measure_batches(port, pid, [mail.batch(messages) for _ in range(connections)])


def row(name: str, run: Run) -> str:
    return intake_row(name, run, width=10)


def counts_of(proc: subprocess.Popen[str]) -> tuple[int, int]:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("COUNTS\n")
    proc.stdin.flush()
    _, tasks, stored = proc.stdout.readline().split()
    return int(tasks), int(stored)


async def main(connection_counts: list[int], messages: int, chosen: list[str]) -> None:
    mail = Mail()
    size = sum(map(len, mail.templates)) // len(mail.templates)
    print(f"{messages} messages per connection, {size} bytes each (text + HTML + 60 KB PDF), "
          f"{CUSTOMERS} customers; 127.0.0.1; {os.cpu_count()} cores shared by server and "
          "senders")  # fmt: skip
    print(
        f"{'server':<10} {'conns':>5} {'msgs':>5} {'ok/fail':>10} {'msg/s':>8} {'wall s':>7} "
        f"{'srv cpu':>8} {'ms/msg':>8} {'cli cpu':>8}  tasks/stored"
    )
    servers: dict[str, tuple[subprocess.Popen[str], int]] = {}
    accepted = dict.fromkeys(SERVERS, 0)
    try:
        for name in chosen:
            proc = subprocess.Popen(  # noqa: ASYNC220 (once, before measuring)
                [sys.executable, __file__, "--serve", name],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
            assert proc.stdout is not None
            servers[name] = (proc, int(proc.stdout.readline().split()[1]))
        for name, (proc, port) in servers.items():  # warm-up, not reported
            accepted[name] += (await measure(port, proc.pid, 2, 5, mail)).accepted
        for i, n in enumerate(connection_counts):
            order = list(servers.items())
            for name, (proc, port) in order if i % 2 == 0 else reversed(order):
                run = await measure(port, proc.pid, n, messages, mail)
                accepted[name] += run.accepted
                tasks, stored = counts_of(proc)
                check = "" if name == "intake" else f"  {tasks}/{stored} of {accepted[name]}"
                print(row(name, run) + check, flush=True)
    finally:
        for proc, _ in servers.values():
            if proc.stdin is not None:
                proc.stdin.close()  # the server closes its channel and drops its schema
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="1,10,50")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--servers", default=",".join(SERVERS), help="which to measure")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "intake":
        asyncio.run(serve_intake())
    elif args.serve:
        asyncio.run(serve_channel(args.serve))
    else:
        chosen = [name for name in args.servers.split(",") if name in SERVERS]
        asyncio.run(main([int(n) for n in args.connections.split(",")], args.messages, chosen))
