"""English and Arabic pages: the user's language, and the page text in it.

Templates write user-visible text as ``[[English text]]``; :func:`translate` replaces each
marker with the language's catalog entry (``<lang>.json`` here: English text → translation;
a missing entry falls back to English). Values filled into templates can never form a
marker: :func:`hotline.web.templates.escape` escapes ``[``. Scripts get the same catalog as
JSON in the page and translate with ``T("English text", {name: value})`` (``/static/i18n.js``).

Values that read left to right in any language (call ids, phone numbers, time ranges, codes)
must not be reordered by an Arabic page's right-to-left flow: a template puts them in
:func:`ltr` (a ``<bdi dir="ltr" class="ltr-value">``), a script in ``LTR(text)`` (the same
element); any element may carry the CSS class ``ltr-value`` (left to right, isolated from
the text around it). In an Arabic page, ``T`` isolates every value it fills into a
sentence (Unicode first-strong isolates), so "{id} waited {s}" keeps each value whole.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from aiohttp import web

from hotline.web.templates import Safe, escape

COOKIE = "hotline_lang"
#: The CSS class (hotline.css) of values laid out left to right, isolated from their text.
LTR_CLASS = "ltr-value"
DEFAULT = "en"
_MARKER = re.compile(r"\[\[(.+?)\]\]", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    name: str  # in the language itself, for the switch
    direction: str  # "ltr" | "rtl"


LANGUAGES: Mapping[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
}


@cache
def catalog(code: str) -> Mapping[str, str]:
    """English text → text in ``code`` (empty for English)."""
    if code == DEFAULT:
        return {}
    text = resources.files(__name__).joinpath(f"{code}.json").read_text("utf-8")
    entries = json.loads(text)
    if not isinstance(entries, dict):
        raise ValueError(f"{code}.json: expected an object of English text to translation")
    return {str(k): str(v) for k, v in entries.items()}


def translate(page: str, code: str) -> str:
    """Replace every ``[[text]]`` marker with its translation (escaped for HTML)."""
    entries = catalog(code)
    return _MARKER.sub(lambda m: html.escape(entries.get(m[1], m[1]), quote=True), page)


def ltr(value: object) -> Safe:
    """``value`` (escaped) as a left-to-right island: a call id, a phone number or a time
    range keeps its order inside an Arabic sentence or table cell."""
    return Safe(f'<bdi dir="ltr" class="{LTR_CLASS}">{escape(value)}</bdi>')


def markers(page: str) -> list[str]:
    """The English texts a template marks for translation (for the catalog's test)."""
    return _MARKER.findall(page)


def script_catalog(code: str) -> str:
    """The catalog as JSON safe inside ``<script type="application/json">``."""
    return json.dumps(catalog(code), ensure_ascii=False).replace("<", "\\u003c")


def page_language(request: web.Request) -> Language:
    """The cookie the switch sets, else the browser's best supported language, else English."""
    chosen = LANGUAGES.get(request.cookies.get(COOKIE, ""))
    if chosen is not None:
        return chosen
    for code in _accepted(request.headers.get("Accept-Language", "")):
        if code in LANGUAGES:
            return LANGUAGES[code]
    return LANGUAGES[DEFAULT]


def _accepted(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header, most preferred first."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().split("-")[0].lower()
        if code and quality > 0:
            ranked.append((-quality, index, code))
    return [code for _, _, code in sorted(ranked)]
