"""The whole stack under a rising call rate: how many calls per second, and how many calls at
once, hotline holds on this machine with no call lost.

The service (``Hotline`` on the shipped ``config/``, with enough generated agents that
staffing is never the limit) runs in its own process, so its CPU figures are its own. This
process plays Asterisk: the emulator places calls that walk the IVR by DTMF ("1" English,
"0" an agent), are queued, offered by Dial, answered by a simulated phone, talk, hang up,
and are written to the SQLite history while the agent wraps up. The arrival rate steps up
until a call is lost or the answer latency explodes.

Per step: offered calls/s, placed, completed (answered by an agent through hotline), lost
(anything else: fallback, dropped, still ringing when the step's drain ended), peak calls in
progress, p50/p95 of start-to-answer beyond the scripted IVR time (the fastest idle call),
the service's event-loop lag (p95/max of a 20 ms ticker), the service's CPU, and this
process's. The baseline is the emulator's own fallback path at the same rates: Asterisk's
``Queue()`` ringing the same phones, no hotline. At the end the service is profiled
(cProfile) for one step at the highest rate it held, and its top functions are printed.

    .venv/bin/python bench/stack_bench.py [--rates 5,10,20,40] [--step-s 6] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import itertools
import json
import math
import os
import pstats
import resource
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AMI_SECRET = "bench"
TIME_SCALE = 0.05  # one virtual second of prompts, rings and talk lasts 50 ms
RING_S, TALK_S = 1.0, 10.0  # virtual
WRAP_UP_S = 0.5  # real (the service's own timer)
SCRIPT = "10"  # English, then "an agent" at the main menu
LAG_TICK_S = 0.02
LATENCY_LIMIT_S = 2.0  # p95 beyond the scripted IVR time: "latency explodes"
NUMBERS = itertools.count(1)
SKILLS = {"lang.en": 3, "product.internet": 3, "problem_solving": 3, "experience": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the service (child process) ----------------------------------------------------------------


def bench_config(agi_port: int, ami_port: int, agents: int, work: Path) -> Any:
    from hotline.config import load_config
    from ivr.flow.models import BusinessHours

    roster = [
        {"id": str(2000 + n), "name": f"Agent {n}", "endpoint": f"PJSIP/agent{2000 + n}",
         "skills": SKILLS}
        for n in range(agents)
    ]  # fmt: skip
    config = load_config(
        ROOT / "config",
        environ={},
        overrides={
            "fastagi.port": agi_port,
            "fastagi.limits.max_sessions": 100_000,
            "web.port": 0,
            "ami.port": ami_port,
            "ami.secret": AMI_SECRET,
            "database.url": f"sqlite+aiosqlite:///{work}/hotline.db",
            "database.spool": str(work / "spool.jsonl"),
            "speech.enabled": False,
            "agents.agents": roster,
            "agents.policy.wrap_up_s": WRAP_UP_S,
            "waiting.login_all_agents_at_start": True,
            "logging.level": "CRITICAL",
        },
    )
    ivr = config.ivr.model_copy(update={"business_hours": BusinessHours()})
    return config.model_copy(update={"ivr": ivr})


class LagProbe:
    """How late a 20 ms ticker wakes up: the event loop's lag."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_TICK_S
            await asyncio.sleep(LAG_TICK_S)
            self.samples.append(max(0.0, loop.time() - due))

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


async def serve(agi_port: int, ami_port: int, agents: int, work: Path) -> None:
    from sqlalchemy import text

    from hotline.app import Hotline

    service = Hotline(bench_config(agi_port, ami_port, agents, work))
    await service.start()
    await service.ami.wait_connected()
    lag = LagProbe()
    probe = asyncio.create_task(lag.run())
    profiler: cProfile.Profile | None = None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("READY", flush=True)
    while line := (await reader.readline()).decode().strip():
        if line == "stats":
            await service.interactions.flush()
            async with service.store.connect() as connection:
                written = (
                    await connection.execute(text("SELECT count(*) FROM interactions"))
                ).scalar_one()
            samples = lag.take()
            reply = {"cpu_s": cpu_s(), "lag": samples, "interactions": int(written)}
            print(json.dumps(reply), flush=True)
        elif line == "profile-on":
            profiler = cProfile.Profile()
            profiler.enable()
            print("{}", flush=True)
        elif line == "profile-off" and profiler is not None:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
            print(json.dumps({"profile": out.getvalue()}), flush=True)
    probe.cancel()
    await service.close()


# -- Asterisk's side: the emulator and the callers (this process) -------------------------------


@dataclass
class Step:
    path: str
    rate: float
    placed: int = 0
    completed: int = 0
    in_progress: int = 0
    peak: int = 0
    waits: list[float] = field(default_factory=list)  # start -> answer, real seconds
    wall_s: float = 0.0
    service_cpu_s: float = math.nan
    own_cpu_s: float = 0.0
    lag: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.placed - self.completed


class Answers:
    """When each caller channel was answered by an agent, from the emulator's AMI events."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def __call__(self, pairs: list[tuple[str, str]]) -> None:
        fields = dict(reversed(pairs))  # the first Uniqueid (the caller's) wins
        name = fields.get("Event")
        if name == "AgentConnect" or (name == "DialEnd" and fields.get("DialStatus") == "ANSWER"):
            self.at.setdefault(fields.get("Uniqueid", ""), time.perf_counter())


#: The longest control reply: "stats" carries every loop-lag sample of a step (a minute or
#: more is well over asyncio's default 64 KiB line limit).
STATS_LINE_LIMIT = 64 * 1024 * 1024


class Service:
    """The service process and its stdin/stdout control line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))


async def one_call(emulator: Any, step: Step, answers: Answers, fallback: bool) -> None:
    from telephony.emulator import Caller

    # Every call a different first-time caller (one number would be a repeat caller who
    # waits for their last agent: queues.yaml's preferred_agent window).
    caller = Caller(number=f"+97155{next(NUMBERS):07d}", dtmf=SCRIPT, barge_in=False)
    started = time.perf_counter()
    if fallback:
        call = await emulator.place_call(caller, context="hotline-fallback", exten="s")
    else:
        call = await emulator.place_call(caller)
    step.placed += 1
    step.in_progress += 1
    step.peak = max(step.peak, step.in_progress)
    try:
        result = await call.wait_done(timeout_s=60.0)
    except TimeoutError:
        return
    finally:
        step.in_progress -= 1
    if fallback:
        ok = result.fallback_phone is not None
    else:
        ok = not result.fallback_used and any(d.status == "ANSWER" for d in result.dials)
    answered = answers.at.get(call.uniqueid)
    if ok and answered is not None:
        step.completed += 1
        step.waits.append(answered - started)


async def run_step(
    emulator: Any, service: Service | None, answers: Answers, rate: float, step_s: float,
    *, fallback: bool,
) -> Step:  # fmt: skip
    step = Step("fallback Queue()" if fallback else "hotline", rate)
    before = await service.ask("stats") if service else None
    own = cpu_s()
    started = time.perf_counter()
    calls: list[asyncio.Task[None]] = []
    for n in range(int(rate * step_s)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        calls.append(asyncio.create_task(one_call(emulator, step, answers, fallback)))
    await asyncio.gather(*calls)
    step.wall_s = time.perf_counter() - started
    step.own_cpu_s = cpu_s() - own
    if service and before:
        after = await service.ask("stats")
        step.service_cpu_s = after["cpu_s"] - before["cpu_s"]
        step.lag = after["lag"]
    return step


HEADER = (
    f"{'path':<17} {'calls/s':>7} {'placed':>6} {'done':>5} {'lost':>5} {'peak':>5} "
    f"{'p50 s':>6} {'p95 s':>6} {'lag p95':>8} {'lag max':>8} {'srv cpu':>8} {'emu cpu':>8}"
)


def row(step: Step, floor: float) -> str:
    extra = [w - floor for w in step.waits]
    p50 = statistics.median(extra) if extra else math.nan
    p95 = percentile(extra, 0.95)
    lag95 = percentile(step.lag, 0.95) * 1000
    lagmax = max(step.lag, default=math.nan) * 1000
    srv = step.service_cpu_s / step.wall_s * 100
    own = step.own_cpu_s / step.wall_s * 100
    return (
        f"{step.path:<17} {step.rate:>7g} {step.placed:>6} {step.completed:>5} {step.lost:>5} "
        f"{step.peak:>5} {p50:>6.2f} {p95:>6.2f} {lag95:>6.0f}ms {lagmax:>6.0f}ms "
        f"{srv:>7.0f}% {own:>7.0f}%"
    )


def broke(step: Step, floor: float) -> bool:
    extra = [w - floor for w in step.waits]
    return step.lost > 0 or percentile(extra, 0.95) > LATENCY_LIMIT_S


async def calibrate(emulator: Any, answers: Answers, *, fallback: bool) -> float:
    """The scripted time to an agent: the fastest of a few calls on an idle stack."""
    step = Step("calibrate", 1.0)
    for _ in range(3):
        await one_call(emulator, step, answers, fallback)
    if not step.waits:
        raise SystemExit("calibration calls were not answered: the stack does not work")
    return min(step.waits)


async def main(rates: list[float], step_s: float, profile: bool) -> None:
    from hotline.ami_events import EVENT_FILTERS
    from telephony.emulator import AgentPhone, AsteriskEmulator

    agents = int(max(rates) * (RING_S + TALK_S) * TIME_SCALE * 1.5 + max(rates) * WRAP_UP_S * 1.5)
    agents = max(agents, 10)
    phones = [
        AgentPhone(f"PJSIP/agent{2000 + n}", "answer", ring_s=RING_S, talk_s=TALK_S)
        for n in range(agents)
    ]
    agi_port = free_port()
    emulator = AsteriskEmulator(
        agi_port=agi_port, ami_users={"hotline": AMI_SECRET}, phones=phones,
        ami_event_filters={"hotline": EVENT_FILTERS},
        time_scale=TIME_SCALE, queue_timeout_s=600.0,
    )  # fmt: skip
    answers = Answers()
    emulator.subscribe(answers)
    await emulator.start()
    with tempfile.TemporaryDirectory(prefix="stack-bench-") as work:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", str(agi_port), str(emulator.ami_port),
            str(agents), work, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=STATS_LINE_LIMIT,
        )  # fmt: skip
        service = Service(proc)
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(60):
                while (await proc.stdout.readline()).strip() != b"READY":
                    pass
            await asyncio.sleep(1.0)  # agents logged in, channel table resynced
            print(
                f"{os.cpu_count()} CPUs; {agents} agents; time scale {TIME_SCALE} (ring "
                f"{RING_S * TIME_SCALE:g} s, talk {TALK_S * TIME_SCALE:g} s real), wrap-up "
                f"{WRAP_UP_S} s; IVR script {SCRIPT!r}; steps of {step_s:g} s"
            )
            floors = {
                "hotline": await calibrate(emulator, answers, fallback=False),
                "fallback Queue()": await calibrate(emulator, answers, fallback=True),
            }
            print(
                f"scripted time to an agent (idle): hotline {floors['hotline']:.2f} s, "
                f"fallback Queue() {floors['fallback Queue()']:.2f} s; p50/p95 below are "
                "beyond it"
            )
            print(HEADER, flush=True)
            held: float | None = None
            broken = {"hotline": False, "fallback Queue()": False}
            for rate in rates:
                for fallback in (False, True):
                    name = "fallback Queue()" if fallback else "hotline"
                    if broken[name]:
                        continue
                    step = await run_step(
                        emulator, None if fallback else service, answers, rate, step_s,
                        fallback=fallback,
                    )  # fmt: skip
                    print(row(step, floors[name]), flush=True)
                    if broke(step, floors[name]):
                        broken[name] = True
                    elif not fallback:
                        held = rate
                    await asyncio.sleep(WRAP_UP_S * 2)  # agents back from wrap-up
                if all(broken.values()):
                    break
            print(f"held with no call lost: {held or 0:g} calls/s")
            if profile:
                at = next((r for r in rates if held is None or r > held), rates[-1])
                await service.ask("profile-on")
                step = await run_step(emulator, None, answers, at, step_s, fallback=False)
                profiled = await service.ask("profile-off")
                print(f"\nservice profile at {at:g} calls/s (top by own time):")
                print(row(step, floors["hotline"]))
                print(profiled["profile"])
            stats = await service.ask("stats")
            print(f"interactions written to the history: {stats['interactions']}")
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await proc.wait()
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
            await emulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5,10,20,40", help="calls per second, in order")
    parser.add_argument("--step-s", type=float, default=6.0)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--quick", action="store_true", help="CI-sized: two short steps")
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    resource.setrlimit(
        resource.RLIMIT_NOFILE, (8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    )
    if args.serve:
        agi, ami, agents, work = args.serve
        asyncio.run(serve(int(agi), int(ami), int(agents), Path(work)))
    else:
        if args.quick:
            args.rates, args.step_s = "5,20", 4.0
        rates = [float(r) for r in args.rates.split(",")]
        asyncio.run(main(rates, args.step_s, profile=not args.no_profile))
