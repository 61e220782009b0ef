"""``config/speech.yaml``: which engine and model serve each language, and the pool's bounds.

A language whose model is not on this machine is not an error: its callers use DTMF. The
speech service says so once when it starts (``hotline serve``, ``hotline demo``), and
``speech_warnings`` lists what will not work, located by key path, for tools that ask.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ivr.speech.models import DEFAULT_MODEL, resolve_model
from ivr.speech.recognizer import ModelError

__all__ = [
    "DEFAULT_PROMPTS",
    "Engine",
    "LanguageModel",
    "MoonshineOptions",
    "SpeechSettings",
    "VoskOptions",
    "WhisperOptions",
    "speech_warnings",
]

#: The words callers use with this IVR's intents, given to Whisper as its prompt for open
#: questions; a language's ``prompt`` overrides it. Measured (bench/spoken_bench.py) on the
#: spoken held-out set: English 0.690 -> 0.714 accuracy, wrong intents 0.11 -> 0.07; an
#: Arabic vocabulary prompt made Whisper base write its words into answers (wrong intents
#: 0.10 -> 0.31), so Arabic has none.
DEFAULT_PROMPTS = {
    "en": (
        "Billing, bill, invoice, refund, charged, broadband, fibre, internet, router, wifi, "
        "TV box, mobile, phone, SIM, contract, cancel, complaint, engineer, delivery, order, "
        "return, exchange, warranty, password, account, address, offers, deals, price, agent."
    ),
}

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")
_ENGINE_PACKAGES = {"whisper": "faster_whisper", "moonshine": "onnx", "vosk": "vosk"}

Location = tuple[str | int, ...]


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language code (en, ar, ko, pt_BR, ...)")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_section_means_defaults(cls, data: object) -> object:
        """``whisper:`` with every child commented out is YAML null: read it as defaults."""
        if not isinstance(data, dict):
            return data
        sections = ("whisper", "moonshine", "vosk")
        return {k: {} if v is None and k in sections else v for k, v in data.items()}


class WhisperOptions(_Section):
    #: Whisper's default 5: on the bench greedy (1) saved up to a third of the time but had
    #: about 5x the WER on Asterisk's prompts.
    beam_size: Annotated[int, Field(ge=1, le=10)] = 5
    #: Silero VAD trims silence (and stops Whisper hallucinating words into it).
    vad: bool = True
    #: Give the menu's phrases to Whisper as its initial prompt.
    use_phrases: bool = True
    #: Threads per decode; total CPU use is about workers x cpu_threads.
    cpu_threads: Annotated[int, Field(ge=1, le=64)] = 1
    #: Seconds of audio the encoder sees at least (the speech plus silence): Whisper pads
    #: every input to 30 s, and the encoder's cost grows with its input.
    window_s: Annotated[float, Field(ge=1, le=30)] = 10.0
    #: Readings returned per turn (n-best, at most beam_size) for the flow to rescore. 1:
    #: measured on the spoken set, 3 readings took English from 0.714 to 0.726 accuracy
    #: but wrong intents from 0.07 to 0.11 (a wrong queue is worse than asking again).
    alternatives: Annotated[int, Field(ge=1, le=10)] = 1
    #: An open question's answer whose reading is less sure than this is read again without
    #: the prompt (~0.25 s of CPU), the intents weighing both readings; 0: never. Measured
    #: on 474 spoken turns: 0.700 -> 0.726, the same as reading every turn twice. Not used
    #: for a language with a ``second_reading``, whose reading does better.
    unprompted_below: Annotated[float, Field(ge=0, le=1)] = 0.6
    #: Steady noise is subtracted from recordings whose estimated SNR (dB) is under this;
    #: null: never. Measured at 10 dB SNR: 0.49 -> 0.64 accuracy; clean lines untouched.
    denoise_below_db: Annotated[float, Field(ge=0, le=60)] | None = 16.0


class MoonshineOptions(_Section):
    #: Threads per decode, as for Whisper.
    cpu_threads: Annotated[int, Field(ge=1, le=64)] = 1
    #: Trim silence with Silero VAD, as for Whisper.
    vad: bool = True
    #: As for Whisper: steady noise subtracted under this SNR (dB); null: never.
    denoise_below_db: Annotated[float, Field(ge=0, le=60)] | None = 16.0


class VoskOptions(_Section):
    #: Restrict recognition to the menu's phrases (+ [unk]) when the menu gives phrases.
    use_grammar: bool = True


class Engine(_Section):
    engine: Literal["whisper", "moonshine", "vosk"]
    #: A model directory, or a model an installed package bundles: ``default``, or by name.
    model: Annotated[str, Field(min_length=1)] = DEFAULT_MODEL


class LanguageModel(Engine):
    #: Another recogniser whose reading of open questions the intents weigh with this
    #: one's (``second_reading``); null: none.
    second_reading: Engine | None = None
    #: Whisper's prompt for open questions (the vocabulary callers use); unset: the shipped
    #: one for the language (``DEFAULT_PROMPTS``), "" for none.
    prompt: Annotated[str, Field(max_length=1000)] | None = None

    def open_prompt(self, language: str) -> str | None:
        prompt = DEFAULT_PROMPTS.get(language) if self.prompt is None else self.prompt
        return prompt or None


class SpeechSettings(_Section):
    """The speech recognition service."""

    enabled: bool = True
    #: Decodes running at once (threads; the engines release the GIL). About one per core.
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    #: Turns allowed to wait for a busy worker; 0: a turn that finds all workers busy
    #: falls back to DTMF at once instead of adding queueing delay to the caller.
    queue: Annotated[int, Field(ge=0, le=1000)] = 0
    #: Longest a caller waits for a transcript; then the menu falls back to DTMF.
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 4.0
    #: Audio after this much is not decoded (an answer to a menu is short).
    max_audio_s: Annotated[float, Field(gt=0, le=120)] = 20.0
    whisper: WhisperOptions = WhisperOptions()
    moonshine: MoonshineOptions = MoonshineOptions()
    vosk: VoskOptions = VoskOptions()
    languages: Mapping[Annotated[str, AfterValidator(_language)], LanguageModel] = Field(
        default_factory=lambda: {"en": LanguageModel(engine="whisper")}
    )


def speech_warnings(settings: SpeechSettings) -> list[tuple[Location, str]]:
    """What will not work on this machine (missing model or engine), located by key path."""
    if not settings.enabled:
        return []
    warnings: list[tuple[Location, str]] = []
    for language, choice in settings.languages.items():
        where: Location = ("languages", language)
        outcome = f"{language!r} callers will use DTMF"
        warnings += _engine_warnings(where, language, choice, outcome)
        if choice.second_reading is not None:
            where += ("second_reading",)
            outcome = f"{language!r} open questions will have one reading"
            warnings += _engine_warnings(where, language, choice.second_reading, outcome)
    return warnings


def _engine_warnings(
    where: Location, language: str, choice: Engine, outcome: str
) -> list[tuple[Location, str]]:
    package = _ENGINE_PACKAGES[choice.engine]
    if importlib.util.find_spec(package) is None:
        return [((*where, "engine"), f"{package} is not installed: {outcome}")]
    try:
        resolve_model(choice.engine, language, choice.model)
    except ModelError as exc:
        return [((*where, "model"), f"{exc}: {outcome}")]
    return []
