"""``hotline intents evaluate`` and ``classify``, run in-process as the CLI runs them."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from ivr.intent.cli import register
from ivr.intent.evaluation import score

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "config" / "intents.yaml"

TRAIN = [
    ("text", "intent"),
    ("question about my bill", "billing"),
    ("my bill is too high", "billing"),
    ("I was charged twice", "billing"),
    ("the internet is down", "technical_fault"),
    ("no signal on the tv", "technical_fault"),
    ("my wifi keeps dropping", "technical_fault"),
    ("hello", "oos"),
    ("what is the weather", "oos"),
]
TEST = [
    ("text", "intent", "language"),
    ("why is my bill so high", "billing", "en"),
    ("internet not working", "technical_fault", "en"),
    ("tell me a joke about the weather", "oos", "en"),
]


def _run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="hotline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def _csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _csv(tmp_path / "train.csv", TRAIN), _csv(tmp_path / "test.csv", TEST)


def test_evaluate_json_prints_one_object_with_the_four_figures(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(test), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall"} <= set(report)
    assert report["count"] == 3
    assert report["train_count"] == 8
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall"):
        assert 0.0 <= report[key] <= 1.0


def test_evaluate_prints_a_readable_report(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = files
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(test)]) == 0
    out = capsys.readouterr().out
    assert "trained on 8 phrases (2 intents)" in out
    for label in ("accuracy", "macro-F1", "in-scope accuracy", "out-of-scope recall"):
        assert label in out


def test_without_oos_rows_the_oos_figures_are_null(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    test = _csv(tmp_path / "in.csv", TEST[:3])
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(test), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["in_scope_accuracy"] is None
    assert report["oos_recall"] is None


def test_evaluating_the_shipped_examples_on_the_held_out_file_reaches_the_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ivr.intent import examples_of
    from ivr.intent.cli import load_intents

    rows = [("text", "intent", "language")]
    rows += [(e.text, e.intent, e.language) for e in examples_of(load_intents(SHIPPED))]
    train = _csv(tmp_path / "shipped.csv", rows)
    test = Path(__file__).parent / "data" / "heldout.csv"
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(test), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] >= 0.78  # the same classifier as config/intents.yaml gives


@pytest.mark.parametrize(
    ("train_rows", "message"),
    [
        ([("text", "label"), ("my bill", "billing")], "missing column(s) intent"),
        ([], "missing column(s) text, intent (found: no header)"),
        ([("text", "intent")], "no rows to train on"),
        ([("text", "intent"), ("hi", "oos"), ("yo", "oos")], "every row is 'oos'"),
        ([("text", "intent"), ("my bill", "billing")], "two distinct labels"),
        ([("text", "intent"), ("my bill", "")], ":2: empty intent"),
    ],
)
def test_a_bad_train_file_is_refused_with_a_clear_message(
    tmp_path: Path,
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    train_rows: list[tuple[str, str]],
    message: str,
) -> None:
    _, test = files
    train = _csv(tmp_path / "bad.csv", train_rows)
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(test)]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert str(train) in err or "two distinct labels" in message


def test_a_missing_test_file_is_refused(
    tmp_path: Path, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    train, _ = files
    missing = tmp_path / "nope.csv"
    assert _run(["intents", "evaluate", "--train", str(train), "--test", str(missing)]) == 1
    assert f"{missing}: file not found" in capsys.readouterr().err


def test_a_threshold_outside_zero_to_one_is_a_usage_error(files: tuple[Path, Path]) -> None:
    train, test = files
    with pytest.raises(SystemExit) as exit_:
        _run(
            ["intents", "evaluate", "--train", str(train), "--test", str(test), "--threshold", "2"]
        )
    assert exit_.value.code == 2


def test_classify_shows_the_intent_and_its_call_type(capsys: pytest.CaptureFixture[str]) -> None:
    text = "my internet is not working"
    assert _run(["intents", "classify", text, "--intents", str(SHIPPED), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intent"] == "technical_fault"
    assert report["known"] is True
    assert report["call_type"] == "technical_fault"
    assert report["alternatives"][0]["intent"] == "technical_fault"


def test_classify_reads_many_texts_from_standard_input_as_json_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = "my internet is not working\n\n  أبي ألغي الاشتراك  \nhello\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode("utf-8"))))
    assert _run(["intents", "classify", "--intents", str(SHIPPED)]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in reports] == [
        "my internet is not working",
        "أبي ألغي الاشتراك",
        "hello",
    ]
    assert [r["intent"] for r in reports] == ["technical_fault", "cancellation", "unknown"]
    for report in reports:
        assert {"known", "confidence", "call_type", "complexity", "entities"} <= set(report)
        assert 1 <= len(report["alternatives"]) <= 3
        probabilities = [a["probability"] for a in report["alternatives"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert report["confidence"] <= probabilities[0]


def test_classify_reads_a_file_the_same_as_one_text_at_a_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["how much is the fibre 500", "where is my order", "I want to speak to a person"]
    batch = tmp_path / "texts.txt"
    batch.write_text("\n".join(texts), encoding="utf-8")
    assert _run(["intents", "classify", "--file", str(batch), "--intents", str(SHIPPED)]) == 0
    many = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    one_by_one = []
    for text in texts:
        assert _run(["intents", "classify", text, "--intents", str(SHIPPED), "--json"]) == 0
        one_by_one.append(json.loads(capsys.readouterr().out))
    assert many == one_by_one
    assert many[0]["entities"] == {"product": "fibre-500"}


def test_classify_refuses_a_text_and_a_file_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = tmp_path / "texts.txt"
    batch.write_text("my bill\n", encoding="utf-8")
    assert _run(["intents", "classify", "my bill", "--file", str(batch)]) == 1
    assert "not both" in capsys.readouterr().err


def test_classify_a_missing_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.txt"
    assert _run(["intents", "classify", "--file", str(missing), "--intents", str(SHIPPED)]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_classify_in_arabic_reads_the_config_directory_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(SHIPPED.parent))
    assert _run(["intents", "classify", "أبي ألغي الاشتراك", "--language", "ar"]) == 0
    assert capsys.readouterr().out.startswith("cancellation: call type cancellation")


def test_classify_with_a_broken_intents_file_exits_1_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "intents.yaml"
    broken.write_text("intents:\n  billing:\n    call_type: nonsense\n", encoding="utf-8")
    assert _run(["intents", "classify", "my bill", "--intents", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{broken}:3: intents.billing.call_type: unknown call type 'nonsense'" in err


def test_scores_follow_their_definitions() -> None:
    gold = ["billing", "billing", "fault", "oos", "oos"]
    predicted = ["billing", "oos", "billing", "oos", "fault"]
    scores = score(gold, predicted)
    assert scores.accuracy == pytest.approx(2 / 5)
    assert scores.in_scope_accuracy == pytest.approx(1 / 3)
    assert scores.oos_recall == pytest.approx(1 / 2)
    # F1 per gold label: billing 2*1/(2+2)=0.5, fault 0, oos 2*1/(2+2)=0.5
    assert scores.macro_f1 == pytest.approx((0.5 + 0.0 + 0.5) / 3)
