"""Intent accuracy, method by method, on phrasings the classifier never saw.

Text: the held-out files, written before any model was trained and kept apart from
config/intents.yaml -- tests/ivr/intent/data/heldout.csv (5 unseen phrasings per intent
per language plus out-of-scope utterances) and tests/fixtures/intents/heldout_ar.csv
(Arabic as callers say it: Gulf, Levantine and MSA, English product names inside) --
scored for each method, trained on config/intents.yaml:

- keywords: what an admin's rule list does (first matching keyword list wins);
- tfidf-words: TF-IDF word n-grams + logistic regression, no character n-grams;
- tfidf-no-oos: the lexical model without the out-of-scope class (threshold only);
- tfidf: word + character n-grams, out-of-scope class, threshold (the default until now,
  and the fallback without the encoder package);
- tfidf + USE (default): with USE multilingual v3 sentence embeddings, every language;
- tfidf + MiniLM (English, when the ``embeddings`` extra is installed).
Per-phrase classify latency (p50/p95, one ``classify`` call each, as the IVR makes them).

Public benchmarks (``--banking77 TRAIN.csv TEST.csv``: PolyAI's banking_data CSVs;
``--clinc150 data_full.json``: the oos-eval file), converted to ``text,intent`` CSVs in a
temporary directory (never committed) and scored by ``hotline intents evaluate`` in a
child process per method, with its wall and CPU time and peak memory.

Speech: the English held-out phrases spoken by espeak-ng, 8 kHz like a phone line,
transcribed by the whisper backend (tiny.en), then classified. Needs espeak-ng and sox.

    .venv/bin/python bench/intent_bench.py [--no-speech] [--json]
        [--banking77 train.csv test.csv] [--clinc150 data_full.json] [--public-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
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
HELD_OUT_AR = ROOT / "tests" / "fixtures" / "intents" / "heldout_ar.csv"
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
    classifier: IntentClassifier | None = None


def _trained(name: str, config: IntentsConfig, **kwargs: Any) -> Method:
    languages: tuple[str, ...] = kwargs.pop("languages", ("en", "ar"))
    started = time.process_time()
    classifier = build_classifier(config, **kwargs)
    elapsed = time.process_time() - started
    return Method(name, classifier_predict(classifier), elapsed, languages, classifier)


def tfidf_methods(config: IntentsConfig) -> list[Method]:
    return [
        Method("keywords", keyword_predict, 0.0),
        _trained("tfidf-words", config, options=ModelOptions(char_ngrams=(0, 0)), encoder=None),
        _trained("tfidf-no-oos", config.model_copy(update={"out_of_scope": {}}), encoder=None),
        _trained("tfidf", config, encoder=None),
    ]


def embedding_methods(config: IntentsConfig) -> list[Method]:
    """The default (USE, every language) and MiniLM (English) when installed."""
    methods = []
    for name, model, languages in (
        ("tfidf + USE (default)", "use", ("en", "ar")),
        ("tfidf + MiniLM", "minilm", ("en",)),
    ):
        try:
            encoder = load_encoder(model)
        except EmbeddingsUnavailable as exc:
            print(f"(no {model}: {exc})", file=sys.stderr)
            continue
        variant = config.model_copy(
            update={"embeddings": EmbeddingsDef(model=model, languages=languages)}
        )
        methods.append(_trained(name, variant, encoder=encoder, languages=languages))
    return methods


def score_rows(method: Method, rows: Sequence[Example]) -> tuple[Scores, float]:
    started = time.process_time()
    predicted = method.predict(rows)
    per_row_ms = (time.process_time() - started) / len(rows) * 1000
    return score([r.intent for r in rows], predicted), per_row_ms


def latency_ms(classifier: IntentClassifier, rows: Sequence[Example]) -> dict[str, float]:
    """p50/p95 of one ``classify`` call per phrase, as the IVR makes them (wall and CPU)."""
    for row in rows[:5]:  # warm caches
        classifier.classify(row.text + " ", row.language)
    walls, cpus = [], []
    for row in rows:
        text = row.text + " ?"  # not in the encoder's cache
        wall, cpu = time.perf_counter(), time.process_time()
        classifier.classify(text, row.language)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    cpus.sort()
    return {
        "p50_ms": walls[len(walls) // 2],
        "p95_ms": walls[int(len(walls) * 0.95)],
        "cpu_p50_ms": cpus[len(cpus) // 2],
    }


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


def held_out_sets() -> list[tuple[str, list[Example]]]:
    both = read_examples(HELD_OUT)
    return [
        ("heldout.csv", both),
        ("heldout.csv", [r for r in both if r.language == "en"]),
        ("heldout.csv", [r for r in both if r.language == "ar"]),
        ("heldout_ar.csv", read_examples(HELD_OUT_AR)),
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"text": [], "speech": None, "latency": [], "public": []}
    if not args.public_only:
        config = load_intents(INTENTS)
        report["threshold"] = config.threshold
        methods = tfidf_methods(config)
        if not args.no_embeddings:
            methods.extend(embedding_methods(config))
        for method in methods:
            for name, rows in held_out_sets():
                languages = {r.language for r in rows}
                if not languages <= set(method.languages):
                    continue
                scores, per_row_ms = score_rows(method, rows)
                language = languages.pop() if len(languages) == 1 else "all"
                entry = {"method": method.name, "file": name, "language": language}
                entry |= scores.as_dict() | {"train_s": method.train_s, "ms_per_phrase": per_row_ms}
                report["text"].append(entry)
            if method.classifier is not None and method.name in ("tfidf", "tfidf + USE (default)"):
                rows = [r for r in read_examples(HELD_OUT) if r.language in method.languages]
                report["latency"].append(
                    {"method": method.name, **latency_ms(method.classifier, rows)}
                )
        if not args.no_speech:
            test = read_examples(HELD_OUT)
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
    with tempfile.TemporaryDirectory(prefix="intent-public-") as tmp:
        for name, (train, test) in public_sets(args, Path(tmp)).items():
            for embeddings in ("off", "use"):
                for threshold in args.thresholds:
                    result = evaluate_in_child(train, test, embeddings, threshold)
                    report["public"].append({"benchmark": name, **result})
    return report


def public_sets(args: argparse.Namespace, tmp: Path) -> dict[str, tuple[Path, Path]]:
    """The public benchmarks given on the command line, as ``text,intent`` CSVs in ``tmp``."""
    sets = {}
    if args.banking77:
        train, test = (tmp / "banking77_train.csv", tmp / "banking77_test.csv")
        for source, target in zip(args.banking77, (train, test), strict=True):
            with source.open(encoding="utf-8", newline="") as handle:
                rows = [(r["text"], r["category"]) for r in csv.DictReader(handle)]
            _write_csv(target, rows)
        sets["BANKING77"] = (train, test)
    if args.clinc150:
        data = json.loads(args.clinc150.read_text(encoding="utf-8"))
        train, test = (tmp / "clinc150_train.csv", tmp / "clinc150_test.csv")
        _write_csv(
            train, [*map(tuple, data["train"]), *((t, OUT_OF_SCOPE) for t, _ in data["oos_train"])]
        )
        _write_csv(
            test, [*map(tuple, data["test"]), *((t, OUT_OF_SCOPE) for t, _ in data["oos_test"])]
        )
        sets["CLINC150"] = (train, test)
    return sets


def _write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)


def evaluate_in_child(train: Path, test: Path, embeddings: str, threshold: float) -> dict[str, Any]:
    """``hotline intents evaluate --json`` in a child process: its figures, wall and CPU
    time (user + system) and peak resident memory."""
    command = [sys.executable, "-m", "hotline.cli", "intents", "evaluate", "--json"]
    command += ["--train", str(train), "--test", str(test), "--embeddings", embeddings]
    command += ["--threshold", str(threshold)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT, env=_child_env())
    out = child.stdout.read() if child.stdout else b""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"{command} exited {child.returncode}")
    result: dict[str, Any] = json.loads(out)
    result |= {
        "embeddings": embeddings,
        "wall_s": time.perf_counter() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }
    return result


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _cell(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def _row(*cells: object) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |")


def _header(*names: str) -> None:
    _row(*names)
    _row(*["---"] * len(names))


def print_tables(report: dict[str, Any]) -> None:
    if report["text"]:
        print(f"Held-out text, threshold {report['threshold']} (train and ms: CPU)")
        _header(
            "method", "file", "lang", "n", "accuracy", "macro-F1", "in-scope acc",
            "OOS recall", "train s", "ms",
        )  # fmt: skip
        for e in report["text"]:
            _row(
                e["method"], e["file"], e["language"], e["count"], _cell(e["accuracy"]),
                _cell(e["macro_f1"]), _cell(e["in_scope_accuracy"]), _cell(e["oos_recall"]),
                f"{e['train_s']:.2f}", f"{e['ms_per_phrase']:.1f}",
            )  # fmt: skip
    if report["latency"]:
        print("\nOne classify call per held-out phrase (wall p50 / p95, CPU p50), ms")
        for e in report["latency"]:
            wall = f"{e['p50_ms']:.2f} / {e['p95_ms']:.2f}"
            print(f"  {e['method']:24} {wall}  (CPU {e['cpu_p50_ms']:.2f})")
    if report["public"]:
        print("\nPublic benchmarks through `hotline intents evaluate` (a child process each)")
        _header(
            "benchmark", "model", "threshold", "accuracy", "in-scope acc", "OOS recall",
            "train wall s", "train CPU s", "total CPU s", "peak MB", "ms/phrase",
        )  # fmt: skip
        for e in report["public"]:
            _row(
                e["benchmark"], e["model"], e["threshold"], _cell(e["accuracy"]),
                _cell(e["in_scope_accuracy"]), _cell(e["oos_recall"]), f"{e['train_s']:.1f}",
                f"{e['train_cpu_s']:.1f}", f"{e['cpu_s']:.1f}", f"{e['peak_mb']:.0f}",
                f"{e['ms_per_phrase']:.1f}",
            )  # fmt: skip
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
    parser.add_argument("--no-embeddings", action="store_true", help="lexical methods only")
    parser.add_argument(
        "--banking77",
        nargs=2,
        type=Path,
        metavar=("TRAIN.csv", "TEST.csv"),
        help="PolyAI banking_data train.csv and test.csv (columns text,category)",
    )
    parser.add_argument("--clinc150", type=Path, metavar="data_full.json", help="oos-eval's file")
    parser.add_argument(
        "--thresholds",
        type=lambda t: [float(x) for x in t.split(",")],
        default=[0.2],
        metavar="P[,P]",
        help="thresholds for the public benchmarks (default: 0.2)",
    )
    parser.add_argument("--public-only", action="store_true", help="only the public benchmarks")
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
