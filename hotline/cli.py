"""The ``hotline`` command: serve, check-config, demo.

Exit status: 0 success, 1 the config was refused or the service could not start, 2 the
command line was wrong (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import yaml

from channels.email.settings import password_problems
from channels.webhooks.settings import secret_problems
from hotline.config import Config, ConfigError, ConfigIssue, config_files_present, load_config
from hotline.logs import configure_logging

log = logging.getLogger("hotline")

DEFAULT_CONFIG_DIR = "config"
CONFIG_DIR_VARIABLE = "HOTLINE_CONFIG_DIR"


#: Modules that add their own sub-commands: each has ``register(subparsers)``, which sets
#: ``run=callable(args) -> int`` on its parsers. Imported when the parser is built, so they
#: keep heavy imports (models, telephony) inside their handlers.
COMMAND_MODULES: tuple[str, ...] = (
    "acd.simulate_cli",
    "ivr.prompts_cli",
    "ivr.speech.cli",
    "ivr.intent.cli",
    "hotline.tokens_cli",
    "hotline.privacy_cli",
    "hotline.bots_cli",
    "hotline.users_cli",
    "hotline.webhooks_cli",
    "hotline.reports_cli",
)


#: ``hotline.demo.CALLS_PER_MINUTE``, repeated so that the parser imports no telephony.
DEMO_CALLS_PER_MINUTE = 8.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.run(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="A voice-first contact-center server for Asterisk."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service")
    _config_options(serve)
    serve.set_defaults(run=_serve)

    check = commands.add_parser("check-config", help="validate the config directory and exit")
    _config_options(check)
    check.set_defaults(run=_check_config)

    demo = commands.add_parser(
        "demo", help="run the service against a simulated Asterisk placing calls"
    )
    _config_options(demo, optional=True)
    demo.add_argument(
        "--duration", type=_positive, metavar="S", help="stop after S seconds (default: never)"
    )
    demo.add_argument(
        "--rate",
        type=_positive,
        default=DEMO_CALLS_PER_MINUTE,
        metavar="CALLS_PER_MIN",
        help=f"default: {DEMO_CALLS_PER_MINUTE:g}, after an opening burst of calls",
    )
    demo.set_defaults(run=_demo)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def _config_options(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """``optional``: without a directory, run on the built-in settings instead of failing."""
    default: str | None = os.environ.get(CONFIG_DIR_VARIABLE) or DEFAULT_CONFIG_DIR
    where = f"default: ${CONFIG_DIR_VARIABLE} or ./{DEFAULT_CONFIG_DIR}"
    if optional and not Path(str(default)).is_dir():
        default = None
    if optional:
        where += ", else built-in settings"
    parser.add_argument("--config", type=Path, default=default, metavar="DIR", help=where)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one setting, e.g. --set fastagi.port=4574 (YAML value; repeatable)",
    )
    parser.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _version() -> str:
    try:
        return metadata.version("hotline")
    except metadata.PackageNotFoundError:
        return "unknown"


def _overrides(args: argparse.Namespace) -> dict[str, object] | None:
    """``--set`` pairs (values parsed as YAML, so ``[a, b]`` is a list) plus ``--log-level``."""
    overrides: dict[str, object] = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            print(f"hotline: --set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return None
        try:
            overrides[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            overrides[key.strip()] = value
    if args.log_level:
        overrides["logging.level"] = args.log_level
    return overrides


def _load(args: argparse.Namespace) -> tuple[Config, dict[str, object]] | None:
    overrides = _overrides(args)
    if overrides is None:
        return None
    warnings: list[ConfigIssue] = []
    try:
        config = load_config(args.config, overrides=overrides, warnings=warnings)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return config, overrides
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        where = args.config or "built-in settings"
        count = len(exc.issues)
        print(f"config refused: {where} ({count} error{'s' * (count != 1)})", file=sys.stderr)
        return None


def _check_config(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 1
    # Secrets are read where the service runs: checked here, not by every command's load.
    missing = _secret_problems(loaded[0])
    for problem in missing:
        print(f"{Path(args.config) / 'hotline.yaml'}: {problem}", file=sys.stderr)
    if missing:
        return 1
    count = len(config_files_present(args.config))
    print(f"config OK: {args.config} ({count} files)")
    return 0


def _secret_problems(config: Config) -> list[str]:
    return [
        *secret_problems(config.webhooks, os.environ),
        *password_problems(config.email, os.environ),
    ]


def _serve(args: argparse.Namespace) -> int:
    from hotline.process import serve  # here, so check-config needs none of the telephony stack
    from hotline.web.auth.secret_box import SecretKeyError

    loaded = _load(args)
    if loaded is None:
        return 1
    config, overrides = loaded
    missing = password_problems(config.email, os.environ)  # the relay login needs it
    for problem in missing:
        print(f"{Path(args.config) / 'hotline.yaml'}: {problem}", file=sys.stderr)
    if missing:
        return 1
    configure_logging(config.logging.level, mask_phone_numbers=config.logging.mask_phone_numbers)
    try:
        asyncio.run(serve(config, config_dir=args.config, overrides=overrides))
    except (OSError, SecretKeyError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    return 0


def _demo(args: argparse.Namespace) -> int:
    from hotline.demo import run_demo
    from hotline.demo_files import DemoFilesError, prepare_demo_files

    loaded = _load(args)
    if loaded is None:
        return 1
    config, overrides = loaded
    missing = password_problems(config.email, os.environ)  # the relay login needs it
    for problem in missing:
        print(f"{Path(args.config) / 'hotline.yaml'}: {problem}", file=sys.stderr)
    if missing:
        return 1
    configure_logging(config.logging.level, mask_phone_numbers=config.logging.mask_phone_numbers)
    # Its own files, never serve's: the config (and prompts) copied for the admin pages,
    # its own database; the command line's --set still has the last word.
    try:
        files = prepare_demo_files(args.config, config)
        demo_overrides = {**files.overrides, **overrides}
        config = load_config(files.config_dir, overrides=demo_overrides, warnings=[])
    except (DemoFilesError, ConfigError) as exc:
        log.error("cannot prepare the demo's files: %s", exc)
        return 1
    print(f"hotline demo: its own files in {files.root} (made afresh at each run)", flush=True)
    try:
        asyncio.run(
            run_demo(
                config,
                duration_s=args.duration,
                calls_per_minute=args.rate,
                config_dir=files.config_dir,
                overrides=demo_overrides,
            )
        )
    except OSError as exc:
        log.error("cannot start the demo: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
