"""What ends a spoken answer, through a real Asterisk 20: how long a caller waits after their
last word before hotline has the recording, with RECORD FILE's own silence detection (the
baseline: ``speech.endpoint: silence``, ``s=2``) and with TALK_DETECT hearing the caller stop
(``talk``: ``end_silence_ms`` 800, then AMI PlayDTMF of the stop key), in the same run.

The rig of tests/asterisk (the bundle in ../shared/asterisk-20, the project's docker
configs) and hotline's service in this process, speech on. A SIPp caller presses 1
(English), then streams 2.5 s of silence, an espeak-ng answer and 4 s of silence (RTP all
along, as a phone sends: SIPp sends none between its steps, and an Asterisk that gets no
frames hears no silence either); no beep, no barge-in. Each turn's recording is kept: the
answer ends at its last loud sample, and the wait is the recording's wall time
(``steps_speech._record``) past that. Also the recording's sample rate, the intent
understood, and the CPU time of this process (hotline and the bench).

    .venv/bin/python bench/endpoint_bench.py [--calls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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

SAID = "my internet is not working"
#: A sample louder than this is the caller's voice (the line is otherwise digital silence).
LOUD = 300
#: Silence streamed before the answer (the welcome and the question play meanwhile) and after.
BEFORE_S, AFTER_S = 2.5, 4.0


def padded(voice: Path, into: Path) -> Path:
    """The answer with silence before and after it."""
    with wave.open(str(voice)) as said:
        params, frames = said.getparams(), said.readframes(said.getnframes())
        rate = said.getframerate()
    with wave.open(str(into), "wb") as out:
        out.setparams(params)
        silence = b"\0\0"
        out.writeframes(silence * round(BEFORE_S * rate) + frames + silence * round(AFTER_S * rate))
    return into


def answer_end_s(recording: Path) -> tuple[float, int]:
    """Where the answer ends in the recording (its last loud sample: the line streams all
    along, so a sample's place is its time), and the recording's sample rate."""
    with wave.open(str(recording)) as audio:
        rate = audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)
    return (int(loud[-1]) + 1 if loud.size else 0) / rate, rate


async def one_call(
    pbx: Asterisk, work: Path, voice: Path, endpoint: str, number: int
) -> tuple[float, int, str]:
    """One caller: the wait after their last word, the recording's rate, the intent."""
    keep = work / f"keep{number}"
    keep.mkdir(parents=True)
    steps_speech._discard = lambda wav: shutil.move(wav, keep / wav.name)  # type: ignore[assignment]
    walls: list[float] = []
    record: Callable[..., Awaitable[Any]] = steps_speech._record

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await record(*args, **kwargs)
        finally:
            walls.append(time.perf_counter() - started)

    steps_speech._record = timed
    sip = work / f"sipp{number}"
    sip.mkdir(parents=True)
    agent = SippAgent("1001", sip, ring_s=0.3, talk_s=0.5)
    steps = (FIRST_KEY, Dtmf("1"), Speech(voice), Pause(2.0), Dtmf("654321#"))
    caller = SippCaller(f"+97150112{number:04d}", sip, steps, hold_s=40)
    overrides = {
        "speech.enabled": True,
        "speech.timeout_s": 30,
        "ivr.speech.endpoint": endpoint,
        "ivr.speech.barge_in": False,
        "ivr.speech.beep": False,
    }
    await agent.start(pbx)
    try:
        async with running_service(pbx, work / f"service{number}", overrides) as service:
            speech = service.hotline.speech
            await wait_until(lambda: "en" in speech.languages, timeout_s=90)
            service.only_agents("1001")
            await caller.run(pbx, timeout_s=120)
            await pbx.until(lambda: not pbx.channels(), timeout_s=40)
            (row,) = await service.interactions()
    finally:
        await agent.stop()
        steps_speech._record = record  # type: ignore[assignment]
    (recording,) = sorted(keep.glob("*-1.wav*"))
    end_s, rate = answer_end_s(recording)
    return walls[0] - end_s, rate, str(row["intent"])


async def main(calls: int) -> int:
    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as tmp:
        work = Path(tmp)
        try:
            pbx = start_asterisk(work / "asterisk")
        except BundleMissing as missing:
            print(f"skipped: {missing}")
            return 0
        try:
            voice = padded(synthesize(SAID, work / "voice"), work / "padded.wav")
            print(f"answer: {SAID!r}, {calls} calls per endpoint, taken in turn")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            waits: dict[str, list[float]] = {"silence": [], "talk": []}
            for index in range(calls):
                for endpoint, found in waits.items():
                    number = 2 * index + (endpoint == "talk")
                    wait, rate, intent = await one_call(pbx, work, voice, endpoint, number)
                    found.append(wait)
                    print(f"  {endpoint:>7}: waited {wait:.2f} s, recorded at {rate} Hz, {intent}")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            print("| endpoint | wait after the last word, median (min-max) s |")
            print("|---|---|")
            for endpoint, found in waits.items():
                print(
                    f"| {endpoint} | {statistics.median(found):.2f} "
                    f"({min(found):.2f}-{max(found):.2f}) |"
                )
            print(f"wall {wall:.1f} s, CPU (hotline + bench) {cpu:.1f} s")
        finally:
            pbx.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="calls per endpoint")
    sys.exit(asyncio.run(main(parser.parse_args().calls)))
