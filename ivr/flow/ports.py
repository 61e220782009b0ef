"""What the flow engine needs from speech recognition, intent classification and talk
detection.

Structural protocols, so ``ivr.speech.SpeechService``, ``ivr.intent.IntentClassifier`` and
``telephony.talk_detection.TalkEvents`` fit without the engine importing them (and tests can
pass small fakes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

__all__ = ["Classifier", "Heard", "IntentResult", "Recogniser", "Talk", "TalkDetection"]


class Heard(Protocol):
    """A transcript (``ivr.speech.Transcript``)."""

    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def alternatives(self) -> tuple[str, ...]:
        """The recogniser's other readings of the same audio (may be empty)."""
        ...


class Recogniser(Protocol):
    """``ivr.speech.SpeechService``: None means "fall back to DTMF" (busy, failed, slow)."""

    async def recognise(
        self, wav: Path, *, language: str, phrases: Sequence[str] | None = None
    ) -> Heard | None: ...


class IntentResult(Protocol):
    """``ivr.intent.IntentMatch``."""

    @property
    def intent(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def call_type(self) -> str: ...
    @property
    def complexity(self) -> int: ...
    @property
    def known(self) -> bool: ...
    @property
    def entities(self) -> tuple[tuple[str, str], ...]:
        """(entity, value) pairs found in the words."""
        ...


class Classifier(Protocol):
    """``ivr.intent.IntentClassifier``: pure and fast, called on the event loop."""

    def classify(self, text: str, language: str) -> IntentResult: ...

    def classify_readings(self, readings: Sequence[str], language: str) -> tuple[int, IntentResult]:
        """What several readings of one answer mean together, and the index of the reading
        that said it."""
        ...


class Talk(Protocol):
    """One watched channel: its caller started talking, and stopped."""

    started: asyncio.Event
    stopped: asyncio.Event


class TalkDetection(Protocol):
    """``telephony.talk_detection.TalkEvents``: Asterisk saying a caller started talking, and
    stopped; hotline ending a recording."""

    def watch(self, uniqueid: str) -> AbstractContextManager[Talk]:
        """The channel's caller starting and stopping to talk, while the block runs."""
        ...

    @property
    def connected(self) -> bool:
        """Whether Asterisk's events can be heard and actions sent now (AMI is up)."""
        ...

    async def end_recording(self, channel: str) -> None:
        """``RECORD FILE`` on ``channel`` ends as if the caller pressed ``STOP_KEY``."""
        ...
