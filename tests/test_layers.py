"""The packages import in one direction (the design, and the README's architecture section):
the wire and the store at the bottom, the pure ACD and the caller's conversation above them,
the live edge where they meet, the application shell on top. Checked on every import
statement of every module, lazy ones included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the project's packages it may import (itself always)
ALLOWED: dict[str, frozenset[str]] = {
    "telephony": frozenset(),
    "channels": frozenset(),
    "history": frozenset(),
    "acd": frozenset({"history"}),
    "ivr": frozenset({"telephony", "history"}),
    "center": frozenset({"telephony", "channels", "ivr", "acd", "history"}),
    "hotline": frozenset({"telephony", "channels", "ivr", "acd", "history", "center"}),
}


def imported_packages(path: Path) -> set[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``path``."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, alias.name.split(".")[0]) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    ours = set(ALLOWED)
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, target in sorted(imported_packages(path))
        if target in ours and target not in allowed
    ]
    assert wrong == []
