"""``/admin/catalog``: the price/offer catalog (prompts/catalog.yaml): edit or add a product
or an offer. Each item is checked by the catalog's own models, its recorded message must
exist (and play) in every language of the flow, and the whole config is then checked as
check-config checks it before ``hotline.config_edit`` writes the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from aiohttp import web
from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from hotline.config_edit import EditableFile, Snapshot, yaml_text
from hotline.web.admin.forms import (
    FRESH,
    IDENTIFIER,
    FormErrors,
    Outcome,
    editor_of,
    error,
    form_page,
    form_problems,
    hidden,
    refused,
    save,
    saved_notice,
    text,
)
from hotline.web.auth.guard import requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape, render
from ivr.catalog import Offer, Product
from ivr.prompts import PromptStore


@dataclass(frozen=True)
class Field:
    name: str
    label: Safe
    kind: str = "text"  # text | price | date | list
    required: bool = False


@dataclass(frozen=True)
class Kind:
    key: str  # "products" | "offers"
    singular: str
    model: type[BaseModel]
    fields: tuple[Field, ...]


KINDS = {
    "products": Kind(
        "products",
        "product",
        Product,
        (
            Field("name", Safe("[[Name]]"), required=True),
            Field("price", Safe("[[Price]]"), "price", required=True),
            Field("unit", Safe("[[Unit (per month...)]]")),
            Field("prompt", Safe("[[Recorded message (prompt name)]]"), required=True),
            Field("intents", Safe("[[Intents meaning its price (comma-separated)]]"), "list"),
        ),
    ),
    "offers": Kind(
        "offers",
        "offer",
        Offer,
        (
            Field("name", Safe("[[Name]]"), required=True),
            Field("prompt", Safe("[[Recorded message (prompt name)]]"), required=True),
            Field("valid_from", Safe("[[Valid from]]"), "date", required=True),
            Field("valid_until", Safe("[[Valid until (inclusive)]]"), "date", required=True),
            Field("products", Safe("[[Products (comma-separated ids)]]"), "list"),
            Field("price", Safe("[[Price]]"), "price"),
        ),
    ),
}


def _file(request: web.Request) -> EditableFile:
    file = editor_of(request).catalog_file()
    if file is None:
        raise web.HTTPNotFound(text="no catalog: set prompts.catalog in ivr.yaml")
    return file


def _items(data: CommentedMap, kind: Kind) -> CommentedMap:
    items = data.get(kind.key)
    return items if isinstance(items, CommentedMap) else CommentedMap()


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _values_of(item: Mapping[str, object], kind: Kind) -> dict[str, str]:
    return {f.name: _shown(item.get(f.name)) for f in kind.fields}


def _parse(kind: Kind, values: Mapping[str, str], errors: FormErrors) -> dict[str, object]:
    parsed: dict[str, object] = {}
    for f in kind.fields:
        raw = values.get(f.name, "")
        if not raw:
            if f.required:
                errors.add(f.name, "required")
            continue
        if f.kind == "price":
            try:
                price = Decimal(raw)
            except InvalidOperation:
                errors.add(f.name, "a number, e.g. 299.00")
                continue
            parsed[f.name] = price
        elif f.kind == "date":
            try:
                parsed[f.name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors.add(f.name, "a date, YYYY-MM-DD")
        elif f.kind == "list":
            parsed[f.name] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            parsed[f.name] = raw
    if not errors:
        try:
            kind.model.model_validate(parsed)
        except ValidationError as exc:
            for problem in exc.errors():
                loc = problem["loc"]
                where = str(loc[0]) if loc and str(loc[0]) in values else "name"
                if not loc:
                    errors.general.append(problem["msg"].removeprefix("Value error, "))
                else:
                    errors.add(where, problem["msg"].removeprefix("Value error, "))
    return parsed


def _prompt_problem(request: web.Request, prompt: str) -> str | None:
    ivr = editor_of(request).current().ivr
    store = PromptStore.from_settings(ivr.prompts)
    problems = [p for p in (store.problem(prompt, lang) for lang in ivr.all_languages) if p]
    return problems[0] if problems else None


def _apply(
    item: CommentedMap,
    kind: Kind,
    before: Mapping[str, str],
    values: Mapping[str, str],
    parsed: Mapping[str, object],
) -> None:
    for f in kind.fields:
        if values.get(f.name, "") == before.get(f.name, ""):
            continue  # untouched: its formatting stays (299.00 stays 299.00)
        value = parsed.get(f.name)
        if value is None:
            item.pop(f.name, None)
        elif isinstance(value, Decimal):
            item[f.name] = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, list):
            seq = CommentedSeq(yaml_text(str(v)) for v in value)
            seq.fa.set_flow_style()
            item[f.name] = seq
        elif isinstance(value, str):
            item[f.name] = yaml_text(value)
        else:
            item[f.name] = value


def _item_form(
    request: web.Request,
    snapshot: Snapshot,
    kind: Kind,
    item_id: str,
    values: Mapping[str, str],
    *,
    adding: bool,
    outcome: Outcome = FRESH,
) -> Safe:
    errors = outcome.errors or FormErrors()
    rows = []
    if adding:
        rows.append(
            f'<label>[[Id]] <input name="id" value="{escape(item_id)}" maxlength="64" required>'
            f"</label> {error(errors, 'id', form=kind.singular)}"
        )
    for f in kind.fields:
        kind_attr = ' type="date"' if f.kind == "date" else ""
        rows.append(
            f'<label>{f.label} <input name="{f.name}" value="{escape(values.get(f.name, ""))}"'
            f'{kind_attr} maxlength="200"></label> {error(errors, f.name, form=kind.singular)}'
        )
    action = f"/admin/catalog/{kind.key}" + ("" if adding else f"/{item_id}")
    return render(
        "admin_catalog_form.html",
        form_id=f"{kind.singular}-form",
        action=action,
        hidden=hidden(request, outcome.version or snapshot.version),
        heading=Safe(
            {
                ("products", True): "[[Add a product]]",
                ("products", False): "[[Edit product]]",
                ("offers", True): "[[Add an offer]]",
                ("offers", False): "[[Edit offer]]",
            }[(kind.key, adding)]
        ),
        item=Safe("" if adding else f"<p><b>{escape(item_id)}</b></p>"),
        problems=form_problems(errors),
        fields=Safe("\n".join(rows)),
    )


def _table(data: CommentedMap, kind: Kind) -> Safe:
    heads = "".join(f"<th>{f.label}</th>" for f in kind.fields)
    rows = []
    for item_id, item in _items(data, kind).items():
        if not isinstance(item, Mapping):
            continue
        values = _values_of(item, kind)
        cells = "".join(f"<td>{escape(values[f.name])}</td>" for f in kind.fields)
        link = f'<a href="/admin/catalog/{kind.key}/{escape(item_id)}">{escape(item_id)}</a>'
        rows.append(f'<tr data-{kind.singular}="{escape(item_id)}"><td>{link}</td>{cells}</tr>')
    return Safe(
        f'<table id="{kind.key}"><thead><tr><th>[[id]]</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


async def _list_page(
    request: web.Request,
    *,
    kind: Kind | None = None,
    item_id: str = "",
    values: Mapping[str, str] | None = None,
    outcome: Outcome = FRESH,
) -> web.Response:
    snapshot = editor_of(request).snapshot(_file(request))
    forms = {}
    for each in KINDS.values():
        mine = each is kind
        forms[each.key] = _item_form(
            request,
            snapshot,
            each,
            item_id if mine else "",
            (values or {}) if mine else {},
            adding=True,
            outcome=outcome if mine else FRESH,
        )
    currency = _shown(snapshot.data.get("currency"))
    return form_page(
        request,
        "Catalog",
        "admin_catalog.html",
        outcome,
        currency=currency,
        products=_table(snapshot.data, KINDS["products"]),
        offers=_table(snapshot.data, KINDS["offers"]),
        product_form=forms["products"],
        offer_form=forms["offers"],
    )


async def _edit_page(
    request: web.Request,
    snapshot: Snapshot,
    kind: Kind,
    item_id: str,
    values: Mapping[str, str],
    outcome: Outcome = FRESH,
) -> web.Response:
    form = _item_form(request, snapshot, kind, item_id, values, adding=False, outcome=outcome)
    return form_page(request, "Catalog", "admin_catalog_item.html", outcome, form=form)


def _kind(request: web.Request) -> Kind:
    kind = KINDS.get(request.match_info["kind"])
    if kind is None:
        raise web.HTTPNotFound(text="products or offers")
    return kind


@requires(Role.ADMIN)
async def catalog_page(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@requires(Role.ADMIN)
async def item_page(request: web.Request) -> web.StreamResponse:
    kind, item_id = _kind(request), request.match_info["item"]
    snapshot = editor_of(request).snapshot(_file(request))
    item = _items(snapshot.data, kind).get(item_id)
    if not isinstance(item, Mapping):
        raise web.HTTPNotFound(text=f"no such {kind.singular}")
    return await _edit_page(request, snapshot, kind, item_id, _values_of(item, kind))


@requires(Role.ADMIN)
async def save_item(request: web.Request) -> web.StreamResponse:
    """Add (``POST /admin/catalog/{kind}``) or edit (``.../{item}``) a product or offer."""
    kind = _kind(request)
    adding = "item" not in request.match_info
    file = _file(request)
    snapshot = editor_of(request).snapshot(file)
    form = await request.post()
    errors = FormErrors()
    values = {f.name: text(form, f.name) for f in kind.fields}
    version = text(form, "version", limit=64)
    if adding:
        item_id = text(form, "id", limit=64)
        if not IDENTIFIER.match(item_id) or item_id != item_id.lower():
            errors.add("id", "lower-case letters, digits, _ and -")
        elif item_id in _items(snapshot.data, kind):
            errors.add("id", f"{kind.singular} {item_id} exists")
        before: Mapping[str, str] = {}
    else:
        item_id = request.match_info["item"]
        item = _items(snapshot.data, kind).get(item_id)
        if not isinstance(item, Mapping):
            raise web.HTTPNotFound(text=f"no such {kind.singular}")
        before = _values_of(item, kind)
    parsed = _parse(kind, values, errors)
    prompt = parsed.get("prompt")
    if isinstance(prompt, str) and "prompt" not in errors:
        problem = _prompt_problem(request, prompt)
        if problem is not None:
            errors.add("prompt", problem)

    async def show_again(status: int) -> web.Response:
        if adding:
            outcome = Outcome(errors, status=status)
            return await _list_page(
                request, kind=kind, item_id=item_id, values=values, outcome=outcome
            )
        outcome = Outcome(errors, status=status, version=version)
        return await _edit_page(request, snapshot, kind, item_id, values, outcome)

    if errors:
        return await show_again(422)

    def change(data: CommentedMap) -> None:
        items = data.get(kind.key)
        if not isinstance(items, CommentedMap):
            items = data[kind.key] = CommentedMap()
        target = items.get(item_id)
        if not isinstance(target, CommentedMap):
            target = items[item_id] = CommentedMap()
        _apply(target, kind, before, values, parsed)

    changed = [f.name for f in kind.fields if values.get(f.name, "") != before.get(f.name, "")]
    verb = "added" if adding else "changed: " + (", ".join(changed) or "nothing")
    result = await save(request, file, form, change, errors, f"{kind.singular} {item_id} {verb}")
    if result is None or result.errors:
        return await show_again(refused(result, errors, {}))
    snapshot = editor_of(request).snapshot(file)
    item = _items(snapshot.data, kind).get(item_id)
    shown = _values_of(item, kind) if isinstance(item, Mapping) else values
    notice = saved_notice(result, f"{kind.singular} {item_id}")
    return await _edit_page(request, snapshot, kind, item_id, shown, Outcome(notice=notice))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/catalog", catalog_page)
    app.router.add_post("/admin/catalog/{kind}", save_item)
    app.router.add_get("/admin/catalog/{kind}/{item}", item_page)
    app.router.add_post("/admin/catalog/{kind}/{item}", save_item)
