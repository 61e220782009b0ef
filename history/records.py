"""What the store hands back: frozen records, never ORM objects (they outlive the session).

Plain frozen dataclasses: the data already passed the input models and the schema, so
building them costs no validation (a timeline page is 50 of them). ``to_json`` turns any
record into JSON values (ISO 8601 times, enum values).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, Delivery, Direction, Status


def to_json(value: Any) -> Any:
    """A record (or a structure of them) as JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    kind: IdentityKind
    value: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: int
    name: str | None
    tier: str | None
    language: str | None
    tags: tuple[str, ...]
    consent: dict[str, bool]
    custom_fields: dict[str, Any]
    identities: tuple[Identity, ...]
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Interaction:
    id: int
    customer_id: int | None
    channel: Channel
    direction: Direction
    started_at: datetime
    ended_at: datetime | None
    intent: str | None
    call_type: str | None
    priority: int | None
    queue: str | None
    agent: str | None
    wait_s: float | None
    talk_s: float | None
    hold_s: float | None = None
    wrap_s: float | None = None
    outcome: str | None
    status: Status
    disposition: str | None
    recording_ref: str | None
    transcript: str | None
    csat: int | None
    source: str
    external_id: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    id: int
    customer_id: int | None
    interaction_id: int | None
    author: str
    body: str
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A message's file: its bytes are in the attachment store under ``storage_ref``."""

    id: int
    message_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_ref: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message of a conversation; ``conversation_id`` is its interaction's id."""

    id: int
    conversation_id: int
    channel: Channel
    direction: Direction
    author_kind: AuthorKind
    author_id: str | None
    author_name: str | None
    subject: str | None
    body: str
    sent_at: datetime
    delivery: Delivery
    delivery_at: datetime
    external_id: str | None
    in_reply_to: str | None
    references: str | None
    attachments: tuple[Attachment, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationSummary:
    """What a timeline shows of a conversation: how many messages, and the last one."""

    message_count: int
    last_message: Message | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    interaction: Interaction
    notes: tuple[Note, ...]
    #: Only for an interaction on a messaging channel (chat, e-mail, WhatsApp, SMS).
    conversation: ConversationSummary | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """``open_conversation``'s answer: ``created`` is False when an open conversation was
    continued, or a retry found the one its first attempt opened."""

    conversation: Interaction
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Appended:
    """``append_message``'s answer: ``created`` is False for a retry (same ``external_id``)."""

    message: Message
    created: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadPage:
    """Messages oldest first. ``older``: pass as ``before`` for the page before (None: this
    page starts the thread); ``newer``: pass as ``after`` to read on (None: nothing newer
    yet; to follow a live thread, pass the last message's id)."""

    conversation: Interaction
    messages: tuple[Message, ...]
    older: int | None
    newer: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelinePage:
    """Newest first. ``next_cursor`` fetches the older page; None when this is the last."""

    entries: tuple[TimelineEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    seq: int
    at: datetime
    kind: str
    call_id: str | None
    agent_id: str | None
    payload: dict[str, Any]
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge:
    survivor_id: int
    merged_id: int
    merged_at: datetime
    merged_by: str
    reason: str
    moved: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Erasure:
    customer_id: int
    erased_at: datetime
    erased_by: str
    reason: str
    removed: dict[str, int]
    #: Only on the value ``erase_customer`` returns (never stored): the recordings whose
    #: references were removed, for the caller to delete from the recording store.
    recording_refs: tuple[str, ...] = ()
    #: Likewise: the attachment files no message refers to any more. The repository deletes
    #: them from its attachment store when it has one; without one, the caller must.
    attachment_refs: tuple[str, ...] = ()


class Fcr(StrEnum):
    """First-contact resolution of one interaction."""

    ACHIEVED = "achieved"  # resolved, and no inbound contact followed within the window
    REPEATED = "repeated"  # resolved, but the customer came back within the window
    UNRESOLVED = "unresolved"  # not (yet) marked resolved
    PENDING = "pending"  # resolved, no repeat so far, the window is still open
    UNKNOWN = "unknown"  # an anonymous contact: a repeat cannot be recognised


@dataclass(frozen=True, slots=True, kw_only=True)
class FcrRate:
    since: datetime
    until: datetime
    window_days: float
    contacts: int
    achieved: int
    repeated: int
    unresolved: int
    pending: int

    @property
    def rate(self) -> float | None:
        """achieved / decided contacts (pending ones are not decided yet)."""
        decided = self.achieved + self.repeated + self.unresolved
        return self.achieved / decided if decided else None

    @classmethod
    def total(
        cls, since: datetime, until: datetime, window_days: float, parts: Iterable[FcrRate]
    ) -> FcrRate:
        """The rates of ``parts`` (channels of the same period) as one."""
        counts = [0, 0, 0, 0, 0]
        for p in parts:
            for i, n in enumerate((p.contacts, p.achieved, p.repeated, p.unresolved, p.pending)):
                counts[i] += n
        contacts, achieved, repeated, unresolved, pending = counts
        return cls(
            since=since,
            until=until,
            window_days=window_days,
            contacts=contacts,
            achieved=achieved,
            repeated=repeated,
            unresolved=unresolved,
            pending=pending,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LastAgent:
    agent: str
    interaction_id: int
    channel: Channel
    at: datetime
