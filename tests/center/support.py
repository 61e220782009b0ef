"""A live ACD over real sockets: the FastAGI server, an emulated Asterisk with agents' phones,
the AMI client and channel tracker, the ACD service, its AMI feed and the gateway.

Each call runs a minimal AGI handler: answer, then ``LiveAcd.enqueue`` with the attributes
the test gave for the caller's number (what the IVR would have found).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from acd.agent_events import Login
from acd.build import build_acd
from acd.events import EventRecord, InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.agent_feed import AmiAgentFeed
from center.call_control import PendingTransfers
from center.call_controller import CallController
from center.consult import Consults
from center.contact_times import ContactTimes, Talked, WrappedUp
from center.gateway import LiveAcd
from center.offer_loop import PhoneRoute, same_phone
from center.recording import CallRecorder
from center.recording_policy import RecordingSettings
from center.service import AcdService
from center.settings import WaitingConfig
from history.outcomes import Outcome
from history.recordings import RecordingWrite
from ivr.callers import InMemoryDirectory
from ivr.flow.engine import FlowEngine
from ivr.flow.flow import Flow
from ivr.flow.handoff import CallAttributes, InMemoryCallbacks
from telephony.agi_server import AgiLimits, Fallback, FastAgiServer
from telephony.agi_session import AgiSession
from telephony.ami_client import AmiClient
from telephony.channels import ChannelTracker
from telephony.emulator import AgentPhone, AsteriskEmulator, Caller, CallResult
from telephony.emulator.model import Behaviour

FALLBACK = Fallback("hotline-fallback", "s", 1)
#: One virtual second of the emulator is 10 ms: a 15 s ring timeout lasts 0.15 s.
TIME_SCALE = 0.01

PRIORITY: dict[str, Any] = {
    "call_types": {"complaint": 30, "how_to": 0},
    "intents": {"complaint": "complaint", "setup_help": "how_to"},
    "default_call_type": "how_to",
    "tiers": {"key_account": 30, "regular": 0},
    "repeat": {"within_days": 7, "points": 20},
}
QUEUES: dict[str, Any] = {
    "support": {
        "required": {"internet": 1},
        "strategy": "longest_idle",
        "aging": {"points_per_minute": 1, "max_points": 100},
        "rules": [
            {
                "name": "repeat caller to a senior",
                "when": {"repeat": True},
                "required": {"experience": 3},
            }
        ],
    },
    "billing": {"required": {"billing": 1}, "aging": {"points_per_minute": 1, "max_points": 100}},
}
#: Wrap-up and ring timeout are the ACD's (real seconds); the ring timeout is also what Dial
#: is given, so the emulator waits it in virtual seconds.
AGENT_POLICY: dict[str, Any] = {"wrap_up_s": 0.2, "ring_timeout_s": 15}
#: Waiting defaults for the tests: no announcements unless a test asks for them.
WAITING: dict[str, Any] = {
    "poll_s": 1.0,
    "retry_s": 0.05,
    "failed_offer_rest_s": 0.5,
    "defaults": {"announce": {"first_after_s": 3600}},
}


@dataclass(frozen=True)
class Agent:
    id: str
    skills: Mapping[str, int]
    behaviour: Behaviour = "answer"
    talk_s: float = 5.0  # virtual seconds: 50 ms

    @property
    def endpoint(self) -> str:
        return f"SIP/agent{self.id}"

    def phone(self) -> AgentPhone:
        return AgentPhone(self.endpoint, self.behaviour, ring_s=1.0, talk_s=self.talk_s)


class Interactions:
    """Records what the gateway tells the history about each call (in order)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, dict[str, Any]]] = []
        #: talk, hold and wrap-up times the ACD's events told (``observe``)
        self.times: list[Talked | WrappedUp] = []
        self._times = ContactTimes()

    def observe(self, record: EventRecord) -> None:
        told = self._times.observe(record.at, record.event)
        if told is not None:
            self.times.append(told)

    def queued(self, call: CallAttributes, queue: str | None) -> None:
        self.log.append(("queued", call.call_id, {"queue": queue}))

    def moved(self, call_id: str, queue: str) -> None:
        self.log.append(("moved", call_id, {"queue": queue}))

    def transferred(self, call_id: str, *, segment: str, by_agent: str, target: str) -> None:
        told = {"segment": segment, "by_agent": by_agent, "target": target}
        self.log.append(("transferred", call_id, told))

    def answered(self, call_id: str, *, agent_id: str, wait_s: float) -> None:
        self.log.append(("answered", call_id, {"agent_id": agent_id, "wait_s": wait_s}))

    def rated(self, call_id: str, csat: int) -> None:
        self.log.append(("rated", call_id, {"csat": csat}))

    def ended(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        wait_s: float | None = None,
        priority: float | None = None,
        talk_s: float | None = None,
        recording: str | None = None,
        talk_known: bool = True,
    ) -> None:
        told = {"outcome": outcome, "wait_s": wait_s, "priority": priority, "talk_s": talk_s}
        if not talk_known:
            told["talk_known"] = False
        self.log.append(("ended", call_id, told))


class Recordings:
    """Records what the recorder tells the history (``write_recording``), in order."""

    def __init__(self) -> None:
        self.writes: list[RecordingWrite] = []

    async def write_recording(self, change: RecordingWrite) -> None:
        self.writes.append(change)

    def of(self, call_id: str) -> list[RecordingWrite]:
        return [w for w in self.writes if w.call_id == call_id]


@dataclass
class Rig:
    emulator: AsteriskEmulator
    service: AcdService
    sink: InMemoryEventSink
    callbacks: InMemoryCallbacks
    tracker: ChannelTracker
    ami: AmiClient
    interactions: Interactions
    gateway: LiveAcd
    #: caller number -> attributes the IVR would have collected
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    server: FastAgiServer | None = None
    #: agents' call control (hang up, transfer, mute, hold) over the rig's AMI
    control: CallController | None = None
    #: consent and call recording (``live_acd(recording=...)``), and its history writes
    recorder: CallRecorder | None = None
    recordings: Recordings = field(default_factory=Recordings)

    async def place(self, number: str, **caller: Any) -> Any:
        return await self.emulator.place_call(Caller(number=number, **caller))

    async def call(self, number: str, timeout_s: float = 10.0, **caller: Any) -> CallResult:
        placed = await self.place(number, **caller)
        result: CallResult = await placed.wait_done(timeout_s=timeout_s)
        return result

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.sink.records() if isinstance(r.event, kind)]

    def records(self) -> Sequence[EventRecord]:
        return self.sink.records()

    def state(self, agent_id: str) -> str:
        return self.service.distributor.book.view(agent_id).state.value


def attributes_for(session: AgiSession, extra: Mapping[str, Any]) -> CallAttributes:
    env = session.env
    return CallAttributes(
        call_id=env.uniqueid,
        channel=env.channel,
        caller_number=env.caller_id if env.caller_id not in ("", "unknown") else None,
        language=env.language or "en",
        **extra,
    )


@asynccontextmanager
async def live_acd(
    agents: Sequence[Agent],
    *,
    waiting: Mapping[str, Any] | None = None,
    queues: Mapping[str, Any] | None = None,
    agent_policy: Mapping[str, Any] | None = None,
    login: Sequence[str] | None = None,
    flow: Flow | None = None,
    service_level: Mapping[str, Any] | None = None,
    recording: RecordingSettings | None = None,
    system_name: str = "",
    phone_route: PhoneRoute = same_phone,
) -> AsyncIterator[Rig]:
    """``login``: agents logged in (available) at start; default all. ``flow``: calls run
    the IVR flow engine (which queues them through the gateway) instead of going straight
    to the gateway. ``recording``: calls are recorded as it says (``center.recording``)."""
    setup = build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate(
            {"queues": queues or QUEUES, "service_level": service_level or {}}
        ),
        AgentsConfig.model_validate(
            {
                "policy": {**AGENT_POLICY, **(agent_policy or {})},
                "agents": [
                    {"id": a.id, "endpoint": a.endpoint, "skills": dict(a.skills)} for a in agents
                ],
            }
        ),
    )
    sink = InMemoryEventSink()
    service = AcdService(setup, sink=sink)
    callbacks = InMemoryCallbacks()
    settings = WaitingConfig.model_validate({**WAITING, **(waiting or {})})
    interactions = Interactions()
    sink.subscribe(interactions.observe)
    transfers = PendingTransfers()  # agents' blind transfers, carried out by the gateway
    consults = Consults()  # agents' consults; a completed one is ended by the gateway
    recordings = Recordings()
    recorder = None
    if recording is not None:
        recorder = CallRecorder(recording, service, writer=recordings)
        sink.subscribe(recorder.observe)
    gateway = LiveAcd(
        service,
        settings,
        fallback=FALLBACK,
        callbacks=callbacks,
        interactions=interactions,
        transfers=transfers,
        consults=consults,
        recording=recorder,
        phone_route=phone_route,
    )
    rig_attributes: dict[str, dict[str, Any]] = {}

    async def handler(session: AgiSession) -> None:
        await session.answer()
        extra = rig_attributes.get(session.env.caller_id, {})
        await gateway.enqueue(session, attributes_for(session, extra))

    route: Callable[[AgiSession], Awaitable[None]] = handler
    if flow is not None:
        route = FlowEngine(
            flow, callers=InMemoryDirectory(), acd=gateway, callbacks=callbacks, fallback=FALLBACK
        )
    if recorder is not None:
        route = recorder.calls(route)
    server = FastAgiServer(
        host="127.0.0.1",
        port=0,
        routes={"hotline": route},
        allowed_hosts=["127.0.0.1"],
        fallback=FALLBACK,
        limits=AgiLimits(hangup_grace_s=0.05, idle_timeout_s=30),
    )
    async with asyncio.timeout(5):
        await server.start()
        emulator = AsteriskEmulator(
            agi_port=server.port,
            phones=[a.phone() for a in agents],
            time_scale=TIME_SCALE,
            restart_refuse_s=0.05,
            system_name=system_name,
        )
        await emulator.start()
        ami = AmiClient(
            host="127.0.0.1",
            port=emulator.ami_port,
            username="hotline",
            secret="secret",
            reconnect_min_s=0.02,
            reconnect_max_s=0.1,
        )
        tracker = ChannelTracker(ami)
        service.watch(tracker)
        feed = AmiAgentFeed(service)
        feed.attach(ami)
        control = CallController(
            service,
            ami,
            transfers,
            consults=consults,
            channels=lambda: [c.name for c in tracker.table],
            route=phone_route,
        )
        control.attach(ami)
        sink.subscribe(control.observe)
        if recorder is not None:
            recorder.attach(ami)
        await service.start()
        for agent_id in login if login is not None else [a.id for a in agents]:
            service.agent_event(Login(agent_id))
        await ami.start()
        await ami.wait_connected()
        await wait_until(lambda: tracker.resyncs > 0)
    rig = Rig(
        emulator,
        service,
        sink,
        callbacks,
        tracker,
        ami,
        interactions,
        gateway,
        rig_attributes,
        server,
        control,
        recorder,
        recordings,
    )
    try:
        yield rig
    finally:
        async with asyncio.timeout(10):
            await emulator.stop()
            if recorder is not None:
                await recorder.close()
            feed.close()
            control.close()
            tracker.close()
            await ami.close()
            await server.close()
            await service.close()


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not true after {timeout_s} s")
