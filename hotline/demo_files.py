"""The demo's own files: a directory (``var/demo``) made fresh at each run.

``hotline demo`` never touches what ``hotline serve`` uses: its database (the callbacks it
books would otherwise be dialled again by the next ``serve``, against a real Asterisk), its
spool, its recordings, and the config and prompts the admin pages edit. It copies the
config directory and the prompts that config names into its own directory, and returns the
settings (``--set`` overrides, absolute paths) that point a config loaded from the copy at
the demo's own store. The directory carries a marker file, and a directory without it is
never wiped.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hotline.config import config_files_present
from hotline.config_models import Config

__all__ = ["DEMO_DIR", "DemoFiles", "DemoFilesError", "prepare_demo_files"]

#: Relative to the directory the demo runs in, like ``var/hotline.db``.
DEMO_DIR: Final = Path("var/demo")
MARKER: Final = "MADE-BY-HOTLINE-DEMO"
_MARKER_TEXT: Final = (
    "This directory is hotline demo's own (database, config copy, prompts copy).\n"
    "It is deleted and made again at each run of `hotline demo`.\n"
)
#: The config of a demo run on the built-in settings (so its admin pages have files too).
_BUILT_IN_CONFIG: Final = (
    "# hotline demo on the built-in settings: every value is the default.\n"
    "logging:\n  level: INFO\n"
)


class DemoFilesError(Exception):
    """The demo's directory cannot be made (an existing directory that is not the demo's,
    or a copy that failed)."""


@dataclass(frozen=True)
class DemoFiles:
    root: Path
    #: The copy of the config directory: the admin pages edit these files.
    config_dir: Path
    #: Settings pointing the copy at the demo's own database, spool, prompts, recordings.
    overrides: Mapping[str, object]

    @property
    def database(self) -> Path:
        return self.root / "hotline.db"


def prepare_demo_files(source: Path | None, config: Config, root: Path = DEMO_DIR) -> DemoFiles:
    """Wipes and remakes ``root`` with a copy of ``source`` (the config directory ``config``
    was loaded from; None: the built-in settings) and of the prompts and catalog it names."""
    root = root.absolute()
    try:
        _fresh(root)
        config_dir = root / "config"
        config_dir.mkdir()
        if source is None:
            (config_dir / "hotline.yaml").write_text(_BUILT_IN_CONFIG, encoding="utf-8")
        else:
            for path in config_files_present(source):
                shutil.copyfile(path, config_dir / path.name)
        overrides: dict[str, object] = {
            "database.url": f"sqlite+aiosqlite:///{root / 'hotline.db'}",
            "database.spool": str(root / "history-spool.jsonl"),
            "ivr.speech.recordings_dir": str(root / "recordings"),
            "recording.directory": str(root / "call-recordings"),
            "web.sign_in.two_factor.key_file": str(root / "secret.keys"),
        }
        overrides.update(_copy_prompts(config, root))
        intents = config.ivr.intents_file
        inside = _relative_to(intents, source) if intents and source else None
        if inside is not None:  # the copy's, like every other file of the directory
            overrides["ivr.intents_file"] = str(config_dir / inside)
    except OSError as error:
        raise DemoFilesError(f"cannot prepare {root}: {error}") from error
    return DemoFiles(root, config_dir, overrides)


def _fresh(root: Path) -> None:
    if root.exists():
        if not (root / MARKER).is_file():
            raise DemoFilesError(
                f"{root} exists and was not made by hotline demo: move it away first"
            )
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def _copy_prompts(config: Config, root: Path) -> dict[str, object]:
    """The prompts directory and the catalog, copied so that the admin pages' uploads and
    catalog edits change the demo's copy only; the other paths ivr.yaml names, as absolute
    paths (the copy of the config is elsewhere, so its relative paths would mean other
    files)."""
    ivr = config.ivr
    prompts = ivr.prompts
    copied = root / "prompts"
    overrides: dict[str, object] = {"ivr.prompts.directory": str(prompts.directory.absolute())}
    if prompts.directory.is_dir():
        shutil.copytree(prompts.directory, copied, symlinks=True)
        overrides["ivr.prompts.directory"] = str(copied)
    catalog = prompts.catalog
    if catalog is not None:
        overrides["ivr.prompts.catalog"] = str(catalog.absolute())
    if catalog is not None and catalog.is_file():
        inside = _relative_to(catalog, prompts.directory) if copied.is_dir() else None
        target = copied / inside if inside is not None else root / catalog.name
        if not target.is_file():
            shutil.copyfile(catalog, target)
        overrides["ivr.prompts.catalog"] = str(target)
    if prompts.core_sounds_dir is not None:
        overrides["ivr.prompts.core_sounds_dir"] = str(prompts.core_sounds_dir.absolute())
    if ivr.intents_file is not None:
        overrides["ivr.intents_file"] = str(ivr.intents_file.absolute())
    return overrides


def _relative_to(path: Path, directory: Path) -> Path | None:
    try:
        return path.resolve().relative_to(directory.resolve())
    except ValueError:
        return None
