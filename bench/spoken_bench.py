"""Spoken intent accuracy: what the IVR's ``ask`` node understands from callers' voices.

The held-out spoken set (tests/ivr/speech/data/spoken_heldout.csv: new phrasings of every
intent in config/intents.yaml and out-of-scope lines, English and Arabic, none in the
intents file or the text held-out file -- rows that are get dropped and counted) is spoken
by espeak-ng in several voices, speeds and white-noise levels at 8 kHz (what Asterisk
records), then put through what the ``ask`` node does: the recogniser, then the intent
classifier trained from config/intents.yaml, weighing the readings together where the
recogniser gives more than one. Each configuration is measured in the same run beside
today's default (Whisper tiny.en through faster-whisper's ``transcribe``, 30 s window)
and beside the classifier on the typed text.

Per configuration: accuracy (out-of-scope lines count as right when they come back
unknown), unknown and wrong-intent rates over in-scope lines, transcripts word for word
right, and per-turn decode latency p50/p95 (wall, one turn at a time) with CPU seconds per
turn. The machine's load is printed: wall times on a shared 2-core machine are noisy, CPU
time is the steadier figure.

    .venv/bin/python bench/spoken_bench.py [--languages en,ar] [--configs today,base]
        [--conditions 3] [--rotate] [--text-heldout] [--rate 8000] [--limit N] [--json]

``--rate 16000`` speaks the sets as a wideband call would carry them (G.722, Opus: what
Asterisk records as ``wav16`` when nothing narrows it on the way) instead of the 8 kHz of
a telephone line.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.flow.steps_speech import best_reading  # noqa: E402
from ivr.intent import OUT_OF_SCOPE, IntentClassifier, build_classifier, examples_of  # noqa: E402
from ivr.intent import normalise as intent_normalise  # noqa: E402
from ivr.intent.cli import load_intents  # noqa: E402
from ivr.speech.audio import read_wav  # noqa: E402
from ivr.speech.models import resolve_model  # noqa: E402
from ivr.speech.moonshine_engine import MoonshineRecognizer  # noqa: E402
from ivr.speech.recognizer import Transcript  # noqa: E402
from ivr.speech.second_reading import SecondReading  # noqa: E402
from ivr.speech.settings import DEFAULT_PROMPTS  # noqa: E402
from ivr.speech.synth import synthesize  # noqa: E402
from ivr.speech.whisper_engine import WhisperRecognizer  # noqa: E402

#: config/ivr.yaml's ask step confirms intents understood with less confidence than this.
CONFIRM_BELOW = 0.6
SPOKEN = ROOT / "tests" / "ivr" / "speech" / "data" / "spoken_heldout.csv"
TEXT_HELD_OUT = ROOT / "tests" / "ivr" / "intent" / "data" / "heldout.csv"
INTENTS = ROOT / "config" / "intents.yaml"

#: (espeak-ng voice, words per minute, SNR dB or None for clean), per language.
CONDITIONS: dict[str, list[tuple[str, int, float | None]]] = {
    "en": [("en-us", 165, None), ("en", 195, 20.0), ("en-us+f3", 145, 10.0)],
    "ar": [("ar", 150, None), ("ar+f3", 175, 20.0), ("ar+m3", 135, 10.0)],
}


@dataclass(frozen=True)
class Row:
    text: str
    intent: str  # OUT_OF_SCOPE for out-of-scope lines
    language: str


class LegacyWhisper:
    """Today's decode, as shipped before this bench's changes: faster-whisper's
    ``transcribe`` (VAD, then the 30 s window), beam 5, no prompt, one reading."""

    name = "whisper-legacy"

    def __init__(self, model_dir: Path, language: str) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=1)
        self.language = language

    def transcribe(self, wav: Path) -> Transcript:
        started = time.perf_counter()
        samples = read_wav(wav, max_seconds=20, rate=16_000).samples
        segments, _ = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=5,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return Transcript(text, 0.0, time.perf_counter() - started)


Transcribe = Callable[[Path], Transcript]


def configurations(language: str, wanted: Sequence[str]) -> dict[str, Callable[[], Transcribe]]:
    """Label -> a loader of ``wav -> Transcript`` (models are loaded one at a time)."""
    tiny = lambda: resolve_model("whisper", "en", "tiny.en")  # noqa: E731
    base = lambda: resolve_model("whisper", language, "base")  # noqa: E731
    prompt = DEFAULT_PROMPTS.get(language)

    def whisper(model: Callable[[], Path], **options: Any) -> Callable[[], Transcribe]:
        def load() -> Transcribe:
            recogniser = WhisperRecognizer(model(), language=language, **options)
            return lambda wav: recogniser.transcribe(wav)

        return load

    def legacy() -> Transcribe:
        return LegacyWhisper(tiny(), language).transcribe

    every: dict[str, Callable[[], Transcribe]] = {}
    if language == "en":
        every["today (tiny.en, 30 s window)"] = legacy
        every["tiny.en 10s"] = whisper(tiny, window_s=10, alternatives=1)
        every["tiny.en 10s+prompt+nbest"] = whisper(
            tiny, window_s=10, prompt=prompt, alternatives=3
        )
    every["base 30s"] = whisper(base, window_s=30, alternatives=1)
    every["base 5s"] = whisper(base, window_s=5, alternatives=1)
    every["base 10s"] = whisper(base, window_s=10, alternatives=1)
    every["base 10s+prompt"] = whisper(base, window_s=10, prompt=prompt, alternatives=1)
    every["base 10s+prompt+nbest"] = whisper(base, window_s=10, prompt=prompt, alternatives=3)
    every["base 10s+prompt+denoise"] = whisper(
        base, window_s=10, prompt=prompt, denoise_below_db=16.0
    )
    shipped = whisper(base, window_s=10, prompt=prompt, denoise_below_db=16.0, unprompted_below=0.6)
    every["base 10s+prompt+denoise+unprompted"] = shipped
    if language == "en":

        def moonshine() -> MoonshineRecognizer:
            model = resolve_model("moonshine", language, "default")
            return MoonshineRecognizer(model, denoise_below_db=16.0)

        def paired(unprompted_below: float) -> Callable[[], Transcribe]:
            def load() -> Transcribe:
                first = WhisperRecognizer(
                    resolve_model("whisper", language, "base"),
                    language=language,
                    window_s=10,
                    prompt=prompt,
                    denoise_below_db=16.0,
                    unprompted_below=unprompted_below,
                )
                recogniser = SecondReading(first, moonshine())
                return lambda wav: recogniser.transcribe(wav)

            return load

        every["moonshine base"] = lambda: moonshine().transcribe
        every["base 10s+prompt+denoise+unprompted + moonshine's reading"] = paired(0.6)
        every["base 10s+prompt+denoise + moonshine's reading (shipped)"] = paired(0.0)
    return {k: v for k, v in every.items() if not wanted or any(w in k for w in wanted)}


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as handle:
        return [
            Row(r["text"], OUT_OF_SCOPE if r["intent"] == "oos" else r["intent"], r["language"])
            for r in csv.DictReader(handle)
        ]


def score(
    rows: Sequence[Row], predicted: Sequence[str], heard: Sequence[str] | None = None
) -> dict[str, Any]:
    inscope = [(r, p) for r, p in zip(rows, predicted, strict=True) if r.intent != OUT_OF_SCOPE]
    oos = [(r, p) for r, p in zip(rows, predicted, strict=True) if r.intent == OUT_OF_SCOPE]
    out: dict[str, Any] = {
        "turns": len(rows),
        "accuracy": sum(r.intent == p for r, p in zip(rows, predicted, strict=True)) / len(rows),
        "inscope_accuracy": sum(r.intent == p for r, p in inscope) / max(1, len(inscope)),
        "unknown": sum(p == OUT_OF_SCOPE for _, p in inscope) / max(1, len(inscope)),
        "wrong_intent": sum(p not in (r.intent, OUT_OF_SCOPE) for r, p in inscope)
        / max(1, len(inscope)),
        "oos_rejected": sum(p == OUT_OF_SCOPE for _, p in oos) / max(1, len(oos)),
    }
    if heard is not None:  # the intents' normalisation: it keeps Arabic letters
        out["exact"] = sum(
            intent_normalise(r.text) == intent_normalise(h)
            for r, h in zip(rows, heard, strict=True)
        ) / len(rows)
    return out


def label_of(classifier: IntentClassifier, text: str, language: str) -> str:
    match = classifier.classify(text, language)
    return match.intent if match.known else OUT_OF_SCOPE


def run_config(
    transcribe: Transcribe,
    cases: Sequence[tuple[Row, Path]],
    classifier: IntentClassifier,
) -> dict[str, Any]:
    heard, predicted, walls, cpus, rescued = [], [], [], [], 0
    confidences: list[float] = []
    for row, wav in cases:
        cpu, wall = time.process_time(), time.perf_counter()
        transcript = transcribe(wav)
        reading, match = best_reading(
            classifier, row.language, (transcript.text, *transcript.alternatives)
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        rescued += reading != transcript.text
        heard.append(transcript.text)
        predicted.append(match.intent if match is not None and match.known else OUT_OF_SCOPE)
        confidences.append(match.confidence if match is not None else 0.0)
    walls.sort()
    # The shipped flow confirms an intent under CONFIRM_BELOW ("Billing? Yes 1, no 2"): wrong
    # intents a caller can turn down there, and right ones that cost the caller that turn.
    known = [
        (r.intent == p, c)
        for (r, _), p, c in zip(cases, predicted, confidences, strict=True)
        if p != OUT_OF_SCOPE
    ]
    result = score([r for r, _ in cases], predicted, heard)
    result.update(
        {
            "p50_s": statistics.median(walls),
            "p95_s": walls[min(len(walls) - 1, int(0.95 * len(walls)))],
            "mean_s": statistics.mean(walls),
            "cpu_per_turn_s": statistics.mean(cpus),
            "rescued_by_nbest": rescued,
            "wrong_confirmable": sum(not ok and c < CONFIRM_BELOW for ok, c in known)
            / max(1, sum(not ok for ok, _ in known)),
            "right_confirmed": sum(ok and c < CONFIRM_BELOW for ok, c in known)
            / max(1, sum(ok for ok, _ in known)),
            "misses": [
                (r.text, h, p)
                for (r, _), h, p in zip(cases, heard, predicted, strict=True)
                if p != r.intent
            ][:8],
        }
    )
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = load_intents(INTENTS)
    classifier = build_classifier(config)
    seen = {intent_normalise(e.text) for e in examples_of(config)}
    rows = read_rows(SPOKEN)
    if args.text_heldout:  # held out from training as well: spoken too, for more turns
        rows += read_rows(TEXT_HELD_OUT)
    else:
        seen |= {intent_normalise(r.text) for r in read_rows(TEXT_HELD_OUT)}
    fresh = [r for r in rows if intent_normalise(r.text) not in seen]
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "dropped_seen_in_training": len(rows) - len(fresh),
        "languages": {},
    }
    wanted = [w for w in args.configs.split(",") if w]
    with tempfile.TemporaryDirectory(prefix="spoken-bench-") as tmp:
        for language in args.languages.split(","):
            subset = [r for r in fresh if r.language == language][: args.limit or None]
            conditions = CONDITIONS[language][: args.conditions]
            # Each phrase in each condition, or (--rotate) in one, the conditions taken in turn.
            cases = [
                (row, synthesize(row.text, Path(tmp), voice=v, speed=s, snr_db=n, rate=args.rate))
                for index, row in enumerate(subset)
                for v, s, n in (
                    [conditions[index % len(conditions)]] if args.rotate else conditions
                )
            ]
            audio = [read_wav(w).seconds for _, w in cases]
            text_predicted = [label_of(classifier, r.text, language) for r in subset]
            out: dict[str, Any] = {
                "phrases": len(subset),
                "conditions": conditions,
                "rate": args.rate,
                "turns": len(cases),
                "mean_audio_s": statistics.mean(audio),
                "text": score(subset, text_predicted),
                "spoken": {},
            }
            for label, load in configurations(language, wanted).items():
                started = time.perf_counter()
                transcribe = load()
                loaded = time.perf_counter() - started
                transcribe(cases[0][1])  # warm up
                result = run_config(transcribe, cases, classifier)
                result["load_s"] = loaded
                result["rtf_cpu"] = result["cpu_per_turn_s"] / statistics.mean(audio)
                out["spoken"][label] = result
                print(f"  {language} {label}: {short(result)}", file=sys.stderr)
            report["languages"][language] = out
    report["load_avg_end"] = os.getloadavg()
    return report


def short(r: dict[str, Any]) -> str:
    return (
        f"acc {r['accuracy']:.3f} unknown {r['unknown']:.2f} wrong {r['wrong_intent']:.2f} "
        f"exact {r.get('exact', 0):.2f} p50 {r['p50_s']:.2f}s p95 {r['p95_s']:.2f}s "
        f"cpu/turn {r['cpu_per_turn_s']:.2f}s; under {CONFIRM_BELOW}: wrong "
        f"{r['wrong_confirmable']:.2f}, right {r['right_confirmed']:.2f}"
    )


def print_table(report: dict[str, Any]) -> None:
    start, end = report["load_avg_start"][0], report["load_avg_end"][0]
    print(f"machine: {report['cpu_count']} cores, load avg {start:.1f} -> {end:.1f}")
    print(f"held-out rows dropped (seen in training): {report['dropped_seen_in_training']}\n")
    print(
        "| language | configuration | accuracy | x text | unknown | wrong intent | "
        "OOS rejected | exact | p50 s | p95 s | CPU s/turn | RTF (CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for language, out in report["languages"].items():
        text = out["text"]
        print(
            f"| {language} ({out['phrases']} phrases, {out['turns']} turns, {out['rate']} Hz) | "
            f"typed text | "
            f"{text['accuracy']:.3f} | 1.00 | {text['unknown']:.2f} | {text['wrong_intent']:.2f} | "
            f"{text['oos_rejected']:.2f} | | | | | |"
        )
        for label, r in out["spoken"].items():
            print(
                f"| {language} | {label} | {r['accuracy']:.3f} | "
                f"{r['accuracy'] / max(text['accuracy'], 1e-9):.2f} | {r['unknown']:.2f} | "
                f"{r['wrong_intent']:.2f} | {r['oos_rejected']:.2f} | {r['exact']:.2f} | "
                f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['cpu_per_turn_s']:.2f} | "
                f"{r['rtf_cpu']:.3f} |"
            )
    for language, out in report["languages"].items():
        for label, r in out["spoken"].items():
            print(f"\n{language} {label}: misses (said -> heard -> understood)")
            for said, heard, predicted in r["misses"][:4]:
                print(f"  {said!r} -> {heard!r} -> {predicted}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--languages", default="en,ar")
    parser.add_argument("--configs", default="", help="comma list of label substrings")
    parser.add_argument("--conditions", type=int, default=3, help="voice/speed/noise per phrase")
    parser.add_argument(
        "--rotate", action="store_true", help="each phrase in one condition, taken in turn"
    )
    parser.add_argument(
        "--text-heldout", action="store_true", help="also speak the text held-out file's rows"
    )
    parser.add_argument(
        "--rate", type=int, default=8000, help="sample rate of the calls (16000: wideband)"
    )
    parser.add_argument("--limit", type=int, default=0, help="phrases per language (0: all)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    report = run(args)
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
