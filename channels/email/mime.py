"""The stdlib's MIME parser (``policy.default``), held to the limits while it reads.

The stdlib parser reads every part of every part: 10,000 parts cost it seconds, and a few
thousand nested multiparts end in ``RecursionError``. ``_BoundedParser`` is its feed parser
with three checks at the two points where it starts a part and reads a part's header:

* past ``max_parts`` parts, reading stops (what was read so far is kept);
* a multipart or message part nested deeper than ``max_depth`` is not opened: it becomes one
  opaque part, dropped, while its siblings are read as usual;
* header bytes count against ``max_header_bytes``: the top header section over it refuses
  the message (``MailRefused``), a part's header over the budget stops reading.

Those two points (``_new_message``, ``_parse_headers``, ``_msgstack``, ``_cur``) are the
feed parser's internals, unchanged since Python 3.3; the tests pin the behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from typing import Any

from channels.email.limits import MailLimits, MailRefused, Refusal

_FEED_CHUNK = 64 * 1024
_OPAQUE_TYPE = "application/octet-stream"
_CONTAINERS = ("multipart", "message")


class _ReadOncePolicy(EmailPolicy):
    """``policy.default`` that parses each header value once per message.

    The stdlib parses a header again at every ``get`` (its feed parser alone asks a part's
    Content-Type several times), which made up most of the time spent on a typical message;
    header objects are immutable, so one parse per distinct (name, value) serves them all.
    One instance per message: the memo lives and dies with it."""

    _memo: dict[tuple[str, str], Any]

    def __init__(self, **kw: Any) -> None:
        super().__init__(header_factory=policy.default.header_factory, **kw)
        object.__setattr__(self, "_memo", {})

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        key = (name, value)
        header = self._memo.get(key)
        if header is None:
            header = super().header_fetch_parse(name, value)
            self._memo[key] = header
        return header


class _StopReading(Exception):
    """Raised inside the parser to end the parse where it stands."""


@dataclass
class ParsedTree:
    root: EmailMessage
    refused: list[Refusal] = field(default_factory=list)
    #: parts not to read: too deep to open, or cut short when reading stopped (by id())
    skipped: set[int] = field(default_factory=set)


class _BoundedParser(BytesFeedParser):
    # the feed parser's internals these checks read (typeshed leaves them out)
    _cur: Message | None
    _msgstack: list[Message]

    def __init__(self, limits: MailLimits, tree: ParsedTree) -> None:
        super().__init__(policy=_ReadOncePolicy())
        self._limits = limits
        self._tree = tree
        self._parts = 0
        self._header_bytes = 0
        self.root: Message | None = None

    def _new_message(self) -> None:
        self._parts += 1
        if self._parts > self._limits.max_parts:
            self._tree.refused.append(
                Refusal(
                    f"parts after the {self._limits.max_parts}th",
                    f"more than {self._limits.max_parts} MIME parts: the rest was not read",
                )
            )
            raise _StopReading
        super()._new_message()  # type: ignore[misc]
        if self.root is None:
            self.root = self._cur

    def _parse_headers(self, lines: list[str]) -> None:
        size = sum(map(len, lines))
        self._header_bytes += size
        if self._header_bytes > self._limits.max_header_bytes:
            if len(self._msgstack) == 1:
                raise MailRefused(
                    f"header section of {size} bytes is over the limit of "
                    f"{self._limits.max_header_bytes}"
                )
            self._tree.skipped.add(id(self._cur))
            self._tree.refused.append(
                Refusal(
                    f"part {self._parts} and after",
                    f"header sections over {self._limits.max_header_bytes} bytes in all: "
                    "the rest was not read",
                )
            )
            raise _StopReading
        super()._parse_headers(lines)  # type: ignore[misc]
        depth = len(self._msgstack) - 1
        part = self._cur
        assert part is not None
        if depth > self._limits.max_depth and part.get_content_maintype() in _CONTAINERS:
            self._tree.refused.append(
                Refusal(
                    f"part {self._parts} ({part.get_content_type()})",
                    f"nested {depth} deep, over the limit of {self._limits.max_depth}: not opened",
                )
            )
            del part["content-type"]
            part["Content-Type"] = _OPAQUE_TYPE
            self._tree.skipped.add(id(part))


def parse_tree(raw: bytes, limits: MailLimits) -> ParsedTree:
    """The message's MIME tree as far as the limits allow. Raises ``MailRefused`` for a
    message over ``max_message_bytes`` or with a top header section over its limit."""
    if len(raw) > limits.max_message_bytes:
        raise MailRefused(
            f"message of {len(raw)} bytes is over the limit of {limits.max_message_bytes}"
        )
    tree = ParsedTree(root=EmailMessage(policy.default))
    parser = _BoundedParser(limits, tree)
    try:
        for start in range(0, len(raw), _FEED_CHUNK):
            parser.feed(raw[start : start + _FEED_CHUNK])
        root = parser.close()
    except _StopReading:
        assert parser.root is not None  # the top part is made before anything can stop
        root = parser.root
        # the part being read when reading stopped has no body yet
        if parser._cur is not None and parser._cur is not root:
            tree.skipped.add(id(parser._cur))
    except RecursionError:  # cannot happen within max_depth; kept as a refusal, not a crash
        raise MailRefused("MIME structure nested too deeply to read") from None
    assert isinstance(root, EmailMessage)
    tree.root = root
    return tree
