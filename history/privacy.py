"""A customer's right of access (export) and to erasure.

Erasure removes what identifies or describes the person (name, identities, custom fields,
consent, notes, transcripts (the IVR's, and the calls' transcribed after them), recording
references, callback requests, numbers or
addresses inside the ACD event payloads of their calls and inside dispositions, and their
conversations' content: every message's body, subject, e-mail ids and the customer's name
as author, and every attachment, row and file) and keeps what the KPIs count (channel,
times, queue, agent, wait and talk, outcome, status, CSAT, tier, language; a message's
time, direction, author kind, agent and delivery state), so last quarter's service level
does not change when someone exercises their rights. The
customer row stays as an anonymous shell (its id is referenced by those interactions) and
an erasure record says who erased it, when and why; neither holds personal data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from history import access_log, convert, customers, messages, recordings, transcripts, webhooks
from history.context import Context
from history.identities import PHONE_KINDS
from history.inputs import AuthorKind
from history.masking import redact_text
from history.models import (
    AttachmentRow,
    CallbackRow,
    ErasureRow,
    EventRow,
    IdentityRow,
    InteractionRow,
    MergeRow,
    MessageRow,
    NoteRow,
)
from history.records import to_json

EXPORT_FORMAT = "hotline.history.export/1"

#: Event payload keys whose values describe the caller: replaced outright on erasure.
PERSONAL_KEYS = frozenset(
    {
        "caller_id",
        "callerid",
        "caller_name",
        "calleridname",
        "calleridnum",
        "connectedlinenum",
        "connectedlinename",
        "name",
        "email",
        "phone",
        "number",
        "transcript",
        "utterance",
    }
)
ERASED = "[erased]"


async def export(session: AsyncSession, ctx: Context, customer_id: int) -> dict[str, Any]:
    """Everything held about the customer, as plain JSON values."""
    row = await customers.load(session, customer_id)
    interactions = (
        await session.execute(
            select(InteractionRow)
            .where(InteractionRow.customer_id == row.id)
            .order_by(InteractionRow.started_at, InteractionRow.id)
        )
    ).scalars()
    interaction_records = [convert.interaction(i) for i in interactions]
    notes = (
        await session.execute(
            select(NoteRow).where(NoteRow.customer_id == row.id).order_by(NoteRow.id)
        )
    ).scalars()
    merges = (
        await session.execute(
            select(MergeRow)
            .where(or_(MergeRow.survivor_id == row.id, MergeRow.merged_id == row.id))
            .order_by(MergeRow.id)
        )
    ).scalars()
    erasures = (
        await session.execute(
            select(ErasureRow).where(ErasureRow.customer_id == row.id).order_by(ErasureRow.id)
        )
    ).scalars()
    events = await _events_of_calls(session, [i.external_id for i in interaction_records])
    callbacks = (
        await session.execute(
            select(CallbackRow).where(await _callbacks_of(session, row.id)).order_by(CallbackRow.id)
        )
    ).scalars()
    return {
        "format": EXPORT_FORMAT,
        "exported_at": ctx.now().isoformat(),
        "customer": to_json(convert.customer(row)),
        "interactions": to_json(interaction_records),
        "notes": [to_json(convert.note(n)) for n in notes],
        "merges": [to_json(convert.merge(m)) for m in merges],
        "erasures": [
            {k: v for k, v in to_json(convert.erasure(e)).items() if k != "recording_refs"}
            for e in erasures
        ],
        "events": [to_json(convert.event(e)) for e in events],
        "callbacks": [_callback_json(c) for c in callbacks],
        "messages": await _messages_json(session, row.id),
        "webhooks": await webhooks.export_customer(session, row.id),
        # Who read this customer's data, when, from where (``history.access_log``).
        "accessed_by": await access_log.of_customer(session, row.id),
        # Their calls' recordings: the references, consent and pauses (the audio is not in
        # the JSON: ``hotline customer export --files DIR`` copies the files).
        "call_recordings": [r.as_json() for r in await recordings.of_customer(session, row.id)],
        # What was said on them, transcribed after the call, with the phrases spotted.
        "call_transcripts": [t.as_json() for t in await transcripts.of_customer(session, row.id)],
    }


async def _messages_json(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """Every message of the customer's conversations, oldest first, with its attachments'
    metadata (the files themselves: ``storage_ref`` in the attachment store)."""
    found = await session.execute(
        select(MessageRow)
        .where(MessageRow.interaction_id.in_(_interactions_of(customer_id)))
        .order_by(MessageRow.id)
    )
    rows = list(found.scalars())
    held = await messages.attachments_of(session, [m.id for m in rows])
    return [to_json(convert.message(m, held.get(m.id, ()))) for m in rows]


def _interactions_of(customer_id: int) -> Any:
    return select(InteractionRow.id).where(InteractionRow.customer_id == customer_id)


async def _erase_messages(session: AsyncSession, customer_id: int) -> tuple[int, int, list[str]]:
    """Messages keep their time, direction, author kind, an agent's id and their delivery;
    their content goes, and so do attachments. Returns the messages emptied, the
    attachments removed, and the files no attachment refers to any more."""
    of_customer = MessageRow.interaction_id.in_(_interactions_of(customer_id))
    their_messages = select(MessageRow.id).where(of_customer)
    of_messages = AttachmentRow.message_id.in_(their_messages)
    refs = sorted(
        set((await session.execute(select(AttachmentRow.storage_ref).where(of_messages))).scalars())
    )
    attachments = _count(await session.execute(delete(AttachmentRow).where(of_messages)))
    emptied = _count(
        await session.execute(
            update(MessageRow)
            .where(of_customer)
            .values(body="", subject=None, external_id=None, in_reply_to=None, references=None)
            .execution_options(synchronize_session=False)
        )
    )
    await session.execute(
        update(MessageRow)
        .where(of_customer, MessageRow.author_kind != AuthorKind.AGENT.value)
        .values(author_id=None, author_name=None)
        .execution_options(synchronize_session=False)
    )
    still_held: set[str] = set()
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        found = await session.execute(
            select(AttachmentRow.storage_ref).where(AttachmentRow.storage_ref.in_(chunk))
        )
        still_held.update(found.scalars())
    return emptied, attachments, [ref for ref in refs if ref not in still_held]


async def _events_of_calls(session: AsyncSession, call_ids: list[str | None]) -> list[EventRow]:
    ids = sorted({c for c in call_ids if c is not None})
    rows: list[EventRow] = []
    for start in range(0, len(ids), 500):
        found = await session.execute(
            select(EventRow).where(EventRow.call_id.in_(ids[start : start + 500]))
        )
        rows.extend(found.scalars())
    return sorted(rows, key=lambda e: e.seq)


async def erase(
    session: AsyncSession, ctx: Context, customer_id: int, by: str, reason: str
) -> tuple[ErasureRow, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Anonymise the customer; returns the record, the recording refs that were dropped,
    the attachment files no message refers to any more and the call recordings' files (to
    delete once committed)."""
    row = await customers.load(session, customer_id)
    removed: dict[str, int] = {}
    # before the interactions' keys could change: their calls' recordings, by reference
    call_recordings = await recordings.erase_of_customer(session, row.id, ctx.now())
    if call_recordings:
        removed["call_recordings"] = len(call_recordings)
    call_transcripts = await transcripts.erase_of_customer(session, row.id)
    if call_transcripts:
        removed["call_transcripts"] = call_transcripts
    callbacks = _count(  # before the identities: a number identifies a request too
        await session.execute(delete(CallbackRow).where(await _callbacks_of(session, row.id)))
    )
    if callbacks:
        removed["callbacks"] = callbacks
    removed["identities"] = _count(
        await session.execute(delete(IdentityRow).where(IdentityRow.customer_id == row.id))
    )
    removed["notes"] = _count(
        await session.execute(delete(NoteRow).where(NoteRow.customer_id == row.id))
    )
    held = (
        await session.execute(
            select(
                InteractionRow.external_id,
                InteractionRow.recording_ref,
                InteractionRow.transcript.is_not(None),
            ).where(InteractionRow.customer_id == row.id)
        )
    ).all()
    recording_refs = tuple(sorted({ref for _, ref, _ in held if ref is not None}))
    removed["recordings"] = sum(1 for _, ref, _ in held if ref is not None)
    removed["transcripts"] = sum(1 for *_, has_transcript in held if has_transcript)
    await session.execute(
        update(InteractionRow)
        .where(InteractionRow.customer_id == row.id)
        .values(transcript=None, recording_ref=None)
        .execution_options(synchronize_session=False)
    )
    dispositions = await _redact_dispositions(session, row.id)
    if dispositions:
        removed["dispositions"] = dispositions
    removed["event_payloads"] = await _scrub_events(session, [e for e, _, _ in held])
    emptied, attachments, files = await _erase_messages(session, row.id)
    for name, count in (("messages", emptied), ("attachments", attachments)):
        if count:
            removed[name] = count
    if files:
        removed["attachment_files"] = len(files)
    now = ctx.now()
    # Events sent or waiting for webhook receivers that name the customer: bodies dropped.
    webhook_bodies = await webhooks.erase_customer(session, row.id, now)
    if webhook_bodies:
        removed["webhook_payloads"] = webhook_bodies
    row.name, row.tags, row.consent, row.custom_fields = None, [], {}, {}
    row.erased_at = row.updated_at = now
    record = ErasureRow(
        customer_id=row.id, erased_at=now, erased_by=by, reason=reason, removed=removed
    )
    session.add(record)
    await session.flush()
    return record, recording_refs, tuple(files), tuple(call_recordings)


async def _redact_dispositions(session: AsyncSession, customer_id: int) -> int:
    """A disposition is free text (meant for a code: ``refund-issued``); numbers and
    addresses an agent typed into it go, the code stays for the reports."""
    held = await session.execute(
        select(InteractionRow.id, InteractionRow.disposition).where(
            InteractionRow.customer_id == customer_id, InteractionRow.disposition.is_not(None)
        )
    )
    changed = 0
    for interaction_id, disposition in held.all():
        redacted = redact_text(disposition or "")
        if redacted != disposition:
            await session.execute(
                update(InteractionRow)
                .where(InteractionRow.id == interaction_id)
                .values(disposition=redacted)
                .execution_options(synchronize_session=False)
            )
            changed += 1
    return changed


async def _scrub_events(session: AsyncSession, call_ids: list[str | None]) -> int:
    scrubbed = 0
    for event in await _events_of_calls(session, call_ids):
        masked = _masked(event.payload)
        if masked != event.payload:
            event.payload = masked
            scrubbed += 1
    return scrubbed


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: ERASED if k.lower() in PERSONAL_KEYS and v is not None else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


async def _callbacks_of(session: AsyncSession, customer_id: int) -> Any:
    """Callback requests of the customer: theirs by id, or to one of their phone numbers."""
    numbers = (
        await session.execute(
            select(IdentityRow.value).where(
                IdentityRow.customer_id == customer_id,
                IdentityRow.kind.in_(sorted(k.value for k in PHONE_KINDS)),
            )
        )
    ).scalars()
    return or_(CallbackRow.customer_id == customer_id, CallbackRow.number.in_(list(numbers)))


def _callback_json(row: CallbackRow) -> dict[str, Any]:
    fields = ("call_id", "number", "queue", "language", "status", "attempts", "last_result")
    times = ("requested_at", "entry_at", "next_attempt_at", "updated_at")
    return {
        **{name: getattr(row, name) for name in fields},
        **{name: getattr(row, name).isoformat() for name in times},
        "agent": row.agent,
        "attributes": dict(row.attributes),
    }


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
