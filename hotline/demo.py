"""``hotline demo``: the real service against the Asterisk emulator, with simulated traffic.

Nothing is mocked inside the service: the emulator speaks FastAGI and AMI on real sockets and
rings a simulated softphone for each agent, and callers arrive at a steady rate in a
realistic mix (``hotline.demo_mix``): people who say why they call (espeak-ng speech fed to
RECORD FILE), keypad and Arabic callers, repeat callers, key accounts and loyal customers
seeded in the history, callers who give up and callers who ask to be called back. Agents
answer, talk, wrap up and now and then take a break; callers' own phones are on the
emulator's trunk, so the callbacks they asked for ring them (most answer, some are busy or
let it ring). It opens with a burst of calls, so the centre is busy within the first minute.
It is a way to watch the whole system move on a machine without Asterisk.

``hotline demo`` runs on files of its own (``hotline.demo_files``: a database, and a copy
of the config and prompts for the admin pages to edit), never on what ``hotline serve``
uses; ``run_demo`` runs on whatever config it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import secrets
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from acd.agent_events import Pause, Ready
from acd.events import CallAbandoned, CallQueued, EventRecord
from history.identities import IdentityKind
from history.inputs import CustomerUpdate, IdentityIn, NewCustomer
from history.models import CallbackRow
from history.store import create_engine
from hotline.ami_events import EVENT_FILTERS
from hotline.app import Hotline
from hotline.config import Config
from hotline.demo_mix import (
    KNOWN_CUSTOMERS,
    MIX,
    UTTERANCES,
    CallerMix,
    DemoCall,
    Kind,
    KnownCustomer,
    Queued,
    Tally,
    callers_phone,
)
from hotline.process import stop_on_signals
from ivr.flow.models import BusinessHours
from ivr.speech.synth import SynthesisError, synthesis_available, synthesize
from telephony.emulator import AgentPhone, AsteriskEmulator, Call, CallResult

log = logging.getLogger(__name__)

DEMO_AMI_USER = "hotline"
DEMO_AMI_SECRET = "demo"  # only ever given to the in-process emulator

#: Used when agents.yaml lists no agents.
DEMO_PHONES = (
    AgentPhone("SIP/agent1001", "answer", ring_s=2.0, talk_s=25.0),
    AgentPhone("SIP/agent1002", "answer", ring_s=4.0, talk_s=40.0),
    AgentPhone("SIP/agent1003", "noanswer"),
    AgentPhone("SIP/agent1004", "busy"),
)

#: Agents' breaks: one every BREAK_EVERY_S virtual seconds (jittered), lasting BREAK_S.
BREAK_EVERY_S = 90.0
BREAK_S = 45.0
#: How long a stopped demo lets the calls in progress finish before hanging them up.
DRAIN_S = 5.0
#: A call is followed until the emulator ends it (at the latest when the demo stops).
FOLLOW_S = 24 * 3600.0
#: How long the demo waits for the speech model before its first caller.
SPEECH_READY_S = 120.0
#: Callers per minute by default: a little more than the shipped five agents can answer
#: (about 6 a minute), so callers queue, some give up and some ask to be called back.
CALLS_PER_MINUTE = 8.0
#: Calls already coming in when the demo opens: this many more than there are agent phones
#: (a full floor and callers waiting), one every OPENING_GAP_S virtual seconds.
OPENING_EXTRA_CALLS = 4
OPENING_GAP_S = 1.0


async def run_demo(
    config: Config,
    *,
    duration_s: float | None = None,
    calls_per_minute: float = CALLS_PER_MINUTE,
    stop: asyncio.Event | None = None,
    out: TextIO | None = None,
    rng: random.Random | None = None,
    time_scale: float = 1.0,
    mix: CallerMix | None = None,
    weights: Mapping[Kind, float] = MIX,
    drain_s: float = DRAIN_S,
    config_dir: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    opening_calls: int | None = None,
) -> DemoTraffic:
    """Run until SIGINT/SIGTERM, ``stop``, or ``duration_s``; return what the callers got.

    ``mix``: who calls (default: each kind as often as ``weights`` says; speakers when
    espeak-ng, sox and a speech model are there). ``drain_s``: real seconds the calls in
    progress get to finish. ``config_dir``: the directory ``config`` was loaded from (with
    ``overrides``), for the admin pages to edit (None: no admin config pages).
    ``opening_calls``: calls placed at once when the demo opens (default: the agent phones
    plus OPENING_EXTRA_CALLS)."""
    stop = stop or asyncio.Event()
    rng = rng or random.Random()
    out = out or sys.stdout
    agi_port = config.fastagi.port or _free_port(config.fastagi.host)
    phones = agent_phones(config, rng)
    emulator = AsteriskEmulator(
        agi_host=config.fastagi.host,
        agi_port=agi_port,
        ami_port=0,
        ami_users={DEMO_AMI_USER: DEMO_AMI_SECRET},
        ami_event_filters={DEMO_AMI_USER: EVENT_FILTERS},
        phones=phones,
        fallback_context=config.fallback.context,
        time_scale=time_scale,
    )
    await emulator.start()
    wiring = _wiring(agi_port=agi_port, ami_port=emulator.ami_port)
    if opening_calls is None:
        opening_calls = len(phones) + OPENING_EXTRA_CALLS
    with tempfile.TemporaryDirectory(prefix="hotline-demo-") as scratch:
        service = Hotline(
            _wired_to(config, agi_port=agi_port, ami_port=emulator.ami_port),
            config_dir=config_dir,
            # An admin's reload reads config_dir again: the same wiring to the emulator.
            overrides={**(overrides or {}), **wiring},
        )
        try:
            await service.start()
            await _demo_users(service, config, out)
            await seed_customers(service, KNOWN_CUSTOMERS, out)
            if mix is None:
                voices = await _voices(config, Path(scratch), out)
                waiting = service.config.waiting.defaults
                mix = CallerMix(voices, waiting.callback_digit, weights=weights)
            if mix.voices:
                await _speech_ready(service, SPEECH_READY_S, out)
            traffic = DemoTraffic(mix, speaking=lambda: "en" in service.speech.languages)
            unsubscribe = service.acd_events.subscribe(lambda r: traffic.acd_event(service, r))
            print(
                f"hotline demo: web {service.web.url}  FastAGI 127.0.0.1:{service.agi.port}  "
                f"emulated AMI 127.0.0.1:{emulator.ami_port}\n"
                f"hotline demo: {opening_calls} calls coming in, then {calls_per_minute:g} "
                f"calls/min, {len(phones)} agent phones; Ctrl-C to stop",
                file=out,
                flush=True,
            )
            interval_s = 60.0 / calls_per_minute * time_scale
            arrivals = traffic.place(
                emulator,
                interval_s,
                rng,
                opening=opening_calls,
                opening_gap_s=OPENING_GAP_S * time_scale,
            )
            tasks = [
                asyncio.create_task(arrivals, name="demo-calls"),
                asyncio.create_task(
                    take_breaks(service, rng, time_scale), name="demo-agent-breaks"
                ),
            ]
            try:
                with stop_on_signals(stop), contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(duration_s):
                        await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await traffic.drain(drain_s)
                traffic.tally.service_stopped = True  # calls still in it go to Asterisk's queue
            unsubscribe()
        finally:
            await service.close()
            await emulator.stop()  # hangs up what is left: each call still gets its result
    await traffic.drain(None)
    # Read once the service has stopped: until then the dialler goes on, and a customer
    # reached meanwhile is a callback done after a count taken before.
    callbacks = await callback_statuses(config.database.url)
    if callbacks is not None:
        print(f"hotline demo: {callback_summary(callbacks)}", file=out, flush=True)
    print(f"hotline demo: {traffic.tally.summary()}", file=out, flush=True)  # the last line
    return traffic


async def callback_statuses(database_url: str) -> Counter[str] | None:
    """The callback requests in the store by status (None: the store did not answer)."""
    store = create_engine(database_url)
    try:
        async with store.connect() as connection:
            rows = await connection.execute(
                select(CallbackRow.status, func.count()).group_by(CallbackRow.status)
            )
            return Counter({str(status): int(count) for status, count in rows})
    except (OSError, SQLAlchemyError) as error:
        log.warning("demo: cannot count the callbacks: %s", error)
        return None
    finally:
        await store.dispose()


def callback_summary(statuses: Counter[str]) -> str:
    """One line on the callbacks, from the store's statuses."""
    still_open = statuses["pending"] + statuses["dialing"]
    return (
        f"callbacks: {statuses.total()} booked, {statuses['done']} completed (an agent talked "
        f"to the customer), {statuses['failed']} failed, {still_open} still to do at the stop"
    )


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


async def seed_customers(
    service: Hotline, customers: tuple[KnownCustomer, ...], out: TextIO
) -> None:
    """Key accounts and loyal customers known by their phone number, so the IVR's caller-ID
    lookup finds their tier. Idempotent: a second demo on the same store updates them."""
    history = service.history
    try:
        for known in customers:
            found = await history.find_customer(IdentityKind.PHONE, known.number)
            if found is None:
                await history.create_customer(
                    NewCustomer(
                        name=known.name,
                        tier=known.tier,
                        language=known.language,
                        identities=(IdentityIn(kind=IdentityKind.PHONE, value=known.number),),
                    )
                )
            elif (found.tier, found.language) != (known.tier, known.language):
                update = CustomerUpdate(tier=known.tier, language=known.language)
                await history.update_customer(found.id, update)
    except (OSError, SQLAlchemyError) as error:
        print(f"hotline demo: no known customers (store unavailable: {error})", file=out)


async def _voices(config: Config, directory: Path, out: TextIO) -> Mapping[str, Path]:
    """The speakers' sentences as 8 kHz wavs (espeak-ng + sox) in a scratch directory."""
    if not config.speech.enabled:
        return {}
    if not synthesis_available():
        print("hotline demo: no speaking callers (install espeak-ng and sox)", file=out)
        return {}
    try:
        return {
            said.text: await asyncio.to_thread(synthesize, said.text, directory)
            for said in UTTERANCES
        }
    except SynthesisError as error:
        print(f"hotline demo: no speaking callers ({error})", file=out)
        return {}


async def _speech_ready(service: Hotline, timeout_s: float, out: TextIO) -> None:
    print("hotline demo: loading the speech model...", file=out, flush=True)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while "en" not in service.speech.languages:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.1)
    if "en" not in service.speech.languages:
        print("hotline demo: no speech model yet: speakers use the keypad", file=out)


@dataclass
class DemoTraffic:
    """Callers arriving at a steady rate (jittered), and what happened to each.

    ``speaking()``: the service can hear speech now (its model is loaded); until then the
    speakers in the mix use the keypad instead."""

    mix: CallerMix
    speaking: Callable[[], bool] = lambda: True
    tally: Tally = field(default_factory=Tally)
    results: list[CallResult] = field(default_factory=list)
    _following: set[asyncio.Task[None]] = field(default_factory=set)
    _phones: set[str] = field(default_factory=set)  # callers' numbers on the trunk

    @property
    def placed(self) -> int:
        return self.tally.placed

    async def place(
        self,
        emulator: AsteriskEmulator,
        interval_s: float,
        rng: random.Random,
        *,
        opening: int = 0,
        opening_gap_s: float = 0.0,
    ) -> None:
        """Places ``opening`` calls ``opening_gap_s`` apart, then one every ``interval_s``
        (jittered). Each caller's phone is put on the trunk first: a callback rings it."""
        keypad_only = dataclasses.replace(self.mix, voices={})
        placed = 0
        while True:
            demo_call = (self.mix if self.speaking() else keypad_only).next(rng)
            number = demo_call.caller.number
            if number not in self._phones:
                self._phones.add(number)
                emulator.set_customer(callers_phone(number, rng))
            call = await emulator.place_call(demo_call.caller)
            self.tally.placed_call(call.uniqueid, demo_call)
            task = asyncio.create_task(self._follow(call, demo_call), name="demo-call")
            self._following.add(task)
            task.add_done_callback(self._following.discard)
            placed += 1
            if placed < opening:
                await asyncio.sleep(opening_gap_s)
            else:
                await asyncio.sleep(interval_s * rng.uniform(0.5, 1.5))

    async def drain(self, timeout_s: float | None) -> None:
        """Wait for the calls in progress to end (``timeout_s`` real seconds at most)."""
        if self._following:
            await asyncio.wait(set(self._following), timeout=timeout_s)

    async def _follow(self, call: Call, demo_call: DemoCall) -> None:
        number = demo_call.caller.number
        try:
            result = await call.wait_done(timeout_s=FOLLOW_S)
        except Exception:  # task boundary: one odd call must not end the demo
            log.exception("demo call from %s failed", number)
            self.tally.ended(call.uniqueid, None)
            return
        self.results.append(result)
        ended = self.tally.ended(call.uniqueid, result)
        log.info("demo call from %s (%s): %s", number, demo_call.kind, ended)

    def acd_event(self, service: Hotline, record: EventRecord) -> None:
        """What the ACD was told about each call (called from inside the distributor)."""
        event = record.event
        if isinstance(event, CallQueued):
            call = service.acd.call(event.call_id)
            facts = call.facts if call is not None else None
            self.tally.queued.setdefault(
                event.call_id,
                Queued(
                    priority=event.priority,
                    tier=event.tier,
                    intent=facts.intent if facts else None,
                    repeat=facts is not None and service.acd.setup.priority.is_repeat(facts),
                ),
            )
        elif isinstance(event, CallAbandoned):
            self.tally.left[event.call_id] = event.reason


async def take_breaks(service: Hotline, rng: random.Random, time_scale: float) -> None:
    """Now and then an available agent goes on a break, and comes back ready."""
    while True:
        await asyncio.sleep(BREAK_EVERY_S * rng.uniform(0.5, 1.5) * time_scale)
        free = [
            v.agent_id for v in service.acd.distributor.book.views() if v.state.value == "available"
        ]
        if not free:
            continue
        agent_id = rng.choice(free)
        service.acd.agent_event(Pause(agent_id, "break"))
        try:
            await asyncio.sleep(BREAK_S * rng.uniform(0.5, 1.5) * time_scale)
        finally:
            if service.acd.distributor.book.view(agent_id).state.value == "paused":
                service.acd.agent_event(Ready(agent_id))


def agent_phones(config: Config, rng: random.Random) -> tuple[AgentPhone, ...]:
    """A softphone for each agent in agents.yaml that answers after a human-like ring."""
    endpoints = [agent.endpoint for agent in config.agents.agents if agent.endpoint]
    if not endpoints:
        return DEMO_PHONES
    return tuple(
        AgentPhone(endpoint, "answer", ring_s=rng.uniform(1.0, 5.0), talk_s=rng.uniform(15.0, 60.0))
        for endpoint in endpoints
    )


def _wiring(*, agi_port: int, ami_port: int) -> dict[str, object]:
    """``_wired_to`` as settings, for the reloads of the admin pages."""
    return {
        "ami.host": "127.0.0.1",
        "ami.port": ami_port,
        "ami.username": DEMO_AMI_USER,
        "ami.secret": DEMO_AMI_SECRET,
        "fastagi.port": agi_port,
        "waiting.login_all_agents_at_start": True,
        "ivr.business_hours": {},
    }


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
