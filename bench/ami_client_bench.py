"""AMI client read path: events pushed through a real socket into `AmiClient`, its CPU per event.

A minimal AMI server (this process) logs the client in, then sends `--events` events at
`--rate` per second (one `send` per event, paced in 2 ms ticks; `--rate 0`: as fast as the
socket takes them). The events are Asterisk 20's own, recorded in tests/fixtures/asterisk
(`ami_*.jsonl`, all but Shutdown). The client under test runs in a child process, subscribed
to "*" (every event reaches a callback, as the service's subscribers do), and reports its own
CPU time, user and system apart, from the first event to the last.

Clients, alternately, `--rounds` times each: `hotline` (this tree's client), `before` (with
`--before DIR`: the client as found in DIR, say `git archive main telephony | tar -x -C DIR`),
and `floor`: a bare `BufferedProtocol` that only counts the events' blank lines, the cost of
getting the bytes at all.

    .venv/bin/python bench/ami_client_bench.py [--events 50000] [--rate 5000,0] [--before DIR]
    .venv/bin/python bench/ami_client_bench.py --quick   # 10,000 events, one round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TICK_S = 0.002


def recorded_events() -> list[bytes]:
    sys.path.insert(0, str(ROOT))
    from tests.transcripts import ASTERISK_TO_SERVICE, load, names

    events = [
        r.data.encode()
        for name in names("ami_")
        for r in load(name)
        if r.dir == ASTERISK_TO_SERVICE
        and r.data.startswith("Event: ")
        and not r.data.startswith("Event: Shutdown")  # it would end the session
    ]
    assert events, "no recorded AMI events in tests/fixtures/asterisk"
    return events


# -- the client under test (child process) ----------------------------------------------------


def usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


async def child_hotline(port: int, total: int) -> None:
    from telephony.ami_client import AmiClient
    from telephony.ami_codec import AmiMessage

    done = asyncio.Event()
    seen = 0
    start: tuple[float, float, float] | None = None

    def count(message: AmiMessage) -> None:
        nonlocal seen, start
        if start is None:
            start = (*usage(), time.perf_counter())
        seen += 1
        if seen == total:
            done.set()

    client = AmiClient(
        host=HOST, port=port, username="bench", secret="bench", ping_interval_s=3600
    )  # fmt: skip
    client.on_event("*", count)
    await client.start()
    await client.wait_connected(10)
    print("READY", flush=True)
    await done.wait()
    report(start, seen)
    await client.close()


async def child_floor(port: int, total: int) -> None:
    """Only the bytes: recv_into one buffer, count the blank lines that end events."""
    done = asyncio.Event()
    start: tuple[float, float, float] | None = None

    class Floor(asyncio.BufferedProtocol):
        def __init__(self) -> None:
            self.view = memoryview(bytearray(65536))
            self.seen = 0
            self.tail = b""

        def get_buffer(self, sizehint: int) -> memoryview:
            return self.view

        def buffer_updated(self, nbytes: int) -> None:
            nonlocal start
            if start is None:
                start = (*usage(), time.perf_counter())
            data = self.tail + self.view[:nbytes].tobytes()
            self.seen += data.count(b"\r\n\r\n")
            self.tail = data[-3:]
            if self.seen >= total:
                done.set()

    transport, floor = await asyncio.get_running_loop().create_connection(Floor, HOST, port)
    transport.write(b"Action: Login\r\nActionID: 1\r\nUsername: bench\r\nSecret: bench\r\n\r\n")
    await asyncio.sleep(0.2)
    floor.seen, start = 0, None  # the banner and the login's answer are not events
    print("READY", flush=True)
    await done.wait()
    report(start, floor.seen)
    transport.close()


def report(start: tuple[float, float, float] | None, seen: int) -> None:
    assert start is not None
    user, system = usage()
    wall = time.perf_counter() - start[2]
    result = {"user": user - start[0], "sys": system - start[1], "wall": wall, "seen": seen}
    print("RESULT " + json.dumps(result), flush=True)


# -- the fake Asterisk (this process) ---------------------------------------------------------


class FakeAmi:
    """Banner; answers Login, Ping and Logoff; `stream` pushes events to the one session."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.logged_in = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        self.writer = writer
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = dict(
                    line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line
                )
                action, aid = fields.get("Action", ""), fields.get("ActionID", "")
                answer = {"ping": "Ping: Pong\r\n", "logoff": "Message: Thanks\r\n"}
                extra = answer.get(action.lower(), "Message: Authentication accepted\r\n")
                writer.write(f"Response: Success\r\nActionID: {aid}\r\n{extra}\r\n".encode())
                if action.lower() == "login":
                    self.logged_in.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stream(self, events: list[bytes], total: int, rate: float) -> None:
        writer = self.writer
        assert writer is not None
        sent = 0
        started = time.perf_counter()
        while sent < total:
            due = total if rate <= 0 else min(total, int((time.perf_counter() - started) * rate))
            while sent < due:
                writer.write(events[sent % len(events)])
                sent += 1
                if rate <= 0 and sent % 64 == 0:
                    await writer.drain()
            await writer.drain()
            if rate > 0:
                await asyncio.sleep(TICK_S)


async def one_run(
    name: str, env: dict[str, str], events: list[bytes], total: int, rate: float
) -> dict[str, float]:
    fake = FakeAmi()
    server = await asyncio.start_server(fake.serve, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", name, "--port", str(port), "--events", str(total),
        env=env, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            assert (await proc.stdout.readline()).startswith(b"READY"), name
        await fake.stream(events, total, rate)
        async with asyncio.timeout(60 + total / max(rate, 1000)):
            line = await proc.stdout.readline()
        assert line.startswith(b"RESULT "), (name, line)
        result: dict[str, float] = json.loads(line[7:])
        assert result["seen"] == total, (name, result)
        await proc.wait()
        return result
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        server.close()


async def main(total: int, rates: list[float], rounds: int, before: str | None) -> None:
    events = recorded_events()
    size = sum(len(e) for e in events) / len(events)
    here = os.environ | {"PYTHONPATH": str(ROOT)}
    clients = [("hotline", "hotline", here), ("floor", "floor", here)]
    if before is not None:
        clients.insert(1, ("before", "hotline", os.environ | {"PYTHONPATH": before}))
    print(f"{total} events per run ({len(events)} recorded, {size:.0f} B mean), {rounds} rounds")
    print(f"load average {os.getloadavg()[0]:.2f}")
    header = "| rate/s | client | user µs/event | sys µs/event | CPU µs/event | wall s |"
    print(header)
    print("|---|---|---|---|---|---|")
    for rate in rates:
        results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in clients}
        for _ in range(rounds):
            for label, kind, env in clients:
                results[label].append(await one_run(kind, env, events, total, rate))
        for label, runs in results.items():
            user = statistics.median(r["user"] for r in runs) / total * 1e6
            system = statistics.median(r["sys"] for r in runs) / total * 1e6
            cpu = statistics.median(r["user"] + r["sys"] for r in runs) / total * 1e6
            wall = statistics.median(r["wall"] for r in runs)
            shown = "max" if rate <= 0 else f"{rate:g}"
            print(f"| {shown} | {label} | {user:.2f} | {system:.2f} | {cpu:.2f} | {wall:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", default="5000,0", help="events/s, comma-separated; 0 = max")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", metavar="DIR", help="also the AMI client from DIR")
    parser.add_argument("--quick", action="store_true", help="10,000 events, one round")
    parser.add_argument("--child", choices=("hotline", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "hotline":
        asyncio.run(child_hotline(args.port, args.events))
    elif args.child == "floor":
        asyncio.run(child_floor(args.port, args.events))
    else:
        before = os.path.abspath(args.before) if args.before else None
        if args.quick:
            args.events, args.rounds = 10_000, 1
        rates = [float(r) for r in args.rate.split(",")]
        asyncio.run(main(args.events, rates, args.rounds, before))
