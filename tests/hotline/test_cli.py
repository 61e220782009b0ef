"""The hotline command: what an admin sees and the exit status scripts rely on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotline.cli import main

SHIPPED = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_CONFIG_DIR", "HOTLINE_AMI_PORT", "HOTLINE_WEB_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_check_config_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(SHIPPED)]) == 0
    files = len(list(SHIPPED.glob("*.yaml")))
    assert capsys.readouterr().out == f"config OK: {SHIPPED} ({files} files)\n"


def test_check_config_prints_each_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(SHIPPED, tmp_path, dirs_exist_ok=True)
    text = (tmp_path / "hotline.yaml").read_text(encoding="utf-8")
    lines = text.replace("port: 5038", "port: 65536").splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "65536" in line)
    (tmp_path / "hotline.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "ivr.yaml").write_text("language: 'english'\n", encoding="utf-8")

    assert main(["check-config", "--config", str(tmp_path)]) == 1

    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{tmp_path / 'hotline.yaml'}:{bad_line}: ami.port: "
        "Input should be less than or equal to 65535"
    )
    assert err[1].startswith(f"{tmp_path / 'ivr.yaml'}:1: language: ")
    assert err[2] == f"config refused: {tmp_path} (2 errors)"


def test_check_config_reads_the_directory_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(SHIPPED))
    assert main(["check-config"]) == 0
    assert str(SHIPPED) in capsys.readouterr().out


def test_check_config_applies_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_AMI_PORT", "0")
    assert main(["check-config", "--config", str(SHIPPED)]) == 1
    assert capsys.readouterr().err.startswith("$HOTLINE_AMI_PORT: ami.port: ")


def test_set_overrides_a_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(SHIPPED), "--set", "web.port=99999"]) == 1
    assert capsys.readouterr().err.startswith("--set: web.port: ")


def test_set_without_equals_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(SHIPPED), "--set", "web.port"]) == 1
    assert "expected KEY=VALUE" in capsys.readouterr().err


def test_missing_config_directory_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", str(tmp_path / "absent")]) == 1
    assert "config directory not found" in capsys.readouterr().err


def test_version_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("hotline ")


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dance"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_commands_that_use_no_speech_do_not_warn_about_speech_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model missing on this machine is the speech service's to say, when it starts."""
    shutil.copytree(SHIPPED, tmp_path / "config")
    shutil.copytree(SHIPPED.parent / "prompts", tmp_path / "prompts")
    speech = tmp_path / "config" / "speech.yaml"
    text = speech.read_text(encoding="utf-8")
    shipped_arabic = "ar: {engine: whisper, model: default}"
    assert shipped_arabic in text
    missing = "ar: {engine: vosk, model: /nonexistent/models/vosk-model-ar}"
    speech.write_text(text.replace(shipped_arabic, missing), encoding="utf-8")

    assert main(["check-config", "--config", str(tmp_path / "config")]) == 0

    captured = capsys.readouterr()
    assert "vosk-model-ar" not in captured.out + captured.err
