"""The one way an admin page changes a config file: edit, check, write, reload, audit.

1. The edit is applied to the file's round-trip YAML document (ruamel.yaml), so the file
   keeps its comments, key order and quoting; only what the admin changed changes.
2. The whole candidate config directory is checked as ``hotline check-config`` checks it
   (``load_config`` over a temporary copy with the edited file in place: every file through
   the registry, every check and warn hook, the cross-file checks). Errors refuse the edit
   and nothing is written; warnings the change introduces are reported after saving.
3. The file is replaced atomically (temporary file, fsync, rename, fsync of the folder).
4. The running service reloads through the same path as SIGHUP (``Reload``); calls in
   progress carry on.
5. The change is appended to the audit log with the unified diff of the file.

Each form carries the version (a hash) of the file it was made from; an edit made from an
older version is refused (``StaleVersion``) rather than silently undoing someone's change.
Edits are serialized, so two saves never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import hashlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from sqlalchemy.exc import SQLAlchemyError

from history.audit import AuditLog
from hotline.config import CONFIG_FILES, Config, ConfigError, ConfigIssue, load_config
from hotline.workers import PoolBusy, WorkPool

__all__ = [
    "CATALOG",
    "ConfigEditor",
    "EditResult",
    "EditableFile",
    "Reload",
    "ReloadOutcome",
    "Snapshot",
    "StaleVersion",
    "check_candidate",
    "yaml_text",
]

log = logging.getLogger(__name__)

#: The ``--set`` key that points the IVR at a price/offer catalog.
_CATALOG_SETTING = "ivr.prompts.catalog"
#: ``EditableFile.name`` of the price/offer catalog (it lives with the prompts, not config/).
CATALOG = "catalog.yaml"


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What the service's reload did: applied (or kept the running config), and the
    sections that changed but only take effect after a restart."""

    applied: bool
    restart_needed: tuple[str, ...] = ()


Reload = Callable[[], Awaitable[ReloadOutcome]]


class StaleVersion(Exception):
    """The file changed since the form was made from it."""


@dataclass(frozen=True, slots=True)
class EditableFile:
    #: ``agents.yaml`` (a registered config file) or ``CATALOG``.
    name: str
    path: Path

    @property
    def label(self) -> str:
        """How the audit log names it: ``config/agents.yaml``, ``prompts/catalog.yaml``."""
        return f"{self.path.parent.name}/{self.path.name}"


@dataclass(frozen=True)
class Snapshot:
    """One file as read now: its text, version and round-trip document."""

    file: EditableFile
    text: str
    version: str
    data: CommentedMap


@dataclass(frozen=True)
class EditResult:
    saved: bool
    #: Why the edit was refused (nothing written), located like check-config's output.
    errors: tuple[ConfigIssue, ...] = ()
    #: Warnings the change introduced (the edit was saved).
    warnings: tuple[ConfigIssue, ...] = ()
    reload: ReloadOutcome | None = None
    diff: str = ""
    #: The file's version after the edit (for the next form).
    version: str = ""
    unchanged: bool = False


Edit = Callable[[CommentedMap], None]


def _round_trip() -> YAML:
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 4096  # never re-flow an admin's long line
    handler.indent(mapping=2, sequence=4, offset=2)
    handler.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return handler


def version_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:20]


def yaml_text(value: str) -> str:
    """A string that stays a string in YAML: ``"1001"``, ``"yes"`` get double quotes."""
    try:
        plain = pyyaml.safe_load(value)
    except pyyaml.YAMLError:
        plain = None
    return value if isinstance(plain, str) and plain == value else DoubleQuotedScalarString(value)


def dump(data: CommentedMap) -> str:
    out = io.StringIO()
    _round_trip().dump(data, out)
    return out.getvalue()


def check_candidate(
    config_dir: Path,
    replaced: Mapping[str, str],
    *,
    catalog: tuple[Path, str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """Errors and warnings of ``config_dir`` with ``replaced`` files (name -> text) and,
    when given, the catalog at ``catalog[0]`` replaced by ``catalog[1]``: ``load_config``
    over a temporary copy, as ``hotline check-config`` runs it. Issues name the real files."""
    with tempfile.TemporaryDirectory(prefix="hotline-config-check-") as scratch:
        base = Path(scratch) / config_dir.name
        base.mkdir()
        for path in sorted({*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")}):
            if path.is_file():
                shutil.copyfile(path, base / path.name)
        for name, text in replaced.items():
            (base / name).write_text(text, encoding="utf-8")
        settings = dict(overrides or {})
        renames = {str(base): str(config_dir)}
        if catalog is not None:
            candidate = Path(scratch) / catalog[0].name
            candidate.write_text(catalog[1], encoding="utf-8")
            settings[_CATALOG_SETTING] = str(candidate)
            renames[str(candidate)] = str(catalog[0])
        warnings: list[ConfigIssue] = []
        try:
            load_config(
                base,
                environ=environ,
                overrides=settings,
                warnings=warnings,
                paths_relative_to=config_dir,
            )
        except ConfigError as exc:
            return [_renamed(i, renames) for i in exc.issues], []
        return [], [_renamed(i, renames) for i in warnings]


def _renamed(issue: ConfigIssue, renames: Mapping[str, str]) -> ConfigIssue:
    file, message = issue.file, issue.message
    for old, new in renames.items():
        file, message = file.replace(old, new), message.replace(old, new)
    return ConfigIssue(file, issue.line, issue.path, message)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: readers see the old file or the new, never half."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def unified_diff(label: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{label}",
            tofile=f"b/{label}",
        )
    )


@dataclass
class ConfigEditor:
    """Edits of one service's config directory (and its price/offer catalog).

    ``current`` is the running config (where the catalog and prompts are); ``environ`` and
    ``overrides`` are the service's own, so a candidate is checked as the service loads it.
    """

    config_dir: Path
    current: Callable[[], Config]
    reload: Reload
    audit: AuditLog
    environ: Mapping[str, str] | None = None
    overrides: Mapping[str, object] = field(default_factory=dict)
    #: Where candidates are parsed and checked (the service's config pool; else a thread).
    pool: WorkPool | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    # files -----------------------------------------------------------------------------
    def config_file(self, name: str) -> EditableFile:
        if name not in {entry.name for entry in CONFIG_FILES}:
            raise KeyError(name)
        return EditableFile(name, self.config_dir / name)

    def catalog_file(self) -> EditableFile | None:
        path = self.current().ivr.prompts.catalog
        return None if path is None else EditableFile(CATALOG, Path(path))

    def snapshot(self, file: EditableFile) -> Snapshot:
        """The file now (a missing file is an empty document). Raises ``ValueError`` when
        the file is not YAML a form can edit (then check-config says why)."""
        try:
            raw = file.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        text = raw.decode("utf-8")
        try:
            data: Any = _round_trip().load(text) if text.strip() else CommentedMap()
        except YAMLError as exc:
            raise ValueError(f"{file.path} is not valid YAML: {exc}") from None
        if data is None:
            data = CommentedMap()
        if not isinstance(data, CommentedMap):
            raise ValueError(f"{file.path} is not a mapping of settings")
        return Snapshot(file, text, version_of(raw), data)

    # the write-back path ---------------------------------------------------------------
    async def edit(
        self, file: EditableFile, version: str, change: Edit, *, actor: str, summary: str
    ) -> EditResult:
        """Apply ``change`` to the file's document if ``version`` is still current; check,
        write, reload and audit (see the module's doc). Raises ``StaleVersion``."""
        async with self._lock:
            snapshot = await asyncio.to_thread(self.snapshot, file)
            if snapshot.version != version:
                raise StaleVersion(file.label)
            change(snapshot.data)
            return await self._write(file, snapshot.text, dump(snapshot.data), actor, summary)

    async def edit_text(
        self, file: EditableFile, version: str, text: str, *, actor: str, summary: str
    ) -> EditResult:
        """Replace the whole file with ``text`` as the admin typed it (the IVR flow's YAML
        editor): checked, written, reloaded and audited like ``edit``. Raises
        ``StaleVersion``."""
        async with self._lock:
            raw = await asyncio.to_thread(_read_bytes, file.path)
            if version_of(raw) != version:
                raise StaleVersion(file.label)
            return await self._write(file, raw.decode("utf-8"), text, actor, summary)

    async def check_text(
        self, file: EditableFile, text: str
    ) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
        """The errors and warnings ``text`` in place of ``file`` has (nothing is written):
        the IVR flow page shows them on the diagram of the file, or of unsaved text."""
        options: dict[str, Any] = {"environ": self.environ, "overrides": self.overrides}
        replaced = {} if file.name == CATALOG else {file.name: text}
        catalog = (file.path, text) if file.name == CATALOG else None
        try:
            if self.pool is None:
                return await asyncio.to_thread(
                    check_candidate, self.config_dir, replaced, catalog=catalog, **options
                )
            return await self.pool.run(
                check_candidate, self.config_dir, replaced, catalog=catalog, **options
            )
        except PoolBusy:
            busy = ConfigIssue(file.label, None, "", "other changes are being checked; retry")
            return [busy], []

    async def _write(
        self, file: EditableFile, before: str, after: str, actor: str, summary: str
    ) -> EditResult:
        """Check ``after``, then write, reload and audit it (the caller holds the lock)."""
        snapshot_version = version_of(before.encode("utf-8"))
        if after == before:
            return EditResult(saved=False, unchanged=True, version=snapshot_version)
        try:
            if self.pool is None:
                errors, warnings = await asyncio.to_thread(self._check, file, after)
            else:
                errors, warnings = await self.pool.run(self._check, file, after)
        except PoolBusy:
            busy = ConfigIssue(file.label, None, "", "other changes are being checked; retry")
            return EditResult(saved=False, errors=(busy,), version=snapshot_version)
        if errors:
            return EditResult(saved=False, errors=tuple(errors), version=snapshot_version)
        await asyncio.to_thread(write_atomically, file.path, after)
        outcome = await self.reload()
        diff = unified_diff(file.label, before, after)
        try:
            await self.audit.append(
                actor=actor, target=file.label, action="edit", summary=summary, diff=diff
            )
        except (OSError, SQLAlchemyError) as exc:  # the change stands; say it is unrecorded
            log.error("audit log unavailable (%s); not recorded: %s %s", exc, actor, summary)
        return EditResult(
            saved=True,
            warnings=tuple(warnings),
            reload=outcome,
            diff=diff,
            version=version_of(after.encode("utf-8")),
        )

    def _check(self, file: EditableFile, text: str) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
        """The candidate's errors, and the warnings it has that the files now do not."""
        replaced: dict[str, str] = {}
        catalog = None
        if file.name == CATALOG:
            catalog = (file.path, text)
        else:
            replaced[file.name] = text
        options: dict[str, Any] = {"environ": self.environ, "overrides": self.overrides}
        errors, warnings = check_candidate(self.config_dir, replaced, catalog=catalog, **options)
        if errors:
            return errors, []
        _, before = check_candidate(self.config_dir, {}, **options)
        known = {str(issue) for issue in before}
        return [], [issue for issue in warnings if str(issue) not in known]
