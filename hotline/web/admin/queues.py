"""``/admin/queues``: the queues' rules (config/queues.yaml): strategy, service-level target,
aging, required and preferred skills, the caller's language, skill rules and relaxation
steps. Edit a queue or add one; saved through ``hotline.config_edit`` and applied at once
by the reload that follows, without a restart: calls already waiting follow their queue's
new rules (``AcdService.reconfigure``).

Required and preferred skills are edited as ``skill: level`` lines; rules and relaxation
steps (lists of small mappings) as YAML, checked like the file itself. A part left as shown
keeps its comments.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from acd.strategy import Strategy
from hotline.config_edit import Snapshot, dump
from hotline.web.admin.forms import (
    FRESH,
    IDENTIFIER,
    FormErrors,
    Outcome,
    config_snapshot,
    error,
    form_page,
    form_problems,
    hidden,
    levels,
    levels_text,
    number,
    refused,
    save,
    saved_notice,
    text,
)
from hotline.web.auth.guard import requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape, render

FILE = "queues.yaml"
#: Form field -> key path inside the queue's mapping (numbers).
NUMBERS: dict[str, tuple[str, ...]] = {
    "sl_target_s": ("sl_target_s",),
    "aging_points_per_minute": ("aging", "points_per_minute"),
    "aging_max_points": ("aging", "max_points"),
    "language_min_level": ("language", "min_level"),
    "preferred_agent_window_s": ("preferred_agent", "window_s"),
}
LISTS = ("rules", "relax")
MAX_YAML_CHARS = 20_000


@dataclass
class QueueForm:
    name: str = ""
    strategy: str = Strategy.LONGEST_IDLE.value
    numbers: dict[str, str] = field(default_factory=dict)
    required: str = ""
    preferred: str = ""
    lists: dict[str, str] = field(default_factory=dict)


def _queues(data: CommentedMap) -> CommentedMap:
    queues = data.get("queues")
    return queues if isinstance(queues, CommentedMap) else CommentedMap()


def _get(mapping: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _yaml_of(value: object) -> str:
    if not isinstance(value, CommentedSeq) or not value:
        return ""
    holder = CommentedMap()
    holder["x"] = value
    text = dump(holder)
    body = text.split("\n", 1)[1] if "\n" in text else ""
    lines = body.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines).strip("\n")


def _form_of(name: str, queue: Mapping[str, object]) -> QueueForm:
    numbers = {}
    for form_field, path in NUMBERS.items():
        value = _get(queue, path)
        numbers[form_field] = "" if value is None else str(value)
    return QueueForm(
        name,
        str(queue.get("strategy", Strategy.LONGEST_IDLE.value)),
        numbers,
        levels_text(_mapping(queue.get("required"))),
        levels_text(_mapping(queue.get("preferred"))),
        {key: _yaml_of(queue.get(key)) for key in LISTS},
    )


def _mapping(value: object) -> Mapping[str, object] | None:
    return value if isinstance(value, Mapping) else None


def _read(form: Mapping[str, object], errors: FormErrors) -> tuple[QueueForm, dict[str, object]]:
    """The form as typed, and the parsed values to write (absent: leave or drop)."""
    values = QueueForm(
        text(form, "name", limit=64),
        text(form, "strategy", limit=32),
        {f: text(form, f, limit=32) for f in NUMBERS},
        text(form, "required", limit=2000),
        text(form, "preferred", limit=2000),
        {key: _raw(form, key) for key in LISTS},
    )
    parsed: dict[str, object] = {}
    if values.strategy not in {s.value for s in Strategy}:
        errors.add("strategy", "one of: " + ", ".join(s.value for s in Strategy))
    for form_field in NUMBERS:
        whole = form_field == "language_min_level"
        required = form_field == "sl_target_s"
        parsed[form_field] = number(
            form, form_field, errors, whole=whole, minimum=0, required=required
        )
    parsed["required"] = levels(values.required, "required", errors, whole=True)
    parsed["preferred"] = levels(values.preferred, "preferred", errors, whole=False)
    for key in LISTS:
        raw = values.lists[key]
        if len(raw) > MAX_YAML_CHARS:
            errors.add(key, "too long")
            continue
        try:
            loaded = YAML(typ="rt").load(io.StringIO(raw)) if raw.strip() else CommentedSeq()
        except YAMLError as exc:
            errors.add(key, f"not YAML: {str(exc).splitlines()[0]}")
            continue
        if not isinstance(loaded, CommentedSeq):
            errors.add(key, "a list (each item starts with - )")
            continue
        parsed[key] = loaded
    return values, parsed


def _raw(form: Mapping[str, object], key: str) -> str:
    value = form.get(key, "")
    return value.replace("\r\n", "\n").strip("\n") if isinstance(value, str) else ""


def _set(queue: CommentedMap, path: tuple[str, ...], value: object) -> None:
    node = queue
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, CommentedMap):
            if value is None:
                return
            child = node[key] = CommentedMap()
            child.fa.set_flow_style()
        node = child
    if value is None:
        node.pop(path[-1], None)
    elif node.get(path[-1]) != value:
        node[path[-1]] = value


def _apply(
    queue: CommentedMap, before: QueueForm, values: QueueForm, parsed: dict[str, object]
) -> None:
    if queue.get("strategy") != values.strategy:
        queue["strategy"] = values.strategy
    for form_field, path in NUMBERS.items():
        if values.numbers[form_field] != before.numbers.get(form_field, ""):
            _set(queue, path, parsed[form_field])
    for key in ("required", "preferred"):
        if getattr(values, key) == getattr(before, key):
            continue
        chosen = parsed[key]
        assert isinstance(chosen, dict)
        current = queue.get(key)
        if not chosen:
            queue.pop(key, None)
            continue
        if not isinstance(current, CommentedMap):
            current = queue[key] = CommentedMap()
            current.fa.set_flow_style()
        for skill in [s for s in current if s not in chosen]:
            del current[skill]
        for skill, level in chosen.items():
            if current.get(skill) != level:
                current[skill] = level
    for key in LISTS:
        if values.lists[key] == before.lists.get(key, ""):
            continue  # untouched: its comments stay
        if parsed[key]:
            queue[key] = parsed[key]
        else:
            queue.pop(key, None)


def _fields(name: str) -> dict[str, str]:
    at = f"queues.{name}"
    fields = {f"{at}.{'.'.join(path)}": form_field for form_field, path in NUMBERS.items()}
    fields |= {f"{at}.{key}": key for key in ("strategy", "required", "preferred", *LISTS)}
    fields |= {f"{at}.aging": "aging_points_per_minute", f"{at}.sl_risk": "sl_target_s"}
    for i in range(50):  # a rule's skills are written in its YAML
        fields[f"{at}.rules.{i}"] = "rules"
    return fields


def _queue_form(
    request: web.Request,
    snapshot: Snapshot,
    values: QueueForm,
    *,
    adding: bool,
    outcome: Outcome = FRESH,
) -> Safe:
    errors = outcome.errors or FormErrors()
    options = "".join(
        f"<option{' selected' if s.value == values.strategy else ''}>{escape(s.value)}</option>"
        for s in Strategy
    )
    numbers = {f"{f}_value": values.numbers.get(f, "") for f in NUMBERS}
    errors_of = {f"{f}_error": error(errors, f) for f in (*NUMBERS, "strategy", "required")}
    return render(
        "admin_queue_form.html",
        action="/admin/queues" if adding else f"/admin/queues/{values.name}",
        hidden=hidden(request, outcome.version or snapshot.version),
        heading=Safe("[[Add a queue]]" if adding else "[[Edit queue]]"),
        problems=form_problems(errors),
        name_field=Safe(
            f'<input name="name" value="{escape(values.name)}" maxlength="64" required>'
            if adding
            else f"<b>{escape(values.name)}</b>"
        ),
        name_error=error(errors, "name"),
        strategies=Safe(options),
        required=values.required,
        preferred=values.preferred,
        preferred_error=error(errors, "preferred"),
        rules=values.lists.get("rules", ""),
        rules_error=error(errors, "rules"),
        relax=values.lists.get("relax", ""),
        relax_error=error(errors, "relax"),
        **numbers,
        **errors_of,
    )


def _table(data: CommentedMap) -> Safe:
    rows = []
    for name, queue in _queues(data).items():
        if not isinstance(queue, Mapping):
            continue
        q = _form_of(str(name), queue)
        steps = _get(queue, ("relax",))
        rows.append(
            f'<tr data-queue="{escape(name)}"><td><a href="/admin/queues/{escape(name)}">'
            f"{escape(name)}</a></td><td>{escape(q.strategy)}</td>"
            f"<td>{escape(q.numbers['sl_target_s'])}</td>"
            f"<td>{escape(q.required.replace(chr(10), ', '))}</td>"
            f"<td>{len(steps) if isinstance(steps, list) else 0}</td></tr>"
        )
    return Safe("".join(rows))


async def _list_page(
    request: web.Request, values: QueueForm | None = None, outcome: Outcome = FRESH
) -> web.Response:
    _, snapshot = config_snapshot(request, FILE)
    blank = QueueForm(numbers={"sl_target_s": "20"})
    form = _queue_form(request, snapshot, values or blank, adding=True, outcome=outcome)
    rows = _table(snapshot.data)
    return form_page(request, "Queue rules", "admin_queues.html", outcome, rows=rows, form=form)


async def _edit_page(
    request: web.Request, snapshot: Snapshot, values: QueueForm, outcome: Outcome = FRESH
) -> web.Response:
    form = _queue_form(request, snapshot, values, adding=False, outcome=outcome)
    return form_page(request, f"Queue {values.name}", "admin_queue.html", outcome, form=form)


@requires(Role.ADMIN)
async def queues_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@requires(Role.ADMIN)
async def queue_page(request: web.Request) -> web.StreamResponse:
    _, snapshot = config_snapshot(request, FILE)
    name = request.match_info["queue"]
    queue = _queues(snapshot.data).get(name)
    if not isinstance(queue, Mapping):
        raise web.HTTPNotFound(text="no such queue")
    return await _edit_page(request, snapshot, _form_of(name, queue))


@requires(Role.ADMIN)
async def add_queue(request: web.Request) -> web.StreamResponse:
    file, snapshot = config_snapshot(request, FILE)
    form = await request.post()
    errors = FormErrors()
    values, parsed = _read(form, errors)
    if not IDENTIFIER.match(values.name):
        errors.add("name", "1-64 of A-Z a-z 0-9 _ . @ -")
    elif values.name in _queues(snapshot.data):
        errors.add("name", f"queue {values.name} exists")
    if errors:
        return await _list_page(request, values, Outcome(errors, status=422))

    def change(data: CommentedMap) -> None:
        queues = data.get("queues")
        if not isinstance(queues, CommentedMap):
            queues = data["queues"] = CommentedMap()
        queue = CommentedMap()
        _apply(queue, QueueForm(lists={k: "" for k in LISTS}), values, parsed)
        queues[values.name] = queue

    result = await save(request, file, form, change, errors, f"queue {values.name} added")
    if result is None or result.errors:
        status = refused(result, errors, _fields(values.name))
        return await _list_page(request, values, Outcome(errors, status=status))
    _, snapshot = config_snapshot(request, FILE)
    values = _form_of(values.name, _queues(snapshot.data)[values.name])
    notice = saved_notice(result, f"queue {values.name}")
    return await _edit_page(request, snapshot, values, Outcome(notice=notice))


@requires(Role.ADMIN)
async def save_queue(request: web.Request) -> web.StreamResponse:
    file, snapshot = config_snapshot(request, FILE)
    name = request.match_info["queue"]
    queue = _queues(snapshot.data).get(name)
    if not isinstance(queue, Mapping):
        raise web.HTTPNotFound(text="no such queue")
    before = _form_of(name, queue)
    form = await request.post()
    errors = FormErrors()
    values, parsed = _read(form, errors)
    values.name = name
    version = text(form, "version", limit=64)
    if errors:
        return await _edit_page(
            request, snapshot, values, Outcome(errors, status=422, version=version)
        )

    def change(data: CommentedMap) -> None:
        target = _queues(data).get(name)
        if isinstance(target, CommentedMap):
            _apply(target, before, values, parsed)

    changed = [f for f in NUMBERS if values.numbers[f] != before.numbers.get(f, "")]
    changed += [
        k for k in ("strategy", "required", "preferred") if getattr(values, k) != getattr(before, k)
    ]
    changed += [k for k in LISTS if values.lists[k] != before.lists.get(k, "")]
    summary = f"queue {name}: " + (", ".join(changed) or "unchanged")
    result = await save(request, file, form, change, errors, summary)
    if result is None or result.errors:
        status = refused(result, errors, _fields(name))
        outcome = Outcome(errors, status=status, version=version)
        return await _edit_page(request, snapshot, values, outcome)
    _, snapshot = config_snapshot(request, FILE)
    values = _form_of(name, _queues(snapshot.data)[name])
    notice = saved_notice(result, f"queue {name}")
    return await _edit_page(request, snapshot, values, Outcome(notice=notice))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/queues", queues_page)
    app.router.add_post("/admin/queues", add_queue)
    app.router.add_get("/admin/queues/{queue}", queue_page)
    app.router.add_post("/admin/queues/{queue}", save_queue)
