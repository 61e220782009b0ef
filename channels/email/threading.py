"""Which conversation a message belongs to, and the headers that keep a reply in it.

Inbound, a message's thread keys are its own Message-ID (a message seen before, such as a
sender's retry, is in the conversation it was put in), then In-Reply-To, then References
from the newest to the oldest: the first key the store knows names the conversation.
Subjects are not compared (two customers both write "Invoice"), so a reply whose client
dropped all three headers starts a new conversation.

``find_thread`` takes an async batch lookup: the store is asyncio (the history's SQLAlchemy)
and answers every key in one query (``WHERE message_id IN (...)``) instead of one query per
key; a sync ``dict`` is wrapped in one line (``mapping_lookup``). It is generic over the
conversation id's type.

Outbound, a reply carries In-Reply-To (the newest message of the conversation) and
References (the conversation's ids, oldest first, shortened as RFC 5322 §3.6.4 allows by
keeping the first and the newest), and a Message-ID of ours, made unique with the
configured domain, so the customer's answer threads back by the same keys.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from channels.email import headers as h
from channels.email.message import InboundEmail
from channels.email.message_ids import normalize_message_id

C = TypeVar("C")
#: The store's answer for a batch of canonical ids: the ids it knows → their conversation.
ThreadLookup = Callable[[Sequence[str]], Awaitable[Mapping[str, C]]]
#: References kept in a reply: the first (the thread's root) and the newest ones.
MAX_REPLY_REFERENCES = 20
_DOMAIN_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def thread_keys(email: InboundEmail) -> tuple[str, ...]:
    """The ids that can place ``email`` in a conversation, most telling first: its own
    Message-ID, In-Reply-To, then References newest first; each once."""
    ordered: dict[str, None] = {}
    if email.message_id is not None:
        ordered[email.message_id] = None
    for key in (*email.in_reply_to, *reversed(email.references)):
        ordered.setdefault(key, None)
    return tuple(ordered)


async def find_thread(email: InboundEmail, lookup: ThreadLookup[C]) -> C | None:
    """The conversation ``email`` belongs to, or None when it starts a new one."""
    keys = thread_keys(email)
    if not keys:
        return None
    known = await lookup(keys)
    for key in keys:
        if key in known:
            return known[key]
    return None


def mapping_lookup(known: Mapping[str, C]) -> ThreadLookup[C]:
    """A ``ThreadLookup`` over ids already in memory (canonical ids as keys)."""

    async def lookup(ids: Sequence[str]) -> Mapping[str, C]:
        return {key: known[key] for key in ids if key in known}

    return lookup


@dataclass(frozen=True)
class ReplyHeaders:
    in_reply_to: str | None
    references: str | None

    def as_dict(self) -> dict[str, str]:
        """The header fields to set (none for a message that starts a conversation)."""
        fields = {h.IN_REPLY_TO: self.in_reply_to, h.REFERENCES: self.references}
        return {name: value for name, value in fields.items() if value}


def reply_headers(conversation_message_ids: Sequence[str]) -> ReplyHeaders:
    """In-Reply-To and References for a reply into a conversation whose messages have
    these ids, oldest first (ids that are not ids are skipped)."""
    ordered: dict[str, None] = {}
    for value in conversation_message_ids:
        canonical = normalize_message_id(value)
        if canonical is not None:
            ordered.pop(canonical, None)  # a repeat counts where it last appears
            ordered[canonical] = None
    ids = tuple(ordered)
    if not ids:
        return ReplyHeaders(None, None)
    if len(ids) > MAX_REPLY_REFERENCES:
        ids = (ids[0], *ids[-(MAX_REPLY_REFERENCES - 1) :])
    return ReplyHeaders(in_reply_to=ids[-1], references=" ".join(ids))


def validate_domain(domain: str) -> str:
    """The domain for our Message-IDs, lower case; ValueError for one that is not a DNS name
    (an IDN is given in its ASCII form)."""
    domain = domain.strip().lower().rstrip(".")
    labels = domain.split(".")
    if (
        not domain
        or len(domain) > 253
        or not set(domain) <= _DOMAIN_LABEL
        or any(not label or len(label) > 63 or label.startswith("-") for label in labels)
    ):
        raise ValueError(f"{domain!r} is not a domain name for Message-IDs")
    return domain


def new_message_id(domain: str, *, now: float | None = None) -> str:
    """A fresh ``<time.random@domain>`` id: 128 random bits, so unique without a counter."""
    stamp = int((time.time() if now is None else now) * 1000)
    return f"<{stamp:x}.{secrets.token_hex(16)}@{validate_domain(domain)}>"
