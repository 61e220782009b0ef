"""Read one YAML config file into plain data plus the line of every key.

PyYAML's composer keeps a start mark on every node; we walk the node tree once and remember
where each key path (``("ami", "port")``, ``("fastagi", "allowed_hosts", 1)``) starts, so
that a validation error found later on the plain data can name the line an admin must fix.
Problems the YAML parser silently accepts but an admin never means (duplicate keys, keys
that YAML 1.1 reads as booleans such as ``on:``) are reported here.

Aliases are bounded: a file is refused when its tree, with every alias expanded, would hold
more than ``MAX_EXPANDED_NODES`` nodes (a 1.5 KB "billion laughs" file expands to billions)
or when an alias contains itself. The count is taken on the composed node graph, where an
alias is one shared node, before anything is built from it; files larger than
``MAX_FILE_CHARS`` are refused unread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

#: Far above any real config (the largest shipped file has a few hundred nodes), far below
#: what would cost memory worth mentioning.
MAX_EXPANDED_NODES = 200_000
MAX_FILE_CHARS = 4 * 1024 * 1024

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null",
}


@dataclass(frozen=True)
class YamlProblem:
    """A problem found while reading the file (syntax or structure), before validation."""

    line: int | None
    path: Path
    message: str


class YamlFileError(Exception):
    """The file cannot be turned into a mapping of settings."""

    def __init__(self, problems: Sequence[YamlProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class YamlDocument:
    """The top-level mapping of a config file and the line where each key path starts."""

    data: dict[str, object]
    lines: dict[Path, int] = field(default_factory=dict)
    #: Paths holding unquoted scalars: where YAML's typing may surprise (``no`` -> False).
    plain_scalars: frozenset[Path] = frozenset()

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest part of ``path`` present in the file (1-based)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def parse_yaml(text: str) -> YamlDocument:
    """Parse one config file.

    Raises YamlFileError for syntax errors (with their line) and structural problems.
    """
    if len(text) > MAX_FILE_CHARS:
        message = f"the file is larger than {MAX_FILE_CHARS // (1024 * 1024)} MiB"
        raise YamlFileError([YamlProblem(None, (), message)])
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise YamlFileError([_syntax_problem(exc)]) from None
    except yaml.YAMLError as exc:
        raise YamlFileError([YamlProblem(None, (), f"YAML error: {exc}")]) from None
    except RecursionError:
        raise YamlFileError([YamlProblem(None, (), "the file is nested too deeply")]) from None
    finally:
        loader.dispose()
    if root is None or data is None:
        return YamlDocument({}, {(): 1})
    if not isinstance(root, MappingNode) or not isinstance(data, dict):
        line = root.start_mark.line + 1
        raise YamlFileError(
            [YamlProblem(line, (), "the file must be a mapping of settings (key: value)")]
        )
    walker = _Walker()
    walker.walk(root, ())
    if walker.problems:
        raise YamlFileError(walker.problems)
    walker.lines.setdefault((), root.start_mark.line + 1)
    return YamlDocument(data, walker.lines, frozenset(walker.plain))


def _check_expansion(root: Node) -> None:
    """Refuse a node graph whose aliases expand past the cap, or refer to themselves."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in open_:
            raise YamlFileError(
                [YamlProblem(node.start_mark.line + 1, (), "an alias refers to itself")]
            )
        open_.add(key)
        total = 1
        if isinstance(node, MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            total += sum(size(item) for item in node.value)
        open_.discard(key)
        if total > MAX_EXPANDED_NODES:
            message = (
                f"its aliases expand to more than {MAX_EXPANDED_NODES} values; "
                "write the settings out instead of repeating anchors"
            )
            raise YamlFileError([YamlProblem(node.start_mark.line + 1, (), message)])
        sizes[key] = total
        return total

    size(root)


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in _problem_text(exc):
        mark = exc.context_mark  # an unclosed [ or quote: point where it was opened
    line = mark.line + 1 if mark is not None else None
    reason = exc.problem or "invalid YAML"
    if exc.context:
        reason = f"{reason} ({exc.context})"
    return YamlProblem(line, (), f"YAML syntax error: {reason}")


def _problem_text(exc: yaml.MarkedYAMLError) -> str:
    return (exc.problem or "").replace("<stream end>", "end of stream")


class _Walker:
    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.plain: set[Path] = set()
        self.problems: list[YamlProblem] = []

    def walk(self, node: Node, path: Path) -> None:
        if isinstance(node, MappingNode):
            self._mapping(node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.lines.setdefault((*path, index), item.start_mark.line + 1)
                self.walk(item, (*path, index))
        elif isinstance(node, ScalarNode) and node.style is None:
            self.plain.add(path)

    def _mapping(self, node: MappingNode, path: Path) -> None:
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                kind = _TAG_NAMES.get(key_node.tag, "not a string")
                shown = key_node.value if isinstance(key_node, ScalarNode) else "?"
                message = f"key {shown!r} is read by YAML as {kind}; quote it"
                self.problems.append(YamlProblem(line, path, message))
                continue
            key = str(key_node.value)
            if key in seen:
                message = f"duplicate key {key!r} (first at line {seen[key]})"
                self.problems.append(YamlProblem(line, (*path, key), message))
                continue
            seen[key] = line
            self.lines[(*path, key)] = line
            self.walk(value_node, (*path, key))


@dataclass(frozen=True)
class ConfigIssue:
    """One reason the config was refused.

    ``file`` is the file as the admin named it, or ``$VARIABLE`` / ``--set`` when the
    offending value came from the environment or the command line (then ``line`` is None).
    """

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config was refused; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
