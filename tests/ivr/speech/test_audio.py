"""Reading recordings: silence is not an error, a broken file is a typed one, and
resampling 8 kHz telephony audio adds no aliased images."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.audio import AudioError, read_wav
from tests.ivr.speech.conftest import write_wav


def _tone(hz: float, seconds: float, rate: int, amplitude: float = 0.5) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2").tobytes()


def test_asterisk_header_only_recording_reads_as_no_audio(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "nothing.wav")
    assert path.stat().st_size == 44

    audio = read_wav(path, rate=16000)

    assert audio.empty
    assert audio.seconds == 0.0


def test_missing_file_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="unreadable"):
        read_wav(tmp_path / "gone.wav")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"RIFF",
        b"not a wav file at all, just some text" * 10,
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\xff" * 8,
    ],
    ids=["empty-file", "truncated-riff", "text", "broken-fmt-chunk"],
)
def test_corrupt_file_is_an_audio_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(content)

    with pytest.raises(AudioError):
        read_wav(path)


def test_gsm_wav49_is_refused_as_unsupported(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 49, 1, 8000, 1625, 65, 0)  # WAVE_FORMAT_GSM610
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0)
    path = tmp_path / "gsm.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)

    with pytest.raises(AudioError):
        read_wav(path)


def test_eight_bit_audio_is_refused(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * 800)

    with pytest.raises(AudioError, match="8-bit"):
        read_wav(path)


def test_upsampling_8k_to_16k_keeps_the_tone_and_adds_no_image(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "tone.wav", _tone(1000, 1.0, 8000))

    audio = read_wav(path, rate=16000)

    assert audio.rate == 16000
    assert len(audio.samples) == 16000
    spectrum = np.abs(np.fft.rfft(audio.samples * np.hanning(len(audio.samples))))
    freqs = np.fft.rfftfreq(len(audio.samples), 1 / 16000)
    peak = freqs[np.argmax(spectrum)]
    image = spectrum[(freqs > 6500) & (freqs < 7500)].max()  # naive repetition puts one at 7 kHz
    assert abs(peak - 1000) < 5
    assert 20 * np.log10(image / spectrum.max()) < -60


def test_stereo_is_mixed_down_to_mono(tmp_path: Path) -> None:
    left = np.frombuffer(_tone(500, 0.5, 8000), dtype="<i2")
    stereo = np.column_stack([left, np.zeros_like(left)]).astype("<i2").tobytes()
    path = write_wav(tmp_path / "stereo.wav", stereo, channels=2)

    audio = read_wav(path)

    assert len(audio.samples) == len(left)
    assert np.max(np.abs(audio.samples)) == pytest.approx(0.25, abs=0.01)


def test_long_recording_is_cut_at_the_cap(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", _tone(440, 3.0, 8000))

    audio = read_wav(path, max_seconds=1.0)

    assert audio.seconds == pytest.approx(1.0)
    assert audio.truncated


def test_recording_cut_short_reads_the_samples_that_exist(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "cut.wav", _tone(440, 1.0, 8000))
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 4001])  # header still claims 1 s; an odd byte dangles

    audio = read_wav(path)

    assert len(audio.samples) == 2000


def test_int16_round_trip_is_exact(tmp_path: Path) -> None:
    pcm = _tone(300, 0.1, 8000)
    audio = read_wav(write_wav(tmp_path / "x.wav", pcm))

    assert audio.as_int16_bytes() == pcm
