"""Spoken barge-in through a real Asterisk 20: how much of an answer said over the question
the recording misses, with barge-in (TALK_DETECT's ChannelTalkingStart over AMI stops the
question and the stoppable beep) and without it (the baseline: ``speech.barge_in: false``,
the question and RECORD FILE's beep play out), in the same run.

The rig of tests/asterisk (the bundle in ../shared/asterisk-20, the project's docker
configs) and hotline's service in this process, speech on (Whisper). A SIPp caller presses
1 (English), then starts an espeak-ng answer ``--starts`` seconds after the key: the welcome
(0.4 s) and the question (0.7 s) play after the key, then the beep (0.4 s). Each turn's
recording is kept (not deleted after recognition) and matched against the answer sent: the
offset of its first 0.5 s in the answer is what was lost. Also: the intent understood, and
the CPU time of this process (hotline and the bench). ``--together``: one caller per start,
all at once on one hotline (each rung agent of their own), barge-in on: what each recording
missed, and the AGI sessions left.

    .venv/bin/python bench/barge_in_bench.py [--starts 0.5 0.7 0.9 1.1 1.3] [--together]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ivr.flow.steps_speech as steps_speech  # noqa: E402
from ivr.speech.synth import synthesize  # noqa: E402
from tests.asterisk.rig import Asterisk, BundleMissing, start_asterisk  # noqa: E402
from tests.asterisk.service import running_service  # noqa: E402
from tests.asterisk.sipp import Dtmf, Pause, SippAgent, SippCaller, Speech  # noqa: E402
from tests.asterisk.test_calls import FIRST_KEY  # noqa: E402
from tests.e2e.stack import wait_until  # noqa: E402

SAID = "my internet is not working, the connection keeps dropping"
MATCH_SAMPLES = 4000  # the recording's first 0.5 s, found in the answer


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as audio:
        return np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16).astype(float)


def lost_ms(said: np.ndarray, recorded: np.ndarray) -> float:
    """Where the recording's start lies in the answer (normalised cross-correlation)."""
    head = recorded[:MATCH_SAMPLES]
    scores = [
        float(np.dot(said[k : k + MATCH_SAMPLES], head))
        / (float(np.linalg.norm(said[k : k + MATCH_SAMPLES])) + 1.0)
        for k in range(len(said) - MATCH_SAMPLES)
    ]
    onset = int(np.argmax(np.abs(said) > 300))
    return (int(np.argmax(scores)) - onset) / 8.0


async def run_calls(
    pbx: Asterisk, work: Path, voice: Path, starts: list[float], barge_in: bool, first: int
) -> tuple[list[float], list[str], int]:
    """One caller per start, all at once (each with an agent of their own): what each
    answer's first recording missed, the intents recorded, AGI sessions left after."""
    keep = work / "keep"
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    steps_speech._discard = lambda wav: shutil.move(wav, keep / wav.name)  # type: ignore[assignment]
    agents, callers = [], []
    ids = [f"{1001 + index}" for index in range(len(starts))]
    for index, start_s in enumerate(starts):
        sip = work / f"sipp{index}"
        shutil.rmtree(sip, ignore_errors=True)
        sip.mkdir(parents=True)
        agents.append(SippAgent(ids[index], sip, ring_s=0.3, talk_s=0.5))
        steps = (FIRST_KEY, Dtmf("1"), Pause(start_s), Speech(voice), Pause(8.0), Dtmf("654321#"))
        callers.append(SippCaller(f"+97150111{first + index:04d}", sip, steps, hold_s=40))
    for agent in agents:
        await agent.start(pbx)
    overrides = {"speech.enabled": True, "speech.timeout_s": 30, "ivr.speech.barge_in": barge_in}
    try:
        async with running_service(pbx, work / f"service{first}", overrides) as service:
            speech = service.hotline.speech
            await wait_until(lambda: "en" in speech.languages, timeout_s=90)
            service.only_agents(*ids)
            await asyncio.gather(*(caller.run(pbx, timeout_s=120) for caller in callers))
            await pbx.until(lambda: not pbx.channels(), timeout_s=40)
            rows = await service.interactions()
            left = service.hotline.agi.active_sessions
    finally:
        for agent in agents:
            await agent.stop()
    said = _samples(voice)
    lost = [lost_ms(said, _samples(wav)) for wav in sorted(keep.glob("*-1.wav"))]
    return lost, [str(row["intent"]) for row in rows], left


async def one_at_a_time(pbx: Asterisk, work: Path, voice: Path, starts: list[float]) -> None:
    print(f"{'starts s':>8} | {'lost ms, barge-in':>17} | {'baseline (off)':>14} | intents")
    for index, start_s in enumerate(starts):
        number = 2 * index + 1
        (on,), (on_intent,), _ = await run_calls(pbx, work, voice, [start_s], True, number)
        (off,), (off_intent,), _ = await run_calls(pbx, work, voice, [start_s], False, number + 1)
        print(f"{start_s:>8.1f} | {on:>17.0f} | {off:>14.0f} | {on_intent} / {off_intent}")


async def all_at_once(pbx: Asterisk, work: Path, voice: Path, starts: list[float]) -> None:
    lost, intents, left = await run_calls(pbx, work, voice, starts, True, 1)
    print(f"{len(starts)} callers at once, barge-in on: lost ms {[round(ms) for ms in lost]}")
    print(f"intents {intents}; AGI sessions left {left}")


async def main(starts: list[float], together: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="barge-in-bench-") as tmp:
        work = Path(tmp)
        try:
            pbx = start_asterisk(work / "asterisk")
        except BundleMissing as missing:
            print(f"skipped: {missing}")
            return 0
        try:
            voice = synthesize(SAID, work / "voice")
            print(f"answer: {SAID!r}; starts after the key, s: {starts}")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await (all_at_once if together else one_at_a_time)(pbx, work, voice, starts)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            print(f"wall {wall:.1f} s, CPU (hotline + bench) {cpu:.1f} s")
        finally:
            pbx.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=float, nargs="+", default=[0.5, 0.7, 0.9, 1.1, 1.3])
    parser.add_argument(
        "--together", action="store_true", help="one caller per start, all at once (barge-in on)"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.starts, args.together)))
