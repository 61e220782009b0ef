"""The store's tables (SQLAlchemy 2.0 declarative). Internal: the repository hands out records.

Timestamps are timezone-aware UTC in Python on every backend (``UtcDateTime``); ids are
64-bit on PostgreSQL and SQLite's rowid. Indexes follow the repository's queries: the
timeline and "last agent" walk ``(customer_id, started_at, id)`` backwards; open issues use
``(customer_id, status)``; period KPIs use ``started_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the history store keeps aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CHANNELS = ("voice", "chat", "email", "whatsapp", "sms", "voicemail", "follow_up")
IDENTITY_KINDS = ("phone", "email", "chat", "whatsapp", "sms", "sip", "extension")
DIRECTIONS = ("in", "out")
STATUSES = ("open", "resolved", "postponed")
#: The channels whose interactions are conversations: a thread of messages.
MESSAGING_CHANNELS = ("chat", "email", "whatsapp", "sms", "voicemail", "follow_up")
AUTHOR_KINDS = ("customer", "agent", "bot", "system")
DELIVERY_STATES = ("queued", "sent", "delivered", "read", "failed")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON)
    consent: Mapped[dict[str, bool]] = mapped_column(JSON)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: Set when this customer was merged into another: old ids held elsewhere still resolve.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    identities: Mapped[list[IdentityRow]] = relationship(
        back_populates="customer", lazy="raise", order_by="IdentityRow.id"
    )


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (
        # value first: a number is looked up across the phone-like kinds by value alone.
        UniqueConstraint("value", "kind"),
        Index(None, "customer_id"),
        CheckConstraint(_one_of("kind", IDENTITY_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    customer: Mapped[CustomerRow] = relationship(back_populates="identities", lazy="raise")


class InteractionRow(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key"),
        Index(None, "customer_id", "started_at", "id"),
        Index(None, "customer_id", "status"),
        Index(None, "started_at"),
        Index(None, "source", "external_id"),
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint("csat IS NULL OR csat BETWEEN 1 AND 5", name="csat"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: NULL for an anonymous contact (caller ID withheld): kept for the KPIs.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    intent: Mapped[str | None] = mapped_column(String(64))
    call_type: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    wait_s: Mapped[float | None] = mapped_column(Float)
    talk_s: Mapped[float | None] = mapped_column(Float)
    hold_s: Mapped[float | None] = mapped_column(Float)
    wrap_s: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(64))
    recording_ref: Mapped[str | None] = mapped_column(String(512))
    transcript: Mapped[str | None] = mapped_column(Text)
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NoteRow(Base):
    __tablename__ = "notes"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key"),
        Index(None, "customer_id", "created_at"),
        Index(None, "interaction_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: NULL only for a note on an anonymous interaction.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    author: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MessageRow(Base):
    """One message of a conversation (an interaction on a messaging channel).

    ``external_id`` is the message's id outside the store (an e-mail's Message-ID, a chat
    client's id, a provider's id): unique in its conversation, so a retried append finds the
    first; its own index finds the conversation an e-mail replies to. Threads page by
    ``(interaction_id, id)``.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("interaction_id", "external_id"),
        Index(None, "interaction_id", "id"),
        Index(None, "external_id"),
        CheckConstraint(_one_of("channel", MESSAGING_CHANNELS), name="channel"),
        CheckConstraint(_one_of("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_one_of("author_kind", AUTHOR_KINDS), name="author_kind"),
        CheckConstraint(_one_of("delivery", DELIVERY_STATES), name="delivery"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(String(128))
    author_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(1000))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivery: Mapped[str] = mapped_column(String(16))
    delivery_at: Mapped[datetime] = mapped_column(UtcDateTime())
    external_id: Mapped[str | None] = mapped_column(String(255))
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AttachmentRow(Base):
    """A message's file, by reference: the bytes live in the attachment store on disk
    (``history.attachments``), content-addressed by ``sha256``."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("message_id", "sha256", "filename"),
        Index(None, "storage_ref"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_ref: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EventRow(Base):
    """The ACD event log: append-only, ``seq`` is the order of record (never reused)."""

    __tablename__ = "acd_events"
    __table_args__ = (
        UniqueConstraint("key"),
        Index(None, "call_id"),
        Index(None, "at"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Writer-chosen unique key: a replayed event is recognised and not logged twice.
    key: Mapped[str] = mapped_column(String(64))


class MergeRow(Base):
    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_at: Mapped[datetime] = mapped_column(UtcDateTime())
    merged_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500))
    moved: Mapped[dict[str, int]] = mapped_column(JSON)


class ErasureRow(Base):
    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime())
    erased_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(500))
    removed: Mapped[dict[str, int]] = mapped_column(JSON)


class ApiTokenRow(Base):
    """A bearer token of the HTTP API (``hotline.web.tokens``): only its SHA-256 is kept.

    Here, not in the web package, because the token table lives in the shared store and
    its migration must know it.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("name"), UniqueConstraint("token_hash"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    #: What the token's writes are recorded as (``interactions.source``): the namespace of
    #: its idempotency keys. A rotated token keeps its predecessor's source.
    source: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiIdempotencyRow(Base):
    """The fingerprint of the first request an HTTP ``Idempotency-Key`` came with, so a retry
    with another body is refused rather than silently answered with the first result."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("source", "operation", "key"), Index(None, "created_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


WEBHOOK_STATUSES = ("pending", "delivered", "dead")


class WebhookDeliveryRow(Base):
    """One event for one webhook subscription (``history.webhooks``): written before it is
    sent (the outbox), ``pending`` until delivered or dead-lettered. The body is dropped once
    delivered; ``customer_id`` (the event's ``data.customer_id``, not a foreign key: an event
    may name a customer this store does not hold) puts it in that customer's export and
    erasure."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription"),
        Index(None, "subscription", "status", "next_attempt_at"),
        Index(None, "status", "id"),
        Index(None, "customer_id"),
        CheckConstraint(_one_of("status", WEBHOOK_STATUSES), name="status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    subscription: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(Id)
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    round_attempts: Mapped[int] = mapped_column(Integer)
    round_started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_result: Mapped[str | None] = mapped_column(String(500))


class WebhookAttemptRow(Base):
    """One POST of a webhook delivery: when, how long, the status code or the error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index(None, "delivery_id", "number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))


class WebUserRow(Base):
    """A person who signs in to the web pages (``hotline.web.auth``): an agent, a supervisor
    or an admin. Only an argon2 hash of the password is kept. ``agent_id`` ties an agent's
    login to the ACD agent (``config/agents.yaml``) whose calls it takes."""

    __tablename__ = "web_users"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    #: What the pages call the person ("Alice Martin"); the sign-in ``name`` when unset.
    display_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    #: A supervisor's own phone (``PJSIP/sup1``): where listen/whisper/barge calls ring.
    endpoint: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Two-factor sign-in (``hotline.web.auth.two_factor``): the TOTP secret once the user
    #: confirmed it with a code, sealed (AES-GCM, ``v1:<key id>:...``) with a key kept
    #: outside the database; never logged, never exported, wiped on reset.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: The last time step a code was accepted for: a code of it or before is a replay.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: Wrong codes since the last right one (any address): at the cap, codes are refused.
    totp_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RecoveryCodeRow(Base):
    """A one-time recovery code of a web user's two-factor sign-in: ``selector`` (not secret)
    finds the row, only an argon2 hash of the rest is kept; ``used_at`` once spent."""

    __tablename__ = "web_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "selector"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("web_users.id", ondelete="CASCADE"))
    selector: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AccessRow(Base):
    """Who read a customer's data (``history.access_log``): a person by user name and role,
    or a module by API token name; what (the route's template and the kind of read), when,
    from which address. Only the customer's id: no query string, no value read."""

    __tablename__ = "access_log"
    __table_args__ = (
        UniqueConstraint("key"),
        Index(None, "customer_id", "at"),
        Index(None, "actor", "at"),
        Index(None, "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: Makes a replayed (spooled) record land once.
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    #: "user" (signed in to the pages), "token" (an API token), "cli" (a shell command).
    actor_kind: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(Id)
    what: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(256))
    address: Mapped[str | None] = mapped_column(String(64))


class CallbackRow(Base):
    """A caller's request to be called back (``center.callbacks``), kept until an agent has
    talked to them or the attempts run out. ``entry_at`` is when the call first joined the
    queue: the callback is queued with that place kept."""

    __tablename__ = "callbacks"
    __table_args__ = (
        UniqueConstraint("call_id"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "customer_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    #: The call that asked for it (the interaction's ``external_id``).
    call_id: Mapped[str] = mapped_column(String(128))
    number: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    queue: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    entry_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: What the IVR found (``CallAttributes`` as strings), for the agent's screen-pop.
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)
    #: pending | dialing | done | failed | cancelled
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_result: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditRow(Base):
    """Who changed what, when, through the admin pages (``hotline.web.admin``): a config file
    written back, a user added. ``diff`` is the unified diff of a file change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    #: What was changed: "config/queues.yaml", "prompts/en/price-basic.wav", "user:alice".
    target: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(500))
    diff: Mapped[str | None] = mapped_column(Text)


RECORDING_STATUSES = ("recording", "recorded", "empty", "not_recorded", "deleted")
RECORDING_CONSENTS = ("not_asked", "given", "opted_out")


class CallRecordingRow(Base):
    """A call's recording (``history.recordings``): where Asterisk wrote it, the caller's
    consent, the agents' pauses, until when it is kept. One per call, found with its
    interaction by ``(source, call_id)`` = the interaction's ``(source, idempotency_key)``.
    ``path`` is NULL once the file is deleted (retention, erasure) or when none was made."""

    __tablename__ = "call_recordings"
    __table_args__ = (
        UniqueConstraint("source", "call_id"),
        Index(None, "status", "expires_at"),
        CheckConstraint(_one_of("status", RECORDING_STATUSES), name="status"),
        CheckConstraint(_one_of("consent", RECORDING_CONSENTS), name="consent"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    consent: Mapped[str] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String(512))
    format: Mapped[str] = mapped_column(String(8))
    queue: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Agents' pauses and resumptions: ``{"key", "at", "action", "agent", "by"}`` each.
    marks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: "retention" | "erasure" | "not_bridged"
    deleted_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CallTranscriptRow(Base):
    """What was said on a recorded call, transcribed after it (``history.transcripts``):
    one per recording, deleted with it (erasure, retention). ``folded`` is the text as
    search matches it (lower case, no diacritics); ``categories`` the spotted phrase
    categories as `` a b `` (space-delimited, so ``LIKE '% a %'`` finds one)."""

    __tablename__ = "call_transcripts"
    __table_args__ = (
        UniqueConstraint("recording_id"),
        UniqueConstraint("source", "call_id"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("call_recordings.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    folded: Mapped[str] = mapped_column(Text)
    audio_s: Mapped[float] = mapped_column(Float)
    decode_s: Mapped[float] = mapped_column(Float)
    #: category -> the configured phrases heard
    spotted: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    categories: Mapped[str] = mapped_column(String(512))
    sentiment: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
