"""FastAGI load test: N concurrent fake-Asterisk connections against two FastAGI servers.

The generator plays Asterisk on 127.0.0.1: each connection sends an environment block, then
answers every command at once with `200 result=0`. The server under test runs in its own
process and runs the same IVR-like handler on every call (COMMANDS commands cycling VERBOSE,
GET VARIABLE and STREAM FILE). Round-trip latency is measured on the Asterisk side, from
sending a reply to receiving the next command.

Paced mode (`--paced`): Asterisk takes `--interval` seconds to answer each command (a prompt
playing), so each call sends one command a second; calls start spread over one interval.
That is a live hotline's load shape: the latency is the server's own, not a queue's.

    .venv/bin/python bench/fastagi_bench.py [--calls 1,100,1000] [--commands 50]
    .venv/bin/python bench/fastagi_bench.py --paced [--calls 1000] [--commands 10]

`--before DIR` adds a third server in the same run: hotline's server as found in DIR (say,
`git archive main telephony | tar -x -C DIR`), to set a change beside the code it replaces.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"
IMPLEMENTATIONS = ("hotline", "panoramisk")
RUN_TIMEOUT_S = 40.0
ENV = (
    b"agi_network: yes\nagi_network_script: hotline\nagi_request: agi://127.0.0.1/hotline\n"
    b"agi_channel: SIP/caller-00000001\nagi_language: en\nagi_type: SIP\n"
    b"agi_uniqueid: 1795356514.3\nagi_version: 20.20.1\nagi_callerid: caller\n"
    b"agi_calleridname: bench\nagi_context: hotline\nagi_extension: 100\nagi_priority: 3\n\n"
)


def raise_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 16384 if hard == resource.RLIM_INFINITY else min(hard, 16384)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# -- the servers under test (child process) ---------------------------------------------------


async def serve_hotline(commands: int) -> None:
    from telephony.agi_server import AgiLimits, Fallback, FastAgiServer
    from telephony.agi_session import AgiSession

    async def ivr(session: AgiSession) -> None:
        for i in range(commands):
            if i % 3 == 0:
                await session.verbose("bench")
            elif i % 3 == 1:
                await session.get_variable("IVR_STAGE")
            else:
                await session.stream_file("beep")

    server = FastAgiServer(
        host=HOST, port=0, routes={"hotline": ivr}, allowed_hosts=[HOST],
        fallback=Fallback("hotline-fallback"), limits=AgiLimits(max_sessions=100_000),
    )  # fmt: skip
    await server.start()
    gc.freeze()  # as `hotline serve` does once started (hotline.process)
    print(f"PORT {server.port}", flush=True)
    await asyncio.Event().wait()


async def serve_panoramisk(commands: int) -> None:
    from panoramisk.fast_agi import Application

    app = Application()

    async def ivr(request: object) -> None:
        for i in range(commands):
            command = ('VERBOSE "bench" 1', "GET VARIABLE IVR_STAGE", 'STREAM FILE beep ""')[i % 3]
            await request.send_command(command)  # type: ignore[attr-defined]

    app.add_route("hotline", ivr)
    server = await asyncio.start_server(app.handler, HOST, 0, backlog=1024)
    gc.freeze()  # the same for both: full collections skip what start-up made
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


# -- the generator (Asterisk's side) ------------------------------------------------------------


@dataclass
class Run:
    calls: int
    completed: int = 0
    failed: int = 0
    commands: int = 0
    peak: int = 0
    in_progress: int = 0
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0


@dataclass(frozen=True)
class Pace:
    """How Asterisk's side answers: at once (saturated), or `interval_s` after each command."""

    interval_s: float = 0.0

    def phase(self) -> float:
        return random.uniform(0.0, self.interval_s)


async def one_call(port: int, run: Run, go: asyncio.Event, expected: int, pace: Pace) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    await go.wait()
    if pace.interval_s:
        await asyncio.sleep(pace.phase())
    writer.write(ENV)
    seen = 0
    sent_at: float | None = None
    try:
        while await reader.readline():
            now = time.perf_counter()
            if sent_at is None:
                run.in_progress += 1
                run.peak = max(run.peak, run.in_progress)
            else:
                run.latencies.append(now - sent_at)
            seen += 1
            if pace.interval_s:
                await asyncio.sleep(pace.interval_s)
            writer.write(b"200 result=0\n")
            sent_at = time.perf_counter()
    except ConnectionError:
        pass
    finally:
        if sent_at is not None:
            run.in_progress -= 1
        run.commands += seen
        if seen >= expected:  # hotline also marks the session done (SET VARIABLE HOTLINE_DONE)
            run.completed += 1
        else:
            run.failed += 1
        writer.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, pid: int, calls: int, commands: int, pace: Pace = Pace()) -> Run:
    run = Run(calls)
    go = asyncio.Event()
    tasks = [asyncio.create_task(one_call(port, run, go, commands, pace)) for _ in range(calls)]
    await asyncio.sleep(0.2 + calls / 2000)  # let every connection be accepted first
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    go.set()
    try:
        async with asyncio.timeout(RUN_TIMEOUT_S + (commands + 2) * pace.interval_s):
            await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    run.wall_s = time.perf_counter() - started
    run.server_cpu_s = cpu_seconds(pid) - cpu
    return run


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, run: Run) -> str:
    rate = run.commands / run.wall_s if run.wall_s else 0.0
    p50 = statistics.median(run.latencies) * 1000 if run.latencies else float("nan")
    p99 = percentile(run.latencies, 0.99) * 1000
    worst = max(run.latencies, default=float("nan")) * 1000
    return (
        f"{name:<11} {run.calls:>5} {run.completed:>6}/{run.calls:<5} {run.peak:>5} "
        f"{run.commands:>7} {rate:>9.0f} {p50:>8.2f} {p99:>8.2f} {worst:>8.2f} {run.wall_s:>7.2f} "
        f"{run.server_cpu_s:>7.2f} {run.server_cpu_s / max(run.commands, 1) * 1e6:>7.0f}"
    )


async def main(calls: list[int], commands: int, pace: Pace, before: str | None) -> None:
    raise_open_file_limit()
    answers = f"after {pace.interval_s:g} s (paced)" if pace.interval_s else "instantly"
    print(f"{commands} commands per call; Asterisk side answers {answers}; 127.0.0.1")
    print(
        f"{'server':<11} {'calls':>5} {'completed':>12} {'peak':>5} {'cmds':>7} {'cmd/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'wall s':>7} {'srv cpu':>7} {'µs/cmd':>7}"
    )
    servers = {}
    launch: list[tuple[str, str, dict[str, str] | None]] = [(n, n, None) for n in IMPLEMENTATIONS]
    if before is not None:  # the same serve_hotline, importing `telephony` from DIR
        launch.insert(1, ("before", "hotline", os.environ | {"PYTHONPATH": before}))
    try:
        for name, serve, env in launch:
            proc = subprocess.Popen(  # noqa: ASYNC220 (once, before measuring)
                [sys.executable, __file__, "--serve", serve, "--commands", str(commands)],
                stdout=subprocess.PIPE, text=True, env=env,
            )  # fmt: skip
            assert proc.stdout is not None
            servers[name] = (proc, int(proc.stdout.readline().split()[1]))
        for proc, port in servers.values():  # warm-up, not reported
            await measure(port, proc.pid, 100, commands)
        for i, n in enumerate(calls):
            order = list(servers.items())
            order = order[i % len(order) :] + order[: i % len(order)]  # no server always first
            per_cmd: dict[str, float] = {}
            for name, (proc, port) in order:
                run = await measure(port, proc.pid, n, commands, pace)
                per_cmd[name] = run.server_cpu_s / max(run.commands, 1)
                print(row(name, run), flush=True)
            for name in per_cmd.keys() - {"panoramisk"}:
                ratio = per_cmd["panoramisk"] / max(per_cmd[name], 1e-12)
                print(f"{name:<11} {n:>5} server capacity (CPU per command): "
                      f"{ratio:.2f}x panoramisk's")  # fmt: skip
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", help="concurrent calls per run (default 1,100,1000; paced 1000)")
    parser.add_argument("--commands", type=int, help="commands per call (default 50; paced 10)")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 calls only")
    parser.add_argument("--paced", action="store_true", help="Asterisk answers after --interval")
    parser.add_argument("--interval", type=float, default=1.0, help="paced: seconds per command")
    parser.add_argument("--before", metavar="DIR", help="also hotline's server from DIR")
    parser.add_argument("--serve", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    commands = args.commands or (10 if args.paced else 50)
    if args.serve:
        raise_open_file_limit()
        serve = serve_hotline if args.serve == "hotline" else serve_panoramisk
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(commands))
    else:
        default = "1000" if args.paced else "100,1000" if args.quick else "1,100,1000"
        pace = Pace(args.interval if args.paced else 0.0)
        runs = [int(n) for n in (args.calls or default).split(",")]
        before = os.path.abspath(args.before) if args.before else None
        asyncio.run(main(runs, commands, pace, before))
