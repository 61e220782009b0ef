"""What writers hand the store: validated, frozen, JSON round-trippable (the spool keeps them).

Sizes are capped here, at the edge, so an oversized transcript or payload is refused with a
reason before it reaches a database or the on-disk journal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    model_validator,
)

from history.identities import IdentityKind

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TEXT_CHARS = 1_000_000


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"
    #: a voicemail a caller left, a task to listen to (``center.voicemail_tasks``)
    VOICEMAIL = "voicemail"
    #: a callback that never reached the customer, a task to follow up (``center.follow_ups``)
    FOLLOW_UP = "follow_up"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    POSTPONED = "postponed"


#: The channels whose interactions are conversations: a thread of messages. A voicemail and
#: a follow-up are threads too (the caller's recording, what happened), worked as tasks.
MESSAGING_CHANNELS = frozenset(
    {
        Channel.CHAT,
        Channel.EMAIL,
        Channel.WHATSAPP,
        Channel.SMS,
        Channel.VOICEMAIL,
        Channel.FOLLOW_UP,
    }
)


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    SYSTEM = "system"


class Delivery(StrEnum):
    """A message's delivery state. It only moves forward (queued -> sent -> delivered ->
    read, steps may be skipped); ``failed`` may follow any other state and ends it."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _json_bound(value: dict[str, Any]) -> int | None:
    """At most how many bytes ``value`` takes as compact JSON, if it is flat (scalar values
    only, as the ACD's events are); None for a nested one. A character is at most 12 bytes
    (an escaped surrogate pair), a float 24, an int a digit per 3 bits."""
    total = 2
    for key, item in value.items():
        total += 12 * len(key) + 4
        kind = type(item)  # (a validated payload holds exactly these types: no subclasses)
        if kind is str:
            total += 12 * len(item) + 2
        elif kind is float or item is None or kind is bool:
            total += 24
        elif kind is int:
            total += item.bit_length() // 3 + 2
        else:
            return None
    return total


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    """The payload's size as compact JSON, checked by encoding it only when the bound
    (``_json_bound``) cannot tell: an event's payload is never encoded twice."""
    bound = _json_bound(value)
    if bound is not None and bound <= MAX_PAYLOAD_BYTES:
        return value
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{size} bytes of JSON; at most {MAX_PAYLOAD_BYTES} are kept")
    return value


def _storable(value: str) -> str:
    """Text every backend stores as given: no NUL (PostgreSQL refuses it) and no lone
    surrogate (it has no UTF-8 encoding; JSON's ``\\ud800`` escape makes one)."""
    if "\x00" in value:
        raise ValueError("NUL characters cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return value


UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
Key = Annotated[str, Field(min_length=1, max_length=128)]
Source = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_.\-]+$")]
Scalar = str | int | float | bool | None
CustomFields = Annotated[
    dict[Annotated[str, Field(max_length=64)], Scalar], AfterValidator(_small_json)
]
Tags = Annotated[
    tuple[Annotated[str, Field(min_length=1, max_length=64)], ...], Field(max_length=50)
]
Consent = Annotated[dict[Annotated[str, Field(max_length=64)], bool], Field(max_length=50)]
Payload = Annotated[dict[str, JsonValue], AfterValidator(_small_json)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IdentityIn(_Input):
    kind: IdentityKind
    value: Annotated[str, Field(min_length=1, max_length=320)]


class NewCustomer(_Input):
    name: Annotated[str, Field(max_length=200)] | None = None
    tier: Annotated[str, Field(max_length=32)] | None = None
    language: Annotated[str, Field(max_length=16)] | None = None
    tags: Tags = ()
    consent: Consent = Field(default_factory=dict)
    custom_fields: CustomFields = Field(default_factory=dict)
    identities: Annotated[tuple[IdentityIn, ...], Field(max_length=50)] = ()


class CustomerUpdate(_Input):
    """Only the fields given are changed (``None`` given explicitly clears a field)."""

    name: Annotated[str, Field(max_length=200)] | None = None
    tier: Annotated[str, Field(max_length=32)] | None = None
    language: Annotated[str, Field(max_length=16)] | None = None
    tags: Tags | None = None
    consent: Consent | None = None
    custom_fields: CustomFields | None = None


class InteractionRef(_Input):
    """An interaction as its writer knows it, before (or without) knowing the store's id."""

    source: Source
    idempotency_key: Key


class NewInteraction(_Input):
    """One contact on one channel.

    The customer is ``customer_id`` or, more usually, the ``identity`` the contact came
    from; an identity nobody holds yet gets a new customer (see the repository). Neither
    means an anonymous contact, kept for the KPIs only. ``(source, idempotency_key)`` makes
    the write idempotent: a retry returns the interaction the first attempt created.
    """

    channel: Channel
    direction: Direction = Direction.IN
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None
    customer_id: int | None = None
    identity: IdentityIn | None = None
    intent: Label | None = None
    call_type: Label | None = None
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None
    queue: Label | None = None
    agent: Label | None = None
    wait_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    talk_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    hold_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    wrap_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    outcome: Label | None = None
    status: Status = Status.OPEN
    disposition: Label | None = None
    recording_ref: Annotated[str, Field(max_length=512)] | None = None
    transcript: Text | None = None
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    source: Source = "hotline"
    external_id: Key | None = None
    idempotency_key: Key | None = None

    @property
    def ref(self) -> InteractionRef | None:
        if self.idempotency_key is None:
            return None
        return InteractionRef(source=self.source, idempotency_key=self.idempotency_key)


class InteractionUpdate(_Input):
    """What changed as the contact moved on (IVR -> queue -> agent -> wrap-up).

    Only the fields given are written; giving ``None`` explicitly clears a field.
    """

    ended_at: UtcTime | None = None
    intent: Label | None = None
    call_type: Label | None = None
    priority: Annotated[int, Field(ge=-1_000_000, le=1_000_000)] | None = None
    queue: Label | None = None
    agent: Label | None = None
    wait_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    talk_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    hold_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    wrap_s: Annotated[float, Field(ge=0, le=1e7)] | None = None
    outcome: Label | None = None
    status: Status | None = None
    disposition: Label | None = None
    recording_ref: Annotated[str, Field(max_length=512)] | None = None
    transcript: Text | None = None
    csat: Annotated[int, Field(ge=1, le=5)] | None = None

    def changes(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.model_fields_set}
        if values.get("status", True) is None:
            raise ValueError("status cannot be cleared")
        return values


class NewNote(_Input):
    """An agent's note on an interaction (by id or by its writer's reference) or a customer."""

    author: Annotated[str, Field(min_length=1, max_length=128)]
    body: Annotated[str, Field(min_length=1, max_length=20_000)]
    customer_id: int | None = None
    interaction_id: int | None = None
    interaction: InteractionRef | None = None
    source: Source = "hotline"
    idempotency_key: Key | None = None


class NewEvent(_Input):
    """One ACD state change for the append-only event log."""

    kind: Annotated[str, Field(min_length=1, max_length=64)]
    call_id: Key | None = None
    agent_id: Label | None = None
    payload: Payload = Field(default_factory=dict)
    at: UtcTime | None = None
    key: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        default_factory=lambda: uuid4().hex
    )


def _messaging(channel: Channel) -> Channel:
    if channel not in MESSAGING_CHANNELS:
        names = ", ".join(sorted(c.value for c in MESSAGING_CHANNELS))
        raise ValueError(f"{channel.value} is not a messaging channel ({names})")
    return channel


MessagingChannel = Annotated[Channel, AfterValidator(_messaging)]
#: Message text (the store's ceiling; a lower cap is configured: ``MessageLimits``).
MessageText = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_storable)]
#: An e-mail header kept as text (In-Reply-To, References: a list of Message-IDs).
HeaderText = Annotated[str, Field(max_length=32_768), AfterValidator(_storable)]
ExternalId = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_storable)]


class NewConversation(_Input):
    """Open a conversation (an interaction on a messaging channel) for a customer, by
    ``customer_id`` or, more usually, the ``identity`` they wrote from (nobody holds it
    yet: a new customer). With ``reuse`` (the default) the customer's newest conversation
    on the channel that is still open or postponed is continued instead of opening another.
    ``(source, idempotency_key)`` makes opening safe to retry.
    """

    channel: MessagingChannel
    customer_id: int | None = None
    identity: IdentityIn | None = None
    direction: Direction = Direction.IN
    started_at: UtcTime | None = None
    intent: Label | None = None
    call_type: Label | None = None
    queue: Label | None = None
    agent: Label | None = None
    reuse: bool = True
    source: Source = "hotline"
    external_id: Key | None = None
    idempotency_key: Key | None = None

    @model_validator(mode="after")
    def _someone(self) -> NewConversation:
        if self.customer_id is None and self.identity is None:
            raise ValueError("a conversation is with a customer: give customer_id or identity")
        return self

    def as_interaction(self) -> NewInteraction:
        return NewInteraction(
            channel=self.channel,
            direction=self.direction,
            started_at=self.started_at,
            customer_id=self.customer_id,
            identity=self.identity,
            intent=self.intent,
            call_type=self.call_type,
            queue=self.queue,
            agent=self.agent,
            status=Status.OPEN,
            source=self.source,
            external_id=self.external_id,
            idempotency_key=self.idempotency_key,
        )


class MessageContent(_Input):
    """One message, as its channel has it (``NewMessage`` adds the conversation).

    ``external_id`` (an e-mail's Message-ID, a chat client's or a provider's message id)
    makes the append idempotent: a retry returns the message the first one stored. The
    channel is the conversation's unless given; ``delivery`` starts as ``delivered`` for an
    inbound message (it reached us) and ``queued`` for an outbound one unless given. Text is
    kept exactly as written (HTML is text, never markup).
    """

    direction: Direction
    author_kind: AuthorKind
    author_id: (
        Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_storable)] | None
    ) = None
    author_name: Annotated[str, Field(max_length=200), AfterValidator(_storable)] | None = None
    body: MessageText = ""
    subject: Annotated[str, Field(max_length=1000), AfterValidator(_storable)] | None = None
    sent_at: UtcTime | None = None
    channel: MessagingChannel | None = None
    delivery: Delivery | None = None
    external_id: ExternalId | None = None
    in_reply_to: HeaderText | None = None
    references: HeaderText | None = None

    @property
    def initial_delivery(self) -> Delivery:
        if self.delivery is not None:
            return self.delivery
        return Delivery.DELIVERED if self.direction is Direction.IN else Delivery.QUEUED


class NewMessage(MessageContent):
    """One message appended to a conversation (the interaction's id)."""

    conversation_id: int


class DeliveryUpdate(_Input):
    """A delivery report: the state and when it was reached (now if not given)."""

    delivery: Delivery
    at: UtcTime | None = None
