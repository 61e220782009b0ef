"""A second recogniser's reading of open questions, weighed with the first's.

Two recognisers trained apart mishear differently: on the spoken held-out set Whisper base
heard "How brightly did the inspiration?" where Moonshine heard "... the installation",
and the other way round on other turns. The flow's intents weigh every reading of a turn
(``best_reading``), so the second recogniser's reading is given as one more alternative.
Only open questions get it (no menu phrases, not a whole call's transcript): a menu's
phrases already steer the first recogniser. A second recogniser that fails costs the
turn nothing but its reading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ivr.speech.recognizer import Recognizer, Transcript, WarmsUp

__all__ = ["SecondReading"]

log = logging.getLogger(__name__)


class SecondReading:
    """``first``'s transcript, with ``second``'s reading of open questions added to its
    alternatives. Named and recorded as ``first`` (its transcripts are the call's)."""

    def __init__(self, first: Recognizer, second: Recognizer) -> None:
        self.first = first
        self.second = second
        self.name = first.name
        self.model_dir = getattr(first, "model_dir", None)

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        started = time.perf_counter()
        heard = self.first.transcribe(wav, phrases=phrases, best_only=best_only)
        if phrases or best_only or not heard.text:
            return heard
        try:
            other = self.second.transcribe(wav).text
        except Exception as exc:  # noqa: BLE001 -- an engine's boundary: the first reading stands
            log.warning("speech: second reading by %s failed: %s", self.second.name, exc)
            other = ""
        readings = tuple(dict.fromkeys(r for r in (*heard.alternatives, other) if r))
        return Transcript(heard.text, heard.confidence, time.perf_counter() - started, readings)

    def warm_up(self) -> None:
        for recognizer in (self.first, self.second):
            if isinstance(recognizer, WarmsUp):
                recognizer.warm_up()
