"""Value types of ivr.yaml (node, prompt and attribute names, keys, time windows) and the
frozen base model: shared by the step models, the settings and the catalog."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

Loc = tuple[str | int, ...]

_NODE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_PROMPT = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*")
_ATTRIBUTE = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_KEYS = "0123456789*#"
_WINDOW = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _node_name(value: str) -> str:
    if not _NODE.fullmatch(value):
        raise ValueError(f"{value!r} is not a node name (a letter, then letters, digits, _ or -)")
    return value


def _prompt_name(value: str) -> str:
    if not _PROMPT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a prompt name (letters, digits, _ and -, sub-folders with /;"
            " no file extension)"
        )
    return value


def _attribute(value: str) -> str:
    if not _ATTRIBUTE.fullmatch(value):
        raise ValueError(f"{value!r} is not an attribute name (lower case, digits and _)")
    return value


def _key(value: str) -> str:
    if len(value) != 1 or value not in _KEYS:
        raise ValueError(f"{value!r} is not a phone key (one of 0-9, * and #)")
    return value


def _scalar_text(value: object) -> object:
    """Attribute values are text on the call; YAML numbers and booleans are written out."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


def _window(value: str) -> str:
    match = _WINDOW.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a time window such as '08:00-18:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{value!r} has an impossible time")
    if (h1, m1) == (h2, m2):
        raise ValueError(f"{value!r} is empty")
    return value


def parse_window(value: str) -> tuple[time, time | None]:
    """``'08:00-18:00'`` -> (08:00, 18:00); an end of 24:00 is None (end of day)."""
    match = _WINDOW.fullmatch(value)
    assert match is not None  # validated on load
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), None if h2 == 24 else time(h2, m2)


def _prompts(value: object) -> object:
    return (value,) if isinstance(value, str) else value


NodeName = Annotated[str, AfterValidator(_node_name)]
PromptName = Annotated[str, AfterValidator(_prompt_name)]
PromptList = Annotated[tuple[PromptName, ...], BeforeValidator(_prompts), Field(min_length=1)]
Attribute = Annotated[str, AfterValidator(_attribute)]
Key = Annotated[str, AfterValidator(_key)]
Text = Annotated[str, BeforeValidator(_scalar_text), Field(max_length=200)]
Window = Annotated[str, AfterValidator(_window)]
Regex = Annotated[str, AfterValidator(_pattern)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Seconds = Annotated[float, Field(gt=0, le=60)]
Tries = Annotated[int, Field(ge=1, le=10)]
Digits = Annotated[int, Field(ge=1, le=64)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
