"""Message ids as they are compared: one canonical spelling of an RFC 5322 msg-id.

``<Local@Example.COM>``, ``local@example.com`` and `` <local@example.com> `` are one id:
``<local@example.com>`` (angle brackets on, the domain in lower case; the local part is
kept as written, since it is case-sensitive and generators use mixed case on purpose).
"""

from __future__ import annotations

import re

#: A msg-id's longest useful spelling (RFC 5322 lines are 998 characters).
MAX_ID_CHARS = 995
_BRACKETED = re.compile(r"<([^<>]*)>")
_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>]")


def normalize_message_id(value: str) -> str | None:
    """The canonical ``<local@domain>`` of one id, or None when ``value`` is not one."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    if not value or len(value) > MAX_ID_CHARS or _FORBIDDEN.search(value):
        return None
    local, at, domain = value.rpartition("@")
    if at:
        if not local or not domain:
            return None
        value = f"{local}@{domain.lower()}"
    return f"<{value}>"


def parse_message_ids(value: str, keep_last: int) -> tuple[str, ...]:
    """The ids in a Message-ID, In-Reply-To or References value, in order, canonical, each
    once; the last ``keep_last`` when there are more (References lists the newest last).
    Words outside angle brackets are ids only when there are no brackets at all (old
    mailers), and then only words with an ``@``."""
    tokens = _BRACKETED.findall(value)
    if not tokens:
        tokens = [word for word in value.split() if "@" in word]
    seen: dict[str, None] = {}
    for token in tokens:
        canonical = normalize_message_id(token)
        if canonical is not None:
            seen.pop(canonical, None)  # a repeat counts where it last appears
            seen[canonical] = None
    ids = tuple(seen)
    return ids[-keep_last:] if len(ids) > keep_last else ids
