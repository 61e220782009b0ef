"""A stopped service's open calls are closed at its next start: ``failed``, with a note.

Only that node's own voice interactions that are still open are closed; a chat or e-mail
module's, or another source's, are theirs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from history.identities import IdentityKind
from history.inputs import Channel, Direction, IdentityIn, NewEvent, NewInteraction
from history.models import NoteRow
from history.outcomes import DEFAULT_STATUS, INTERRUPTED_NOTE, Outcome
from history.repository import HistoryRepository

from .conftest import ManualClock

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def call(key: str, *, at: dt.datetime = T0, **fields: object) -> NewInteraction:
    values: dict[str, object] = {
        "channel": Channel.VOICE,
        "started_at": at,
        "identity": IdentityIn(kind=IdentityKind.PHONE, value="+441632960123"),
        "source": "hotline",
        "external_id": key,
        "idempotency_key": key,
        **fields,
    }
    return NewInteraction.model_validate(values)


async def test_open_calls_of_the_stopped_run_are_closed_as_failed_at_their_last_event(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    queued = await repository.append_interaction(call("queued.1"))
    answered = await repository.append_interaction(call("answered.1", agent="1001"))
    callback = await repository.append_interaction(call("cb.1-cb1", direction=Direction.OUT))
    for key, seconds in [("queued.1", 40), ("answered.1", 20), ("answered.1", 95)]:
        await repository.append_event(
            NewEvent(kind="call_queued", call_id=key, at=T0 + dt.timedelta(seconds=seconds))
        )
    restart = clock.advance(minutes=10)

    closed = await repository.close_interrupted(source="hotline", before=restart)

    assert sorted(closed) == sorted([queued.id, answered.id, callback.id])
    ends = {}
    for closed_id in closed:
        found = await repository.get_interaction(closed_id)
        assert (found.outcome, found.status) == (
            Outcome.FAILED,
            DEFAULT_STATUS[Outcome.FAILED],
        )
        async with repository.engine.connect() as connection:
            notes = await connection.execute(
                select(NoteRow.body).where(NoteRow.interaction_id == closed_id)
            )
            assert notes.scalars().all() == [INTERRUPTED_NOTE]
        ends[found.external_id] = found.ended_at
    assert ends == {
        "queued.1": T0 + dt.timedelta(seconds=40),  # its last event
        "answered.1": T0 + dt.timedelta(seconds=95),
        "cb.1-cb1": T0,  # nothing known after its start
    }
    assert await repository.close_interrupted(source="hotline", before=restart) == []


async def test_what_is_not_this_nodes_open_voice_call_is_left_alone(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    ended = await repository.append_interaction(
        call("ended.1", ended_at=T0, outcome="answered", status="resolved")
    )
    chat = await repository.append_interaction(call("chat.1", channel=Channel.CHAT))
    other = await repository.append_interaction(call("other.1", source="emailbot"))
    restart = clock.advance(minutes=10)
    current = await repository.append_interaction(call("now.1", at=restart))

    assert await repository.close_interrupted(source="hotline", before=restart) == []

    for untouched in (ended, chat, other, current):
        again = await repository.get_interaction(untouched.id)
        assert (again.outcome, again.ended_at) == (untouched.outcome, untouched.ended_at)
