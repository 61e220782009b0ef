"""``/admin/agents``: the ACD's agents (config/agents.yaml): add, edit, remove, skill levels.

Skills offered on the form are those skills.yaml names (patterns such as ``lang.*`` are
offered as the names agents already use) and a free pair to add another. Saved through
``hotline.config_edit``: a new agent can log in as soon as the page says it is saved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from hotline.config_edit import Snapshot, yaml_text
from hotline.web.admin.forms import (
    FRESH,
    IDENTIFIER,
    SKILL,
    FormErrors,
    Outcome,
    config_snapshot,
    error,
    form_page,
    form_problems,
    hidden,
    number,
    refused,
    save,
    saved_notice,
    text,
)
from hotline.web.auth.guard import requires
from hotline.web.auth.users import ENDPOINT_PATTERN, Role
from hotline.web.templates import Safe, escape, render

FILE = "agents.yaml"
SKILLS_FILE = "skills.yaml"
MAX_LEVEL = 100


@dataclass
class AgentForm:
    """One agent as the form shows it (strings, as typed)."""

    id: str = ""
    name: str = ""
    endpoint: str = ""
    levels: dict[str, str] = field(default_factory=dict)
    new_skill: str = ""
    new_level: str = ""


def _agents(data: CommentedMap) -> CommentedSeq:
    agents = data.get("agents")
    return agents if isinstance(agents, CommentedSeq) else CommentedSeq()


def _index(data: CommentedMap, agent_id: str) -> int | None:
    for i, entry in enumerate(_agents(data)):
        if isinstance(entry, Mapping) and str(entry.get("id")) == agent_id:
            return i
    return None


def _form_of(entry: Mapping[str, object]) -> AgentForm:
    skills = entry.get("skills")
    levels = {str(k): str(v) for k, v in skills.items()} if isinstance(skills, Mapping) else {}
    return AgentForm(
        str(entry.get("id", "")), str(entry.get("name", "")), str(entry.get("endpoint", "")), levels
    )


def _skill_names(request: web.Request, data: CommentedMap, shown: AgentForm) -> list[str]:
    names: dict[str, None] = {}
    catalogue = config_snapshot(request, SKILLS_FILE)[1].data.get("skills")
    if isinstance(catalogue, Mapping):
        names.update({str(k): None for k in catalogue if "*" not in str(k)})
    for entry in _agents(data):
        if isinstance(entry, Mapping) and isinstance(entry.get("skills"), Mapping):
            names.update({str(k): None for k in entry["skills"]})
    names.update(dict.fromkeys(shown.levels))
    return sorted(names)


def _read(form: Mapping[str, object], skills: list[str], errors: FormErrors) -> AgentForm:
    values = AgentForm(
        text(form, "id", limit=64),
        text(form, "name"),
        text(form, "endpoint", limit=128),
        {s: text(form, f"level:{s}", limit=8) for s in skills if text(form, f"level:{s}", limit=8)},
        text(form, "new_skill", limit=64),
        text(form, "new_level", limit=8),
    )
    if values.endpoint and not ENDPOINT_PATTERN.match(values.endpoint):
        errors.add("endpoint", "TECH/resource, e.g. PJSIP/agent1001")
    for skill in list(values.levels):
        number(form, f"level:{skill}", errors, whole=True, minimum=0)
        if f"level:{skill}" not in errors and int(values.levels[skill]) > MAX_LEVEL:
            errors.add(f"level:{skill}", f"at most {MAX_LEVEL}")
    if values.new_skill or values.new_level:
        if not SKILL.match(values.new_skill) or "*" in values.new_skill:
            errors.add("new_skill", "a skill name, e.g. billing or lang.en")
        number(form, "new_level", errors, whole=True, minimum=0)
    return values


def _levels(values: AgentForm) -> dict[str, int]:
    chosen = {skill: int(level) for skill, level in values.levels.items()}
    if values.new_skill:
        chosen[values.new_skill] = int(values.new_level)
    return chosen


def _apply(entry: CommentedMap, values: AgentForm) -> None:
    for key, value in (("name", values.name), ("endpoint", values.endpoint)):
        if value:
            entry[key] = yaml_text(value)
        elif key in entry:
            del entry[key]
    skills = entry.get("skills")
    if not isinstance(skills, CommentedMap):
        skills = CommentedMap()
        skills.fa.set_flow_style()
        entry["skills"] = skills
    chosen = _levels(values)
    for skill in [s for s in skills if s not in chosen]:
        del skills[skill]
    for skill, level in chosen.items():
        if skills.get(skill) != level:
            skills[skill] = level


def _summary(before: AgentForm | None, values: AgentForm) -> str:
    if before is None:
        return f"agent {values.id} added"
    changes = [
        f"{what} {old or '-'} -> {new or '-'}"
        for what, old, new in (
            ("name", before.name, values.name),
            ("phone", before.endpoint, values.endpoint),
        )
        if old != new
    ]
    old_levels = {k: int(v) for k, v in before.levels.items() if v.lstrip("-").isdigit()}
    for skill, level in sorted(_levels(values).items()):
        if old_levels.get(skill) != level:
            changes.append(f"{skill} {old_levels.get(skill, '-')} -> {level}")
    changes += [f"{skill} removed" for skill in old_levels if skill not in _levels(values)]
    return f"agent {values.id}: " + ("; ".join(changes) or "rewritten")


def _fields(index: int, values: AgentForm) -> dict[str, str]:
    fields = {}
    for key in (str(index), values.id):
        prefix = f"agents.{key}"
        fields.update(
            {
                f"{prefix}.id": "id",
                f"{prefix}.name": "name",
                f"{prefix}.endpoint": "endpoint",
                f"{prefix}.skills": "new_skill",
            }
        )
        for skill in values.levels:
            fields[f"{prefix}.skills.{skill}"] = f"level:{skill}"
        if values.new_skill:
            fields[f"{prefix}.skills.{values.new_skill}"] = "new_level"
    return fields


def _skill_rows(skills: list[str], values: AgentForm, errors: Mapping[str, str]) -> Safe:
    rows = []
    for skill in skills:
        name = f"level:{skill}"
        rows.append(
            f'<label class="level">{escape(skill)} <input name="{escape(name)}" '
            f'value="{escape(values.levels.get(skill, ""))}" inputmode="numeric" size="3">'
            f"</label>{error(errors, name)}"
        )
    return Safe("".join(rows))


def _agent_form(
    request: web.Request,
    snapshot: Snapshot,
    values: AgentForm,
    *,
    adding: bool,
    outcome: Outcome = FRESH,
) -> Safe:
    errors = outcome.errors or FormErrors()
    skills = _skill_names(request, snapshot.data, values)
    action = "/admin/agents" if adding else f"/admin/agents/{values.id}"
    id_field = (
        Safe(
            f'<input name="id" value="{escape(values.id)}" maxlength="64" required '
            f'pattern="[A-Za-z0-9][A-Za-z0-9_.@\\-]*">'
        )
        if adding
        else Safe(f"<b>{escape(values.id)}</b>")
    )
    return render(
        "admin_agent_form.html",
        action=action,
        hidden=hidden(request, outcome.version or snapshot.version),
        heading=Safe("[[Add an agent]]" if adding else "[[Edit agent]]"),
        problems=form_problems(errors),
        id_field=id_field,
        id_error=error(errors, "id"),
        name=values.name,
        name_error=error(errors, "name"),
        endpoint=values.endpoint,
        endpoint_error=error(errors, "endpoint"),
        skills=_skill_rows(skills, values, errors),
        new_skill=values.new_skill,
        new_skill_error=error(errors, "new_skill"),
        new_level=values.new_level,
        new_level_error=error(errors, "new_level"),
        remove=Safe("")
        if adding
        else Safe(
            '<button type="submit" name="action" value="remove" class="danger" '
            "formnovalidate>[[Remove this agent]]</button>"
        ),
    )


def _table(data: CommentedMap) -> Safe:
    rows = []
    for entry in _agents(data):
        if not isinstance(entry, Mapping):
            continue
        agent = _form_of(entry)
        skills = ", ".join(f"{k} {v}" for k, v in agent.levels.items())
        rows.append(
            f'<tr data-agent="{escape(agent.id)}"><td><a href="/admin/agents/{escape(agent.id)}">'
            f"{escape(agent.id)}</a></td><td>{escape(agent.name)}</td>"
            f"<td>{escape(agent.endpoint)}</td><td>{escape(skills)}</td></tr>"
        )
    return Safe("".join(rows))


async def _list_page(
    request: web.Request, values: AgentForm | None = None, outcome: Outcome = FRESH
) -> web.Response:
    _, snapshot = config_snapshot(request, FILE)
    form = _agent_form(request, snapshot, values or AgentForm(), adding=True, outcome=outcome)
    rows = _table(snapshot.data)
    return form_page(request, "Agents", "admin_agents.html", outcome, rows=rows, form=form)


async def _edit_page(
    request: web.Request, snapshot: Snapshot, values: AgentForm, outcome: Outcome = FRESH
) -> web.Response:
    form = _agent_form(request, snapshot, values, adding=False, outcome=outcome)
    return form_page(request, f"Agent {values.id}", "admin_agent.html", outcome, form=form)


@requires(Role.ADMIN)
async def agents_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@requires(Role.ADMIN)
async def agent_page(request: web.Request) -> web.StreamResponse:
    _, snapshot = config_snapshot(request, FILE)
    index = _index(snapshot.data, request.match_info["agent_id"])
    if index is None:
        raise web.HTTPNotFound(text="no such agent")
    return await _edit_page(request, snapshot, _form_of(_agents(snapshot.data)[index]))


@requires(Role.ADMIN)
async def add_agent(request: web.Request) -> web.StreamResponse:
    file, snapshot = config_snapshot(request, FILE)
    form = await request.post()
    errors = FormErrors()
    values = _read(form, _skill_names(request, snapshot.data, AgentForm()), errors)
    if not IDENTIFIER.match(values.id):
        errors.add("id", "1-64 of A-Z a-z 0-9 _ . @ -")
    elif _index(snapshot.data, values.id) is not None:
        errors.add("id", f"agent {values.id} exists")
    if errors:
        return await _list_page(request, values, Outcome(errors, status=422))

    def change(data: CommentedMap) -> None:
        agents = data.get("agents")
        if not isinstance(agents, CommentedSeq):
            agents = data["agents"] = CommentedSeq()
        entry = CommentedMap()
        entry["id"] = yaml_text(values.id)
        _apply(entry, values)
        agents.append(entry)

    index = len(_agents(snapshot.data))
    result = await save(request, file, form, change, errors, _summary(None, values))
    if result is None or result.errors:
        status = refused(result, errors, _fields(index, values))
        return await _list_page(request, values, Outcome(errors, status=status))
    _, snapshot = config_snapshot(request, FILE)
    notice = saved_notice(result, f"agent {values.id}")
    return await _edit_page(request, snapshot, values, Outcome(notice=notice))


@requires(Role.ADMIN)
async def save_agent(request: web.Request) -> web.StreamResponse:
    file, snapshot = config_snapshot(request, FILE)
    agent_id = request.match_info["agent_id"]
    index = _index(snapshot.data, agent_id)
    if index is None:
        raise web.HTTPNotFound(text="no such agent")
    before = _form_of(_agents(snapshot.data)[index])
    form = await request.post()
    errors = FormErrors()
    version = text(form, "version")
    if text(form, "action") == "remove":
        values = before

        def change(data: CommentedMap) -> None:
            at = _index(data, agent_id)
            if at is not None:
                del _agents(data)[at]

        summary = f"agent {agent_id} removed"
    else:
        values = _read(form, _skill_names(request, snapshot.data, before), errors)
        values.id = agent_id
        if errors:
            outcome = Outcome(errors, status=422, version=version)
            return await _edit_page(request, snapshot, values, outcome)

        def change(data: CommentedMap) -> None:
            at = _index(data, agent_id)
            if at is not None:
                _apply(_agents(data)[at], values)

        summary = _summary(before, values)
    result = await save(request, file, form, change, errors, summary)
    if result is None or result.errors:
        status = refused(result, errors, _fields(index, values))
        outcome = Outcome(errors, status=status, version=version)
        return await _edit_page(request, snapshot, values, outcome)
    if text(form, "action") == "remove":
        return await _list_page(request, outcome=Outcome(notice=saved_notice(result, summary)))
    _, snapshot = config_snapshot(request, FILE)
    notice = saved_notice(result, f"agent {agent_id}")
    return await _edit_page(request, snapshot, values, Outcome(notice=notice))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/agents", agents_page)
    app.router.add_post("/admin/agents", add_agent)
    app.router.add_get("/admin/agents/{agent_id}", agent_page)
    app.router.add_post("/admin/agents/{agent_id}", save_agent)
