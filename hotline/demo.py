"""``hotline demo``: the real service against the Asterisk emulator, with simulated traffic.

Nothing is mocked inside the service: the emulator speaks FastAGI and AMI on real sockets,
rings a few simulated agent phones from its fallback queue, and callers arrive at a steady
rate. It is a way to watch the whole system move on a machine without Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import sys
from dataclasses import dataclass, field
from typing import TextIO

from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from hotline.app import Hotline, stop_on_signals
from hotline.config import Config
from ivr.flow.models import BusinessHours
from telephony.emulator import AgentPhone, AsteriskEmulator, Call, Caller, CallResult

log = logging.getLogger(__name__)

DEMO_AMI_USER = "hotline"
DEMO_AMI_SECRET = "demo"  # only ever given to the in-process emulator

#: What demo callers press, through the shipped flow: language, then a main-menu choice
#: (the spoken question before it hears silence and falls back to the keypad).
KEYPRESSES = (
    "10",  # English, an agent
    "20",  # Arabic, an agent
    "120",  # English, the latest offers, then an agent
    "110",  # English, the price of fibre, then an agent
    "13123456#",  # English, billing with an account number
    "14654321#",  # English, a fault with an account number
    "1",  # English, says nothing more: the menu times out to an agent
)

#: Used when agents.yaml lists no agents.
DEMO_PHONES = (
    AgentPhone("SIP/agent1001", "answer", ring_s=2.0, talk_s=25.0),
    AgentPhone("SIP/agent1002", "answer", ring_s=4.0, talk_s=40.0),
    AgentPhone("SIP/agent1003", "noanswer"),
    AgentPhone("SIP/agent1004", "busy"),
)


async def run_demo(
    config: Config,
    *,
    duration_s: float | None = None,
    calls_per_minute: float = 6.0,
    stop: asyncio.Event | None = None,
    out: TextIO = sys.stdout,
    rng: random.Random | None = None,
    time_scale: float = 1.0,
) -> DemoTraffic:
    """Run until SIGINT/SIGTERM, ``stop``, or ``duration_s``; return what the callers got."""
    stop = stop or asyncio.Event()
    rng = rng or random.Random()
    agi_port = config.fastagi.port or _free_port(config.fastagi.host)
    phones = agent_phones(config, rng)
    emulator = AsteriskEmulator(
        agi_host=config.fastagi.host,
        agi_port=agi_port,
        ami_port=0,
        ami_users={DEMO_AMI_USER: DEMO_AMI_SECRET},
        phones=phones,
        fallback_context=config.fallback.context,
        time_scale=time_scale,
    )
    await emulator.start()
    traffic = DemoTraffic()
    try:
        service = Hotline(_wired_to(config, agi_port=agi_port, ami_port=emulator.ami_port))
        await service.start()
        try:
            await _demo_users(service, config, out)
            print(
                f"hotline demo: web {service.web.url}  FastAGI 127.0.0.1:{service.agi.port}  "
                f"emulated AMI 127.0.0.1:{emulator.ami_port}\n"
                f"hotline demo: {calls_per_minute:g} calls/min, "
                f"{len(phones)} agent phones; Ctrl-C to stop",
                file=out,
                flush=True,
            )
            callers = asyncio.create_task(
                traffic.run(emulator, 60.0 / calls_per_minute * time_scale, rng),
                name="demo-traffic",
            )
            try:
                with stop_on_signals(stop), contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(duration_s):
                        await stop.wait()
            finally:
                callers.cancel()
                await asyncio.gather(callers, return_exceptions=True)
        finally:
            await service.close()
    finally:
        await emulator.stop()
    done = len(traffic.results)
    print(f"hotline demo: {traffic.placed} calls placed, {done} completed", file=out, flush=True)
    return traffic


async def _demo_users(service: Hotline, config: Config, out: TextIO) -> None:
    """One web user per role, each with a fresh random password printed here (never a
    default one): a real deployment adds its users with ``hotline user add``."""
    from hotline.web.auth.users import Role, UserError

    users = service.web_auth.users
    agent = config.agents.agents[0].id if config.agents.agents else None
    for name, role, agent_id in (
        ("demo-supervisor", Role.SUPERVISOR, None),
        ("demo-admin", Role.ADMIN, None),
        ("demo-agent", Role.AGENT, agent),
    ):
        password = secrets.token_urlsafe(12)
        try:
            try:
                await users.add(name, role, password, agent_id=agent_id)
            except UserError:
                await users.set_password(name, password)
        except (OSError, SQLAlchemyError) as error:
            print(f"hotline demo: no web users (store unavailable: {error})", file=out)
            return
        print(f"hotline demo: web user {name} ({role}) password {password}", file=out, flush=True)


@dataclass
class DemoTraffic:
    """Callers arriving at a steady rate (jittered), and what happened to each."""

    placed: int = 0
    results: list[CallResult] = field(default_factory=list)

    async def run(self, emulator: AsteriskEmulator, interval_s: float, rng: random.Random) -> None:
        async with asyncio.TaskGroup() as calls:
            while True:
                number = "+4416329" + "".join(rng.choice("0123456789") for _ in range(5))
                caller = Caller(number=number, name="Demo caller", dtmf=rng.choice(KEYPRESSES))
                call = await emulator.place_call(caller)
                self.placed += 1
                calls.create_task(self._follow(call, number))
                await asyncio.sleep(interval_s * rng.uniform(0.5, 1.5))

    async def _follow(self, call: Call, number: str) -> None:
        try:
            result = await call.wait_done(timeout_s=600.0)
        except Exception:  # task boundary: one odd call must not end the demo
            log.exception("demo call from %s failed", number)
            return
        self.results.append(result)
        log.info(
            "demo call from %s done: %s, answered by %s, hung up by %s",
            number,
            "fallback queue" if result.fallback_used else "handled by the service",
            result.fallback_phone or "nobody",
            result.hung_up_by or "?",
        )


def agent_phones(config: Config, rng: random.Random) -> tuple[AgentPhone, ...]:
    """A softphone for each agent in agents.yaml; most answer, after a human-like ring."""
    endpoints = [agent.endpoint for agent in config.agents.agents if agent.endpoint]
    if not endpoints:
        return DEMO_PHONES
    return tuple(
        AgentPhone(
            endpoint,
            "noanswer" if index % 5 == 4 else "answer",
            ring_s=rng.uniform(1.0, 5.0),
            talk_s=rng.uniform(15.0, 60.0),
        )
        for index, endpoint in enumerate(endpoints)
    )


def _wired_to(config: Config, *, agi_port: int, ami_port: int) -> Config:
    """The given config, pointed at the emulator (which plays Asterisk on this host)."""
    ami = config.ami.model_copy(
        update={
            "host": "127.0.0.1",
            "port": ami_port,
            "username": DEMO_AMI_USER,
            "secret": SecretStr(DEMO_AMI_SECRET),
        }
    )
    fastagi = config.fastagi.model_copy(update={"port": agi_port})
    # The emulated agents are at their desks from the start, and the hotline is open
    # whenever the demo runs (the shipped business hours would send a night-time demo to
    # the "closed" branch).
    waiting = config.waiting.model_copy(update={"login_all_agents_at_start": True})
    ivr = config.ivr.model_copy(update={"business_hours": BusinessHours()})
    return config.model_copy(
        update={"ami": ami, "fastagi": fastagi, "waiting": waiting, "ivr": ivr}
    )


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
