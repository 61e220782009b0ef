"""Issue 16's attacks, before and after the defences, beside a baseline without attack.

(a) Sign-in guesses fired at once: 200 for one user from one address, and 100 names from
one address: how many passwords get checked (the limits are 5 and 10), and how long a job
queued on the event loop's default executor (the history spool's, the config editor's)
waits meanwhile. "Before" is the old order (check the throttle, verify in the default
executor, then record the failure); "after" the service's (an attempt reserved before the
check, argon2 in its own bounded pool).
(b) A FastAGI call while 400 sockets drip header lines at the web port of a process with a
256-descriptor limit (``tests/web/starvation_harness.py``): was the call served, and how
long it took. "Before" is aiohttp serving the web port on its own (no caps, no header
timeout, no descriptor reserve).
(c) Peak memory (the child process's maximum RSS) importing decompression bombs as prompts
and parsing a YAML alias bomb. "Before" decodes as the old code did (pydub, whole) and walks
the expanded YAML tree (the old reader; a 6-level bomb, the 9-level one would take GBs).
(d) The history API while one read token floods it: the share of the flood refused (429)
and a calm client's latency, without and with the rate limits.

Every figure comes with wall and CPU time (CPU of this process, or of the child measured).

    .venv/bin/python bench/attack_bench.py [--quick] [--only signin,slowloris,bombs,api]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_now(*, children: bool = False) -> float:
    """CPU seconds of this process (and of the children it waited for: ffmpeg's decode)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)[: 2 if children else 1]:
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def pid_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def row(label: str, what: str, **figures: Any) -> None:
    shown = "  ".join(f"{k} {v}" for k, v in figures.items())
    print(f"  {label:<9} {what:<44} {shown}")


# -- (a) sign-in guesses ---------------------------------------------------------------------


class OldThrottle:
    """The throttle as it was: failures only, checked before and recorded after the verify."""

    def __init__(self, per_ip: int = 10, per_user: int = 5, window_s: float = 300) -> None:
        self.limits = {"ip": per_ip, "user": per_user}
        self.window_s = window_s
        self.failures: dict[tuple[str, str], list[float]] = {}

    def blocked(self, ip: str, user: str) -> bool:
        now = time.monotonic()
        for key in (("ip", ip), ("user", user)):
            recent = [t for t in self.failures.get(key, []) if t > now - self.window_s]
            if len(recent) >= self.limits[key[0]]:
                return True
        return False

    def failed(self, ip: str, user: str) -> None:
        for key in (("ip", ip), ("user", user)):
            self.failures.setdefault(key, []).append(time.monotonic())


async def signin(quick: bool) -> None:
    from argon2 import PasswordHasher

    from history.store import create_engine, migrate
    from hotline.web.auth.throttle import LoginThrottle, Throttled
    from hotline.web.auth.users import Role, UserStore
    from hotline.workers import PoolBusy

    # OWASP's minimum argon2id (19 MiB, 2 passes) in the full run; cheaper with --quick.
    memory, passes = (4096, 1) if quick else (19456, 2)
    checked = itertools.count()

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Any:
            next(checked)
            return super().verify(hash, password)

    hasher = Counting(time_cost=passes, memory_cost=memory, parallelism=1)
    print(f"(a) sign-in guesses fired at once (argon2id {memory} KiB x {passes}; limits 5 per user")
    print("    at an address, 10 per address); the default-executor job is a no-op's wait")
    with tempfile.TemporaryDirectory() as work:
        engine = create_engine(f"sqlite+aiosqlite:///{work}/bench.db")
        await migrate(engine)
        users = UserStore(engine, hasher=hasher)
        await users.add("sam", Role.SUPERVISOR, "correct horse battery staple")
        loop = asyncio.get_running_loop()

        async def old(throttle: OldThrottle, name: str) -> None:
            if throttle.blocked("10.0.0.9", name):
                return
            ok = await asyncio.to_thread(users._verify, users._dummy_hash, "guess")
            if not ok:
                throttle.failed("10.0.0.9", name)

        async def new(throttle: LoginThrottle, name: str) -> None:
            try:
                attempt = throttle.reserve("10.0.0.9", name)
            except Throttled:
                return
            with attempt, contextlib.suppress(PoolBusy):
                if await users.authenticate(name, "a wrong guess") is None:
                    attempt.failed()

        async def burst(
            guess: Callable[[str], Awaitable[None]], names: list[str]
        ) -> dict[str, Any]:
            nonlocal checked
            checked = itertools.count()
            wall, cpu = time.perf_counter(), cpu_now()
            tasks = [asyncio.create_task(guess(n)) for n in names]
            await asyncio.sleep(0)
            probe = time.perf_counter()
            await loop.run_in_executor(None, lambda: None)
            waited = time.perf_counter() - probe
            await asyncio.gather(*tasks)
            return {
                "checked": next(checked),
                "executor_wait": f"{waited * 1000:.1f} ms",
                "wall": f"{time.perf_counter() - wall:.2f} s",
                "cpu": f"{cpu_now() - cpu:.2f} s",
            }

        print(" 200 guesses for one user")
        row("baseline", "5 wrong guesses one after another", **await _sequential(new, hasher))
        old_shared = OldThrottle()
        row(
            "before",
            "check, verify (default executor), record",
            **await burst(lambda n: old(old_shared, n), ["sam"] * 200),
        )
        shared = LoginThrottle()
        row(
            "after",
            "attempt reserved first, own pool",
            **await burst(lambda n: new(shared, n), ["sam"] * 200),
        )
        print(" 100 names from one address")
        old_names = OldThrottle()
        row(
            "before",
            "check, verify (default executor), record",
            **await burst(lambda n: old(old_names, n), [f"user{i}" for i in range(100)]),
        )
        names = LoginThrottle()
        row(
            "after",
            "attempt reserved first, own pool",
            **await burst(lambda n: new(names, n), [f"user{i}" for i in range(100)]),
        )
        users.hashing.close()
        await engine.dispose()


async def _sequential(new: Any, hasher: Any) -> dict[str, Any]:
    from hotline.web.auth.throttle import LoginThrottle

    throttle = LoginThrottle()
    wall, cpu = time.perf_counter(), cpu_now()
    for _ in range(5):
        await new(throttle, "sam")
    return {
        "checked": 5,
        "wall": f"{time.perf_counter() - wall:.2f} s",
        "cpu": f"{cpu_now() - cpu:.2f} s",
    }


# -- (b) a web slowloris and a FastAGI call ---------------------------------------------------

ENVIRONMENT = (
    b"agi_network: yes\nagi_network_script: hotline\nagi_request: agi://127.0.0.1/hotline\n"
    b"agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1700000000.1\n\n"
)


async def slowloris(quick: bool) -> None:
    clients = 400
    print(f"(b) a FastAGI call while {clients} sockets drip header lines at the web port")
    print("    (a process with a 256-descriptor limit; header timeout 8 s, reserve 64)")
    row("baseline", "guarded, no attack", **await _call_during(clients, [], attack=False))
    row("before", "aiohttp on its own, slowloris", **await _call_during(clients, ["--unguarded"]))
    row("after", "guarded, slowloris", **await _call_during(clients, []))


async def _call_during(clients: int, options: list[str], *, attack: bool = True) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.web.starvation_harness", "--nofile", "256",
        "--header-timeout", "8", "--reserve", "64", *options,
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    ports = json.loads(await process.stdout.readline())
    writers: list[asyncio.StreamWriter] = []

    async def drip() -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(3):
                _, writer = await asyncio.open_connection("127.0.0.1", ports["web"])
            writers.append(writer)
            writer.write(b"GET / HTTP/1.1\r\nHost: hotline\r\n")

    if attack:
        await asyncio.gather(*(drip() for _ in range(clients)))
        await asyncio.sleep(1.0)
    cpu = pid_cpu(process.pid)
    started = time.perf_counter()
    commands = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", ports["agi"])
    writer.write(ENVIRONMENT)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            while await reader.readline():
                commands += 1
                writer.write(b"200 result=0\n")
    took = time.perf_counter() - started
    writer.close()
    figures = {
        "served": "yes" if commands else "NO",
        "commands": commands,
        "call": f"{took * 1000:.0f} ms" if commands else "silence 10 s",
        "service_cpu": f"{pid_cpu(process.pid) - cpu:.2f} s",
        "slow_sockets_held": len(writers),
    }
    for writer in writers:
        writer.close()
    process.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    return figures


# -- (c) bombs (each case in a child process: its peak RSS is its own) -----------------------


def riff_liar(path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    claimed = 2_000_000_000
    path.write_bytes(
        struct.pack("<4sI4s", b"RIFF", claimed + 36, b"WAVE") + struct.pack("<4sI", b"fmt ", 16)
        + fmt + struct.pack("<4sI", b"data", claimed) + b"\x00\x01" * 8000
    )  # fmt: skip


def alias_bomb(levels: int) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, before = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join(['*' + before] * 9)}]")
    return "\n".join(lines) + "\n"


def child(case: str, path: str) -> None:
    """One case, in this (child) process; prints what happened and the peak RSS."""
    started, cpu = time.perf_counter(), cpu_now(children=True)
    try:
        outcome = CASES[case](Path(path))
    except Exception as error:  # noqa: BLE001 (the refusal is the figure)
        outcome = f"refused: {str(error).split(': ', 1)[-1][:70]}"
    wall, cpu = time.perf_counter() - started, cpu_now(children=True) - cpu
    print(json.dumps({"outcome": outcome, "rss": peak_rss_mb(), "wall": wall, "cpu": cpu}))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: since its exec, unlike ru_maxrss, which
    Linux carries over from the parent at fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def _old_decode(path: Path) -> str:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
    audio = AudioSegment.from_file(str(path), format="wav" if path.suffix == ".wav" else None)
    audio = audio.set_frame_rate(8000).set_channels(1).set_sample_width(2)
    return f"decoded {len(audio) / 1000:.0f} s"


def _new_import(path: Path) -> str:
    from ivr.prompts import import_prompt

    with tempfile.TemporaryDirectory() as out:
        return f"imported {import_prompt(path, Path(out) / 'x.wav'):.0f} s"


def _old_yaml(path: Path) -> str:
    import yaml

    from ivr.config_yaml import _Walker

    loader = yaml.SafeLoader(path.read_text())
    root = loader.get_single_node()
    loader.construct_document(root)
    walker = _Walker()
    walker.walk(root, ())
    return f"read {len(walker.lines)} key paths"


def _new_yaml(path: Path) -> str:
    from ivr.config_yaml import parse_yaml

    parse_yaml(path.read_text())
    return "read"


CASES: dict[str, Callable[[Path], str]] = {
    "old-decode": _old_decode,
    "new-import": _new_import,
    "old-yaml": _old_yaml,
    "new-yaml": _new_yaml,
}


def bombs(quick: bool) -> None:
    print("(c) peak memory (the child's maximum RSS) under each bomb")
    with tempfile.TemporaryDirectory() as work:
        files = Path(work)
        hour = files / "hour.flac"
        hidden = files / "hidden.flac"
        seconds = 1800 if quick else 3600
        source = [
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=stereo",
            "-t",
            str(seconds),
            "-c:a",
            "flac",
        ]
        ffmpeg = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source]
        subprocess.run([*ffmpeg, str(hour)], check=True)
        with hidden.open("wb") as out:
            subprocess.run([*ffmpeg, "-f", "flac", "pipe:1"], check=True, stdout=out)
        riff_liar(files / "liar.wav")
        subprocess.run(
            ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(files / "hello.wav"),
             "synth", "2", "sine", "440"], check=True,
        )  # fmt: skip
        (files / "bomb6.yaml").write_text(alias_bomb(6))
        (files / "bomb9.yaml").write_text(alias_bomb(9))
        (files / "shipped.yaml").write_text((ROOT / "config" / "ivr.yaml").read_text())
        size = f"{hour.stat().st_size // 1024} KB"
        plan = [
            (f"a {seconds // 60}-minute 44.1 kHz FLAC ({size})", [
                ("baseline", "a 2 s wav prompt imported", "new-import", files / "hello.wav"),
                ("before", "decoded whole (pydub)", "old-decode", hour),
                ("after", "header read, refused", "new-import", hour),
            ]),
            ("the same, its length not in the header", [
                ("before", "decoded whole (pydub)", "old-decode", hidden),
                ("after", "decoded streaming, stopped at 600 s", "new-import", hidden),
            ]),
            ("a RIFF header claiming 2 GB (16 KB file)", [
                ("before", "decoded (pydub)", "old-decode", files / "liar.wav"),
                ("after", "header checked against the file", "new-import", files / "liar.wav"),
            ]),
            ("a YAML alias bomb", [
                ("baseline", "the shipped ivr.yaml", "new-yaml", files / "shipped.yaml"),
                ("before", "6 levels (531,441 values) walked", "old-yaml", files / "bomb6.yaml"),
                ("after", "6 levels, refused", "new-yaml", files / "bomb6.yaml"),
                ("after", "9 levels (387 million), refused", "new-yaml", files / "bomb9.yaml"),
            ]),
        ]  # fmt: skip
        for title, cases in plan:
            print(f" {title}")
            for label, what, case, path in cases:
                done = subprocess.run(
                    [sys.executable, __file__, "--child", case, str(path)],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                )  # fmt: skip
                result = json.loads(done.stdout.strip().splitlines()[-1])
                row(label, what, peak_rss=f"{result['rss']:.0f} MB", wall=f"{result['wall']:.2f} s",
                    cpu=f"{result['cpu']:.2f} s", outcome=result["outcome"])  # fmt: skip


# -- (d) the API under one token's flood ------------------------------------------------------


async def api_flood(quick: bool) -> None:
    from hotline.web.api.rate_limit import RateLimits

    flood_n = 1000 if quick else 3000
    print(f"(d) the history API while one read token sends {flood_n} requests, 100 at a time")
    for label, limits in (("before", None), ("after", RateLimits())):
        figures = await _flooded(flood_n, limits)
        what = "no limits" if limits is None else "50/s per token, 100/s per address"
        row(label, what, **figures)


async def _flooded(flood_n: int, limits: Any) -> dict[str, Any]:
    import aiohttp

    from history.repository import HistoryRepository
    from history.store import create_engine, migrate
    from hotline.web.api.context import ApiSettings
    from hotline.web.app import create_web_app
    from hotline.web.connections import WebLimits
    from hotline.web.server import WebServer
    from hotline.web.tokens import TokenStore

    statuses: list[int] = []
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as work:
        engine = create_engine(f"sqlite+aiosqlite:///{work}/api.db")
        await migrate(engine)
        app = create_web_app(
            readiness={},
            repository=HistoryRepository(engine),
            api_settings=ApiSettings(rate_limits=limits),
        )
        # The connection caps are (b)'s subject: here the flood may open all it wants.
        wide = WebLimits(max_connections=10_000, max_connections_per_address=10_000)
        server = WebServer(app, host="127.0.0.1", port=0, limits=wide)
        await server.start()
        tokens = TokenStore(engine)
        _, flood = await tokens.create("flood", ["history:read"])
        _, calm = await tokens.create("calm", ["history:read"])
        url = server.url + "api/v1/customers?chat=x"
        gate = asyncio.Semaphore(100)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def get(token: str) -> int:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(url, headers=headers) as response:
                    await response.read()
                    return response.status

            async def one() -> None:
                async with gate:
                    statuses.append(await get(flood))

            async def calmly() -> None:
                for _ in range(20):
                    began = time.perf_counter()
                    await get(calm)
                    latencies.append(time.perf_counter() - began)
                    await asyncio.sleep(0.05)

            wall, cpu = time.perf_counter(), cpu_now()
            await asyncio.gather(calmly(), *(one() for _ in range(flood_n)))
            wall, cpu = time.perf_counter() - wall, cpu_now() - cpu
        await server.close()
        await engine.dispose()
    ordered = sorted(latencies)
    return {
        "refused_429": f"{100 * statuses.count(429) / len(statuses):.0f} %",
        "calm_p50": f"{ordered[len(ordered) // 2] * 1000:.0f} ms",
        "calm_max": f"{ordered[-1] * 1000:.0f} ms",
        "wall": f"{wall:.2f} s",
        "cpu": f"{cpu:.2f} s",
    }


async def main(quick: bool, only: set[str]) -> None:
    if "signin" in only:
        await signin(quick)
    if "slowloris" in only:
        await slowloris(quick)
    if "bombs" in only:
        await asyncio.to_thread(bombs, quick)
    if "api" in only:
        await api_flood(quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="signin,slowloris,bombs,api")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(*arguments.child)
    else:
        asyncio.run(main(arguments.quick, set(arguments.only.split(","))))
