"""Just enough of Asterisk's .conf syntax to check docker/asterisk/ against config/.

Sections ``[name]``, ``[name](!)`` (a template) and ``[name](template,...)`` (inherits the
template's lines); ``key=value`` and ``key => value`` lines; ``same => n,...`` continuing
the last extension; ``;`` comments. Sections may repeat (PJSIP's endpoint, auth and aor of
one name), so a file is a list of sections, not a mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<opts>[^)]*)\))?$")
_APP = re.compile(r"^(?P<app>[A-Za-z_]+)\((?P<args>.*)\)$")


@dataclass
class Section:
    name: str
    template: bool = False
    lines: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def all(self, key: str) -> list[str]:
        return [value for k, value in self.lines if k == key]


@dataclass(frozen=True)
class Step:
    """One dialplan priority: ``exten => 100,1,Answer()``."""

    exten: str
    priority: int
    app: str
    args: str
    label: str = ""  # ``same => n(label),...``


def read_conf(path: Path) -> list[Section]:
    sections: list[Section] = []
    templates: dict[str, Section] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        # ";" starts a comment, "\;" is a semicolon (Asterisk's config.c)
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].replace("\\;", ";").strip()
        if not line:
            continue
        header = _HEADER.match(line)
        if header:
            opts = [o.strip() for o in (header["opts"] or "").split(",") if o.strip()]
            section = Section(header["name"], template="!" in opts)
            for parent in (o for o in opts if o != "!"):
                section.lines.extend(templates[parent].lines)
            sections.append(section)
            if section.template:
                templates[section.name] = section
            continue
        key, _, value = line.partition("=")
        sections[-1].lines.append((key.strip(), value.lstrip(">").strip()))
    return sections


def named(sections: list[Section], name: str) -> list[Section]:
    return [s for s in sections if s.name == name and not s.template]


def dialplan(section: Section) -> list[Step]:
    """The steps of one context, ``same => n`` resolved to numbers."""
    steps: list[Step] = []
    exten, priority = "", 0
    for key, value in section.lines:
        if key == "exten":
            exten, number, command = (part.strip() for part in value.split(",", 2))
            priority = int(number)
        elif key == "same":
            number, command = (part.strip() for part in value.split(",", 1))
            number, _, label = number.removesuffix(")").partition("(")
            priority = priority + 1 if number == "n" else int(number)
        else:
            continue
        app = _APP.match(command)
        if app is None:
            raise ValueError(f"[{section.name}] {exten},{priority}: not App(args): {command}")
        steps.append(Step(exten, priority, app["app"], app["args"], label if key == "same" else ""))
    return steps
