"""Noise on the line: its level estimated, steady noise taken out, clean audio left whole."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from ivr.speech.audio import read_wav
from ivr.speech.noise import snr_db, suppress_noise
from tests.ivr.speech.conftest import Say

PHRASE = "I would like to cancel my broadband contract please"


def _heard(say: Say, snr: float | None) -> npt.NDArray[np.float32]:
    return read_wav(say(PHRASE, snr_db=snr), rate=16_000).samples


def test_the_estimate_orders_recordings_by_their_noise(say: Say) -> None:
    clean, twenty, ten = (_heard(say, snr) for snr in (None, 20.0, 10.0))

    assert snr_db(clean) > snr_db(twenty) > snr_db(ten)
    assert 5.0 < snr_db(ten) < 16.0 < snr_db(twenty)


def test_suppression_lifts_a_noisy_recording_and_keeps_its_length(say: Say) -> None:
    ten = _heard(say, 10.0)

    cleaned = suppress_noise(ten)

    assert cleaned.shape == ten.shape
    assert cleaned.dtype == np.float32
    assert snr_db(cleaned) > snr_db(ten) + 5.0


def test_the_speech_keeps_most_of_its_energy(say: Say) -> None:
    clean = _heard(say, None)

    cleaned = suppress_noise(clean)

    loud = np.abs(clean) > 0.1 * np.abs(clean).max()
    kept = float(np.sum(cleaned[loud] ** 2) / np.sum(clean[loud] ** 2))
    assert 0.7 < kept <= 1.05


@pytest.mark.parametrize("size", [0, 10, 511])
def test_too_short_to_frame_is_returned_as_it_is(size: int) -> None:
    samples = np.full(size, 0.1, dtype=np.float32)

    assert suppress_noise(samples) is samples
    assert snr_db(samples) == 99.0


def test_digital_silence_has_no_noise_and_stays_silent() -> None:
    silence = np.zeros(16_000, dtype=np.float32)

    assert snr_db(silence) == 99.0
    assert not suppress_noise(silence).any()
