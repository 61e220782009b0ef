"""What a reader gets from a message's MIME tree: the text body and the attachments.

The body is the text/plain a sender wrote, preferred over its HTML alternative; HTML alone
is turned into text (``html_text``). Inline text parts of a multipart/mixed are joined in
order. Everything else is an attachment: kept as its bytes (never opened: a zip bomb is just
bytes under the cap), its filename made safe to show and to store, within the caps on count
and size. A part that cannot be read is left out and noted, never raised.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from channels.email.charsets import decode_text, repair
from channels.email.html_text import html_to_text
from channels.email.limits import MailLimits, Refusal
from channels.email.mime import ParsedTree

_MAX_FILENAME_CHARS = 120
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$")
_TOKEN = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,100}")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NEWLINES = re.compile(r"\r\n?")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{4,}")
_FORWARDED_NAME = "forwarded-message.eml"
_DEFAULT_TYPE = "application/octet-stream"
_BASE64_SLACK = 3  # padding: the estimate errs on the small side


@dataclass(frozen=True)
class Attachment:
    filename: str  # safe to show and to use as a file's name
    content_type: str  # lower-case type/subtype
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class Content:
    body: str = ""
    body_from_html: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """A name to show and to store: no path, no control or bidi-override characters (the
    ``invoice\\u202efdp.exe`` trick), no device names, an extension kept, at most 120
    characters; ``attachment-N.ext`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", repair(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cf", "Cc", "Cs"))
    name = _FILENAME_FORBIDDEN.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = f"_{name}"
    if not name:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
        return f"attachment-{index}{extension}"
    if len(name) > _MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10 and stem:
            name = f"{stem[: _MAX_FILENAME_CHARS - len(extension) - 1]}.{extension}"
        else:
            name = name[:_MAX_FILENAME_CHARS]
    return name


def clean_body_text(text: str) -> str:
    """Line breaks as ``\\n``, no control characters but tab, no trailing spaces."""
    text = _NEWLINES.sub("\n", repair(text))
    text = _CONTROLS.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n\n", text).strip()


class _Reader:
    def __init__(self, tree: ParsedTree, limits: MailLimits) -> None:
        self._tree = tree
        self._limits = limits
        self.content = Content(refused=tree.refused)
        self._texts: list[str] = []
        self._part_no = 0
        self._body_cut = False

    def read(self) -> Content:
        stack: list[Message] = [self._tree.root]
        while stack:
            part = stack.pop()
            self._part_no += 1
            if id(part) in self._tree.skipped:
                continue
            try:
                children = self._children(part)
                if children is None:
                    self._leaf(part)
                else:
                    stack.extend(reversed(children))
            except Exception as exc:  # noqa: BLE001 -- a stranger's part: noted, not raised
                self._refuse(f"part {self._part_no}", f"unreadable ({type(exc).__name__})")
        self._finish_body()
        return self.content

    def _children(self, part: Message) -> list[Message] | None:
        """The parts to read inside ``part``, or None for a leaf (a message/* is a leaf: a
        forwarded message is kept whole, as an attachment)."""
        if part.get_content_maintype() != "multipart" or not part.is_multipart():
            return None
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if part.get_content_subtype() != "alternative" or not children:
            return children
        for wanted in ("text/plain", "multipart", "text/html"):
            for child in children:
                kind = child.get_content_type()
                matches = kind == wanted or child.get_content_maintype() == wanted
                readable = id(child) not in self._tree.skipped
                if matches and readable and not self._is_attachment(child):
                    return [child]
        return children[-1:]  # RFC 2046: the last alternative is the richest

    @staticmethod
    def _is_attachment(part: Message) -> bool:
        return part.get_content_disposition() == "attachment" or part.get_filename() is not None

    def _leaf(self, part: Message) -> None:
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html") and not self._is_attachment(part):
            self._body_part(part, html=kind == "text/html")
        else:
            self._attachment(part, kind)

    def _body_part(self, part: Message, *, html: bool) -> None:
        if self._body_cut:
            return
        cap = self._limits.max_html_chars if html else self._limits.max_body_chars
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return
        text = decode_text(data[: cap * 4], part.get_content_charset())  # ≤ 4 bytes a char
        if html:
            if len(text) > self._limits.max_html_chars:
                text = text[: self._limits.max_html_chars]
            text, cut = html_to_text(text, self._limits.max_body_chars)
            self._body_cut |= cut
            self.content.body_from_html = True
        self._texts.append(clean_body_text(text))

    def _attachment(self, part: Message, kind: str) -> None:
        index = len(self.content.attachments) + 1
        name: str | None
        if part.get_content_maintype() == "message":
            name = part.get_filename() or _FORWARDED_NAME
            data = _whole_message(part)
        else:
            name = part.get_filename()
            data = self._decoded_within_cap(part, name)
        filename = safe_filename(name, kind, index)
        if data is None:
            return
        if len(data) > self._limits.max_attachment_bytes:
            self._refuse(
                f"attachment {filename!r}",
                f"{len(data)} bytes, over the limit of {self._limits.max_attachment_bytes}",
            )
            return
        if index > self._limits.max_attachments:
            self._refuse(
                f"attachment {filename!r}",
                f"more than {self._limits.max_attachments} attachments",
            )
            return
        content_type = kind if _TOKEN.fullmatch(kind) else _DEFAULT_TYPE
        self.content.attachments.append(Attachment(filename, content_type, data))

    def _decoded_within_cap(self, part: Message, name: str | None) -> bytes | None:
        """The part's bytes, or None (noted) when its encoded size already says too large,
        so an oversized attachment is never decoded."""
        encoded = part.get_payload()
        if isinstance(encoded, str):
            estimate = len(encoded)
            if part.get("content-transfer-encoding", "").strip().lower() == "base64":
                line_breaks = encoded.count("\n") + encoded.count("\r")
                estimate = (len(encoded) - line_breaks) * 3 // 4 - _BASE64_SLACK
            if estimate > self._limits.max_attachment_bytes:
                shown = safe_filename(name, part.get_content_type(), 0)
                self._refuse(
                    f"attachment {shown!r}",
                    f"about {estimate} bytes, over the limit of "
                    f"{self._limits.max_attachment_bytes}",
                )
                return None
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""

    def _finish_body(self) -> None:
        body = "\n\n".join(text for text in self._texts if text)
        cap = self._limits.max_body_chars
        if len(body) > cap or self._body_cut:
            body = body[:cap]
            self._refuse("body", f"cut at {cap} characters")
        self.content.body = body

    def _refuse(self, what: str, reason: str) -> None:
        self.content.refused.append(Refusal(what, reason))


def _whole_message(part: Message) -> bytes | None:
    """A message/* part's bytes as the sender sent them (as well as the parser kept them)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, EmailMessage | Message):
        return inner.as_bytes()
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogateescape")
    return None


def read_content(tree: ParsedTree, limits: MailLimits) -> Content:
    """The body and attachments of a parsed message (see the module's doc)."""
    return _Reader(tree, limits).read()
