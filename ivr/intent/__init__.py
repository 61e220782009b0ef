"""Intent classification: what a caller's words ask for, trained from config/intents.yaml.

``build_classifier(IntentsConfig) -> IntentClassifier``; ``classify(text, language)``
returns an ``IntentMatch`` (intent, confidence, call type, complexity, known). The config
models and ``check_intents`` are for the config loader (hotline/config.py).

The classifier's names are imported on first use: scikit-learn takes a second or more to
import, and the config loader and the CLI's parser need only the light config module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ivr.intent.config import (
    CALL_TYPES,
    DEFAULT_THRESHOLD,
    OUT_OF_SCOPE,
    UNKNOWN,
    EmbeddingsDef,
    IntentDef,
    IntentsConfig,
    UnknownDef,
    check_intents,
)
from ivr.intent.text import normalise

if TYPE_CHECKING:
    from ivr.intent.classifier import (
        Example,
        IntentClassifier,
        IntentInfo,
        IntentMatch,
        TrainingError,
        build_classifier,
        examples_of,
    )
    from ivr.intent.model import ModelOptions

__all__ = [
    "CALL_TYPES",
    "DEFAULT_THRESHOLD",
    "OUT_OF_SCOPE",
    "UNKNOWN",
    "EmbeddingsDef",
    "Example",
    "IntentClassifier",
    "IntentDef",
    "IntentInfo",
    "IntentMatch",
    "IntentsConfig",
    "ModelOptions",
    "TrainingError",
    "UnknownDef",
    "build_classifier",
    "check_intents",
    "examples_of",
    "normalise",
]

_LAZY = {
    "Example": "ivr.intent.classifier",
    "IntentClassifier": "ivr.intent.classifier",
    "IntentInfo": "ivr.intent.classifier",
    "IntentMatch": "ivr.intent.classifier",
    "TrainingError": "ivr.intent.classifier",
    "build_classifier": "ivr.intent.classifier",
    "examples_of": "ivr.intent.classifier",
    "ModelOptions": "ivr.intent.model",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
