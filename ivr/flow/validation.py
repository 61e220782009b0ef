"""``check_flow``: what the models alone cannot say about ``ivr.yaml``.

Each problem comes with the key path of the value to fix, so the config loader reports it
as ``ivr.yaml:LINE: nodes.main.menu.options.1.goto: unknown node 'bilig' (did you mean
'billing'?)``. Checked: targets and the entry exist; every node is reachable from the entry;
no loop of steps that never waits for the caller; every prompt (flow and catalog) plays in
every language; intents, languages and products the flow names exist; the catalog itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path

import yaml

from ivr.catalog import Catalog, read_catalog
from ivr.flow.fields import Loc
from ivr.flow.models import IvrSettings
from ivr.flow.nodes import (
    AskStep,
    BranchStep,
    CatalogStep,
    MenuStep,
    Option,
    SetStep,
    Step,
)
from ivr.flow.state import WellKnown
from ivr.prompts import PromptStore

__all__ = ["check_flow", "intent_names", "prompt_problems", "prompt_references"]

Problem = tuple[Loc, str]


def check_flow(settings: IvrSettings) -> Iterator[Problem]:
    """Every cross-reference problem of the flow, each located by key path."""
    nodes = settings.nodes
    yield from _targets(settings)
    if settings.entry in nodes:
        yield from _unreachable(settings)
    yield from _silent_loops(nodes)
    yield from _languages(settings)
    yield from _values(settings)
    catalog = yield from _catalog(settings)
    yield from prompt_problems(settings, catalog)
    yield from _intents(settings, catalog)


def _step_loc(name: str, step: Step) -> Loc:
    return ("nodes", name, step.type)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _targets(settings: IvrSettings) -> Iterator[Problem]:
    nodes = settings.nodes
    if settings.entry not in nodes:
        yield ("entry",), f"unknown node {settings.entry!r}" + _suggest(settings.entry, nodes)
    for name, step in nodes.items():
        for loc, target in step.targets():
            if target not in nodes:
                message = f"unknown node {target!r}" + _suggest(target, nodes)
                yield (*_step_loc(name, step), *loc), message


def _edges(step: Step, nodes: Mapping[str, Step]) -> list[str]:
    return [target for _, target in step.targets() if target in nodes]


def _unreachable(settings: IvrSettings) -> Iterator[Problem]:
    nodes = settings.nodes
    seen = {settings.entry}
    stack = [settings.entry]
    while stack:
        for target in _edges(nodes[stack.pop()], nodes):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    for name in nodes:
        if name not in seen:
            yield ("nodes", name), f"node {name!r} cannot be reached from {settings.entry!r}"


def _silent_loops(nodes: Mapping[str, Step]) -> Iterator[Problem]:
    """Cycles through steps that never wait for the caller would spin forever."""
    silent = {name for name, step in nodes.items() if not step.takes_input}
    graph = {name: [t for t in _edges(nodes[name], nodes) if t in silent] for name in silent}
    reported: set[str] = set()
    for start in nodes:  # file order, so the report is stable
        if start not in silent or start in reported:
            continue
        cycle = _cycle_from(start, graph)
        if cycle is not None:
            reported.update(cycle)
            path = " -> ".join([*cycle, cycle[0]])
            yield ("nodes", start), f"loop without caller input: {path}"


def _cycle_from(start: str, graph: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle through ``start`` in ``graph``, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    visited: set[str] = set()
    while stack:
        node, path = stack.pop()
        for target in graph[node]:
            if target == start:
                return path
            if target not in visited:
                visited.add(target)
                stack.append((target, [*path, target]))
    return None


def _languages(settings: IvrSettings) -> Iterator[Problem]:
    spoken = settings.all_languages

    def check(loc: Loc, language: str) -> Iterator[Problem]:
        if language not in spoken:
            yield loc, f"language {language!r} is not one of languages: {', '.join(spoken)}"

    for name, step in settings.nodes.items():
        where = _step_loc(name, step)
        for loc, values in _set_values(step):
            if WellKnown.LANGUAGE in values:
                yield from check((*where, *loc, WellKnown.LANGUAGE), values[WellKnown.LANGUAGE])
        if isinstance(step, MenuStep) and step.speech is not None:
            for language in step.speech.phrases:
                yield from check((*where, "speech", "phrases", language), language)
        if isinstance(step, BranchStep):
            for index, case in enumerate(step.cases):
                for language in case.language:
                    yield from check((*where, "cases", index, "language"), language)


def _set_values(step: Step) -> Iterator[tuple[Loc, Mapping[str, str]]]:
    if isinstance(step, SetStep):
        yield ("values",), step.values
    if isinstance(step, MenuStep):
        for key, option in step.options.items():
            if isinstance(option, Option) and option.set:
                yield ("options", key, "set"), option.set


def _values(settings: IvrSettings) -> Iterator[Problem]:
    numeric = (WellKnown.COMPLEXITY, WellKnown.OPEN_ISSUES, WellKnown.RECENT_CONTACTS)
    for name, step in settings.nodes.items():
        for loc, values in _set_values(step):
            for key in numeric:
                value = values.get(key)
                if value is not None and not value.isdigit():
                    yield (*_step_loc(name, step), *loc, key), f"{key} must be a whole number"


def _catalog(settings: IvrSettings) -> Generator[Problem, None, Catalog | None]:
    """Reads the catalog (its own problems are reported with its file and line); returns it
    to the checks that need it (None: no catalog or a refused one)."""
    path = settings.prompts.catalog
    catalog: Catalog | None = None
    if path is not None:
        catalog, issues = read_catalog(path)
        for issue in issues:
            yield ("prompts", "catalog"), str(issue)
    for name, step in settings.nodes.items():
        if not isinstance(step, CatalogStep):
            continue
        if path is None:
            yield _step_loc(name, step), "a catalog step needs prompts.catalog"
        elif catalog is not None and step.product and catalog.product(step.product) is None:
            message = f"no product {step.product!r} in the catalog"
            hint = _suggest(step.product, catalog.data.products)
            yield (*_step_loc(name, step), "product"), message + hint
    return catalog


def prompt_references(settings: IvrSettings, catalog: Catalog | None) -> list[tuple[Loc, str]]:
    """Every prompt the flow and the catalog play, with where it is named."""
    references: list[tuple[Loc, str]] = []
    for name, step in settings.nodes.items():
        references.extend(((*_step_loc(name, step), *loc), p) for loc, p in step.prompts())
    if catalog is not None:
        references.extend((("prompts", "catalog"), p) for _, p in catalog.prompts())
    return references


def prompt_problems(settings: IvrSettings, catalog: Catalog | None) -> Iterator[Problem]:
    """Prompts that would not play in some language, each at its first reference."""
    store = PromptStore.from_settings(settings.prompts)
    languages = settings.all_languages
    checked: set[str] = set()
    for loc, prompt in prompt_references(settings, catalog):
        if prompt in checked:
            continue
        checked.add(prompt)
        problems = [p for p in (store.problem(prompt, lang) for lang in languages) if p]
        if problems:
            yield loc, "; ".join(problems)


def intent_names(path: Path | None) -> frozenset[str] | None:
    """The intents ``config/intents.yaml`` defines; None if there is no readable file."""
    if path is None or not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # the intents file's own validation says what is wrong
    intents = data.get("intents") if isinstance(data, dict) else None
    return frozenset(map(str, intents)) if isinstance(intents, dict) else None


def _intents(settings: IvrSettings, catalog: Catalog | None) -> Iterator[Problem]:
    known = intent_names(settings.intents_file)
    if known is None:
        return
    where_file = f" in {settings.intents_file}"
    used: list[tuple[Loc, str]] = []
    for name, step in settings.nodes.items():
        loc = _step_loc(name, step)
        if isinstance(step, MenuStep) and step.speech is not None:
            used.extend(((*loc, "speech", "intents", i), i) for i in step.speech.intents)
        if isinstance(step, AskStep):
            used.extend(((*loc, "intents", i), i) for i in step.intents)
            if step.confirm is not None:
                used.extend(((*loc, "confirm", "prompts", i), i) for i in step.confirm.prompts)
        if isinstance(step, BranchStep):
            for index, case in enumerate(step.cases):
                used.extend(((*loc, "cases", index, "intent"), i) for i in case.intent)
    for loc, intent in used:
        if intent not in known:
            yield loc, f"unknown intent {intent!r}{where_file}" + _suggest(intent, known)
    if catalog is not None:
        for product_id, product in catalog.data.products.items():
            for intent in product.intents:
                if intent not in known:
                    message = f"catalog product {product_id!r}: unknown intent {intent!r}"
                    yield ("prompts", "catalog"), message + where_file + _suggest(intent, known)
