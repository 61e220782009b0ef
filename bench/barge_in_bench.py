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
the CPU time of this process (hotline and the bench).

    .venv/bin/python bench/barge_in_bench.py [--starts 0.5 0.7 0.9 1.1 1.3]
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


async def one_call(
    pbx: Asterisk, work: Path, voice: Path, start_s: float, barge_in: bool, number: str
) -> tuple[float, str]:
    keep = work / "keep"
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    steps_speech._discard = lambda wav: shutil.move(wav, keep / wav.name)  # type: ignore[assignment]
    sip = work / "sipp"
    shutil.rmtree(sip, ignore_errors=True)
    sip.mkdir(parents=True)
    steps = (FIRST_KEY, Dtmf("1"), Pause(start_s), Speech(voice), Pause(6.0), Dtmf("654321#"))
    agent = SippAgent("1001", sip, ring_s=0.3, talk_s=0.5)
    await agent.start(pbx)
    overrides = {
        "speech.enabled": True,
        "speech.timeout_s": 30,
        "ivr.speech.barge_in": barge_in,
    }
    try:
        async with running_service(pbx, work / "service", overrides) as service:
            speech = service.hotline.speech
            await wait_until(lambda: "en" in speech.languages, timeout_s=90)
            service.only_agents("1001")
            await SippCaller(number, sip, steps, hold_s=30).run(pbx, timeout_s=90)
            await pbx.until(lambda: not pbx.channels(), timeout_s=35)
            rows = await service.interactions()
    finally:
        await agent.stop()
    recorded = sorted(keep.glob("*.wav"))
    lost = lost_ms(_samples(voice), _samples(recorded[0])) if recorded else float("nan")
    return lost, str(rows[-1]["intent"]) if rows else "-"


async def main(starts: list[float]) -> int:
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
            print(f"{'starts s':>8} | {'lost ms, barge-in':>17} | {'baseline (off)':>14} | intents")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            number = 0
            for start_s in starts:
                row = []
                for barge_in in (True, False):
                    number += 1
                    row.append(
                        await one_call(
                            pbx, work, voice, start_s, barge_in, f"+97150111{number:04d}"
                        )
                    )
                (on, on_intent), (off, off_intent) = row
                print(f"{start_s:>8.1f} | {on:>17.0f} | {off:>14.0f} | {on_intent} / {off_intent}")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            print(f"{2 * len(starts)} calls: wall {wall:.1f} s, CPU (hotline + bench) {cpu:.1f} s")
        finally:
            pbx.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=float, nargs="+", default=[0.5, 0.7, 0.9, 1.1, 1.3])
    sys.exit(asyncio.run(main(parser.parse_args().starts)))
