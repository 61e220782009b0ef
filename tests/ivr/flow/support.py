"""Shared pieces of the flow tests: flows from YAML text, prompt files, fakes for speech and
intent, and a running FastAGI server + Asterisk emulator around a FlowEngine."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import textwrap
import wave
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ivr.callers import CallerDirectory, InMemoryDirectory
from ivr.config_yaml import parse_yaml
from ivr.flow.engine import FlowEngine
from ivr.flow.flow import Flow, build_flow
from ivr.flow.handoff import CallAttributes, FallbackAcd, InMemoryCallbacks
from ivr.flow.models import IvrSettings
from ivr.flow.ports import Classifier, Recogniser
from ivr.flow.state import CallReport
from ivr.flow.validation import prompt_references
from telephony.agi_server import AgiLimits, Fallback, FastAgiServer
from telephony.agi_session import AgiSession
from telephony.ami_client import AmiClient, AmiError
from telephony.ami_codec import HEADER_EVENT, AmiMessage
from telephony.emulator import AgentPhone, AsteriskEmulator, Caller, CallResult
from telephony.talk_detection import TalkEvents

ROOT = Path(__file__).resolve().parents[3]
FALLBACK = Fallback("hotline-fallback", "s", 1)
TIME_SCALE = 0.01
#: A Monday, 10:00 in Dubai: open.
OPEN_MONDAY = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)


def write_wav(path: Path, seconds: float = 0.2, rate: int = 8000, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x10\x00" * round(seconds * rate) * channels)
    return path


def settings_from(text: str, base: Path, **extra: object) -> IvrSettings:
    """ivr.yaml text (dedented) with the prompts in ``base/prompts``, no intents file, no
    core sounds check; ``extra`` adds top-level keys."""
    data = parse_yaml(textwrap.dedent(text)).data
    data.update(extra)
    prompts = dict(data.get("prompts") or {})  # type: ignore[call-overload]
    prompts.setdefault("directory", str(base / "prompts"))
    prompts.setdefault("asterisk_dir", str(base / "prompts"))
    prompts.setdefault("core_sounds_dir", None)
    data["prompts"] = prompts
    speech = dict(data.get("speech") or {})  # type: ignore[call-overload]
    speech.setdefault("recordings_dir", str(base / "recordings"))
    data["speech"] = speech
    data.setdefault("intents_file", None)
    return IvrSettings.model_validate(data)


def record_prompts(
    settings: IvrSettings, flow: Flow | None = None, *, missing: Iterable[str] = ()
) -> None:
    """A short wav for every prompt the flow and catalog play, in every language."""
    skip = set(missing)
    if not settings.prompts.directory.is_absolute():  # never write into the shipped prompts/
        raise AssertionError(
            f"test prompts must be in a temporary directory, not {settings.prompts.directory}"
        )
    catalog = flow.catalog if flow is not None else None
    for _, name in prompt_references(settings, catalog):
        if name in settings.prompts.core or name in skip:
            continue
        for language in settings.all_languages:
            target = settings.prompts.directory / language / f"{name}.wav"
            if not target.exists():
                write_wav(target)


def _present(path: Path) -> bool:
    return path.exists()


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not true after {timeout_s} s")


@dataclass
class FakeTranscript:
    text: str
    confidence: float = 0.9
    alternatives: tuple[str, ...] = ()


@dataclass
class FakeRecogniser:
    """Answers the turns in order with ``texts`` (None: "fall back to keys")."""

    texts: list[str | None]
    heard: list[tuple[Path, str, bool]] = field(default_factory=list)

    async def recognise(
        self, wav: Path, *, language: str, phrases: Sequence[str] | None = None
    ) -> FakeTranscript | None:
        self.heard.append((wav, language, _present(wav)))
        text = self.texts.pop(0) if self.texts else None
        return None if text is None else FakeTranscript(text)


@dataclass(frozen=True)
class FakeMatch:
    intent: str
    confidence: float
    call_type: str
    complexity: int
    known: bool
    entities: tuple[tuple[str, str], ...] = ()


class KeywordClassifier:
    """A stand-in for the trained classifier: an intent when its keyword is in the text."""

    def __init__(self, keywords: dict[str, tuple[str, str, int]]) -> None:
        self._keywords = keywords  # keyword -> (intent, call type, complexity)

    def classify(self, text: str, language: str) -> FakeMatch:
        for word, (intent, call_type, complexity) in self._keywords.items():
            if word in text.lower():
                return FakeMatch(intent, 0.9, call_type, complexity, True)
        return FakeMatch("unknown", 0.1, "general", 2, False)

    def classify_readings(self, readings: Sequence[str], language: str) -> tuple[int, FakeMatch]:
        """The first reading with a keyword in it (else the first)."""
        matches = [self.classify(text, language) for text in readings]
        index = next((i for i, match in enumerate(matches) if match.known), 0)
        return index, matches[index]


@functools.cache
def shipped_classifier() -> Classifier:
    """The intent classifier trained from the shipped config/intents.yaml (once per worker)."""
    from ivr.intent.classifier import build_classifier
    from ivr.intent.config import IntentsConfig

    intents = parse_yaml((ROOT / "config" / "intents.yaml").read_text(encoding="utf-8"))
    return build_classifier(IntentsConfig.model_validate(intents.data))


class RecordingAcd:
    """Keeps what the flow handed over, then does what the default gateway does."""

    def __init__(self) -> None:
        self.calls: list[CallAttributes] = []
        self._then = FallbackAcd(FALLBACK)

    async def enqueue(self, session: AgiSession, call: CallAttributes) -> None:
        self.calls.append(call)
        await self._then.enqueue(session, call)


class EmulatorAmi:
    """The emulator's AMI events in-process, handed out as the AMI client does (by name);
    actions go to the emulator's AMI server through ``client`` once it is connected."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[[AmiMessage], None]]] = {}
        self.client: AmiClient | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    async def action(
        self, name: str, /, *, timeout_s: float | None = None, **fields: str
    ) -> AmiMessage:
        if self.client is None:
            raise AmiError("the rig's AMI client is not connected")
        return await self.client.action(name, timeout_s=timeout_s, **fields)

    def on_event(self, name: str, callback: Callable[[AmiMessage], None]) -> Callable[[], None]:
        self._callbacks.setdefault(name.lower(), []).append(callback)
        return lambda: self._callbacks[name.lower()].remove(callback)

    def feed(self, pairs: Sequence[tuple[str, str]]) -> None:
        message = AmiMessage.from_pairs(pairs)
        for callback in self._callbacks.get((message.get(HEADER_EVENT) or "").lower(), ()):
            callback(message)


@dataclass
class Rig:
    engine: FlowEngine
    emulator: AsteriskEmulator
    acd: RecordingAcd
    callbacks: InMemoryCallbacks
    reports: list[CallReport]
    ami: EmulatorAmi

    async def call(self, caller: Caller, timeout_s: float = 10.0) -> CallResult:
        placed = await self.emulator.place_call(caller)
        return await placed.wait_done(timeout_s=timeout_s)


def played(result: CallResult) -> list[str]:
    """The prompts streamed, in order (the STREAM FILE paths)."""
    return [c.split(" ")[2] for c in result.commands if c.upper().startswith("STREAM FILE ")]


def names(paths: Iterable[str]) -> list[str]:
    """``/x/prompts/ar/welcome`` -> ``ar/welcome``."""
    return ["/".join(p.split("/")[-2:]) for p in paths]


@asynccontextmanager
async def rig(
    flow: Flow,
    *,
    callers: CallerDirectory | None = None,
    recogniser: Recogniser | None = None,
    classifier: Classifier | None = None,
    clock: dt.datetime = OPEN_MONDAY,
    time_scale: float = TIME_SCALE,
    talk: bool = False,
) -> AsyncIterator[Rig]:
    """The flow behind a FastAGI server and the emulator; ``talk``: the emulator's
    ChannelTalkingStart events reach the flow (spoken barge-in)."""
    acd, callbacks = RecordingAcd(), InMemoryCallbacks()
    reports: list[CallReport] = []
    ami = EmulatorAmi()
    engine = FlowEngine(
        flow,
        callers=callers or InMemoryDirectory(),
        acd=acd,
        callbacks=callbacks,
        fallback=FALLBACK,
        recogniser=recogniser,
        classifier=classifier,
        talk=TalkEvents(ami) if talk else None,
        clock=lambda: clock,
        on_report=reports.append,
    )
    server = FastAgiServer(
        host="127.0.0.1",
        port=0,
        routes={"hotline": engine},
        allowed_hosts=["127.0.0.1"],
        fallback=FALLBACK,
        limits=AgiLimits(hangup_grace_s=0.05, idle_timeout_s=30),
    )
    async with asyncio.timeout(5):
        await server.start()
    try:
        emulator = AsteriskEmulator(
            agi_port=server.port,
            phones=(AgentPhone("SIP/agent1001", "answer", ring_s=0.5, talk_s=1.0),),
            time_scale=time_scale,
            unknown_prompt_s=None,  # a prompt file that is not there does not play
        )
        emulator.subscribe(ami.feed)
        async with asyncio.timeout(5):
            await emulator.start()
        if talk:  # talk detection ends recordings with AMI actions
            ami.client = AmiClient(
                host="127.0.0.1",
                port=emulator.ami_port,
                username="hotline",
                secret="secret",
                events=False,
            )
            await ami.client.start()
            await ami.client.wait_connected(timeout_s=5)
        try:
            yield Rig(engine, emulator, acd, callbacks, reports, ami)
        finally:
            if ami.client is not None:
                await ami.client.close()
            async with asyncio.timeout(10):
                await emulator.stop()
    finally:
        async with asyncio.timeout(5):
            await server.close()


def flow_of(text: str, base: Path, *, missing: Iterable[str] = (), **extra: object) -> Flow:
    settings = settings_from(text, base, **extra)
    flow = build_flow(settings)
    record_prompts(settings, flow, missing=missing)
    return flow
