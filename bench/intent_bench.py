"""Intent accuracy, method by method, on phrasings the classifier never saw.

Text: the held-out file (tests/ivr/intent/data/heldout.csv: 5 unseen phrasings per intent
per language plus out-of-scope utterances, written before any model was trained) scored
for each method, trained on config/intents.yaml:

- keywords: what an admin's rule list does (first matching keyword list wins);
- tfidf-words: TF-IDF word n-grams + logistic regression, no character n-grams;
- tfidf-no-oos: the shipped model without the out-of-scope class (threshold only);
- tfidf (shipped): word + character n-grams, out-of-scope class, threshold;
- embeddings only / tfidf + embeddings (English only; the ``embeddings`` extra):
  all-MiniLM-L6-v2 sentence vectors + logistic regression, alone or averaged with tfidf.

Speech: the English held-out phrases spoken by espeak-ng, 8 kHz like a phone line,
transcribed by the whisper backend (tiny.en), then classified. Needs espeak-ng and sox.

    .venv/bin/python bench/intent_bench.py [--no-speech] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.intent import (  # noqa: E402
    OUT_OF_SCOPE,
    EmbeddingsDef,
    Example,
    IntentClassifier,
    IntentsConfig,
    ModelOptions,
    build_classifier,
    normalise,
)
from ivr.intent.cli import load_intents  # noqa: E402
from ivr.intent.embeddings import EmbeddingsUnavailable, load_encoder  # noqa: E402
from ivr.intent.evaluation import Scores, read_examples, score  # noqa: E402

HELD_OUT = ROOT / "tests" / "ivr" / "intent" / "data" / "heldout.csv"
INTENTS = ROOT / "config" / "intents.yaml"

Predict = Callable[[Sequence[Example]], list[str]]

#: An admin's rule list: first intent with a keyword in the normalised text wins.
#: Stems ("cancel" matches "cancellation") and both languages, normalised spellings.
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("speak_to_agent", ("agent", "operator", "human", "person", "someone", "موظف", "شخص")),
    ("cancellation", ("cancel", "terminate", "disconnect", "leave", "الغاء", "الغي", "افصل")),
    ("complaint", ("complain", "unhappy", "rude", "unacceptable", "terrible", "شكوي", "سيئه")),
    (
        "technical_fault",
        ("not working", "down", "no signal", "slow", "fault", "dead", "ما يشتغل", "مقطوع", "عطل"),
    ),
    ("return_or_exchange", ("return", "exchange", "swap", "warranty", "ارجع", "استبدال", "ابدل")),
    ("billing", ("bill", "invoice", "charge", "payment", "pay", "refund", "فاتوره", "سداد")),
    ("order_status", ("order", "delivery", "deliver", "arrive", "track", "طلبي", "الطلب", "يوصل")),
    ("account_change", ("address", "password", "email", "details", "name", "عنوان", "بيانات")),
    ("how_to", ("how do i", "how to", "set up", "setup", "install", "كيف", "طريقه")),
    ("price_question", ("price", "cost", "how much", "سعر", "بكم", "كم")),
    ("latest_offers", ("offer", "promotion", "deal", "discount", "عروض", "عرض", "خصم")),
    ("purchase", ("buy", "sign up", "upgrade", "subscribe", "new line", "اشتري", "اشترك")),
)


def keyword_predict(rows: Sequence[Example]) -> list[str]:
    rules = [(intent, tuple(normalise(k) for k in words)) for intent, words in KEYWORDS]
    results = []
    for row in rows:
        text = f" {normalise(row.text)} "
        found = next((i for i, words in rules if any(f" {w}" in text for w in words)), None)
        results.append(found or OUT_OF_SCOPE)
    return results


def classifier_predict(classifier: IntentClassifier) -> Predict:
    def predict(rows: Sequence[Example]) -> list[str]:
        return classifier.predict([r.text for r in rows], [r.language for r in rows])

    return predict


@dataclass(frozen=True)
class Method:
    name: str
    predict: Predict
    train_s: float
    languages: tuple[str, ...] = ("en", "ar")


def tfidf_methods(config: IntentsConfig) -> list[Method]:
    methods = [Method("keywords", keyword_predict, 0.0)]
    variants: list[tuple[str, IntentsConfig, ModelOptions]] = [
        ("tfidf-words", config, ModelOptions(char_ngrams=(0, 0))),
        ("tfidf-no-oos", config.model_copy(update={"out_of_scope": {}}), ModelOptions()),
        ("tfidf-per-language", config, ModelOptions(per_language=True)),
        ("tfidf (shipped)", config, ModelOptions()),
    ]
    for name, variant, options in variants:
        started = time.perf_counter()
        classifier = build_classifier(variant, options)
        methods.append(Method(name, classifier_predict(classifier), time.perf_counter() - started))
    return methods


def embedding_methods(config: IntentsConfig) -> list[Method]:
    """Sentence embeddings for English, alone and averaged with the shipped model."""
    try:
        encoder = load_encoder()
    except EmbeddingsUnavailable as exc:
        print(f"(no embeddings: {exc})", file=sys.stderr)
        return []
    methods = []
    for name, weight in (("embeddings only", 1.0), ("tfidf + embeddings", 0.5)):
        variant = config.model_copy(
            update={"embeddings": EmbeddingsDef(languages=("en",), weight=weight)}
        )
        started = time.perf_counter()
        classifier = build_classifier(variant, encoder=encoder)
        elapsed = time.perf_counter() - started
        methods.append(Method(name, classifier_predict(classifier), elapsed, ("en",)))
    return methods


def score_rows(method: Method, rows: Sequence[Example]) -> tuple[Scores, float]:
    started = time.perf_counter()
    predicted = method.predict(rows)
    per_row_ms = (time.perf_counter() - started) / len(rows) * 1000
    return score([r.intent for r in rows], predicted), per_row_ms


def speech_rows(
    rows: Sequence[Example], audio_dir: Path, cache: Path | None
) -> tuple[list[Example], dict[str, Any]]:
    """The English rows as whisper heard them from espeak-ng audio at 8 kHz.

    ``cache`` (JSON: said -> [heard, decode seconds]) lets a run in another environment
    (the embeddings extra) score the very same transcripts without the speech stack.
    """
    known: dict[str, list[Any]] = {}
    if cache is not None and cache.is_file():
        known = json.loads(cache.read_text(encoding="utf-8"))
    missing = [row for row in rows if row.text not in known]
    if missing:
        from ivr.speech.models import resolve_model
        from ivr.speech.synth import synthesize
        from ivr.speech.whisper_engine import WhisperRecognizer

        whisper = WhisperRecognizer(resolve_model("whisper", "en", "default"), beam_size=5)
        for row in missing:
            transcript = whisper.transcribe(synthesize(row.text, audio_dir, voice="en"))
            known[row.text] = [transcript.text, transcript.seconds]
        if cache is not None:
            cache.write_text(json.dumps(known, indent=1, ensure_ascii=False), encoding="utf-8")
    heard = [Example(known[row.text][0], row.intent, row.language) for row in rows]
    exact = sum(normalise(h.text) == normalise(r.text) for r, h in zip(rows, heard, strict=True))
    decode_s = sum(float(known[row.text][1]) for row in rows)
    info = {"rows": len(rows), "exact_transcripts": exact, "mean_decode_s": decode_s / len(rows)}
    return heard, info


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = load_intents(INTENTS)
    test = read_examples(HELD_OUT)
    methods = tfidf_methods(config)
    if not args.no_embeddings:
        methods.extend(embedding_methods(config))
    report: dict[str, Any] = {"threshold": config.threshold, "text": [], "speech": None}
    for method in methods:
        for language in ("all", "en", "ar"):
            if language == "all" and len(method.languages) == 1:
                continue
            if language != "all" and language not in method.languages:
                continue
            rows = [r for r in test if language in ("all", r.language)]
            scores, per_row_ms = score_rows(method, rows)
            entry = {"method": method.name, "language": language, **scores.as_dict()}
            entry |= {"train_s": method.train_s, "ms_per_phrase": per_row_ms}
            report["text"].append(entry)
    if not args.no_speech:
        english = [r for r in test if r.language == "en"]
        with tempfile.TemporaryDirectory(prefix="intent-bench-") as tmp:
            heard, info = speech_rows(english, Path(tmp), args.transcripts)
        report["speech"] = {"transcription": info, "results": []}
        for method in methods:
            scores, _ = score_rows(method, heard)
            report["speech"]["results"].append({"method": method.name, **scores.as_dict()})
        report["speech"]["examples"] = [
            {"said": r.text, "heard": h.text} for r, h in zip(english, heard, strict=True)
        ][:10]
    return report


def _cell(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def print_tables(report: dict[str, Any]) -> None:
    print(f"Held-out text ({HELD_OUT.name}), threshold {report['threshold']}")
    print("| method | lang | n | accuracy | macro-F1 | in-scope acc | OOS recall | train s | ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for e in report["text"]:
        print(
            f"| {e['method']} | {e['language']} | {e['count']} | {_cell(e['accuracy'])} | "
            f"{_cell(e['macro_f1'])} | {_cell(e['in_scope_accuracy'])} | "
            f"{_cell(e['oos_recall'])} | {e['train_s']:.2f} | {e['ms_per_phrase']:.1f} |"
        )
    speech = report["speech"]
    if speech is None:
        return
    info = speech["transcription"]
    print(
        f"\nFrom speech: {info['rows']} English held-out phrases, espeak-ng 8 kHz -> whisper "
        f"tiny.en ({info['exact_transcripts']} transcribed exactly after normalisation, "
        f"{info['mean_decode_s']:.2f} s per decode)"
    )
    print("| method | accuracy | macro-F1 | in-scope acc | OOS recall |")
    print("|---|---|---|---|---|")
    for e in speech["results"]:
        print(
            f"| {e['method']} | {_cell(e['accuracy'])} | {_cell(e['macro_f1'])} | "
            f"{_cell(e['in_scope_accuracy'])} | {_cell(e['oos_recall'])} |"
        )
    print("\nSome transcripts:")
    for pair in speech["examples"]:
        print(f"  said {pair['said']!r:45} heard {pair['heard']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-speech", action="store_true", help="text only")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the optional extra")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--transcripts", type=Path, metavar="FILE.json", help="reuse/save whisper transcripts"
    )
    args = parser.parse_args()
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_tables(report)


if __name__ == "__main__":
    main()
