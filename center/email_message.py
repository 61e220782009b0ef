"""An inbound e-mail as the history keeps it, and the customer's address read back from it.
Pure: no I/O.

The parser's ``InboundEmail`` is within the SMTP limits; the store has caps of its own
(``MessageLimits``: the body, files per message, bytes per file and per message) and column
sizes (an id of 255 characters, header text of 32 KiB). ``stored_email`` fits the message to
them and says what it left out: the parser's refusals and its own are written under the
customer's text, so the agent sees that a file did not come through. Nothing here refuses a
message except one with no address to answer (``MailRefused``: 554, the sender's system
tells them).

The id a message is kept and deduplicated by is its Message-ID; a longer one than the store
holds is kept as its digest (it can still deduplicate, not thread), and a message without one
is kept by the digest of its bytes, so a sender's retry is still recognised. Both live under
``SYNTHETIC_DOMAIN`` and are never written into a reply's References.

The address replies go to (Reply-To, else From, else the envelope's sender) is kept in the
message's author name, as mail clients show it (``Nadia Haddad <nadia@example.com>``): the
outlet reads it back with ``address_of``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from channels.email.limits import MailRefused
from channels.email.message import InboundEmail
from channels.email.threading import thread_keys
from history.attachments import AttachmentData, normalise_content_type
from history.conversations import MessageLimits
from history.errors import InvalidIdentity
from history.identities import normalise_email

__all__ = [
    "NOTES_HEADING",
    "SYNTHETIC_DOMAIN",
    "StoredEmail",
    "address_of",
    "is_synthetic",
    "stored_email",
    "stored_id",
]

#: The domain of ids this service makes for messages it cannot key by their own Message-ID.
SYNTHETIC_DOMAIN = "id.hotline.invalid"
#: The line above what was left out of a message (written under the customer's text).
NOTES_HEADING = "[Left out of this e-mail by hotline]"
#: Columns of the messages table (history.inputs): external id, header text, author name.
MAX_ID_CHARS = 255
MAX_HEADER_CHARS = 32_768
MAX_AUTHOR_CHARS = 200
MAX_SUBJECT_CHARS = 1000
_MAX_NOTES = 20
_OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True)
class StoredEmail:
    sender: str  # the address a reply goes to, as written (its domain in lower case)
    identity: str  # the same address as the customer's identity (normalised)
    external_id: str  # the Message-ID, or a synthetic id (see the module's doc)
    thread_keys: tuple[str, ...]  # stored ids that can place it: its own first
    author_name: str
    subject: str | None
    body: str  # the customer's text, then the notes
    in_reply_to: str | None
    references: str | None
    attachments: tuple[AttachmentData, ...]
    automatic: bool  # an auto-reply, bounce or list mail, or one from our own address
    notes: tuple[str, ...]  # what was left out, and why

    @property
    def open_key(self) -> str:
        """The idempotency key of the conversation this message opens (per sender: a forged
        Message-ID cannot name another customer's)."""
        digest = hashlib.sha256(f"{self.identity}\n{self.external_id}".encode()).hexdigest()
        return f"email-{digest[:48]}"


def stored_id(message_id: str) -> str:
    """The id a canonical Message-ID is kept under: itself, or its digest when too long."""
    if len(message_id) <= MAX_ID_CHARS:
        return message_id
    return _synthetic("sha256", message_id.encode())


def is_synthetic(external_id: str) -> bool:
    return external_id.endswith(f"@{SYNTHETIC_DOMAIN}>")


def _synthetic(kind: str, data: bytes) -> str:
    return f"<{kind}.{hashlib.sha256(data).hexdigest()}@{SYNTHETIC_DOMAIN}>"


def author_label(name: str, address: str) -> str:
    """``Name <address>`` within the column (the name shortened), or the address alone."""
    name = " ".join(name.replace("<", " ").replace(">", " ").split())
    if not name:
        return address[:MAX_AUTHOR_CHARS]
    room = MAX_AUTHOR_CHARS - len(address) - 3
    return f"{name[:room].rstrip()} <{address}>" if room > 0 else address[:MAX_AUTHOR_CHARS]


def address_of(label: str | None) -> str | None:
    """The address in an author name ``author_label`` wrote, or None."""
    if not label:
        return None
    label = label.strip()
    if label.endswith(">") and "<" in label:
        label = label[label.rindex("<") + 1 : -1]
    try:
        normalise_email(label)
    except InvalidIdentity:
        return None
    return label


def stored_email(
    email: InboundEmail,
    raw: bytes,
    limits: MessageLimits,
    *,
    own_addresses: frozenset[str] = frozenset(),
) -> StoredEmail:
    """``email`` as the store keeps it (see the module's doc)."""
    sender, identity = _sender(email)
    own = email.message_id
    external_id = stored_id(own) if own is not None else _synthetic("message", raw)
    keys = [external_id, *(stored_id(k) for k in thread_keys(email) if k != own)]
    notes = [str(refusal) for refusal in email.refused]
    attachments = _fit_attachments(email, limits, notes)
    body = _body_with_notes(email.body, notes, limits.max_body_chars)  # may add a note
    return StoredEmail(
        sender=sender,
        identity=identity,
        external_id=external_id,
        thread_keys=tuple(dict.fromkeys(keys)),
        author_name=author_label(email.from_name, sender),
        subject=email.subject[:MAX_SUBJECT_CHARS] or None,
        body=body,
        in_reply_to=_id_list(email.in_reply_to),
        references=_id_list(email.references),
        attachments=tuple(attachments),
        automatic=email.automatic or identity in own_addresses,
        notes=tuple(notes),
    )


def _sender(email: InboundEmail) -> tuple[str, str]:
    envelope = "" if email.envelope is None else email.envelope.mail_from
    for candidate in (email.reply_address, email.from_address, envelope):
        if not candidate:
            continue
        try:
            return candidate, normalise_email(candidate)
        except InvalidIdentity:
            continue
    raise MailRefused("no sender address a reply could go to")


def _id_list(ids: Sequence[str]) -> str | None:
    """Ids space-separated, the newest kept when they do not all fit the column."""
    kept: list[str] = []
    size = 0
    for value in reversed(ids):
        size += len(value) + 1
        if size > MAX_HEADER_CHARS + 1:
            break
        kept.append(value)
    return " ".join(reversed(kept)) or None


def _fit_attachments(
    email: InboundEmail, limits: MessageLimits, notes: list[str]
) -> list[AttachmentData]:
    """The attachments within the store's caps, in order; the others noted."""
    kept: list[AttachmentData] = []
    total = 0
    for attachment in email.attachments:
        size, name = attachment.size, attachment.filename
        if len(kept) >= limits.max_attachments_per_message:
            notes.append(f"attachment {name!r}: over {limits.max_attachments_per_message} files")
        elif size > limits.max_attachment_bytes:
            notes.append(
                f"attachment {name!r}: {size} bytes, over the limit of "
                f"{limits.max_attachment_bytes} a file"
            )
        elif total + size > limits.max_message_attachment_bytes:
            notes.append(
                f"attachment {name!r}: the message's files would be over "
                f"{limits.max_message_attachment_bytes} bytes"
            )
        else:
            total += size
            kept.append(
                AttachmentData(name, _content_type(attachment.content_type), attachment.data)
            )
    return kept


def _content_type(value: str) -> str:
    try:
        return normalise_content_type(value)
    except ValueError:
        return _OCTET_STREAM


def _notes_text(notes: Iterable[str]) -> str:
    listed = list(notes)
    shown = [f"- {note}" for note in listed[:_MAX_NOTES]]
    if len(listed) > _MAX_NOTES:
        shown.append(f"- and {len(listed) - _MAX_NOTES} more")
    return "\n".join([NOTES_HEADING, *shown])


def _body_with_notes(body: str, notes: list[str], max_chars: int) -> str:
    """The customer's text and, under it, what was left out, within ``max_chars`` (the
    notes take at most half of it)."""
    if not notes and len(body) <= max_chars:
        return body
    block = _notes_text(notes)[: max_chars // 2]
    room = max_chars - len(block) - 2
    if len(body) > room:
        notes.append(f"body: cut to fit {max_chars} characters (it had {len(body)})")
        block = _notes_text(notes)[: max_chars // 2]
        body = body[: max(max_chars - len(block) - 2, 0)]
    return f"{body}\n\n{block}" if body else block
