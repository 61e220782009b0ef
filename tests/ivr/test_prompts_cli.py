"""``hotline prompts import|check``: what an admin sees, and the exit status."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ivr import prompts_cli
from ivr.prompts import audio_problem
from tests.ivr.flow.support import write_wav

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hotline")
    prompts_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def run_import(source: Path, name: str, lang: str, config_dir: Path) -> int:
    return run("prompts", "import", str(source), "--name", name, "--lang", lang,
               "--config", str(config_dir))  # fmt: skip


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "ivr.yaml").write_text(
        f"""languages: [en, ar]
intents_file: null
prompts:
  directory: {tmp_path / "prompts"}
  core_sounds_dir: null
entry: hello
nodes:
  hello:
    play: {{prompt: welcome, next: bye}}
  bye:
    hangup: {{prompt: goodbye}}
""",
        encoding="utf-8",
    )
    return directory


def test_import_converts_into_the_language_folder_of_the_configured_directory(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_wav(tmp_path / "studio.wav", seconds=2.0, rate=48000, channels=2)

    code = run_import(source, "welcome", "ar", config_dir)

    target = tmp_path / "prompts" / "ar" / "welcome.wav"
    assert code == 0
    assert audio_problem(target) is None
    assert capsys.readouterr().out == f"imported {target} (2.0 s, 8000 Hz mono 16-bit)\n"
    run_import(source, "welcome", "ar", config_dir)
    assert capsys.readouterr().out.startswith(f"replaced {target}")


def test_import_refuses_unreadable_audio_with_a_clear_error(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "minutes.ogg"
    source.write_text("meeting minutes", encoding="utf-8")

    code = run_import(source, "welcome", "en", config_dir)

    assert code == 1
    assert capsys.readouterr().err.startswith(f"prompts import: {source}: not ")
    assert not (tmp_path / "prompts" / "en" / "welcome.wav").exists()


@pytest.mark.parametrize(
    ("name", "lang", "reason"),
    [("../../etc/x", "en", "not a prompt name"), ("welcome", "english", "not a language")],
)
def test_import_refuses_names_the_flow_could_not_use(
    config_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    lang: str,
    reason: str,
) -> None:
    source = write_wav(tmp_path / "a.wav")
    code = run_import(source, name, lang, config_dir)
    assert code == 1
    assert reason in capsys.readouterr().err


def test_check_lists_every_recording_missing_with_its_line(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for language in ("en", "ar"):
        write_wav(tmp_path / "prompts" / language / "welcome.wav")
    write_wav(tmp_path / "prompts" / "en" / "goodbye.wav")

    assert run("prompts", "check", "--config", str(config_dir)) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        f"{config_dir / 'ivr.yaml'}:11: nodes.bye.hangup.prompt: prompt 'goodbye' has no ar"
    )
    assert err[1] == "prompts refused: 2 prompts in en, ar"


def test_check_passes_when_every_prompt_plays(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for language in ("en", "ar"):
        for name in ("welcome", "goodbye"):
            write_wav(tmp_path / "prompts" / language / f"{name}.wav")

    assert run("prompts", "check", "--config", str(config_dir)) == 0
    assert capsys.readouterr().out == "prompts OK: 2 prompts in en, ar\n"


def test_check_of_the_shipped_flow_and_catalog(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert run("prompts", "check", "--config", "config") == 0
    assert "prompts OK: 23 prompts in en, ar" in capsys.readouterr().out


def test_check_reports_a_broken_ivr_yaml_with_its_line(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir / "ivr.yaml").write_text("languages: [en]\nentry: 7up\n", encoding="utf-8")
    assert run("prompts", "check", "--config", str(config_dir)) == 1
    assert capsys.readouterr().err.startswith(f"{config_dir / 'ivr.yaml'}:2: entry: ")
