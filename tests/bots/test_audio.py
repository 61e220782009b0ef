"""What the SIP bots send: in-band DTMF a detector recognises, speech at the right rate,
and scripts as an admin writes them."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from telephony.bots.audio import DTMF_FREQUENCIES, RATE, dtmf, read_wav, silence, write_wav
from telephony.bots.caller import Press, Say, Wait, parse_script


def goertzel_power(samples: np.ndarray, frequency: float) -> float:
    k = 2 * np.cos(2 * np.pi * frequency / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return float(s1 * s1 + s2 * s2 - k * s1 * s2)


def detect(tone: bytes) -> str:
    """The key whose row and column tones are the strongest (a textbook DTMF decoder)."""
    samples = np.frombuffer(tone, dtype=np.uint8).astype(np.float64) - 128
    rows = sorted({f for f, _ in DTMF_FREQUENCIES.values()})
    cols = sorted({f for _, f in DTMF_FREQUENCIES.values()})
    row = max(rows, key=lambda f: goertzel_power(samples, f))
    col = max(cols, key=lambda f: goertzel_power(samples, f))
    return next(k for k, v in DTMF_FREQUENCIES.items() if v == (row, col))


@pytest.mark.parametrize("key", list("0123456789*#"))
def test_each_key_is_sent_as_its_two_tones(key: str) -> None:
    samples = dtmf(key, tone_s=0.1, gap_s=0.1)
    tone, gap = samples[:800], samples[800:]
    assert detect(tone) == key
    assert set(gap) == {128}  # silence between keys, so repeated keys are two presses


def test_digits_follow_each_other_with_gaps() -> None:
    samples = dtmf("123456#", tone_s=0.1, gap_s=0.1)
    keys = [detect(samples[i : i + 800]) for i in range(0, len(samples), 1600)]
    assert "".join(keys) == "123456#"


def test_a_non_key_is_refused() -> None:
    with pytest.raises(ValueError, match="not a DTMF key"):
        dtmf("1x")


def test_speech_wavs_become_unsigned_8_bit_samples(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    t = np.arange(RATE) / RATE
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes((np.sin(2 * np.pi * 440 * t) * 16000).astype("<i2").tobytes())
    samples = read_wav(path)
    assert len(samples) == RATE
    assert 128 + 55 < max(samples) <= 255
    assert min(samples) < 128 - 55


def test_audio_at_another_rate_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "cd.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(b"\0\0" * 100)
    with pytest.raises(ValueError, match="8 kHz mono"):
        read_wav(path)


def test_what_a_bot_heard_is_kept_as_a_wav(tmp_path: Path) -> None:
    heard = silence(0.5) + dtmf("5")
    write_wav(tmp_path / "out" / "heard.wav", heard)
    assert read_wav(tmp_path / "out" / "heard.wav") == heard


def test_a_caller_script_reads_as_written() -> None:
    assert parse_script("wait:2, press:1,say:fault.wav,press:123456#,wait:0.5") == [
        Wait(2.0),
        Press("1"),
        Say(Path("fault.wav")),
        Press("123456#"),
        Wait(0.5),
    ]
    with pytest.raises(ValueError, match="wait:S"):
        parse_script("sing:loud")
