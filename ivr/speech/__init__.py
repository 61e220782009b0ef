"""Speech recognition for IVR menus: pluggable recognisers behind a bounded async service.

``SpeechService.recognise`` returns a ``Transcript`` or None, and None always means "fall
back to DTMF" (pool saturated, decode failed or too slow, no model for the language).
Backends: faster-whisper (``whisper_engine``), Moonshine on onnxruntime
(``moonshine_engine``) and vosk (``vosk_engine``), loaded lazily so importing this package
costs nothing; ``second_reading`` pairs two of them on open questions.
"""

from ivr.speech.audio import Audio, AudioError, read_wav
from ivr.speech.recognizer import ModelError, Recognizer, Transcript
from ivr.speech.service import Backend, SpeechService, build_speech_service, load_recognizer
from ivr.speech.settings import LanguageModel, SpeechSettings, speech_warnings
from ivr.speech.stats import SpeechStats

__all__ = [
    "Audio",
    "AudioError",
    "Backend",
    "LanguageModel",
    "ModelError",
    "Recognizer",
    "SpeechService",
    "SpeechSettings",
    "SpeechStats",
    "Transcript",
    "build_speech_service",
    "load_recognizer",
    "read_wav",
    "speech_warnings",
]
