"""What every speech backend is: a synchronous, CPU-bound ``wav -> Transcript`` function.

Backends are called in a worker thread by ``SpeechService``; they must be safe to call from
several threads at once (one loaded model, per-call decoder state) and must never download
anything: a model is always a local directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["ModelError", "Recognizer", "Transcript", "WarmsUp", "menu_vocabulary"]


@dataclass(frozen=True)
class Transcript:
    """What was heard. ``text`` is "" when nothing was said (then ``confidence`` is 0).

    ``confidence`` is in [0, 1] and comparable only within one backend; ``seconds`` is the
    wall time spent decoding (reading, resampling and recognising). ``alternatives`` are
    other readings of the same audio (the decoder's next best, then Whisper's reading
    without its prompt; a backend may give none): the flow weighs them all with the intent
    classifier.
    """

    text: str
    confidence: float
    seconds: float
    alternatives: tuple[str, ...] = ()


class Recognizer(Protocol):
    """One loaded model. ``phrases`` are what the active menu expects (its options' words):
    a backend may use them to bias or restrict recognition, or ignore them. ``best_only``:
    no alternative readings, nobody will weigh them (a whole call's transcript)."""

    name: str

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript: ...


@runtime_checkable
class WarmsUp(Protocol):
    """A backend whose first decode is slow (lazy allocations) offers a warm-up run."""

    def warm_up(self) -> None: ...


class ModelError(RuntimeError):
    """A model directory is missing, incomplete, or cannot serve the requested language."""


def menu_vocabulary(phrases: Sequence[str] | None) -> tuple[str, ...]:
    """The menu's phrases cleaned up: stripped, lower case, duplicates and blanks removed."""
    seen: dict[str, None] = {}
    for phrase in phrases or ():
        cleaned = " ".join(phrase.lower().split())
        if cleaned:
            seen.setdefault(cleaned)
    return tuple(seen)
