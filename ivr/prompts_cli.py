"""``hotline prompts import|check``: recordings in, and proof that every prompt plays.

Hook-up in ``hotline/cli.py``: ``prompts_cli.register(commands)`` where the sub-commands are
declared; each sub-command sets ``args.run`` (``run(args) -> int``: 0 ok, 1 refused).
Only ``ivr.yaml`` is read (from ``--config``), so a problem in another file does not stop
an admin from importing a recording.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from ivr.catalog import read_catalog
from ivr.config_yaml import YamlFileError, parse_yaml
from ivr.flow.models import IvrSettings, anchor_config_paths
from ivr.flow.validation import prompt_problems, prompt_references
from ivr.prompts import PromptImportError, PromptStore, import_prompt

__all__ = ["register", "run_check", "run_import"]

CONFIG_DIR_VARIABLE = "HOTLINE_CONFIG_DIR"
IVR_FILE = "ivr.yaml"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("prompts", help="import and check recorded prompts")
    actions = parser.add_subparsers(dest="prompts_action", required=True, metavar="ACTION")

    imported = actions.add_parser(
        "import",
        help="convert an audio file (wav, mp3, ogg, ...) into a prompt Asterisk plays",
        description="Converts FILE to 8 kHz mono 16-bit wav as <prompts dir>/LANG/NAME.wav "
        "(mp3, ogg and other formats need ffmpeg). An existing recording is replaced.",
    )
    imported.add_argument("file", type=Path, metavar="FILE")
    imported.add_argument("--name", required=True, help="prompt name, e.g. main-menu")
    imported.add_argument("--lang", required=True, help="language folder, e.g. en or ar")
    _config_option(imported)
    imported.add_argument(
        "--prompts-dir", type=Path, help="default: prompts.directory from ivr.yaml"
    )
    imported.set_defaults(run=run_import)

    checked = actions.add_parser(
        "check", help="report missing or unplayable audio for every prompt in use"
    )
    _config_option(checked)
    checked.set_defaults(run=run_check)


def _config_option(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get(CONFIG_DIR_VARIABLE) or "config"
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(default),
        metavar="DIR",
        help=f"config directory (default: ${CONFIG_DIR_VARIABLE} or ./config)",
    )


def _settings(config_dir: Path, err: TextIO) -> IvrSettings | None:
    path = config_dir / IVR_FILE
    if not path.is_file():
        return IvrSettings()
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=err)
        return None
    except YamlFileError as exc:
        for problem in exc.problems:
            print(f"{path}:{problem.line}: {problem.message}", file=err)
        return None
    anchor_config_paths(document.data, path.parent)
    try:
        return IvrSettings.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            where = ".".join(map(str, loc))
            message = error["msg"].removeprefix("Value error, ")
            print(f"{path}:{document.line_of(loc)}: {where}: {message}", file=err)
    return None


def run_import(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out, err = out or sys.stdout, sys.stderr
    settings = _settings(args.config, err)
    if settings is None:
        return 1
    try:  # the same rules as names in ivr.yaml
        probe = {"play": {"prompt": args.name, "next": "x"}}
        IvrSettings.model_validate({"language": args.lang, "nodes": {"x": probe}})
    except ValidationError as exc:
        print(f"prompts import: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=err)
        return 1
    directory = args.prompts_dir or settings.prompts.directory
    store = PromptStore.from_settings(settings.prompts.model_copy(update={"directory": directory}))
    destination = store.file(args.name, args.lang)
    replaced = destination.exists()
    try:
        seconds = import_prompt(args.file, destination)
    except PromptImportError as exc:
        print(f"prompts import: {exc}", file=err)
        return 1
    verb = "replaced" if replaced else "imported"
    print(f"{verb} {destination} ({seconds:.1f} s, 8000 Hz mono 16-bit)", file=out)
    if args.lang not in settings.all_languages:
        print(f"note: {args.lang!r} is not one of ivr.yaml's languages", file=out)
    return 0


def run_check(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out, err = out or sys.stdout, sys.stderr
    settings = _settings(args.config, err)
    if settings is None:
        return 1
    ivr_path = args.config / IVR_FILE
    document = parse_yaml(ivr_path.read_text(encoding="utf-8")) if ivr_path.is_file() else None
    catalog = None
    failed = False
    if settings.prompts.catalog is not None:
        catalog, issues = read_catalog(settings.prompts.catalog)
        for issue in issues:
            print(issue, file=err)
        failed = bool(issues)
    for loc, message in prompt_problems(settings, catalog):
        line = document.line_of(loc) if document is not None else None
        where = f"{ivr_path}:{line}" if line else str(ivr_path)
        print(f"{where}: {'.'.join(map(str, loc))}: {message}", file=err)
        failed = True
    names = {name for _, name in prompt_references(settings, catalog)}
    languages = ", ".join(settings.all_languages)
    store = PromptStore.from_settings(settings.prompts)
    core_dir = store.core_sounds_dir
    if any(store.is_core(n) for n in names) and (core_dir is None or not core_dir.is_dir()):
        print(f"note: core prompts not checked ({core_dir or 'no core_sounds_dir'})", file=out)
    if failed:
        print(f"prompts refused: {len(names)} prompts in {languages}", file=err)
        return 1
    print(f"prompts OK: {len(names)} prompts in {languages}", file=out)
    return 0
