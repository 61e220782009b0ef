"""HTML → plain text, for an e-mail whose only body is HTML. It will be shown as text.

What a reader sees is kept (text, line breaks at blocks, list items, a link's address when
it differs from its text); what runs or styles is dropped with its content (``script``,
``style``, ``template``, ``head``...). Entities are decoded once. The stdlib's tolerant
``html.parser`` reads any tag soup; the output stops at ``max_chars`` and the input is read
only as far as needed for that, so a huge HTML body costs no more than its useful part.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements dropped with everything inside them.
_DROPPED = frozenset(
    [
        "script",
        "style",
        "template",
        "head",
        "title",
        "noscript",
        "svg",
        "math",
        "object",
        "iframe",
        "frameset",
        "select",
        "textarea",
        "button",
    ]
)
#: Elements that start and end a line.
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "form",
        "fieldset",
        "address",
        "figure",
        "figcaption",
        "center",
    ]
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_CHUNK = 65536


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.length = 0
        self._dropped: list[str] = []  # open dropped elements (content skipped)
        self._pre = 0
        self._links: list[tuple[str, int]] = []  # (href, output length at <a>)

    # -- output ------------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.length += len(text)

    def _newline(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self._emit("\n")

    # -- parser events -----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropped:
            if tag == "body":  # an unclosed <head> ends where the body starts
                self._dropped.clear()
            elif tag in _DROPPED:
                self._dropped.append(tag)
            return
        if tag in _DROPPED:
            self._dropped.append(tag)
        elif tag == "br":
            self._emit("\n")
        elif tag in _BLOCKS:
            self._newline()
            if tag == "pre":
                self._pre += 1
            if tag == "hr":
                self._emit("----\n")
        elif tag == "li":
            self._newline()
            self._emit("- ")
        elif tag in _CELLS:
            self._emit(" ")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._links.append((href.strip(), self.length))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._emit(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID or tag in _DROPPED:
            if not self._dropped and tag not in _DROPPED:
                self.handle_starttag(tag, attrs)
            return
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._dropped:
            if tag in self._dropped:
                while self._dropped and self._dropped.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            if tag == "pre" and self._pre:
                self._pre -= 1
            self._newline()
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            shown = "".join(self.out)[start:] if self.length - start < 2000 else ""
            if href.lower().startswith(_LINK_SCHEMES) and href not in shown:
                self._emit(f" <{href}>")

    def handle_data(self, data: str) -> None:
        if self._dropped:
            return
        if not self._pre:
            data = _SPACES.sub(" ", data)
            if self.out and self.out[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if data:
            self._emit(data)


def html_to_text(html: str, max_chars: int) -> tuple[str, bool]:
    """The text a reader of ``html`` sees, and whether it was cut at ``max_chars``."""
    parser = _TextExtractor()
    for start in range(0, len(html), _CHUNK):
        parser.feed(html[start : start + _CHUNK])
        if parser.length > max_chars:
            break
    else:
        parser.close()
    text = "".join(parser.out)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > max_chars:
        return text[:max_chars], True
    return text, False
