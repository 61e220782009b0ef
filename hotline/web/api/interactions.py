"""Interactions and notes: idempotent appends, updates as a contact moves on, FCR.

Appends take an ``Idempotency-Key`` (required): the first request answers 201, a retry
with the same body 200 with the same interaction, the same key with another body 409.
While the store is down an append is accepted into the durable spool (202, with where
to read it later); see ``hotline.web.api.service`` for what 202 promises.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import exc

from history.errors import HistoryError, InvalidIdentity, UnknownCustomer, UnknownInteraction
from history.inputs import InteractionRef, InteractionUpdate, NewInteraction, NewNote
from history.records import Interaction, Note
from history.writer import is_outage
from hotline.web.api.context import ApiServices
from hotline.web.api.customers import READ, WRITE_ANY
from hotline.web.api.endpoints import PREFIX, Answer, Call, Operation, Reply, forbidden, refusal
from hotline.web.api.errors import IDEMPOTENCY_CONFLICT, ApiError, invalid, unavailable
from hotline.web.api.idempotency import (
    INTERACTION,
    NOTE,
    Claim,
    Claimed,
    IdempotencyConflict,
    fingerprint,
)
from hotline.web.api.schemas import Accepted, FcrOut, FcrQuery, InteractionIn, NoteIn, RefQuery
from hotline.web.tokens import ApiToken, Scope, write_scope

_CHANGED = Answer(200, "The interaction as it now is.", Interaction)
_FOUND = Answer(200, "The interaction.", Interaction)


def interaction_location(interaction_id: int) -> dict[str, str]:
    return {"Location": f"{PREFIX}/interactions/{interaction_id}"}


def ref_location(ref: InteractionRef) -> str:
    query = urlencode({"source": ref.source, "key": ref.idempotency_key})
    return f"{PREFIX}/interactions/by-ref?{query}"


class InteractionEndpoints:
    def __init__(self, services: ApiServices) -> None:
        self.repository = services.repository
        self.writer = services.writer
        self.idempotency = services.idempotency
        self.retry_after_s = services.settings.retry_after_s

    def operations(self) -> list[Operation]:
        conflict = refusal(409, "The key was used before with a different body.")
        return [
            Operation(
                "POST",
                "/interactions",
                "appendInteraction",
                "Record a contact (idempotent by the Idempotency-Key header)",
                self.append,
                (
                    Answer(201, "Recorded.", Interaction),
                    Answer(
                        200, "A retry: the interaction the first request recorded.", Interaction
                    ),
                    Answer(
                        202, "The store is down: spooled durably, applied in order later.", Accepted
                    ),
                    conflict,
                ),
                scopes=WRITE_ANY,
                body=InteractionIn,
                idempotency="required",
                description="Needs `history:write:<channel>` for the interaction's channel (or "
                "`history:write`). The token's source and the key identify the interaction "
                "for later updates (`/interactions/by-ref`). An identity nobody holds yet "
                "creates its customer; an unknown `customer_id` is refused (422). While the "
                "store is down the interaction is accepted into a durable on-disk spool (202) "
                "and applied in order when the store returns; read it at `Location` then.",
                example={
                    "channel": "chat",
                    "identity": {"kind": "chat", "value": "jane-d"},
                    "intent": "billing",
                    "agent": "a1001",
                    "transcript": "Following up on this morning's call about my bill.",
                },
            ),
            Operation(
                "GET",
                "/interactions/by-ref",
                "getInteractionByRef",
                "An interaction by its writer's source and idempotency key",
                self.get_by_ref,
                (_FOUND,),
                scopes=READ,
                query=RefQuery,
            ),
            Operation(
                "PATCH",
                "/interactions/by-ref",
                "updateInteractionByRef",
                "Update an interaction found by its writer's source and idempotency key",
                self.update_by_ref,
                (_CHANGED,),
                scopes=WRITE_ANY,
                query=RefQuery,
                body=InteractionUpdate,
                example={"status": "resolved", "disposition": "refund-issued"},
            ),
            Operation(
                "GET",
                "/interactions/{interaction_id}",
                "getInteraction",
                "An interaction",
                self.get,
                (_FOUND,),
                scopes=READ,
            ),
            Operation(
                "PATCH",
                "/interactions/{interaction_id}",
                "updateInteraction",
                "Update an interaction (only the fields given; null clears)",
                self.update,
                (_CHANGED,),
                scopes=WRITE_ANY,
                body=InteractionUpdate,
                description="Needs the write scope of the interaction's channel.",
                example={"agent": "a1001", "queue": "billing", "wait_s": 42.5},
            ),
            Operation(
                "GET",
                "/interactions/{interaction_id}/fcr",
                "interactionFcr",
                "First-contact resolution of an interaction",
                self.fcr,
                (Answer(200, "The verdict.", FcrOut),),
                scopes=READ,
                query=FcrQuery,
            ),
            Operation(
                "POST",
                "/notes",
                "addNote",
                "An agent's note on an interaction or a customer",
                self.add_note,
                (
                    Answer(201, "Recorded.", Note),
                    Answer(200, "A retry: the note the first request recorded.", Note),
                    conflict,
                ),
                scopes=WRITE_ANY,
                body=NoteIn,
                idempotency="optional",
                example={"author": "a1001", "body": "Refund promised by Friday.", "customer_id": 1},
            ),
        ]

    # appends

    async def append(self, call: Call) -> Reply:
        token, key = call.caller, call.idempotency_key
        assert call.body is not None  # declared: a body ...
        assert key is not None  # ... and a required key
        new = NewInteraction.model_validate(
            {**call.body.model_dump(), "source": token.source, "idempotency_key": key}
        )
        if not token.may_write(new.channel):
            needed = (write_scope(new.channel), Scope.HISTORY_WRITE)
            raise forbidden(token, needed, f"write {new.channel.value} interactions")
        ref = InteractionRef(source=token.source, idempotency_key=key)
        print_ = fingerprint(INTERACTION, call.body)
        claim = await self._claim(token, INTERACTION, key, print_, may_spool=True)
        if claim is not None and claim.kind is Claim.REPEAT:
            first = await self._first(ref)
            if first is not None:
                return Reply(200, first, interaction_location(first.id))
        try:
            written = await self._append(new)
        except HistoryError as error:
            if claim is not None and claim.kind is Claim.NEW:
                await self.idempotency.release(token.source, INTERACTION, key, print_)
            raise _located(error) from None
        if written is None:
            location = ref_location(ref)
            accepted = Accepted(source=ref.source, idempotency_key=key, location=location)
            return Reply(202, accepted, {"Location": location})
        # Created before this key was claimed: a spooled first request (no fingerprint could
        # be recorded then) that has since been replayed. Its retry gets it, as a retry.
        fresh = claim is None or (claim.kind is Claim.NEW and written.created_at >= claim.at)
        return Reply(201 if fresh else 200, written, interaction_location(written.id))

    async def _claim(
        self, token: ApiToken, operation: str, key: str, print_: str, *, may_spool: bool
    ) -> Claimed | None:
        """The claim on the key; None when the store is down and the write may be spooled."""
        try:
            return await self.idempotency.claim(token.source, operation, key, print_)
        except IdempotencyConflict as error:
            detail = {"message": str(error), "first_at": error.first_at.isoformat()}
            raise ApiError(409, IDEMPOTENCY_CONFLICT, str(error), details=[detail]) from None
        except (OSError, exc.SQLAlchemyError) as error:
            if not (may_spool and self.writer is not None and is_outage(error)):
                raise
            return None

    async def _first(self, ref: InteractionRef) -> Interaction | None:
        """What the first request recorded; None if it is not in the store (yet)."""
        try:
            return await self.repository.get_interaction(ref)
        except UnknownInteraction:
            return None  # spooled, or it failed: writing again is safe (idempotent)
        except (OSError, exc.SQLAlchemyError) as error:
            if self.writer is None or not is_outage(error):
                raise
            return None

    async def _append(self, new: NewInteraction) -> Interaction | None:
        if self.writer is None:
            return await self.repository.append_interaction(new)
        return await self.writer.append_interaction(new)

    async def add_note(self, call: Call) -> Reply:
        token, key = call.caller, call.idempotency_key
        assert call.body is not None
        new = NewNote.model_validate(
            {**call.body.model_dump(), "source": token.source, "idempotency_key": key}
        )
        print_ = fingerprint(NOTE, call.body)
        claim = None
        if key is not None:
            claim = await self._claim(token, NOTE, key, print_, may_spool=False)
        try:
            note = await self.repository.add_note(new)
        except HistoryError as error:
            if claim is not None and claim.kind is Claim.NEW and key is not None:
                await self.idempotency.release(token.source, NOTE, key, print_)
            where = "interaction" if new.interaction is not None else "interaction_id"
            raise _located(error, where) from None
        repeat = claim is not None and claim.kind is Claim.REPEAT
        return Reply(200 if repeat else 201, note)

    # reads and updates

    async def get(self, call: Call) -> Reply:
        found = await self.repository.get_interaction(call.ids["interaction_id"])
        return Reply(200, found, customers=(found.customer_id,))

    async def get_by_ref(self, call: Call) -> Reply:
        found = await self._by_ref(call)
        return Reply(200, found, customers=(found.customer_id,))

    async def update(self, call: Call) -> Reply:
        target = call.ids["interaction_id"]
        current = await self.repository.get_interaction(target)
        return Reply(200, await self._update(call, current, target))

    async def update_by_ref(self, call: Call) -> Reply:
        current = await self._by_ref(call)
        return Reply(200, await self._update(call, current, current.id))

    async def fcr(self, call: Call) -> Reply:
        target, window = call.ids["interaction_id"], call.query_as(FcrQuery).window_days
        verdict = await self.repository.first_contact_resolution(target, window_days=window)
        return Reply(200, FcrOut(interaction_id=target, window_days=window, verdict=verdict))

    async def _by_ref(self, call: Call) -> Interaction:
        query = call.query_as(RefQuery)
        ref = InteractionRef(source=query.source or call.caller.source, idempotency_key=query.key)
        try:
            return await self.repository.get_interaction(ref)
        except UnknownInteraction:
            if self.writer is not None and self.writer.spooling:
                raise unavailable(
                    self.retry_after_s, "not in the store yet: spooled writes are being replayed"
                ) from None
            raise

    async def _update(self, call: Call, current: Interaction, target: int) -> Interaction:
        token, change = call.caller, call.body_as(InteractionUpdate)
        if not token.may_write(current.channel):
            needed = (write_scope(current.channel), Scope.HISTORY_WRITE)
            raise forbidden(token, needed, f"change {current.channel.value} interactions")
        try:
            change.changes()
        except ValueError as error:
            raise invalid(["body", "status"], str(error)) from None
        return await self.repository.update_interaction(target, change)


def _located(error: HistoryError, interaction_field: str = "interaction_id") -> Exception:
    """A refusal caused by an id or identity in the body, located there (422, not 404)."""
    if isinstance(error, UnknownCustomer):
        return invalid(["body", "customer_id"], str(error), "unknown_customer")
    if isinstance(error, UnknownInteraction):
        return invalid(["body", interaction_field], str(error), "unknown_interaction")
    if isinstance(error, InvalidIdentity):
        return invalid(["body", "identity", "value"], error.reason, "invalid_identity")
    return error
