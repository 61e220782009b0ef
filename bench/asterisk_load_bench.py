"""Load through a real Asterisk 20: SIPp callers at a fixed rate, SIPp agents' phones, and
hotline (``hotline serve``, its own process) against Asterisk's own ``Queue()`` on the same
traffic.

The rig of tests/asterisk (the bundle in ../shared/asterisk-20, the project's docker configs)
starts one Asterisk with extra agents (pjsip.conf and the fallback queue get them; hotline
gets them by ``agents.agents``). SIPp places calls to 100 at ``--rate`` calls/s for
``--seconds``: each presses 1 (English), skips the open question and presses 0 (an agent),
then waits; an agent's phone rings 0.2 s, talks ``--talk-s`` and hangs up. Staffing is a
little short of the load, so callers wait and every agent that frees up has a call to take.

Run 1, hotline: the dialplan runs ``AGI(${HOTLINE_AGI})`` and hotline's IVR and ACD serve
the call. Run 2, the baseline: hotline is not running, so the same dialplan sends every
call to ``[hotline-fallback]``, Asterisk's ``Queue(hotline)`` over the same phones (same
wrap-up: 1 s on both sides; its callers press no keys: there is no IVR).

Per run, every call is counted from outside (SIPp: the callers' successful/failed calls, a
caller giving up after ``--hold-s`` counts as successful; the agents' phones: calls they
answered), in Asterisk's CDR (``cdr_csv``: records, and those that dialled an agent), and in
hotline's history (run 1: interactions, answered ones); after the drain: AGI sessions still
up (hung) and channels left in Asterisk (leaked). The offer-to-Dial delay: from an agent's
phone finishing a call (its BYE answered) plus the configured wrap-up, to the next INVITE
reaching that phone, when that INVITE came within 3 s (a call was waiting), from SIPp's
message traces: p50/p95/max. Each system starts its wrap-up at its own view of the hang-up,
so a value can be slightly negative. CPU: hotline's process, Asterisk's, and SIPp's.

    .venv/bin/python bench/asterisk_load_bench.py [--rate 10] [--seconds 60] [--agents 25]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.asterisk.process import HotlineProcess  # noqa: E402
from tests.asterisk.rig import Asterisk, BundleMissing, sip_password, start_asterisk  # noqa: E402
from tests.asterisk.sipp import SippAgent, SippCaller  # noqa: E402
from tests.asterisk.test_calls import TO_AN_AGENT  # noqa: E402

WRAP_UP_S = 1.0
RING_S = 0.2
FIRST_AGENT = 2000
SKILLS = {"lang.en": 3, "product.internet": 3, "problem_solving": 3, "experience": 3}
PREFIX = "+97155000"  # + [call_number]: an E.164 number of 10 to 12 digits
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def agent_ids(count: int) -> list[str]:
    return [str(FIRST_AGENT + n) for n in range(count)]


def add_agents(count: int) -> Callable[[Path], None]:
    """The admin's steps for more agents: pjsip.conf blocks and fallback queue members."""

    def customise(etc: Path) -> None:
        with (etc / "pjsip.conf").open("a") as pjsip:
            for agent in agent_ids(count):
                name = f"agent{agent}"
                pjsip.write(
                    f"\n[{name}](agent-endpoint)\nauth={name}\naors={name}\n"
                    f"[{name}](agent-auth)\nusername={name}\npassword={sip_password(name)}\n"
                    f"[{name}](agent-aor)\n"
                )
        queues = (etc / "queues.conf").read_text()
        queues = re.sub(r"(?m)^member => .*\n", "", queues)
        queues = re.sub(r"(?m)^wrapuptime=.*$", f"wrapuptime={WRAP_UP_S:g}", queues)
        queues += "".join(f"member => PJSIP/agent{a},0,Agent {a}\n" for a in agent_ids(count))
        (etc / "queues.conf").write_text(queues)

    return customise


@dataclass
class Result:
    name: str
    placed: int
    successful: int
    failed: int
    agents_answered: int
    cdr_answered: int
    cdr_total: int
    history: int | None
    history_answered: int | None
    hung_agi: int
    leaked: int
    delays: list[float]
    cpu_service: float | None
    cpu_asterisk: float
    cpu_sipp: float
    elapsed_s: float


def sipp_counter(screen: Path, name: str) -> int:
    values = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", screen.read_text(errors="replace"))
    return int(values[-1]) if values else 0


STAMP = re.compile(r"^-+ (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)")


def phone_timeline(trace: Path) -> list[tuple[float, str]]:
    """(time, what) from a SIPp message trace: "invite" received, "free" (BYE answered)."""
    events: list[tuple[float, str]] = []
    stamp = 0.0
    lines = trace.read_text(errors="replace").splitlines() if trace.exists() else []
    for n, line in enumerate(lines):
        found = STAMP.match(line)
        if found:
            stamp = dt.datetime.fromisoformat(f"{found[1]} {found[2]}").timestamp()
            continue
        if line.startswith("UDP message received") and n + 2 < len(lines):
            first = lines[n + 2] if not lines[n + 1].strip() else lines[n + 1]
            if first.startswith("INVITE "):
                events.append((stamp, "invite"))
            elif first.startswith("BYE "):
                events.append((stamp, "free"))  # Asterisk ended it (the caller hung up)
            elif first.startswith("SIP/2.0 200") and any(
                "CSeq:" in x and "BYE" in x for x in lines[n + 1 : n + 12]
            ):
                events.append((stamp, "free"))  # the agent hung up
    return events


def offer_delays(traces: list[Path]) -> list[float]:
    delays = []
    for trace in traces:
        free_at: float | None = None
        for at, what in phone_timeline(trace):
            if what == "free" and free_at is None:  # not a retransmission's answer
                free_at = at
            elif what == "invite" and free_at is not None:
                delay = at - free_at - WRAP_UP_S
                if delay < 3.0:
                    delays.append(delay)
            if what == "invite":
                free_at = None
    return delays


def history_counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT outcome FROM interactions WHERE source = 'hotline'"
        ).fetchall()
    return len(rows), sum(1 for (outcome,) in rows if outcome == "answered")


async def one_run(
    pbx: Asterisk, work: Path, *, with_hotline: bool, rate: float, seconds: float, agents: int,
    talk_s: float, hold_s: float,
) -> Result:  # fmt: skip
    name = "hotline" if with_hotline else "Queue()"
    sip_dir = work / ("sipp-hotline" if with_hotline else "sipp-queue")
    sip_dir.mkdir(parents=True)
    children_cpu0 = children_cpu()
    phones = [SippAgent(a, sip_dir, ring_s=RING_S, talk_s=talk_s) for a in agent_ids(agents)]
    await asyncio.gather(*(p.start(pbx, timeout_s=30) for p in phones))
    service = None
    if with_hotline:
        roster = [
            {"id": a, "name": f"Agent {a}", "endpoint": f"PJSIP/agent{a}", "skills": SKILLS}
            for a in agent_ids(agents)
        ]
        service = HotlineProcess(
            pbx,
            work / "hotline",
            {
                "agents.agents": roster,
                "agents.policy.wrap_up_s": WRAP_UP_S,
                "fastagi.limits.max_sessions": 100_000,
                "logging.level": "WARNING",
            },
        )
        (work / "hotline").mkdir()
        await service.start()
        await asyncio.sleep(1.0)  # agents' device states read
    before_cdr = len(pbx.cdrs())
    placed = round(rate * seconds)
    # Asterisk's Queue() has no IVR: its callers just wait (keys pressed there would be
    # ignored, and a BYE arriving during a scripted pause fails the SIPp call).
    steps = TO_AN_AGENT if with_hotline else ()
    caller = SippCaller(PREFIX + "[call_number]", sip_dir, steps, hold_s=hold_s, name="load")
    cpu_asterisk0 = cpu_of(pbx.process.pid) if pbx.process else 0.0
    started = time.monotonic()
    await caller.start_load(pbx, rate=rate, calls=placed)
    assert caller.process is not None
    await caller.wait(seconds + hold_s + 120)
    elapsed = time.monotonic() - started
    await asyncio.sleep(2.0)
    channels = pbx.channels()
    hung = sum(1 for line in channels if "!AGI!" in line)
    cpu_service = None
    if service is not None and service.process is not None:
        cpu_service = cpu_of(service.process.pid)
        await service.stop()
    cpu_asterisk = (cpu_of(pbx.process.pid) if pbx.process else 0.0) - cpu_asterisk0
    for phone in phones:
        await phone.stop()
    # every SIPp process and hotline are reaped children by now
    cpu_sipp = children_cpu() - children_cpu0 - (cpu_service or 0.0)
    cdrs = [c for c in pbx.cdrs()[before_cdr:] if c.src.startswith(PREFIX)]
    history = history_counts(work / "hotline" / "hotline.db") if with_hotline else None
    return Result(
        name=name,
        placed=placed,
        successful=sipp_counter(caller.screen, "Successful call"),
        failed=sipp_counter(caller.screen, "Failed call"),
        agents_answered=sum(len(p.outcomes("answered")) for p in phones),
        cdr_answered=sum(1 for c in cdrs if c.disposition == "ANSWERED" and c.dstchannel),
        cdr_total=len(cdrs),
        history=history[0] if history else None,
        history_answered=history[1] if history else None,
        hung_agi=hung,
        leaked=len(channels),
        delays=offer_delays([p.directory / f"{p.name}.msg" for p in phones]),
        cpu_service=cpu_service,
        cpu_asterisk=cpu_asterisk,
        cpu_sipp=cpu_sipp,
        elapsed_s=elapsed,
    )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f}"


def report(results: list[Result]) -> None:
    print(
        f"{'system':8} {'placed':>6} {'ok':>5} {'fail':>4} {'agents':>6} {'CDR dial':>8} "
        f"{'CDR':>5} {'hist':>5} {'h.ans':>5} {'hung':>4} {'leak':>4} {'delays':>6} {'p50ms':>6} "
        f"{'p95ms':>6} {'maxms':>6} {'mean':>6} {'cpu svc':>7} {'cpu ast':>7} {'cpu sipp':>8}"
    )
    for r in results:
        mean = f"{1000 * statistics.fmean(r.delays):.0f}" if r.delays else "-"
        print(
            f"{r.name:8} {r.placed:6} {r.successful:5} {r.failed:4} {r.agents_answered:6} "
            f"{r.cdr_answered:8} "
            f"{r.cdr_total:5} {r.history if r.history is not None else '-':>5} "
            f"{r.history_answered if r.history_answered is not None else '-':>5} "
            f"{r.hung_agi:4} {r.leaked:4} {len(r.delays):6} {ms(r.delays, 0.5):>6} "
            f"{ms(r.delays, 0.95):>6} {ms(r.delays, 1.0):>6} {mean:>6} "
            f"{(f'{r.cpu_service:.1f}s' if r.cpu_service is not None else '-'):>7} "
            f"{r.cpu_asterisk:6.1f}s {r.cpu_sipp:7.1f}s"
        )


async def main(
    rate: float, seconds: float, agents: int, talk_s: float, hold_s: float, keep: bool
) -> None:
    with contextlib.ExitStack() as cleanup:
        work = Path(tempfile.mkdtemp(prefix="asterisk-load-"))
        if keep:
            print(f"logs, traces and CDRs kept in {work}")
        else:
            cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        try:
            pbx = start_asterisk(work / "asterisk", rtp_ports=2000, customise=add_agents(agents))
        except BundleMissing as missing:
            print(f"skipped: {missing}")
            return
        try:
            print(
                f"{os.cpu_count()} CPUs; {rate:g} calls/s for {seconds:g} s; {agents} agents "
                f"(ring {RING_S} s, talk {talk_s} s, wrap-up {WRAP_UP_S} s on both sides)"
            )
            results = []
            for with_hotline in (True, False):
                results.append(
                    await one_run(
                        pbx,
                        work,
                        with_hotline=with_hotline,
                        rate=rate,
                        seconds=seconds,
                        agents=agents,
                        talk_s=talk_s,
                        hold_s=hold_s,
                    )
                )
                await pbx.until(lambda: not pbx.channels(), timeout_s=30)
            report(results)
            print(json.dumps([r.__dict__ | {"delays": len(r.delays)} for r in results]))
        finally:
            pbx.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--agents", type=int, default=25)
    parser.add_argument("--talk-s", type=float, default=1.5)
    parser.add_argument("--hold-s", type=float, default=120.0, help="a caller waits this long")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.agents, args.talk_s, args.hold_s, args.keep))
