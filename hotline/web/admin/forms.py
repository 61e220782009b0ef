"""What every admin edit page shares: reading form values, putting each problem beside the
field it is about, and saying what a save did (warnings, what needs a restart)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from hotline.config_edit import (
    ConfigEditor,
    Edit,
    EditableFile,
    EditResult,
    Snapshot,
    StaleVersion,
)
from hotline.web.admin.context import EDITOR
from hotline.web.auth.guard import current_session, page
from hotline.web.templates import Safe, escape, render
from ivr.config_yaml import ConfigIssue

#: A form made from an older version of the file.
STALE = "changed by someone else, reload the page and make your change again"
#: Skill names and patterns as skills.yaml spells them (``lang.en``, ``lang.*``).
SKILL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.*\-]{0,63}$")
#: Ids of agents, queues, products, offers: safe in a URL path and in YAML.
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")


class FormErrors(dict[str, str]):
    """field -> message; ``general`` ones are about the form as a whole."""

    def __init__(self) -> None:
        super().__init__()
        self.general: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)

    def add_issues(self, issues: Iterable[ConfigIssue], fields: Mapping[str, str]) -> None:
        """Each issue beside the field whose config path is the longest prefix of the issue's
        path (``agents.3.skills.billing`` -> ``level:billing``); the rest for the form."""
        ordered = sorted(fields.items(), key=lambda item: len(item[0]), reverse=True)
        for issue in issues:
            field = next((f for path, f in ordered if _under(issue.path, path)), None)
            if field is None:
                self.general.append(str(issue))
            else:
                self.add(field, issue.message)

    def __bool__(self) -> bool:  # a dict with only general problems is still not empty
        return bool(len(self) or self.general)


@dataclass(frozen=True)
class Outcome:
    """How an edit page shows its form after a request: the problems beside its fields, a
    notice (what a save did), the HTTP status, and the file version the form was made from
    (None: the version shown now)."""

    errors: FormErrors | None = None
    notice: Safe | str = ""
    status: int = 200
    version: str | None = None


#: A page as first shown: no problems, no notice.
FRESH = Outcome()


def form_page(
    request: web.Request, title: str, template: str, outcome: Outcome, **parts: object
) -> web.Response:
    """An edit page: ``template`` filled with ``parts`` and the outcome's notice."""
    body = render(template, notice=outcome.notice, **parts)
    return page(request, title, body, status=outcome.status)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def text(form: Mapping[str, object], name: str, *, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def number(
    form: Mapping[str, object],
    name: str,
    errors: FormErrors,
    *,
    whole: bool = False,
    minimum: float | None = None,
    required: bool = True,
) -> float | int | None:
    """The field as a number, or None (blank and not required, or an error noted)."""
    raw = text(form, name, limit=32)
    if not raw:
        if required:
            errors.add(name, "required")
        return None
    try:
        value: float | int = int(raw) if whole else float(raw)
    except ValueError:
        errors.add(name, "a whole number" if whole else "a number")
        return None
    if not math.isfinite(value):
        errors.add(name, "a number")
        return None
    if minimum is not None and value < minimum:
        errors.add(name, f"at least {minimum:g}")
        return None
    return int(value) if not whole and float(value).is_integer() else value


def levels(raw: str, field: str, errors: FormErrors, *, whole: bool) -> dict[str, float | int]:
    """``billing: 2`` lines (or ``billing=2``, comma-separated) into a mapping."""
    found: dict[str, float | int] = {}
    for part in re.split(r"[\n,]+", raw):
        if not part.strip():
            continue
        match = re.fullmatch(r"\s*([^:=\s]+)\s*[:=]\s*(\S+)\s*", part)
        if match is None or not SKILL.match(match[1]):
            errors.add(field, f"{part.strip()!r}: write skill: level")
            continue
        name, value = match[1], match[2]
        try:
            number_value: float | int = int(value) if whole else float(value)
        except ValueError:
            errors.add(field, f"{name}: {'a whole number' if whole else 'a number'}")
            continue
        if isinstance(number_value, float) and number_value.is_integer():
            number_value = int(number_value)
        found[name] = number_value
    return found


def levels_text(mapping: Mapping[str, object] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (mapping or {}).items())


def hidden(request: web.Request, version: str) -> Safe:
    """The CSRF token and the file version every edit form carries."""
    csrf = escape(current_session(request).csrf)
    return Safe(
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<input type="hidden" name="version" value="{escape(version)}">'
    )


def error(errors: Mapping[str, str], field: str, *, form: str = "") -> Safe:
    """The span beside a field (always present, so tests and screen readers find it); its
    id is ``<field>-error`` (``<form>-<field>-error`` when a page has two such forms)."""
    ident = re.sub(r"[^A-Za-z0-9_\-]", "-", f"{form}-{field}" if form else field)
    return Safe(f'<span class="error" id="{ident}-error">{escape(errors.get(field, ""))}</span>')


def form_problems(errors: FormErrors) -> Safe:
    if not errors.general:
        return Safe("")
    items = "".join(f"<li>{escape(m)}</li>" for m in errors.general)
    return Safe(f'<ul class="error" id="form-errors">{items}</ul>')


def actor(request: web.Request) -> str:
    return current_session(request).user.name


def saved_notice(result: EditResult, what: str) -> Safe:
    """What a save did, for the page's notice."""
    if result.unchanged:
        return Safe(f"{escape(what)}: [[nothing changed]]")
    parts = [f'<span id="saved">{escape(what)}: [[saved and applied]]</span>']
    if result.reload is not None and not result.reload.applied:
        parts = [f'<span id="saved">{escape(what)}: [[saved; the reload was refused]]</span>']
    if result.reload is not None and result.reload.restart_needed:
        names = escape(", ".join(result.reload.restart_needed))
        parts.append(f'<span class="restart">[[Takes effect after a restart:]] {names}</span>')
    if result.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
        parts.append(f'<ul class="warnings" id="warnings">{items}</ul>')
    return Safe(" ".join(parts))


def editor_of(request: web.Request) -> ConfigEditor:
    return request.app[EDITOR]


def config_snapshot(request: web.Request, name: str) -> tuple[EditableFile, Snapshot]:
    """The config file ``name`` (``agents.yaml``) and what it holds now."""
    editor = editor_of(request)
    file = editor.config_file(name)
    return file, editor.snapshot(file)


async def save(
    request: web.Request,
    file: EditableFile,
    form: Mapping[str, object],
    change: Edit,
    errors: FormErrors,
    summary: str,
) -> EditResult | None:
    """The edit through ``ConfigEditor.edit``; None when the form was stale (then
    ``errors`` says so)."""
    try:
        return await editor_of(request).edit(
            file, text(form, "version", limit=64), change, actor=actor(request), summary=summary
        )
    except StaleVersion:
        errors.general.append(STALE)
        return None


def refused(result: EditResult | None, errors: FormErrors, fields: Mapping[str, str]) -> int:
    """After a save that did not happen (``result`` None or with errors): the check's issues
    put beside their fields, and the status to show the form again with (409 when the form
    was stale, 422 when the check refused the change)."""
    errors.add_issues(result.errors if result else (), fields)
    return 409 if result is None else 422
