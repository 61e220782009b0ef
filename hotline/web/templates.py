"""Server-rendered HTML from package files: ``$name`` placeholders, every value escaped
unless it is :class:`Safe` (HTML this code built from escaped parts)."""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from string import Template


class Safe(str):
    """HTML that is already escaped."""


def escape(value: object) -> Safe:
    """HTML-escaped, and ``[`` too, so no value can form a translation marker (``[[..]]``)."""
    if isinstance(value, Safe):
        return value
    return Safe(html.escape(str(value), quote=True).replace("[", "&#91;"))


@cache
def _template(name: str) -> Template:
    text = resources.files("hotline.web").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def render(template: str, /, **values: object) -> Safe:
    return Safe(_template(template).substitute({k: escape(v) for k, v in values.items()}))
