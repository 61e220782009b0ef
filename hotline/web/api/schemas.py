"""What the API reads and writes, as pydantic models: the single source of the OpenAPI schemas.

Request bodies are the store's own input models (``history.inputs``), so the API accepts
exactly what the Python repository accepts. Two are narrowed: on HTTP, ``source`` comes from
the caller's token and ``idempotency_key`` from the ``Idempotency-Key`` header, so a module
cannot write under another module's name. Responses are the store's frozen records
(``history.records``) and small wrappers around them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, model_validator

from history.attachments import OCTET_STREAM
from history.identities import IdentityKind
from history.inputs import (
    Channel,
    Direction,
    IdentityIn,
    Label,
    MessageContent,
    MessagingChannel,
    NewInteraction,
    NewNote,
)
from history.records import Customer, Event, Fcr, Interaction, LastAgent, Merge, Message, Note

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Who = Annotated[str, Field(min_length=1, max_length=128)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
IdempotencyKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
IdentityValue = Annotated[str, Field(min_length=1, max_length=320)]


def _narrowed(
    model: type[BaseModel], name: str, drop: tuple[str, ...], ids: tuple[str, ...]
) -> type[BaseModel]:
    """``model`` without the fields in ``drop``, with the fields in ``ids`` bounded to ids
    the database can hold (so an absurd number is a 422, not a driver overflow)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in drop:
            continue
        annotation: Any = Id | None if field_name in ids else info.annotation
        fields[field_name] = (annotation, info)
    narrowed: type[BaseModel] = create_model(
        name, __config__=model.model_config, __doc__=model.__doc__, **fields
    )
    return narrowed


InteractionIn = _narrowed(
    NewInteraction, "InteractionIn", ("source", "idempotency_key"), ("customer_id",)
)
NoteIn = _narrowed(
    NewNote, "NoteIn", ("source", "idempotency_key"), ("customer_id", "interaction_id")
)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MergeIn(_Body):
    """``merged_id`` is folded into the customer in the path (the survivor)."""

    merged_id: Id
    by: Who
    reason: Reason


class EraseIn(_Body):
    by: Who
    reason: Reason


class _Query(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Limit = Annotated[int, Field(ge=1, le=200)]


class CustomerLookup(_Query):
    """Exactly one identity; it is normalised like every stored one (E.164 for numbers)."""

    phone: IdentityValue | None = None
    email: IdentityValue | None = None
    chat: IdentityValue | None = None
    whatsapp: IdentityValue | None = None
    sms: IdentityValue | None = None
    sip: IdentityValue | None = None
    extension: IdentityValue | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomerLookup:
        given = [kind for kind in IdentityKind if getattr(self, kind.value) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(IdentityKind)}")
        return self

    @property
    def identity(self) -> tuple[IdentityKind, str | None]:
        for kind in IdentityKind:
            value = getattr(self, kind.value)
            if value is not None:
                return kind, value
        return IdentityKind.PHONE, None


class TimelineQuery(_Query):
    limit: Limit = 50
    cursor: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    channel: list[Channel] = Field(default_factory=list, max_length=len(Channel))


class ListQuery(_Query):
    limit: Limit = 50


class RecentQuery(_Query):
    days: Annotated[float, Field(gt=0, le=3660)] = 7.0
    limit: Limit = 100


class FcrQuery(_Query):
    window_days: Annotated[float, Field(gt=0, le=366)] = 7.0


class FcrRateQuery(FcrQuery):
    since: AwareDatetime
    until: AwareDatetime


class EventsQuery(_Query):
    after_seq: Annotated[int, Field(ge=0, le=MAX_ID)] = 0
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    call_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    kind: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )


class RefQuery(_Query):
    """An interaction by its writer's reference; ``source`` defaults to the token's own."""

    key: IdempotencyKey
    source: (
        Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_.\-]+$")] | None
    ) = None


class ConversationIn(_Body):
    """A conversation to open (or continue: see ``reuse``), with its first message if any.
    ``NewConversation`` on HTTP: the source is the token's, the key the header's."""

    channel: MessagingChannel
    customer_id: Id | None = None
    identity: IdentityIn | None = None
    direction: Direction = Direction.IN
    intent: Label | None = None
    queue: Label | None = None
    agent: Label | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    #: Continue the customer's conversation on this channel that is open or postponed.
    reuse: bool = True
    message: MessageContent | None = None

    @model_validator(mode="after")
    def _someone(self) -> ConversationIn:
        if self.customer_id is None and self.identity is None:
            raise ValueError("a conversation is with a customer: give customer_id or identity")
        return self


_MEDIA_TOKEN = r"[!#$&^_.+\-0-9A-Za-z]{1,127}"


class AttachmentIn(_Body):
    """A file, base64-encoded (RFC 4648, with padding). The name is sanitised (no path,
    no control characters); the type is kept as ``type/subtype``."""

    filename: Annotated[str, Field(min_length=1, max_length=1000)]
    content_type: Annotated[
        str, Field(max_length=255, pattern=rf"^{_MEDIA_TOKEN}/{_MEDIA_TOKEN}(;.*)?$")
    ] = OCTET_STREAM
    data: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]*={0,2}$")]


class ThreadQuery(_Query):
    """The newest ``limit`` messages, or those just before ``before`` / after ``after``."""

    limit: Limit = 50
    before: Id | None = None
    after: Id | None = None

    @model_validator(mode="after")
    def _one_way(self) -> ThreadQuery:
        if self.before is not None and self.after is not None:
            raise ValueError("page with before or after, not both")
        return self


# responses


class ConversationOpened(BaseModel):
    conversation: Interaction
    #: False when an open conversation was continued, or for a retry.
    created: bool
    #: The first message, when one was sent.
    message: Message | None = None


class CustomerList(BaseModel):
    items: list[Customer]


class InteractionList(BaseModel):
    items: list[Interaction]


class NoteList(BaseModel):
    items: list[Note]


class RecentContacts(BaseModel):
    days: float
    #: True when there was any contact in the window: a repeat contact.
    repeat: bool
    items: list[Interaction]


class LastAgentOut(BaseModel):
    last_agent: LastAgent | None


class FcrOut(BaseModel):
    interaction_id: int
    window_days: float
    verdict: Fcr


class FcrRateOut(BaseModel):
    since: datetime
    until: datetime
    window_days: float
    contacts: int
    achieved: int
    repeated: int
    unresolved: int
    pending: int
    #: achieved / decided contacts; null when none is decided yet.
    rate: float | None


class AccessQuery(_Query):
    """The access log filtered by customer, by reader (a user or token name) and by time."""

    customer_id: Id | None = None
    actor: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    after_id: Annotated[int, Field(ge=0, le=MAX_ID)] = 0
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class AccessOut(BaseModel):
    """One read of a customer's data: who (``actor_kind`` user, token or cli, with the
    user's role or the token's scopes), what (the operation or page and the route's
    template), when and from which address."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    role: str
    customer_id: int
    what: str
    route: str
    address: str | None


class AccessList(BaseModel):
    items: list[AccessOut]
    #: Pass as ``after_id`` to read on (the last id of this page, or the one given).
    next_after_id: int


class EventList(BaseModel):
    items: list[Event]
    #: Pass as ``after_seq`` to read on (the last seq of this page, or the one given).
    next_after_seq: int


class Accepted(BaseModel):
    """The store is unavailable: the write is in the durable spool and will be applied, in
    order, when it returns. Read it back later by its reference (``location``)."""

    status: Literal["spooled"] = "spooled"
    source: str
    idempotency_key: str
    location: str


class ErasureRecord(BaseModel):
    customer_id: int
    erased_at: datetime
    erased_by: str
    reason: str
    removed: dict[str, int]


class ErasureOut(ErasureRecord):
    #: The recordings whose references were removed: delete them from the recording store.
    recording_refs: list[str]
    #: The attachment files no message refers to any more (deleted from the attachment store).
    attachment_refs: list[str] = []


class CustomerExport(BaseModel):
    """Everything held about a customer (the right of access). Keys the store adds later
    pass through unchanged."""

    model_config = ConfigDict(extra="allow")

    format: str
    exported_at: datetime
    customer: Customer
    interactions: list[Interaction]
    notes: list[Note]
    merges: list[Merge]
    erasures: list[ErasureRecord]
    events: list[Event]
    #: The messages of the customer's conversations, with their attachments' metadata.
    messages: list[Message] = []
