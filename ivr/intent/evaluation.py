"""Score a classifier on labelled phrases: the numbers ``hotline intents evaluate`` prints.

Files are CSV with a header: ``text,intent`` and optionally ``language``. Rows labelled
``oos`` are out of scope: the right answer for them is "unknown". Following the usual
out-of-scope benchmarks (CLINC150), four figures:

- ``accuracy``: every row, an out-of-scope row being right when the answer is unknown;
- ``macro_f1``: F1 averaged over the labels of the test file (``oos`` included as a label);
- ``in_scope_accuracy``: in-scope rows only (answering unknown is wrong);
- ``oos_recall``: out-of-scope rows answered unknown.
The last two are None when the test file has no ``oos`` row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.intent.classifier import Example
from ivr.intent.config import OUT_OF_SCOPE

__all__ = ["MAX_FILE_BYTES", "EvaluationError", "Scores", "read_examples", "score"]

#: Far above any hand-made or public intent set (CLINC150 is ~2 MB); refuses a wrong path.
MAX_FILE_BYTES = 64 << 20
REQUIRED_COLUMNS = ("text", "intent")


class EvaluationError(ValueError):
    """An evaluation file cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class Scores:
    count: int
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float | None
    oos_recall: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "in_scope_accuracy": self.in_scope_accuracy,
            "oos_recall": self.oos_recall,
            "count": self.count,
        }


def read_examples(path: Path) -> list[Example]:
    """The labelled rows of a CSV file; rows with an empty text or intent are refused."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EvaluationError(f"{path}: file not found") from None
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise EvaluationError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise EvaluationError(f"{path}:{line}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip().lower() for c in reader.fieldnames or ()]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        found = ", ".join(columns) if columns else "no header"
        raise EvaluationError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {found}); "
            "expected a header line text,intent[,language]"
        )
    reader.fieldnames = columns
    examples: list[Example] = []
    try:
        for row in reader:
            line = reader.line_num
            phrase, intent = (row.get("text") or "").strip(), (row.get("intent") or "").strip()
            if not phrase and not intent:
                continue
            if not phrase or not intent:
                raise EvaluationError(f"{path}:{line}: empty {'text' if not phrase else 'intent'}")
            examples.append(Example(phrase, intent, (row.get("language") or "").strip()))
    except csv.Error as exc:
        raise EvaluationError(f"{path}:{reader.line_num}: bad CSV: {exc}") from None
    return examples


def score(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """The four figures for predictions (an intent, or ``OUT_OF_SCOPE`` for unknown)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    if not gold:
        raise EvaluationError("no rows to score")
    pairs = list(zip(gold, predicted, strict=True))
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    f1s = []
    for label in sorted(set(gold)):
        true_positive = sum(g == label and p == label for g, p in pairs)
        gold_count = sum(g == label for g, _ in pairs)
        predicted_count = sum(p == label for _, p in pairs)
        denominator = gold_count + predicted_count
        f1s.append(2 * true_positive / denominator if denominator else 0.0)
    in_scope = [(g, p) for g, p in pairs if g != OUT_OF_SCOPE]
    oos = [(g, p) for g, p in pairs if g == OUT_OF_SCOPE]
    has_oos = bool(oos)
    return Scores(
        count=len(pairs),
        accuracy=accuracy,
        macro_f1=sum(f1s) / len(f1s),
        in_scope_accuracy=(
            sum(g == p for g, p in in_scope) / len(in_scope) if has_oos and in_scope else None
        ),
        oos_recall=sum(p == OUT_OF_SCOPE for _, p in oos) / len(oos) if has_oos else None,
    )
