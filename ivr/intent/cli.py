"""``hotline intents``: score the classifier on labelled data, try a phrasing.

``evaluate`` trains on one CSV and scores another, so anyone can measure the classifier
on their own calls or on a public benchmark; ``classify`` lets an admin see what the
shipped intents make of a phrase before callers do, or classifies a file of texts (one a
line, JSON lines out).

Exit status: 0 success, 1 a file was refused (missing, bad columns, no rows, invalid
intents file), 2 the command line was wrong (argparse).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.intent.config import DEFAULT_THRESHOLD, OUT_OF_SCOPE

if TYPE_CHECKING:
    from ivr.intent.config import IntentsConfig

# The classifier (scikit-learn) is imported by the handlers: building the ``hotline``
# parser must stay cheap for every other command.

__all__ = ["IntentsFileError", "load_intents", "register"]

INTENTS_FILE = "intents.yaml"
CONFIG_DIR_VARIABLE = "HOTLINE_CONFIG_DIR"
MAX_INTENTS_BYTES = 1 << 20
#: Read of a file of texts to classify (a day of a busy centre's transcripts fits).
MAX_CLASSIFY_BYTES = 64 << 20


class IntentsFileError(Exception):
    """The intents file was refused; the message lists ``file:line: key: reason`` lines."""


def register(subparsers: Any) -> None:
    """Add ``intents evaluate`` and ``intents classify`` to the ``hotline`` command."""
    intents = subparsers.add_parser("intents", help="score and try the intent classifier")
    commands = intents.add_subparsers(dest="intents_command", required=True, metavar="COMMAND")

    evaluate = commands.add_parser(
        "evaluate",
        help="train on one CSV (text,intent[,language]) and score another",
        description="Rows labelled 'oos' are out of scope: right when the answer is unknown.",
    )
    evaluate.add_argument("--train", type=Path, required=True, metavar="TRAIN.csv")
    evaluate.add_argument("--test", type=Path, required=True, metavar="TEST.csv")
    evaluate.add_argument(
        "--threshold",
        type=_probability,
        default=DEFAULT_THRESHOLD,
        metavar="P",
        help=f"confidence below which the answer is unknown (default: {DEFAULT_THRESHOLD})",
    )
    evaluate.add_argument(
        "--embeddings",
        choices=("use", "minilm", "off"),
        default=None,
        help="sentence encoder combined with the lexical model (default: use, when "
        "installed; minilm needs the embeddings extra; off: lexical only)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(run=run_evaluate)

    classify = commands.add_parser(
        "classify",
        help="what the configured intents make of TEXT, or of each line of a file",
        description="With no TEXT, classifies each line of --file (or standard input) and "
        "prints one JSON object per line: text, intent, known, confidence, call_type, "
        "complexity, entities, alternatives.",
    )
    classify.add_argument("text", metavar="TEXT", nargs="?")
    classify.add_argument(
        "--file",
        type=Path,
        default=None,
        metavar="FILE",
        help="one text per line ('-': standard input, the default without TEXT)",
    )
    classify.add_argument("--language", default="en", help="the caller's language (default: en)")
    classify.add_argument(
        "--intents",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"default: ${CONFIG_DIR_VARIABLE}/{INTENTS_FILE} or ./config/{INTENTS_FILE}",
    )
    classify.add_argument("--json", action="store_true", help="print one JSON object")
    classify.set_defaults(run=run_classify)


def run_evaluate(args: argparse.Namespace) -> int:
    from ivr.intent.classifier import IntentClassifier, TrainingError
    from ivr.intent.embeddings import EmbeddingsUnavailable, default_encoder, load_encoder
    from ivr.intent.evaluation import EvaluationError, read_examples, score

    try:
        train = read_examples(args.train)
        test = read_examples(args.test)
        if not train:
            raise EvaluationError(f"{args.train}: no rows to train on")
        if not any(e.intent != OUT_OF_SCOPE for e in train):
            raise EvaluationError(
                f"{args.train}: every row is {OUT_OF_SCOPE!r}; no intent to learn"
            )
        if not test:
            raise EvaluationError(f"{args.test}: no rows to score")
        # Asked for by name: missing is an error; by default: lexical only, with a warning.
        if args.embeddings is None:
            encoder = default_encoder("use")
        else:
            encoder = None if args.embeddings == "off" else load_encoder(args.embeddings)
        started, cpu = time.perf_counter(), time.process_time()
        classifier = IntentClassifier(train, threshold=args.threshold, encoder=encoder)
        trained_s, trained_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    except (EvaluationError, TrainingError, EmbeddingsUnavailable) as exc:
        return _fail(str(exc))
    started = time.perf_counter()
    predicted = classifier.predict([e.text for e in test], [e.language for e in test])
    scored_ms = (time.perf_counter() - started) / len(test) * 1000
    scores = score([e.intent for e in test], predicted)
    model = f"tfidf + {args.embeddings or 'use'}" if classifier.embeddings else "tfidf"
    if args.json:
        report = {
            **scores.as_dict(),
            "train_count": len(train),
            "threshold": args.threshold,
            "model": model,
            "train_s": trained_s,
            "train_cpu_s": trained_cpu_s,
            "ms_per_phrase": scored_ms,
        }
        print(json.dumps(report))
        return 0
    print(
        f"trained on {len(train)} phrases ({len(classifier.intents)} intents) in "
        f"{trained_s:.2f} s ({trained_cpu_s:.2f} s CPU), model {model}; scored "
        f"{scores.count} phrases at threshold {args.threshold:g}, {scored_ms:.1f} ms each"
    )
    print(f"accuracy             {scores.accuracy:.3f}")
    print(f"macro-F1             {scores.macro_f1:.3f}")
    if scores.in_scope_accuracy is not None and scores.oos_recall is not None:
        print(f"in-scope accuracy    {scores.in_scope_accuracy:.3f}")
        print(f"out-of-scope recall  {scores.oos_recall:.3f}")
    return 0


#: Alternatives printed after the best label.
ALTERNATIVES = 3


def run_classify(args: argparse.Namespace) -> int:
    from ivr.intent.classifier import build_classifier

    path: Path = args.intents or _default_intents_file()
    if args.text is not None and args.file is not None:
        return _fail("give TEXT or --file, not both")
    try:
        config = load_intents(path)
    except IntentsFileError as exc:
        return _fail(str(exc))
    if args.text is None:
        try:
            texts = _lines(args.file)
        except OSError as exc:
            return _fail(f"{args.file}: cannot read: {exc.strerror or exc}")
        except UnicodeDecodeError:
            return _fail(f"{args.file or 'standard input'}: not UTF-8 text")
    else:
        texts = [args.text]
    classifier = build_classifier(config)
    languages = [args.language] * len(texts)
    matches = classifier.classify_many(texts, languages)
    ranked = classifier.rank_many(texts, languages)
    if args.text is None or args.json:
        for text, match, labels in zip(texts, matches, ranked, strict=True):
            report = {
                "text": text,
                "intent": match.intent,
                "known": match.known,
                "confidence": round(match.confidence, 4),
                "call_type": match.call_type,
                "complexity": match.complexity,
                "entities": dict(match.entities),
                "alternatives": [
                    {"intent": label, "probability": round(p, 4)}
                    for label, p in labels[:ALTERNATIVES]
                ],
            }
            print(json.dumps(report, ensure_ascii=False))
        return 0
    match = matches[0]
    verdict = "" if match.known else f" (below {config.threshold:g} or out of scope)"
    print(f"{match.intent}{verdict}: call type {match.call_type}, complexity {match.complexity}")
    if match.entities:
        print("  " + ", ".join(f"{entity}={value}" for entity, value in match.entities))
    for label, probability in ranked[0][:ALTERNATIVES]:
        print(f"  {probability:5.2f}  {label}")
    return 0


def _lines(path: Path | None) -> list[str]:
    """The non-blank lines of ``path`` (None or '-': standard input), stripped."""
    if path is None or str(path) == "-":
        raw = sys.stdin.buffer.read(MAX_CLASSIFY_BYTES)
    else:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CLASSIFY_BYTES)
    return [line.strip() for line in raw.decode("utf-8-sig").splitlines() if line.strip()]


def load_intents(path: Path) -> IntentsConfig:
    """Read and validate an intents file; IntentsFileError lists every located problem."""
    from pydantic import ValidationError

    from ivr.config_yaml import YamlFileError, parse_yaml
    from ivr.intent.config import IntentsConfig, check_intents

    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_INTENTS_BYTES + 1)
    except FileNotFoundError:
        raise IntentsFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise IntentsFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_INTENTS_BYTES:
        raise IntentsFileError(f"{path}: larger than {MAX_INTENTS_BYTES} bytes")
    try:
        document = parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise IntentsFileError(f"{path}: not UTF-8 text") from None
    except YamlFileError as exc:
        lines = [_located(path, p.line, p.path, p.message) for p in exc.problems]
        raise IntentsFileError("\n".join(lines)) from None
    try:
        config = IntentsConfig.model_validate(document.data)
    except ValidationError as exc:
        lines = [
            _located(path, document.line_of(e["loc"]), e["loc"], e["msg"]) for e in exc.errors()
        ]
        raise IntentsFileError("\n".join(lines)) from None
    problems = [
        _located(path, document.line_of(loc), loc, message)
        for loc, message in check_intents(config)
    ]
    if problems:
        raise IntentsFileError("\n".join(problems))
    return config


def _located(path: Path, line: int | None, loc: Any, message: str) -> str:
    where = f"{path}:{line}" if line is not None else str(path)
    dotted = ".".join(str(part) for part in loc if part != "[key]")  # pydantic's dict-key marker
    return f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}"


def _default_intents_file() -> Path:
    return Path(os.environ.get(CONFIG_DIR_VARIABLE) or "config") / INTENTS_FILE


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _fail(message: str) -> int:
    print(f"hotline intents: {message}", file=sys.stderr)
    return 1
