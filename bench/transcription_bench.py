"""Post-call transcription real-time factor: CPU (and wall) seconds per second of a call.

A "call" is espeak-ng speech at 8 kHz (what MixMonitor records) of a few sentences per
language with pauses between them, about ``--seconds`` long. It goes through exactly what
``center.transcription.PostCallTranscriber`` does after a recorded call: chunked
(``chunk_s``), each chunk decoded by Whisper base (the default model) in the speech
service's pool behind callers' turns, spotted and scored, written to an in-memory store.
The baseline, measured in the same run, is the same recogniser decoding one IVR turn (the
first sentence alone) through ``SpeechService.recognise``: the live path's cost per audio
second. CPU time is the process's (Whisper's threads included); wall times on a shared
2-core machine are noisy, CPU is the steadier figure. The load average is printed.

    .venv/bin/python bench/transcription_bench.py [--languages en,ar] [--seconds 60]
        [--chunk-s 20] [--cpu-threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from center.transcription import PostCallTranscriber, TranscriptionSettings  # noqa: E402
from history.recordings import RecordingFiles  # noqa: E402
from history.transcripts import CallTranscript, TranscriptWrite, Untranscribed  # noqa: E402
from ivr.speech.models import resolve_model  # noqa: E402
from ivr.speech.service import Backend, SpeechService  # noqa: E402
from ivr.speech.synth import synthesize  # noqa: E402
from ivr.speech.whisper_engine import WhisperRecognizer  # noqa: E402

SENTENCES = {
    "en": [
        "Hello, I am calling about my internet bill from last month.",
        "It is much higher than usual and nobody told me why.",
        "If this is not fixed I want to cancel my account.",
        "Your competitor offers the same speed for less money.",
        "Thank you for your help, the agent was very kind.",
        "Can you send me the new invoice by email please.",
    ],
    "ar": [
        "مرحبا، أتصل بخصوص فاتورة الإنترنت للشهر الماضي.",
        "الفاتورة أعلى بكثير من المعتاد ولم يخبرني أحد بالسبب.",
        "إذا لم تحل المشكلة أريد إلغاء الاشتراك.",
        "شكرا على المساعدة، الموظف كان لطيف جدا.",
    ],
}
SPOT = {
    "cancellation": ["cancel my account", "الغاء الاشتراك"],
    "competitor": ["competitor"],
}


class Store:
    def __init__(self) -> None:
        self.written: list[TranscriptWrite] = []

    async def write_transcript(self, change: TranscriptWrite) -> CallTranscript | None:
        self.written.append(change)
        return None

    async def untranscribed(self, limit: int = 500) -> list[Untranscribed]:
        return []


def call_audio(language: str, directory: Path, seconds: float) -> tuple[Path, Path]:
    """A call of about ``seconds`` (the sentences again and again, 1.5 s apart) and its
    first sentence alone (the IVR turn of the baseline)."""
    voice = "ar" if language == "ar" else "en-us"
    pieces = [synthesize(s, directory, voice=voice) for s in SENTENCES[language]]
    frames: list[bytes] = []
    rate, total = 8000, 0.0
    while total < seconds:
        for piece in pieces:
            with wave.open(str(piece)) as audio:
                rate = audio.getframerate()
                frames.append(audio.readframes(audio.getnframes()))
                total += audio.getnframes() / rate + 1.5
            frames.append(bytes(2 * int(1.5 * rate)))
    path = directory / f"call-{language}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(frames))
    return path, pieces[0]


def cpu() -> float:
    times = os.times()
    return times.user + times.system


async def measure(args: argparse.Namespace, language: str, directory: Path) -> None:
    call, turn = call_audio(language, directory, args.seconds)
    recognizer = WhisperRecognizer(
        resolve_model("whisper", language, "default"),
        language=language,
        cpu_threads=args.cpu_threads,
        max_audio_s=30,
    )
    speech = SpeechService({language: Backend.ready(recognizer)}, workers=2, timeout_s=60)
    await speech.start()
    try:
        with wave.open(str(turn)) as audio:
            turn_s = audio.getnframes() / audio.getframerate()
        wall, used = time.perf_counter(), cpu()
        heard = await speech.recognise(turn, language=language)
        base_wall, base_cpu = time.perf_counter() - wall, cpu() - used

        store = Store()
        settings = TranscriptionSettings(enabled=True, chunk_s=args.chunk_s, settle_s=0, spot=SPOT)
        worker = PostCallTranscriber(
            settings, speech, store, RecordingFiles(directory), default_language=language
        )
        worker.recorded("bench", f"call-{language}", str(call), language)
        running = asyncio.create_task(worker.run())
        wall, used = time.perf_counter(), cpu()
        await worker.drain()
        post_wall, post_cpu = time.perf_counter(), cpu()
        running.cancel()
        post_wall -= wall
        post_cpu -= used
    finally:
        await speech.close()
    (written,) = store.written
    print(
        f"\n[{language}] call {written.audio_s:.1f}s, chunk_s {args.chunk_s:g}, "
        f"cpu_threads {args.cpu_threads}"
    )
    print(
        f"  baseline: one IVR turn ({turn_s:.1f}s audio): wall {base_wall:.2f}s "
        f"cpu {base_cpu:.2f}s -> RTF wall {base_wall / turn_s:.3f} cpu {base_cpu / turn_s:.3f}"
        f"  heard: {heard.text if heard else None!r}"
    )
    print(
        f"  post-call: wall {post_wall:.2f}s cpu {post_cpu:.2f}s -> RTF wall "
        f"{post_wall / written.audio_s:.3f} cpu {post_cpu / written.audio_s:.3f}"
    )
    print(f"  spotted {written.spotted} sentiment {written.sentiment:+.2f}")
    print(f"  transcript (first 160 chars): {written.text[:160]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="en,ar")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--chunk-s", type=float, default=20.0)
    parser.add_argument("--cpu-threads", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        for language in args.languages.split(","):
            asyncio.run(measure(args, language, Path(scratch)))
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
