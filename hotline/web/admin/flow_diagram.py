"""The IVR flow (ivr.yaml's ``nodes``) as an SVG diagram, laid out here, in layers from the
entry node: each node a box with its name, its step type and what it plays or offers; an
arrow per way out (menu keys, spoken intents, ``next``, branch cases...), labelled; the
check's errors written on the boxes they concern.

Pure: it reads the YAML as loaded (a refused file is drawn too, as far as it can be read:
that is when the errors matter) and the issues; no I/O. Layers are breadth-first distance
from the entry; within a layer, boxes are ordered by where their parents sit (one
barycentre sweep), which keeps most arrows short and uncrossed on flows of the size an IVR
has. Arrows back to an earlier layer go round the boxes' right side. Nodes the entry
cannot reach are drawn in a last layer, marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hotline.web.templates import Safe, escape
from ivr.config_yaml import ConfigIssue

BOX_W = 210
LINE_H = 15
PAD = 8
GAP_X = 28
GAP_Y = 64
MAX_CHARS = 34
MAX_LINES = 9
BACK_MARGIN = 70
#: Generic ways out of a step, with their arrow's label.
EXITS = (
    ("next", "next"),
    ("found", "found"),
    ("fallback", "fallback"),
    ("default", "else"),
    ("max_tries_target", "max tries"),
)
TERMINAL = frozenset({"queue", "voicemail", "hangup"})


@dataclass
class Box:
    name: str
    kind: str
    lines: list[str]
    errors: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (label, target)
    layer: int = -1
    x: float = 0.0
    y: float = 0.0
    reachable: bool = True

    @property
    def height(self) -> float:
        return PAD * 2 + 4 + LINE_H * (1 + len(self.lines) + len(self.errors))


def node_of(issue: ConfigIssue) -> str | None:
    """The node an issue of ivr.yaml concerns (``nodes.main.menu.options.1.goto``)."""
    parts = issue.path.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == "nodes" else None


def _short(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _target(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("goto"), str):
        return str(value["goto"])
    return None


def _prompts(body: Mapping[str, object]) -> list[str]:
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [f"▶ {prompt}"]
    if isinstance(prompt, list):
        return [f"▶ {', '.join(str(p) for p in prompt)}"]
    return []


def _case_label(case: Mapping[str, object]) -> str:
    tests = [f"{k}: {_flat(v)}" for k, v in case.items() if k != "goto"]
    return "if " + (" & ".join(tests) or "?")


def _flat(value: object) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "/".join(_flat(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_box(name: str, node: object) -> Box:
    """One node as written: its type, the lines its box shows and its arrows."""
    if not isinstance(node, Mapping) or len(node) != 1:
        return Box(name, "?", ["(not one step)"])
    ((kind, body),) = node.items()
    kind = str(kind)
    if kind == "goto":
        target = body if isinstance(body, str) else None
        if isinstance(body, Mapping):
            target = _target({"goto": body.get("target")})
        return Box(name, kind, [], edges=[("", target)] if target else [])
    if not isinstance(body, Mapping):
        body = {}
    box = Box(name, kind, _prompts(body))
    if kind == "menu":
        options = body.get("options")
        for key, option in options.items() if isinstance(options, Mapping) else ():
            target = _target(option)
            extra = ""
            if isinstance(option, Mapping) and isinstance(option.get("set"), Mapping):
                extra = f" ({_flat(option['set'])})"
            box.lines.append(f"key {key} → {target or '?'}{extra}")
            if target:
                box.edges.append((f"key {key}", target))
        speech = body.get("speech")
        if isinstance(speech, Mapping):
            for intent, node_name in _mapping(speech.get("intents")).items():
                box.edges.append((f"says {intent}", str(node_name)))
            for phrases in _mapping(speech.get("phrases")).values():
                for phrase, node_name in _mapping(phrases).items():
                    box.edges.append((f'"{phrase}"', str(node_name)))
            box.lines.append("or by speech")
            if speech.get("barge_in") is False:
                box.lines.append("heard to its end (no barge-in)")
    elif kind == "ask":
        for intent, node_name in _mapping(body.get("intents")).items():
            box.lines.append(f"{intent} → {node_name}")
            box.edges.append((str(intent), str(node_name)))
        if body.get("barge_in") is False:
            box.lines.append("heard to its end (no barge-in)")
    elif kind == "branch":
        cases = body.get("cases")
        for case in cases if isinstance(cases, list) else ():
            if isinstance(case, Mapping):
                target = _target(case)
                box.lines.append(f"{_case_label(case)} → {target or '?'}")
                if target:
                    box.edges.append((_case_label(case), target))
    elif kind == "set":
        box.lines.append(_flat(_mapping(body.get("values"))))
    elif kind == "collect":
        box.lines.append(f"digits{_said(body)} → {body.get('attribute', 'account')}")
    elif kind == "lookup":
        box.lines.append(f"customer by {body.get('by', 'caller_id')}")
    elif kind == "catalog":
        shown = body.get("product") or body.get("product_attribute") or ""
        box.lines.append(f"{body.get('show', '?')} {shown}".strip())
    elif kind == "queue":
        box.lines.append(f"to queue {body.get('queue') or '(the call’s queue)'}")
    elif kind == "voicemail":
        box.lines.append(f"record up to {body.get('max_s', 120)} s")
    elif kind == "callback":
        box.lines.append("book a call back")
        if _said(body):
            box.lines.append("number keyed or said")
    for key, label in EXITS:
        target = body.get(key)
        if isinstance(target, str):
            box.edges.append((label, target))
    box.lines = [_short(line) for line in box.lines[:MAX_LINES]]
    return box


def _said(body: Mapping[str, object]) -> str:
    """A step whose digits may be said as words (its ``speech``)."""
    return " (keyed or said)" if isinstance(body.get("speech"), Mapping) else ""


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def layout(data: object, issues: Iterable[ConfigIssue]) -> tuple[list[Box], str]:
    """The boxes of ``data`` (ivr.yaml as loaded) placed in layers, and the entry's name."""
    top = _mapping(data)
    nodes = _mapping(top.get("nodes"))
    entry = str(top.get("entry", "start"))
    boxes = {str(name): read_box(str(name), node) for name, node in nodes.items()}
    for issue in issues:
        name = node_of(issue)
        if name in boxes:
            boxes[name].errors.append(issue.message)
    for box in boxes.values():
        box.errors = [_short(m) for m in box.errors[:4]]
    rank = _rank(boxes, entry)
    for name in sorted(rank, key=rank.__getitem__):  # parents before children
        box = boxes[name]
        box.layer = max(box.layer, 0)
        for _, target in box.edges:
            if target in rank and rank[target] > rank[name]:
                child = boxes[target]
                child.layer = max(child.layer, box.layer + 1)
    layers: list[list[Box]] = [
        [] for _ in range(max((b.layer for b in boxes.values()), default=-1) + 1)
    ]
    for box in boxes.values():  # file order within a layer, before the barycentre sweep
        if box.layer >= 0:
            layers[box.layer].append(box)
    lost = [b for b in boxes.values() if b.layer < 0]
    for box in lost:
        box.layer, box.reachable = len(layers), False
    if lost:
        layers.append(lost)
    _order(layers)
    _place(layers)
    return [b for layer in layers for b in layer], entry


def _rank(boxes: Mapping[str, Box], entry: str) -> dict[str, tuple[int, int]]:
    """Each node the entry reaches: (breadth-first distance, place in the file). An edge
    to a node of a lower rank closes a loop (drawn back up); the others form a DAG laid
    out top to bottom, so a hub menu sits above the nodes it offers."""
    if entry not in boxes:
        return {}
    place = {name: i for i, name in enumerate(boxes)}
    depth = {entry: 0}
    frontier = [entry]
    while frontier:
        following = []
        for name in frontier:
            for _, target in boxes[name].edges:
                if target in boxes and target not in depth:
                    depth[target] = depth[name] + 1
                    following.append(target)
        frontier = following
    return {name: (d, place[name]) for name, d in depth.items()}


def _order(layers: list[list[Box]]) -> None:
    """Each layer by the mean position of its parents in the layer above."""
    position: dict[str, float] = {}
    for index, layer in enumerate(layers):
        if index:
            parents: dict[str, list[float]] = {}
            for box in layers[index - 1]:
                for _, target in box.edges:
                    parents.setdefault(target, []).append(position[box.name])
            order = {b.name: i for i, b in enumerate(layer)}
            layer.sort(key=lambda b: (_mean(parents.get(b.name)), order[b.name]))
        for i, box in enumerate(layer):
            position[box.name] = i - (len(layer) - 1) / 2


def _mean(values: Sequence[float] | None) -> float:
    return sum(values) / len(values) if values else 1e9


def _place(layers: list[list[Box]]) -> None:
    widest = max((len(layer) for layer in layers), default=0)
    full = widest * BOX_W + (widest - 1) * GAP_X
    y = float(PAD)
    for layer in layers:
        width = len(layer) * BOX_W + (len(layer) - 1) * GAP_X
        x = (full - width) / 2 + PAD
        for box in layer:
            box.x, box.y = x, y
            x += BOX_W + GAP_X
        y += max(b.height for b in layer) + GAP_Y


def svg(data: object, issues: Iterable[ConfigIssue], *, title: str) -> Safe:
    """The diagram as inline SVG (styled by hotline.css's ``.flow-*`` classes)."""
    boxes, entry = layout(data, issues)
    if not boxes:
        return Safe('<p class="empty">[[No nodes to draw.]]</p>')
    by_name = {b.name: b for b in boxes}
    width = max(b.x + BOX_W for b in boxes) + PAD + BACK_MARGIN
    height = max(b.y + b.height for b in boxes) + PAD
    parts = [
        f'<svg class="flow-diagram" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'direction="ltr" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}"><title>{escape(title)}</title>'
        '<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="flow-arrowhead"/></marker></defs>'
    ]
    labels: list[str] = []
    for box in boxes:
        for index, (label, target) in enumerate(box.edges):
            child = by_name.get(target)
            if child is None:
                continue
            path, (lx, ly) = _route(box, child, index, len(box.edges))
            kind = "flow-edge" if child.layer > box.layer else "flow-edge flow-back"
            parts.append(
                f'<path class="{kind}" d="{path}" marker-end="url(#flow-arrow)">'
                f"<title>{escape(box.name)} → {escape(target)}: {escape(label)}</title></path>"
            )
            if label:
                labels.append(
                    f'<text class="flow-edge-label" x="{lx:.0f}" y="{ly:.0f}" '
                    f'text-anchor="middle">{escape(_short(label)[:18])}</text>'
                )
    parts.extend(labels)
    for box in boxes:
        parts.append(_box(box, entry))
    parts.append("</svg>")
    return Safe("".join(parts))


def _route(source: Box, target: Box, index: int, count: int) -> tuple[str, tuple[float, float]]:
    """An arrow's path and where its label goes."""
    if target.layer > source.layer:
        sx = source.x + BOX_W * (index + 1) / (count + 1)
        sy = source.y + source.height
        tx, ty = target.x + BOX_W / 2, target.y
        bend = (ty - sy) / 2
        path = (
            f"M{sx:.0f},{sy:.0f} C{sx:.0f},{sy + bend:.0f} "
            f"{tx:.0f},{ty - bend:.0f} {tx:.0f},{ty:.0f}"
        )
        return path, ((sx + tx) / 2, (sy + ty) / 2)
    # back up to an earlier layer (a loop): from the source's top to the target's bottom,
    # bowed to the side, dashed
    sx = source.x + BOX_W * (index + 1) / (count + 1)
    sy = source.y
    tx, ty = target.x + BOX_W * 0.75, target.y + target.height
    side = BACK_MARGIN * (1.5 + index % 3)
    path = (
        f"M{sx:.0f},{sy:.0f} C{sx + side:.0f},{sy - 40:.0f} "
        f"{tx + side:.0f},{ty + 40:.0f} {tx:.0f},{ty:.0f}"
    )
    return path, (sx + side * 0.6, (sy + ty) / 2)


def _box(box: Box, entry: str) -> str:
    classes = ["flow-node", f"flow-{box.kind}" if box.kind.isalpha() else "flow-unknown"]
    if box.errors:
        classes.append("flow-bad")
    if not box.reachable:
        classes.append("flow-lost")
    if box.name == entry:
        classes.append("flow-entry")
    if box.kind in TERMINAL:
        classes.append("flow-end")
    x, y = box.x, box.y
    out = [
        f'<g class="{" ".join(classes)}" data-node="{escape(box.name)}">'
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{box.height:.0f}" rx="6"/>'
    ]
    line = y + PAD + LINE_H - 3
    name = box.name + ("  (entry)" if box.name == entry else "")
    out.append(f'<text class="flow-name" x="{x + PAD:.0f}" y="{line:.0f}">{escape(name)}</text>')
    kind = box.kind + ("" if box.reachable else " · unreachable")
    out.append(
        f'<text class="flow-kind" x="{x + BOX_W - PAD:.0f}" y="{line:.0f}" '
        f'text-anchor="end">{escape(kind)}</text>'
    )
    for text in box.lines:
        line += LINE_H
        out.append(
            f'<text class="flow-line" x="{x + PAD:.0f}" y="{line:.0f}">{escape(text)}</text>'
        )
    for message in box.errors:
        line += LINE_H
        out.append(
            f'<text class="flow-error" x="{x + PAD:.0f}" y="{line:.0f}">⚠ {escape(message)}</text>'
        )
    out.append("</g>")
    return "".join(out)
