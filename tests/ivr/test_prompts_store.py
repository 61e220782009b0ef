"""Prompts: where each recording lives for hotline and for Asterisk, what Asterisk can play,
and converting uploads (wav, mp3, ogg) into it."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from ivr.prompts import PromptImportError, PromptStore, audio_problem, import_prompt
from tests.ivr.flow.support import write_wav

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is not installed (apt-get install ffmpeg)"
)


def store(tmp_path: Path, core_dir: Path | None = None) -> PromptStore:
    return PromptStore(
        directory=tmp_path / "prompts",
        asterisk_dir="/var/lib/asterisk/sounds/hotline",
        core=frozenset({"beep"}),
        core_sounds_dir=core_dir,
    )


def test_own_prompts_play_from_the_language_folder_and_core_ones_by_name(
    tmp_path: Path,
) -> None:
    prompts = store(tmp_path)
    assert prompts.asterisk_name("welcome", "ar") == "/var/lib/asterisk/sounds/hotline/ar/welcome"
    assert prompts.asterisk_name("beep", "ar") == "beep"
    assert prompts.file("offers/summer", "en") == tmp_path / "prompts/en/offers/summer.wav"


def test_a_playable_prompt_has_no_problem(tmp_path: Path) -> None:
    write_wav(tmp_path / "prompts/en/welcome.wav")
    assert store(tmp_path).problem("welcome", "en") is None


def test_missing_recording_is_a_problem_per_language(tmp_path: Path) -> None:
    write_wav(tmp_path / "prompts/en/welcome.wav")
    problems = store(tmp_path).problems(["welcome"], ["en", "ar"])
    assert problems == [
        f"prompt 'welcome' has no ar recording ({tmp_path}/prompts/ar/welcome.wav is missing)"
    ]


@pytest.mark.parametrize(
    ("rate", "channels", "seconds", "reason"),
    [
        (16000, 1, 0.2, "is 16000 Hz, 1 channel(s), 16-bit"),
        (8000, 2, 0.2, "is 8000 Hz, 2 channel(s), 16-bit"),
        (8000, 1, 0.0, "is empty"),
    ],
)
def test_audio_asterisk_cannot_play_is_explained(
    tmp_path: Path, rate: int, channels: int, seconds: float, reason: str
) -> None:
    path = write_wav(tmp_path / "x.wav", seconds=seconds, rate=rate, channels=channels)
    problem = audio_problem(path)
    assert problem is not None
    assert reason in problem


def test_a_file_that_is_not_audio_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 not a wave file")
    assert "is not readable audio" in (audio_problem(path) or "")


def test_core_prompts_use_the_channel_language_or_asterisks_english(tmp_path: Path) -> None:
    core = tmp_path / "sounds"
    write_wav(core / "en" / "beep.wav")
    prompts = PromptStore(tmp_path / "prompts", "/x", frozenset({"beep", "nope"}), core)
    assert prompts.problem("beep", "ar") is None
    assert "core prompt 'nope' is not in" in (prompts.problem("nope", "en") or "")


def test_core_prompts_are_not_checked_where_asterisks_sounds_are_absent(tmp_path: Path) -> None:
    prompts = PromptStore(tmp_path / "p", "/x", frozenset({"nope"}), tmp_path / "no-sounds")
    assert prompts.problem("nope", "en") is None


def test_import_converts_a_wav_to_8khz_mono_16bit(tmp_path: Path) -> None:
    source = write_wav(tmp_path / "studio.wav", seconds=1.5, rate=44100, channels=2)
    target = tmp_path / "prompts/en/welcome.wav"

    seconds = import_prompt(source, target)

    assert seconds == pytest.approx(1.5, abs=0.01)
    assert audio_problem(target) is None
    with wave.open(str(target)) as converted:
        assert converted.getnframes() == pytest.approx(12000, abs=10)
    assert [p.name for p in target.parent.iterdir()] == ["welcome.wav"]  # no temp file left


@needs_ffmpeg
@pytest.mark.parametrize("suffix", [".mp3", ".ogg"])
def test_import_reads_compressed_uploads_through_ffmpeg(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / f"upload{suffix}"
    subprocess.run(
        [
            *("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1"),
            *("-ac", "2", "-ar", "44100", str(source)),
        ],
        check=True,
        timeout=30,
    )
    target = tmp_path / "prompts/ar/offer.wav"

    seconds = import_prompt(source, target)

    assert seconds == pytest.approx(1.0, abs=0.1)
    assert audio_problem(target) is None


@pytest.mark.parametrize("name", ["notes.wav", "notes.mp3"])
def test_import_refuses_what_is_not_audio_and_keeps_the_old_recording(
    tmp_path: Path, name: str
) -> None:
    source = tmp_path / name
    source.write_text("these are my notes, not a recording", encoding="utf-8")
    target = write_wav(tmp_path / "prompts/en/welcome.wav")
    before = target.read_bytes()

    with pytest.raises(PromptImportError, match=f"{name}: not"):
        import_prompt(source, target)

    assert target.read_bytes() == before


def test_import_of_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PromptImportError, match="no such file"):
        import_prompt(tmp_path / "nothing.mp3", tmp_path / "out.wav")
