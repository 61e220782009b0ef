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

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from history.identities import IdentityKind

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TEXT_CHARS = 1_000_000


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    SMS = "sms"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    POSTPONED = "postponed"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{size} bytes of JSON; at most {MAX_PAYLOAD_BYTES} are kept")
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
