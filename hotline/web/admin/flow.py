"""``/admin/flow``: the IVR flow (config/ivr.yaml) as a diagram, with the check's errors on
the nodes they concern, and the file in a YAML editor.

The page checks the file as it is now (``hotline check-config``'s checks: a hand edit the
service refused shows its errors here, node by node and line by line). "Preview diagram"
(``POST /admin/flow/preview``) draws unsaved text with its errors and writes nothing;
"Save" (``POST /admin/flow``) replaces the whole file through
``ConfigEditor.edit_text``: refused with the errors beside their lines (nothing written),
or written, reloaded (new calls take the new flow; calls in progress finish on theirs) and
audited with the diff. A form made from an older version of the file is refused (409).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml
from aiohttp import web

from hotline.config_edit import EditResult, StaleVersion, version_of
from hotline.web.admin.flow_diagram import node_of, svg
from hotline.web.admin.forms import STALE, actor, editor_of, saved_notice
from hotline.web.auth.guard import current_session, page, requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape, render
from ivr.config_yaml import ConfigIssue

FILE = "ivr.yaml"
MAX_TEXT_CHARS = 200_000


def _ours(issue: ConfigIssue) -> bool:
    return Path(issue.file).name == FILE


def _loaded(text: str) -> tuple[object, str | None]:
    """The YAML as data for the diagram (None and why when it does not parse)."""
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        return None, str(exc).splitlines()[0]


def _gutter(text: str, issues: Sequence[ConfigIssue]) -> Safe:
    """Line numbers beside the editor; a line with an error is marked, its message the
    number's title."""
    bad: dict[int, list[str]] = {}
    for issue in issues:
        if issue.line is not None and _ours(issue):
            bad.setdefault(issue.line, []).append(issue.message)
    count = text.count("\n") + 1
    lines = []
    for n in range(1, count + 1):
        if n in bad:
            title = escape("; ".join(bad[n]))
            lines.append(f'<span class="bad" id="gutter-{n}" title="{title}">{n}</span>')
        else:
            lines.append(str(n))
    return Safe("\n".join(lines))


def _issue_list(issues: Iterable[ConfigIssue], kind: str) -> Safe:
    items = []
    for issue in issues:
        where = ""
        if issue.line is not None and _ours(issue):
            where = f'<a href="#flow-text" data-line="{issue.line}" dir="ltr">{issue.line}</a> '
        elif issue.line is not None:
            where = f'<span dir="ltr">{escape(Path(issue.file).name)}:{issue.line}</span> '
        node = node_of(issue) if _ours(issue) else None
        about = f'<b dir="ltr">{escape(node)}</b> ' if node else ""
        path = f'<code dir="ltr">{escape(issue.path)}</code>: ' if issue.path else ""
        items.append(f"<li>{where}{about}{path}{escape(issue.message)}</li>")
    if not items:
        return Safe("")
    return Safe(f'<ul class="{kind}" id="flow-{kind}">{"".join(items)}</ul>')


async def _page(
    request: web.Request,
    text: str,
    version: str,
    *,
    preview: bool = False,
    errors: Sequence[ConfigIssue] | None = None,
    warnings: Sequence[ConfigIssue] = (),
    notice: Safe | str = "",
    stale: bool = False,
    status: int = 200,
) -> web.Response:
    editor = editor_of(request)
    file = editor.config_file(FILE)
    if errors is None:
        errors, warnings = await editor.check_text(file, text)
    data, unreadable = _loaded(text)
    problems = list(errors)
    if unreadable and not any(_ours(i) for i in problems):
        problems.append(ConfigIssue(file.label, None, "", unreadable))
    title = "the unsaved text" if preview else "config/ivr.yaml"
    counts = (
        f'<p class="flow-summary" id="flow-status">'
        f"{'[[Preview of the unsaved text]]' if preview else '[[The flow as saved]]'}: "
        + (
            f'<span class="error">{len(problems)} [[error(s)]]</span>'
            if problems
            else '<span class="ok">[[no errors]]</span>'
        )
        + (f", {len(warnings)} [[warning(s)]]" if warnings else "")
        + "</p>"
    )
    body = render(
        "admin_flow.html",
        notice=notice,
        stale=Safe(f'<ul class="error" id="form-errors"><li>{STALE}</li></ul>' if stale else ""),
        summary=Safe(counts),
        diagram=svg(data, problems, title=f"IVR flow: {title}"),
        errors=_issue_list(problems, "error"),
        warnings=_issue_list(warnings, "warnings"),
        csrf=current_session(request).csrf,
        version=version,
        gutter=_gutter(text, problems),
        text=text,
        rows=str(min(40, max(12, text.count("\n") + 2))),
    )
    return page(request, "IVR flow", body, status=status)


def _submitted(form: Mapping[str, object]) -> tuple[str, str]:
    raw = form.get("text", "")
    text = raw.replace("\r\n", "\n")[:MAX_TEXT_CHARS] if isinstance(raw, str) else ""
    version = form.get("version", "")
    return text, version.strip()[:64] if isinstance(version, str) else ""


@requires(Role.ADMIN)
async def flow_page(request: web.Request) -> web.StreamResponse:
    editor = editor_of(request)
    raw = editor.config_file(FILE).path.read_bytes()
    return await _page(request, raw.decode("utf-8"), version_of(raw))


@requires(Role.ADMIN)
async def preview(request: web.Request) -> web.StreamResponse:
    text, version = _submitted(await request.post())
    return await _page(request, text, version, preview=True)


@requires(Role.ADMIN)
async def save_flow(request: web.Request) -> web.StreamResponse:
    text, version = _submitted(await request.post())
    editor = editor_of(request)
    file = editor.config_file(FILE)
    before = file.path.read_text("utf-8")
    try:
        result: EditResult = await editor.edit_text(
            file, version, text, actor=actor(request), summary=_summary(before, text)
        )
    except StaleVersion:
        return await _page(request, text, version, preview=True, stale=True, status=409)
    if result.errors:
        return await _page(request, text, version, preview=True, errors=result.errors, status=422)
    raw = file.path.read_bytes()
    notice = saved_notice(result, "IVR flow")
    return await _page(request, raw.decode("utf-8"), version_of(raw), notice=notice)


def _nodes(text: str) -> dict[str, object]:
    data, _ = _loaded(text)
    nodes = data.get("nodes") if isinstance(data, dict) else None
    return {str(k): v for k, v in nodes.items()} if isinstance(nodes, dict) else {}


def _summary(before: str, after: str) -> str:
    """What the audit log says of a flow edit: the nodes added, changed and removed."""
    old, new = _nodes(before), _nodes(after)
    parts = []
    for what, names in (
        ("added", [n for n in new if n not in old]),
        ("changed", [n for n in new if n in old and new[n] != old[n]]),
        ("removed", [n for n in old if n not in new]),
    ):
        if names:
            parts.append(f"{what} {', '.join(names)}")
    return "IVR flow: " + ("; ".join(parts) or "settings changed")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/flow", flow_page)
    app.router.add_post("/admin/flow", save_flow)
    app.router.add_post("/admin/flow/preview", preview)
