"""Raw RFC 5322 bytes from a stranger → a frozen ``InboundEmail``. Pure: no I/O, no clock.

The stdlib ``email`` package (``policy.default``) reads the message, held to ``MailLimits``
(``mime``); the text body and attachments come out of ``content``. Header values are read
from their raw form with a cap on each before the stdlib's header parser sees them (it is
slow on long values and recursive on nested comments), and any header that still cannot be
read is left empty and noted. Every string handed out is valid Unicode with no control
characters where none belong: odd charsets, 8-bit headers and broken encodings decode with
replacement characters. ``parse_email`` raises ``MailRefused`` only for a message that
cannot be accepted at all: over ``max_message_bytes``, or a top header section over
``max_header_bytes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from channels.email import headers as h
from channels.email.charsets import decode_text, repair
from channels.email.content import Attachment, read_content
from channels.email.limits import MailLimits, MailRefused, Refusal
from channels.email.message_ids import parse_message_ids
from channels.email.mime import parse_tree

__all__ = [
    "Address",
    "Attachment",
    "InboundEmail",
    "MailLimits",
    "MailRefused",
    "Refusal",
    "SmtpEnvelope",
    "parse_email",
]

#: Raw characters of a header value read at most (more is cut before parsing).
_SUBJECT_CAP = 4096
_SINGLE_ADDRESS_CAP = 2048
_ADDRESS_LIST_CAP = 16384
_DATE_CAP = 256
_ID_CAP = 4096
_MAX_IN_REPLY_TO = 8
_MAX_SUBJECT_CHARS = 998
_MAX_NAME_CHARS = 200
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_HEADER_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_MIN_YEAR, _MAX_YEAR = 1980, 2200


@dataclass(frozen=True)
class Address:
    address: str  # addr-spec, the domain in lower case
    name: str = ""


@dataclass(frozen=True)
class SmtpEnvelope:
    """How the message arrived, when it came by SMTP (the envelope is not in the bytes)."""

    peer: str  # the client's IP address
    helo: str  # the name it gave in HELO/EHLO (its claim, unchecked)
    mail_from: str  # the reverse path ("" for a bounce)
    recipients: tuple[str, ...]  # the accepted RCPT TO addresses (Bcc included)


@dataclass(frozen=True)
class InboundEmail:
    message_id: str | None  # canonical <local@domain> (message_ids), None when absent
    in_reply_to: tuple[str, ...]  # canonical ids (one, nearly always)
    references: tuple[str, ...]  # canonical ids, oldest first as in the header
    from_address: str  # "" when the From header is absent or unreadable
    from_name: str
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    body: str  # plain text, to be shown as text
    body_from_html: bool  # the body is the text of an HTML-only message
    attachments: tuple[Attachment, ...]
    sent_at: datetime | None  # the Date header, aware; None when absent or implausible
    received_at: datetime
    automatic: bool  # an auto-reply, bounce, list or bulk mail (RFC 3834 and conventions)
    size: int  # bytes as received
    refused: tuple[Refusal, ...]  # what was left out, and why
    envelope: SmtpEnvelope | None = None

    @property
    def reply_address(self) -> str:
        """Where a reply goes: the first Reply-To, else From ("" when neither is usable)."""
        return self.reply_to[0].address if self.reply_to else self.from_address


def parse_email(
    raw: bytes,
    limits: MailLimits,
    received_at: datetime,
    envelope: SmtpEnvelope | None = None,
) -> InboundEmail:
    """Read ``raw`` (see the module's doc). Raises ``MailRefused`` only for a message that
    cannot be accepted at all."""
    tree = parse_tree(raw, limits)
    headers = _Headers(tree.root, tree.refused)
    content = read_content(tree, limits)
    sender = headers.addresses(h.FROM, _SINGLE_ADDRESS_CAP, 1)
    reply_to = headers.addresses(h.REPLY_TO, _ADDRESS_LIST_CAP, limits.max_addresses)
    to = headers.addresses(h.TO, _ADDRESS_LIST_CAP, limits.max_addresses)
    cc = headers.addresses(h.CC, _ADDRESS_LIST_CAP, limits.max_addresses)
    message_ids = parse_message_ids(headers.raw(h.MESSAGE_ID, _ID_CAP), 1)
    references = headers.raw(h.REFERENCES, limits.max_header_bytes)
    return InboundEmail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=parse_message_ids(headers.raw(h.IN_REPLY_TO, _ID_CAP), _MAX_IN_REPLY_TO),
        references=parse_message_ids(references, limits.max_references),
        from_address=sender[0].address if sender else "",
        from_name=sender[0].name if sender else "",
        reply_to=reply_to,
        to=to,
        cc=cc,
        subject=headers.text(h.SUBJECT, _SUBJECT_CAP, _MAX_SUBJECT_CHARS),
        body=content.body,
        body_from_html=content.body_from_html,
        attachments=tuple(content.attachments),
        sent_at=headers.date(),
        received_at=received_at,
        automatic=_is_automatic(headers, envelope),
        size=len(raw),
        refused=tuple(tree.refused),  # the parser's, the content's and the headers' notes
        envelope=envelope,
    )


class _Headers:
    """The top header section, read value by value with caps, never raising."""

    def __init__(self, message: Message, refused: list[Refusal]) -> None:
        self._raw: dict[str, str] = {}
        for name, value in message.raw_items():
            self._raw.setdefault(name.lower(), value)  # the first of repeated fields
        self._refused = refused

    def present(self, name: str) -> bool:
        return name.lower() in self._raw

    def raw(self, name: str, cap: int) -> str:
        """The unfolded raw value, cut at ``cap`` characters ("" when absent)."""
        value = self._raw.get(name.lower(), "")
        return _FOLD.sub("", value[: cap + 256])[:cap]

    def text(self, name: str, cap: int, max_chars: int) -> str:
        """An unstructured value (Subject) with its RFC 2047 encoded words decoded."""
        value = self.raw(name, cap)
        if not value:
            return ""
        try:
            text = str(policy.default.header_factory(name, value))
        except Exception:  # noqa: BLE001 -- the stdlib's header parser on a stranger's value
            text = _decode_words(value)
        return _one_line(text)[:max_chars]

    def addresses(self, name: str, cap: int, keep: int) -> tuple[Address, ...]:
        value = self.raw(name, cap)
        if not value.strip():
            return ()
        if len(value) == cap and "," in value:
            value = value[: value.rindex(",")]  # cut between addresses, not inside one
        pairs: list[tuple[str, str]]
        try:
            header = policy.default.header_factory(name, value)
            pairs = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
        except Exception:  # noqa: BLE001 -- as above; the older parser may still read it
            try:
                pairs = [(_decode_words(n), a) for n, a in getaddresses([value])]
            except Exception as exc:  # noqa: BLE001 -- unreadable: noted, left empty
                self._refused.append(
                    Refusal(f"header {name}", f"unreadable ({type(exc).__name__})")
                )
                return ()
        found: list[Address] = []
        for display, spec in pairs:
            address = _clean_address(spec)
            if address and len(found) < keep:
                found.append(Address(address, _one_line(display)[:_MAX_NAME_CHARS]))
        if len(pairs) > keep:
            self._refused.append(Refusal(f"header {name}", f"only the first {keep} addresses kept"))
        return tuple(found)

    def date(self) -> datetime | None:
        value = self.raw(h.DATE, _DATE_CAP)
        if not value:
            return None
        try:
            sent = parsedate_to_datetime(value)
        except (ValueError, TypeError, IndexError, OverflowError):
            return None
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        return sent if _MIN_YEAR <= sent.year <= _MAX_YEAR else None


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded by hand: for values the header parser refused."""
    parts = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, bytes):
            parts.append(decode_text(chunk, charset))
        else:
            parts.append(chunk)
    return "".join(parts)


def _one_line(text: str) -> str:
    return " ".join(_HEADER_CONTROLS.sub(" ", repair(text)).split())


def _clean_address(spec: str) -> str:
    spec = _one_line(spec)
    if not spec or " " in spec or len(spec) > 320:
        return ""
    local, at, domain = spec.rpartition("@")
    if not at or not local or not domain:
        return ""
    return f"{local}@{domain.lower()}"


def _is_automatic(headers: _Headers, envelope: SmtpEnvelope | None) -> bool:
    auto = headers.raw(h.AUTO_SUBMITTED, 64).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if headers.raw(h.PRECEDENCE, 64).strip().lower() in h.AUTOMATIC_PRECEDENCE:
        return True
    if headers.present(h.LIST_ID) or any(headers.present(m) for m in h.AUTO_REPLY_MARKERS):
        return True
    return envelope is not None and envelope.mail_from == ""
