from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from history.attachments import AttachmentData
from history.conversations import Conversations
from history.errors import InvalidCursor
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Direction,
    IdentityIn,
    InteractionUpdate,
    NewConversation,
    NewCustomer,
    NewInteraction,
    NewMessage,
    NewNote,
    Status,
)
from history.records import Fcr
from history.repository import HistoryRepository

from .conftest import ManualClock

PHONE = IdentityIn(kind=IdentityKind.PHONE, value="01632 960123")
CHAT = IdentityIn(kind=IdentityKind.CHAT, value="jane-web-7")


async def _jane(repository: HistoryRepository) -> int:
    customer = await repository.create_customer(NewCustomer(name="Jane", identities=(PHONE, CHAT)))
    return customer.id


def contact(
    at: datetime, channel: str = "voice", status: str = "resolved", **fields: object
) -> NewInteraction:
    return NewInteraction.model_validate(
        {
            "channel": channel,
            "identity": PHONE if channel == "voice" else CHAT,
            "started_at": at,
            "status": status,
            **fields,
        }
    )


async def test_follow_up_in_chat_sees_the_phone_complaint(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    await _jane(repository)
    complaint = await repository.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            identity=IdentityIn(kind=IdentityKind.PHONE, value="+441632960123"),
            intent="complaint",
            agent="agent1001",
            idempotency_key="call-1",
        )
    )
    await repository.add_note(
        NewNote(
            author="agent1001",
            body="router broken, engineer booked for Friday",
            interaction_id=complaint.id,
        )
    )
    clock.advance(minutes=15)

    # The chat module knows only the chat handle.
    customer = await repository.find_customer("chat", "jane-web-7")
    assert customer is not None
    chat = await repository.append_interaction(
        NewInteraction(
            channel=Channel.CHAT, customer_id=customer.id, source="chat", idempotency_key="conv-9"
        )
    )
    page = await repository.timeline(customer.id)
    assert [e.interaction.id for e in page.entries] == [chat.id, complaint.id]
    seen = page.entries[1]
    assert seen.interaction.intent == "complaint"
    assert seen.notes[0].body == "router broken, engineer booked for Friday"
    assert [i.id for i in await repository.open_issues(customer.id)] == [chat.id, complaint.id]
    assert len(await repository.recent_contacts(customer.id, days=1)) == 2
    last = await repository.last_agent(customer.id)
    assert last is not None
    assert (last.agent, last.channel) == ("agent1001", Channel.VOICE)


async def test_timeline_pages_newest_first_without_gaps_or_repeats(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    customer_id = await _jane(repository)
    base = clock.now
    for i in range(23):
        # Two contacts share each timestamp: the id breaks the tie.
        await repository.append_interaction(contact(base + timedelta(hours=i // 2)))
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await repository.timeline(customer_id, limit=5, cursor=cursor)
        pages += 1
        seen += [e.interaction.id for e in page.entries]
        if pages == 1:
            # A contact arriving meanwhile does not shift the older pages.
            await repository.append_interaction(contact(clock.advance(days=1)))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    interactions = [await repository.get_interaction(i) for i in seen]
    keys = [(i.started_at, i.id) for i in interactions]
    assert keys == sorted(keys, reverse=True)


async def test_timeline_can_be_limited_to_some_channels(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    customer_id = await _jane(repository)
    await repository.append_interaction(contact(clock.now, "voice"))
    chat = await repository.append_interaction(contact(clock.now, "chat"))
    page = await repository.timeline(customer_id, channels=[Channel.CHAT])
    assert [e.interaction.id for e in page.entries] == [chat.id]


async def test_a_forged_cursor_is_refused(repository: HistoryRepository) -> None:
    customer_id = await _jane(repository)
    with pytest.raises(InvalidCursor):
        await repository.timeline(customer_id, cursor="not-a-cursor")


async def test_open_issues_are_the_open_and_postponed_ones(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    customer_id = await _jane(repository)
    open_ = await repository.append_interaction(contact(clock.now, status="open"))
    await repository.append_interaction(contact(clock.now, status="resolved"))
    later = await repository.append_interaction(contact(clock.advance(hours=1), status="postponed"))
    assert [i.id for i in await repository.open_issues(customer_id)] == [later.id, open_.id]
    await repository.update_interaction(open_.id, InteractionUpdate(status=Status.RESOLVED))
    assert [i.id for i in await repository.open_issues(customer_id)] == [later.id]


async def test_repeat_contact_counts_every_channel_within_the_window(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    customer_id = await _jane(repository)
    now = clock.now
    await repository.append_interaction(contact(now - timedelta(days=10)))
    email = await repository.append_interaction(contact(now - timedelta(days=2), "chat"))
    recent = await repository.recent_contacts(customer_id, days=7, now=now)
    assert [i.id for i in recent] == [email.id]
    assert await repository.recent_contacts(customer_id, days=1, now=now) == []


async def test_first_contact_resolution_of_one_interaction(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    await _jane(repository)
    t0 = clock.now
    fixed = await repository.append_interaction(contact(t0))
    assert await repository.first_contact_resolution(fixed.id, window_days=7, now=t0) is Fcr.PENDING
    after_window = t0 + timedelta(days=8)
    assert (
        await repository.first_contact_resolution(fixed.id, window_days=7, now=after_window)
        is Fcr.ACHIEVED
    )
    # The customer comes back three days later, in chat: the first contact did not fix it.
    await repository.append_interaction(contact(t0 + timedelta(days=3), "chat", status="open"))
    assert (
        await repository.first_contact_resolution(fixed.id, window_days=7, now=after_window)
        is Fcr.REPEATED
    )
    # An outbound callback by us is not the customer coming back.
    unresolved = await repository.append_interaction(
        contact(t0 + timedelta(days=20), status="open")
    )
    await repository.append_interaction(contact(t0 + timedelta(days=21), direction=Direction.OUT))
    assert await repository.first_contact_resolution(unresolved.id) is Fcr.UNRESOLVED


async def test_first_contact_resolution_rate_over_a_period(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    await _jane(repository)
    other = IdentityIn(kind=IdentityKind.PHONE, value="07700 900456")
    t0 = clock.now
    await repository.append_interaction(contact(t0))  # repeated: chat 2 days later
    await repository.append_interaction(contact(t0 + timedelta(days=2), "chat"))  # achieved
    await repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, identity=other, started_at=t0, status=Status.OPEN)
    )  # unresolved
    await repository.append_interaction(
        NewInteraction(
            channel=Channel.EMAIL,
            identity=IdentityIn(kind=IdentityKind.EMAIL, value="x@y.org"),
            started_at=t0 + timedelta(days=29),
            status=Status.RESOLVED,
        )
    )  # pending at "now"
    await repository.append_interaction(NewInteraction(channel=Channel.VOICE, started_at=t0))
    rate = await repository.fcr_rate(
        t0, t0 + timedelta(days=30), window_days=7, now=t0 + timedelta(days=31)
    )
    assert (rate.contacts, rate.achieved, rate.repeated, rate.unresolved, rate.pending) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert rate.rate == pytest.approx(1 / 3)


async def test_last_agent_is_the_latest_one_on_any_channel(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    customer_id = await _jane(repository)
    assert await repository.last_agent(customer_id) is None
    await repository.append_interaction(contact(clock.now, agent="agent1001"))
    chat = await repository.append_interaction(
        contact(clock.advance(hours=1), "chat", agent="chat-anna")
    )
    await repository.append_interaction(contact(clock.advance(hours=1)))  # abandoned in queue
    last = await repository.last_agent(customer_id)
    assert last is not None
    assert (last.agent, last.interaction_id) == ("chat-anna", chat.id)


async def test_first_contact_resolution_by_the_channel_of_the_first_contact(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    await _jane(repository)
    t0 = clock.now
    await repository.append_interaction(contact(t0))  # a call, repeated by a chat
    await repository.append_interaction(contact(t0 + timedelta(days=2), "chat"))  # achieved
    await repository.append_interaction(contact(t0 + timedelta(days=20), "email"))  # achieved
    now = t0 + timedelta(days=31)
    until = t0 + timedelta(days=30)
    by_channel = await repository.fcr_by_channel(t0, until, window_days=7, now=now)
    assert {ch: (r.contacts, r.achieved, r.repeated) for ch, r in by_channel.items()} == {
        "chat": (1, 1, 0),
        "email": (1, 1, 0),
        "voice": (1, 0, 1),
    }
    total = await repository.fcr_rate(t0, until, window_days=7, now=now)
    assert (total.contacts, total.achieved) == (3, 2)
    assert total.rate == pytest.approx(2 / 3)


async def test_a_pages_records_are_the_ones_each_record_reads_back_alone(
    conversations: Conversations, clock: ManualClock
) -> None:
    """The page builds its records from its own rows (``history.timeline``): every field,
    time zone and enum as the interaction's, the note's and the message's own reads give."""
    history = conversations.repository
    talk = (
        await conversations.open_conversation(
            NewConversation(
                channel=Channel.WHATSAPP,
                identity=IdentityIn(kind=IdentityKind.WHATSAPP, value="+441632960123"),
            )
        )
    ).conversation
    assert talk.customer_id is not None
    customer = talk.customer_id
    first = await conversations.append_message(
        NewMessage(
            conversation_id=talk.id,
            direction=Direction.IN,
            author_kind=AuthorKind.CUSTOMER,
            body="see attached",
        )
    )
    clock.advance(minutes=1)
    last = await conversations.append_message(
        NewMessage(
            conversation_id=talk.id,
            direction=Direction.OUT,
            author_kind=AuthorKind.AGENT,
            author_id="a1",
            body="two files back",
        )
    )
    for attachment in (
        AttachmentData("photo.jpg", "image/jpeg", b"\xff\xd8 a photo"),
        AttachmentData("bill.pdf", "application/pdf", b"%PDF-1.7 bill"),
    ):
        await conversations.add_attachment(talk.id, last.message.id, attachment)
    clock.advance(minutes=1)
    call = await history.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            customer_id=customer,
            direction=Direction.OUT,
            queue="billing",
            agent="a1",
            wait_s=2.5,
            intent="billing",
            priority=3,
        )
    )
    await history.update_interaction(
        call.id, InteractionUpdate(status=Status.POSTPONED, csat=4, talk_s=61.5, hold_s=3.0)
    )
    noted = [
        await history.add_note(NewNote(author=f"a{n}", body=f"note {n}", interaction_id=call.id))
        for n in (1, 2)
    ]
    entries = (await history.timeline(customer)).entries
    assert [e.interaction.id for e in entries] == [call.id, talk.id]
    for entry in entries:
        assert entry.interaction == await history.get_interaction(entry.interaction.id)
    on_call, on_talk = entries
    assert on_call.notes == tuple(noted)
    assert on_call.conversation is None
    assert on_talk.notes == ()
    assert on_talk.conversation is not None
    assert on_talk.conversation.message_count == 2
    expected = await conversations.get_message(talk.id, last.message.id)
    assert len(expected.attachments) == 2
    assert on_talk.conversation.last_message == expected
    assert first.message.id != expected.id
