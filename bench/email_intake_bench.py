"""E-mail intake: messages/s the SMTP server accepts into the service's callback.

N client connections (aiosmtplib, one process) each send M typical customer messages (~85 KB:
plain text + HTML alternative, a 60 KB PDF attachment, base64) to a server in its own
process on 127.0.0.1, one after another on the same connection. Two servers, measured in the
same run:

* ``hotline``: ``InboundSmtpServer`` as the service runs it: recipient and peer checks,
  every message parsed into an ``InboundEmail`` (within the limits), the 250 after an async
  callback (here a no-op that counts) returned;
* ``aiosmtpd``: the baseline, aiosmtpd's ``SMTP`` with a handler that answers 250 and does
  nothing (no parsing, no checks), out of the box.

Wall time is the generator's, from the first MAIL to the last reply; server CPU is the
server process's user+system time over the same span.

    .venv/bin/python bench/email_intake_bench.py [--connections 1,10,50] [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's packages

HOST = "127.0.0.1"
RECIPIENT = "support@hotline.test"
IMPLEMENTATIONS = ("hotline", "aiosmtpd")
RUN_TIMEOUT_S = 120.0


def typical_message(index: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {index} <customer{index}@example.com>"
    message["To"] = RECIPIENT
    message["Subject"] = f"Question about invoice {index}"
    message["Message-ID"] = f"<bench-{index}@example.com>"
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    text = f"Hello,\n\nmy invoice {index} looks wrong; the scan is attached.\n\nThanks\n" * 3
    message.set_content(text)
    message.add_alternative(f"<p>{text.replace(chr(10), '<br>')}</p>", subtype="html")
    scan = random.Random(index).randbytes(60_000)
    message.add_attachment(scan, "application", "pdf", filename=f"invoice-{index}.pdf")
    return message.as_bytes()


# -- the servers under test (child process) ---------------------------------------------------


async def serve_hotline() -> None:
    from channels.email.message import InboundEmail
    from channels.email.smtp_policy import PeerLimitSettings
    from channels.email.smtp_server import InboundSmtpServer, SmtpServerSettings

    received = 0

    async def on_mail(email: InboundEmail, raw: bytes) -> None:
        nonlocal received
        received += 1

    peers = PeerLimitSettings(
        max_connections=10_000, max_connections_per_peer=10_000,
        max_messages_per_peer_per_minute=10_000_000,
    )  # fmt: skip
    settings = SmtpServerSettings(
        accepted_recipients=(RECIPIENT,), host=HOST, port=0, hostname="mx.hotline.test",
        peers=peers,
    )  # fmt: skip
    server = InboundSmtpServer(settings, on_mail)
    await server.start()
    print(f"PORT {server.port}", flush=True)
    await asyncio.Event().wait()


async def serve_aiosmtpd() -> None:
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Accept:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            return "250 OK"

    loop = asyncio.get_running_loop()
    handler = Accept()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mx.hotline.test", loop=loop), HOST, 0
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


# -- the generator (the senders' MTAs) ----------------------------------------------------------


@dataclass
class Run:
    connections: int
    messages: int
    accepted: int = 0
    failed: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0


async def one_connection(port: int, bodies: list[bytes], run: Run, go: asyncio.Event) -> None:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname=HOST, port=port, local_hostname="mta.example.com",
                             start_tls=False, timeout=60)  # fmt: skip
    await client.connect()
    try:
        await go.wait()
        for body in bodies:
            try:
                await client.sendmail("sender@example.com", [RECIPIENT], body)
                run.accepted += 1
            except aiosmtplib.SMTPException:
                run.failed += 1
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException):
            await client.quit()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, pid: int, connections: int, messages: int, bodies: list[bytes]) -> Run:
    batches = [
        [bodies[(c * messages + m) % len(bodies)] for m in range(messages)]
        for c in range(connections)
    ]
    return await measure_batches(port, pid, batches)


async def measure_batches(port: int, pid: int, batches: list[list[bytes]]) -> Run:
    """Each batch sent by its own connection, all at once; the server's and our CPU time."""
    run = Run(len(batches), len(batches[0]) if batches else 0)
    go = asyncio.Event()
    connections = len(batches)
    tasks = [asyncio.create_task(one_connection(port, batch, run, go)) for batch in batches]
    await asyncio.sleep(0.2 + connections / 500)  # every connection greeted first
    cpu, own = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    go.set()
    async with asyncio.timeout(RUN_TIMEOUT_S):
        await asyncio.gather(*tasks)
    run.wall_s = time.perf_counter() - started
    run.server_cpu_s = cpu_seconds(pid) - cpu
    run.client_cpu_s = time.process_time() - own
    return run


def row(name: str, run: Run, width: int = 9) -> str:
    rate = run.accepted / run.wall_s if run.wall_s else 0.0
    per_message = run.server_cpu_s / max(run.accepted, 1) * 1000
    return (
        f"{name:<{width}} {run.connections:>5} {run.messages:>5} {run.accepted:>6}/{run.failed:<3} "
        f"{rate:>8.0f} {run.wall_s:>7.2f} {run.server_cpu_s:>8.2f} {per_message:>8.2f} "
        f"{run.client_cpu_s:>8.2f}"
    )


async def main(connection_counts: list[int], messages: int) -> None:
    bodies = [typical_message(i) for i in range(50)]
    size = sum(map(len, bodies)) // len(bodies)
    print(f"{messages} messages per connection, {size} bytes each (text + HTML + 60 KB PDF); "
          f"127.0.0.1; {os.cpu_count()} cores shared by server and senders")  # fmt: skip
    print(
        f"{'server':<9} {'conns':>5} {'msgs':>5} {'ok/fail':>10} {'msg/s':>8} {'wall s':>7} "
        f"{'srv cpu':>8} {'ms/msg':>8} {'cli cpu':>8}"
    )
    servers = {}
    try:
        for name in IMPLEMENTATIONS:
            proc = subprocess.Popen(  # noqa: ASYNC220 (once, before measuring)
                [sys.executable, __file__, "--serve", name], stdout=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None
            servers[name] = (proc, int(proc.stdout.readline().split()[1]))
        for proc, port in servers.values():  # warm-up, not reported
            await measure(port, proc.pid, 2, 5, bodies)
        for i, n in enumerate(connection_counts):
            order = list(servers.items())
            for name, (proc, port) in order if i % 2 == 0 else reversed(order):
                print(row(name, await measure(port, proc.pid, n, messages, bodies)), flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="1,10,50")
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--serve", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve = serve_hotline if args.serve == "hotline" else serve_aiosmtpd
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
    else:
        asyncio.run(main([int(n) for n in args.connections.split(",")], args.messages))
