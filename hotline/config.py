"""Load the admin-edited config directory into one frozen, validated ``Config``.

Precedence, lowest first: the models' defaults, ``config/*.yaml``, environment variables,
then command-line ``--set`` overrides. Every problem is collected (not only the first) and
reported as ``file:line: key.path: reason``; ``load_config`` raises ``ConfigError`` with all
of them, so a reload with a bad file can keep the running config.

Each file is validated on its own model, so an error always names the file that caused it.
Adding a file is one line in ``CONFIG_FILES`` plus one field on ``Config``; a missing file
that is not required means "all defaults".

Environment variables (empty means unset) -- deployment settings and secrets:

=============================== ==========================================
``HOTLINE_AMI_HOST``            ``ami.host``
``HOTLINE_AMI_PORT``            ``ami.port``
``HOTLINE_AMI_USERNAME``        ``ami.username``
``HOTLINE_AMI_SECRET``          ``ami.secret``
``HOTLINE_FASTAGI_HOST``        ``fastagi.host``
``HOTLINE_FASTAGI_PORT``        ``fastagi.port``
``HOTLINE_FASTAGI_ALLOWED_HOSTS`` ``fastagi.allowed_hosts`` (comma-separated)
``HOTLINE_WEB_HOST``            ``web.host``
``HOTLINE_WEB_PORT``            ``web.port``
``HOTLINE_DATABASE_URL``        ``database.url``
``HOTLINE_LOG_LEVEL``           ``logging.level``
=============================== ==========================================

(``HOTLINE_CONFIG_DIR`` is read by the CLI as the default for ``--config``.)
"""

from __future__ import annotations

import difflib
import logging
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from acd.build import check_acd_config
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig, SkillsConfig
from center.recording_policy import check_recording_config
from center.settings import WaitingConfig, check_consult_option, check_waiting_config
from center.transcription import check_transcription_config
from hotline.config_models import (
    Config,
    IvrSettings,
    ServiceSettings,
    anchor_service_paths,
    check_service_files,
)
from ivr.config_yaml import ConfigError, ConfigIssue, YamlDocument, YamlFileError, parse_yaml
from ivr.flow.models import anchor_config_paths
from ivr.flow.validation import check_flow
from ivr.intent.config import IntentsConfig, check_intents
from ivr.speech.settings import SpeechSettings

__all__ = [
    "CONFIG_FILES",
    "ENV_OVERRIDES",
    "Config",
    "ConfigError",
    "ConfigFile",
    "ConfigIssue",
    "config_files_present",
    "load_config",
]

log = logging.getLogger(__name__)

#: Larger than any sane hand-edited file; refuses a mistaken path to a log or a dump.
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class ConfigFile:
    """One file of the config directory and the model that validates it."""

    name: str
    model: type[BaseModel]
    #: The ``Config`` field the file fills; None: the file's keys are ``Config``'s top level.
    field: str | None
    required: bool = False
    #: Checks across fields that a model alone cannot state (a menu option pointing at a
    #: node that does not exist): returns (key path, reason) pairs, located like any error.
    check: Callable[[Any], Iterable[tuple[tuple[str | int, ...], str]]] | None = None
    #: Like ``check``, for what does not refuse the config (a speech model missing on this
    #: machine: callers of that language use the keypad).
    warn: Callable[[Any], Iterable[tuple[tuple[str | int, ...], str]]] | None = None
    #: Rewrites the file's raw data so that the relative paths written in it are relative to
    #: the config directory (given as the second argument), not to the working directory.
    anchor: Callable[[dict[str, object], Path], None] | None = None


CONFIG_FILES: tuple[ConfigFile, ...] = (
    ConfigFile(
        "hotline.yaml",
        ServiceSettings,
        field=None,
        required=True,
        check=check_service_files,
        anchor=anchor_service_paths,
    ),
    ConfigFile("ivr.yaml", IvrSettings, field="ivr", check=check_flow, anchor=anchor_config_paths),
    # A model missing on this machine is said by the speech service when it starts (serve,
    # demo), once: not by every command that reads the config.
    ConfigFile("speech.yaml", SpeechSettings, field="speech"),
    ConfigFile("intents.yaml", IntentsConfig, field="intents", check=check_intents),
    ConfigFile("waiting.yaml", WaitingConfig, field="waiting", check=check_consult_option),
    ConfigFile("priority.yaml", PriorityConfig, field="priority"),
    ConfigFile("skills.yaml", SkillsConfig, field="skills"),
    ConfigFile("queues.yaml", QueuesConfig, field="queues"),
    ConfigFile("agents.yaml", AgentsConfig, field="agents"),
)


@dataclass(frozen=True)
class EnvOverride:
    variable: str
    file: str
    path: tuple[str, ...]
    is_list: bool = False


ENV_OVERRIDES: tuple[EnvOverride, ...] = (
    EnvOverride("HOTLINE_AMI_HOST", "hotline.yaml", ("ami", "host")),
    EnvOverride("HOTLINE_AMI_PORT", "hotline.yaml", ("ami", "port")),
    EnvOverride("HOTLINE_AMI_USERNAME", "hotline.yaml", ("ami", "username")),
    EnvOverride("HOTLINE_AMI_SECRET", "hotline.yaml", ("ami", "secret")),
    EnvOverride("HOTLINE_FASTAGI_HOST", "hotline.yaml", ("fastagi", "host")),
    EnvOverride("HOTLINE_FASTAGI_PORT", "hotline.yaml", ("fastagi", "port")),
    EnvOverride(
        "HOTLINE_FASTAGI_ALLOWED_HOSTS", "hotline.yaml", ("fastagi", "allowed_hosts"), True
    ),
    EnvOverride("HOTLINE_WEB_HOST", "hotline.yaml", ("web", "host")),
    EnvOverride("HOTLINE_WEB_PORT", "hotline.yaml", ("web", "port")),
    EnvOverride("HOTLINE_DATABASE_URL", "hotline.yaml", ("database", "url")),
    EnvOverride("HOTLINE_LOG_LEVEL", "hotline.yaml", ("logging", "level")),
    EnvOverride("HOTLINE_CLUSTER_REDIS_URL", "hotline.yaml", ("cluster", "redis_url")),
    EnvOverride("HOTLINE_CLUSTER_NODE_ID", "hotline.yaml", ("cluster", "node_id")),
)


def config_files_present(directory: Path | str) -> list[Path]:
    """The registered config files that exist in ``directory``."""
    base = Path(directory)
    return [base / entry.name for entry in CONFIG_FILES if (base / entry.name).is_file()]


def load_config(
    directory: Path | str | None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    warnings: list[ConfigIssue] | None = None,
    paths_relative_to: Path | str | None = None,
) -> Config:
    """Read, merge and validate the config directory; raise ConfigError with every issue.

    Relative paths written in the files (ivr.yaml's prompts, catalog, intents) are relative
    to ``directory``, or to ``paths_relative_to`` when given (a scratch copy of the files
    checked as if they were still in place).

    Checks across files (a queue requiring a skill no agent has) refuse the config when
    they find an error; their warnings are appended to ``warnings`` when given, else logged.

    ``environ`` defaults to ``os.environ``; ``overrides`` maps dotted keys as ``Config``
    spells them (``"fastagi.port"``, ``"ivr.language"``) to values, as from ``--set``.
    ``directory=None`` reads no files: the built-in defaults (the demo runs on them).
    """
    issues: list[ConfigIssue] = []
    base = Path(directory) if directory is not None else Path("<built-in>")
    anchor = Path(paths_relative_to) if paths_relative_to is not None else base
    sources = {entry.name: _Source(entry, base / entry.name, anchor) for entry in CONFIG_FILES}
    if directory is not None:
        if not base.is_dir():
            raise ConfigError([ConfigIssue(str(base), None, "", "config directory not found")])
        issues.extend(_unknown_files(base))
        for source in sources.values():
            issues.extend(source.read())
    environ = os.environ if environ is None else environ
    for env in ENV_OVERRIDES:
        raw = environ.get(env.variable, "")
        if raw:
            value: object = [p.strip() for p in raw.split(",") if p.strip()] if env.is_list else raw
            sources[env.file].override(env.path, value, f"${env.variable}")
    for key, value in (overrides or {}).items():
        issues.extend(_apply_cli_override(sources, key, value))
    parts: dict[str, object] = {}
    found: list[tuple[str, ConfigIssue]] = []
    for source in sources.values():
        validated, problems = source.validate()
        issues.extend(problems)
        if validated is None:
            continue
        found.extend(("warning", issue) for issue in source.warnings(validated))
        if source.entry.field is None:
            parts.update({name: getattr(validated, name) for name in type(validated).model_fields})
        else:
            parts[source.entry.field] = validated
    if issues:
        raise ConfigError(issues)
    config = Config.model_validate(parts)
    found += [
        (issue.severity, ConfigIssue(str(base / issue.file), None, issue.path, issue.message))
        for issue in [
            *check_acd_config(config.priority, config.queues, config.agents, config.skills),
            *check_waiting_config(config.waiting, config.queues.queues),
            *check_recording_config(config.recording, config.queues.queues, config.intents.intents),
            *check_transcription_config(config.transcription, config.recording, config.speech),
        ]
    ]
    errors = [issue for severity, issue in found if severity == "error"]
    if errors:
        raise ConfigError(errors)
    for _, issue in found:
        if warnings is not None:
            warnings.append(issue)
        else:
            log.warning("config: %s", issue)
    return config


class _Source:
    """One file's data on its way to validation, remembering where each value came from."""

    def __init__(self, entry: ConfigFile, path: Path, anchor: Path) -> None:
        self.entry = entry
        self.label = str(path)
        self.path = path
        self.anchor = anchor  # the directory the file's relative paths are relative to
        self.document = YamlDocument({})
        self.broken = False
        self.origins: dict[tuple[str, ...], str] = {}

    def read(self) -> list[ConfigIssue]:
        if not self.path.is_file():
            if self.entry.required:
                return [ConfigIssue(self.label, None, "", "required file is missing")]
            return []
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.broken = True
            return [ConfigIssue(self.label, None, "", f"cannot read: {exc.strerror or exc}")]
        if len(raw) > MAX_FILE_BYTES:
            self.broken = True
            return [ConfigIssue(self.label, None, "", f"larger than {MAX_FILE_BYTES} bytes")]
        try:
            self.document = parse_yaml(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self.broken = True
            line = raw[: exc.start].count(b"\n") + 1
            return [ConfigIssue(self.label, line, "", "not UTF-8 text")]
        except YamlFileError as exc:
            self.broken = True
            return [
                ConfigIssue(self.label, p.line, _dotted(p.path), p.message) for p in exc.problems
            ]
        if self.entry.anchor is not None:  # before any override: those are used as given
            self.entry.anchor(self.document.data, self.anchor)
        return []

    def override(self, path: Sequence[str], value: object, origin: str) -> None:
        node: dict[str, object] = self.document.data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                return  # the file's own value is already wrong; validation says so
            node = child
        node[path[-1]] = value
        self.origins[tuple(path)] = origin

    def validate(self) -> tuple[BaseModel | None, list[ConfigIssue]]:
        if self.broken:
            return None, []
        try:
            validated = self.entry.model.model_validate(self.document.data)
        except ValidationError as exc:
            issues = [self._issue(error) for error in exc.errors()]
            return None, sorted(issues, key=lambda i: (i.line is None, i.line or 0))
        if self.entry.check is None:
            return validated, []
        problems = [
            ConfigIssue(self.label, self.document.line_of(loc), _dotted(loc), message)
            for loc, message in self.entry.check(validated)
        ]
        return (None if problems else validated), problems

    def warnings(self, validated: BaseModel) -> list[ConfigIssue]:
        if self.entry.warn is None:
            return []
        return [
            ConfigIssue(self.label, self.document.line_of(loc), _dotted(loc), message)
            for loc, message in self.entry.warn(validated)
        ]

    def _issue(self, error: ErrorDetails) -> ConfigIssue:
        loc = tuple(error["loc"])
        message = _message(error, self.entry.model, self.document)
        for path, origin in self.origins.items():
            if loc[: len(path)] == path:
                prefix = () if self.entry.field is None else (self.entry.field,)
                return ConfigIssue(origin, None, _dotted((*prefix, *loc)), message)
        return ConfigIssue(self.label, self.document.line_of(loc), _dotted(loc), message)


def _unknown_files(base: Path) -> list[ConfigIssue]:
    known = {entry.name for entry in CONFIG_FILES}
    found = sorted({*base.glob("*.yaml"), *base.glob("*.yml")})
    return [
        ConfigIssue(str(path), None, "", "not a known config file" + _suggest(path.name, known))
        for path in found
        if path.name not in known
    ]


def _apply_cli_override(
    sources: Mapping[str, _Source], key: str, value: object
) -> list[ConfigIssue]:
    parts = tuple(key.split("."))
    for entry in CONFIG_FILES:
        if entry.field is not None and parts[0] == entry.field and len(parts) > 1:
            sources[entry.name].override(parts[1:], value, "--set")
            return []
        if entry.field is None and parts[0] in entry.model.model_fields:
            sources[entry.name].override(parts, value, "--set")
            return []
    return [ConfigIssue("--set", None, key, "unknown setting" + _suggest(parts[0], _top_keys()))]


def _top_keys() -> list[str]:
    keys: list[str] = []
    for entry in CONFIG_FILES:
        keys.extend(entry.model.model_fields if entry.field is None else [entry.field])
    return keys


def _message(error: ErrorDetails, model: type[BaseModel], document: YamlDocument) -> str:
    kind, loc, message = error["type"], tuple(error["loc"]), error["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" + _suggest(str(loc[-1]), _fields_at(model, loc[:-1]))
    message = message.removeprefix("Value error, ")
    value = error.get("input")
    if kind.endswith("_type") and loc in document.plain_scalars and not isinstance(value, str):
        shown = "null" if value is None else repr(value)
        message += f" (YAML read the unquoted value as {shown}; quote it)"
    return message


def _suggest(word: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    if not options:
        return ""
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(options)})"


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys accepted at ``loc``: follows nested models, dict values and list items."""
    annotation: object = model
    for part in loc:
        annotation = _child(_unwrap(annotation), part)
    found = _unwrap(annotation)
    if isinstance(found, type) and issubclass(found, BaseModel):
        return list(found.model_fields)
    return []


def _child(annotation: object, part: str | int) -> object:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        info = annotation.model_fields.get(part) if isinstance(part, str) else None
        return info.annotation if info is not None else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, tuple, Sequence) and args:
        return args[0]
    return None


def _unwrap(annotation: object) -> object:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` -> ``X``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _dotted(loc: Sequence[str | int]) -> str:
    """``("intents", "Billing", "[key]")`` -> ``intents.Billing``: pydantic's marker for an
    error in a mapping's key says nothing the path does not."""
    return ".".join(str(part) for part in loc if part != "[key]")
