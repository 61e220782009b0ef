"""Conversations: chats, e-mails and messaging-app threads as interactions with messages."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from history.conversations import Conversations
from history.errors import (
    ConversationConflict,
    MessageTooLarge,
    NotAConversation,
    UnknownInteraction,
    UnknownMessage,
)
from history.identities import IdentityKind
from history.inputs import (
    AuthorKind,
    Channel,
    Delivery,
    DeliveryUpdate,
    Direction,
    IdentityIn,
    InteractionUpdate,
    NewConversation,
    NewInteraction,
    NewMessage,
    Status,
)
from history.records import Message

from .conftest import TEST_LIMITS, ManualClock

VISITOR = IdentityIn(kind=IdentityKind.CHAT, value="visitor-81")
JANE_MAIL = IdentityIn(kind=IdentityKind.EMAIL, value="jane@example.com")


def chat(**fields: object) -> NewConversation:
    return NewConversation.model_validate({"channel": "chat", "identity": VISITOR, **fields})


def said(conversation_id: int, body: str, **fields: object) -> NewMessage:
    values = {"direction": "in", "author_kind": "customer", **fields}
    return NewMessage.model_validate({"conversation_id": conversation_id, "body": body, **values})


def answered(conversation_id: int, body: str, **fields: object) -> NewMessage:
    values = {"author_id": "a1001", "author_name": "Sam", **fields}
    return said(
        conversation_id, body, direction=Direction.OUT, author_kind=AuthorKind.AGENT, **values
    )


async def test_a_first_chat_opens_a_conversation_and_the_next_chat_continues_it(
    conversations: Conversations,
) -> None:
    first = await conversations.open_conversation(chat())
    again = await conversations.open_conversation(chat())
    assert first.created
    assert not again.created
    assert again.conversation.id == first.conversation.id
    talk = first.conversation
    assert (talk.channel, talk.status, talk.direction) == (Channel.CHAT, Status.OPEN, Direction.IN)
    customer = await conversations.repository.find_customer("chat", "visitor-81")
    assert customer is not None
    assert talk.customer_id == customer.id
    found = await conversations.find_open_conversation(Channel.CHAT, identity=VISITOR)
    assert found is not None
    assert found.id == talk.id
    assert await conversations.find_open_conversation(Channel.EMAIL, identity=VISITOR) is None


async def test_a_resolved_conversation_is_not_continued_but_a_postponed_one_is(
    conversations: Conversations,
) -> None:
    history = conversations.repository
    first = (await conversations.open_conversation(chat())).conversation
    await history.update_interaction(first.id, InteractionUpdate(status=Status.POSTPONED))
    assert (await conversations.open_conversation(chat())).conversation.id == first.id
    await history.update_interaction(first.id, InteractionUpdate(status=Status.RESOLVED))
    second = await conversations.open_conversation(chat())
    assert second.created
    assert second.conversation.id != first.id
    assert second.conversation.customer_id == first.customer_id


async def test_without_reuse_each_email_thread_is_its_own_conversation(
    conversations: Conversations,
) -> None:
    mail = NewConversation(channel=Channel.EMAIL, identity=JANE_MAIL, reuse=False)
    one = await conversations.open_conversation(mail)
    two = await conversations.open_conversation(mail)
    assert one.created
    assert two.created
    assert one.conversation.id != two.conversation.id
    assert one.conversation.customer_id == two.conversation.customer_id


async def test_opening_is_idempotent_by_key_and_a_key_is_one_customers(
    conversations: Conversations,
) -> None:
    keyed = chat(source="chat", idempotency_key="session-7", reuse=False)
    first = await conversations.open_conversation(keyed)
    history = conversations.repository
    await history.update_interaction(
        first.conversation.id, InteractionUpdate(status=Status.RESOLVED)
    )
    retry = await conversations.open_conversation(keyed)
    assert (retry.created, retry.conversation.id) == (False, first.conversation.id)
    other = IdentityIn(kind=IdentityKind.CHAT, value="someone-else")
    with pytest.raises(ConversationConflict):
        await conversations.open_conversation(keyed.model_copy(update={"identity": other}))
    with pytest.raises(ConversationConflict):
        await conversations.open_conversation(keyed.model_copy(update={"channel": Channel.SMS}))


async def test_concurrent_first_messages_of_one_customer_open_one_conversation(
    conversations: Conversations,
) -> None:
    opened = await asyncio.gather(*(conversations.open_conversation(chat()) for _ in range(5)))
    assert len({o.conversation.id for o in opened}) == 1
    assert sum(o.created for o in opened) == 1


async def test_a_call_is_not_a_conversation(conversations: Conversations) -> None:
    with pytest.raises(ValidationError, match="not a messaging channel"):
        NewConversation(channel=Channel.VOICE, identity=VISITOR)
    with pytest.raises(ValidationError, match="customer_id or identity"):
        NewConversation(channel=Channel.CHAT)
    call = await conversations.repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, identity=VISITOR)
    )
    with pytest.raises(NotAConversation):
        await conversations.append_message(said(call.id, "hello?"))
    with pytest.raises(NotAConversation):
        await conversations.thread(call.id)


async def test_a_message_keeps_author_time_channel_delivery_and_its_text_exactly(
    conversations: Conversations, clock: ManualClock
) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    hostile = "<script>alert('x')</script> &amp; <b>bold</b>\r\n\u202ecod.exe 🙂"
    posted = await conversations.append_message(
        said(talk.id, hostile, author_id="visitor-81", author_name="Jane", external_id="c-1")
    )
    message = posted.message
    assert posted.created
    assert message.body == hostile
    assert (message.conversation_id, message.channel, message.author_kind) == (
        talk.id,
        Channel.CHAT,
        AuthorKind.CUSTOMER,
    )
    assert (message.sent_at, message.delivery, message.delivery_at) == (
        clock.now,
        Delivery.DELIVERED,
        clock.now,
    )
    reply = (await conversations.append_message(answered(talk.id, "Hi Jane"))).message
    assert (reply.direction, reply.delivery, reply.author_id) == (
        Direction.OUT,
        Delivery.QUEUED,
        "a1001",
    )
    assert await conversations.get_message(talk.id, message.id) == message


async def test_a_retried_append_returns_the_first_message(conversations: Conversations) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    first = await conversations.append_message(said(talk.id, "hello", external_id="c-1"))
    retry = await conversations.append_message(said(talk.id, "hello again", external_id="c-1"))
    assert (retry.created, retry.message) == (False, first.message)
    page = await conversations.thread(talk.id)
    assert [m.body for m in page.messages] == ["hello"]


async def test_text_the_store_cannot_keep_is_refused_at_the_edge() -> None:
    for bad in ("nul\x00byte", "lone \ud800 surrogate"):
        with pytest.raises(ValidationError):
            said(1, bad)


async def test_a_body_over_the_configured_cap_is_refused_and_nothing_is_written(
    conversations: Conversations,
) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    with pytest.raises(MessageTooLarge, match="at most 2000"):
        await conversations.append_message(said(talk.id, "x" * (TEST_LIMITS.max_body_chars + 1)))
    assert (await conversations.thread(talk.id)).messages == ()


async def test_unknown_conversations_and_messages_are_named(conversations: Conversations) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    with pytest.raises(UnknownInteraction):
        await conversations.append_message(said(talk.id + 100, "hello"))
    with pytest.raises(UnknownMessage):
        await conversations.set_delivery(talk.id, 999, DeliveryUpdate(delivery=Delivery.READ))
    other = (await conversations.open_conversation(chat(reuse=False))).conversation
    message = (await conversations.append_message(said(talk.id, "hello"))).message
    with pytest.raises(UnknownMessage):  # a message is reached through its own conversation
        await conversations.get_message(other.id, message.id)


async def test_delivery_only_moves_forward_and_failed_may_follow_any_state(
    conversations: Conversations, clock: ManualClock
) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    sent = (await conversations.append_message(answered(talk.id, "on its way"))).message

    async def report(state: Delivery) -> tuple[Delivery, bool]:
        clock.advance(seconds=1)
        done = await conversations.set_delivery(talk.id, sent.id, DeliveryUpdate(delivery=state))
        return done.message.delivery, done.changed

    assert await report(Delivery.SENT) == (Delivery.SENT, True)
    assert await report(Delivery.READ) == (Delivery.READ, True)  # a step may be skipped
    read_at = clock.now
    assert await report(Delivery.DELIVERED) == (Delivery.READ, False)  # late: ignored
    assert await report(Delivery.READ) == (Delivery.READ, False)
    assert (await conversations.get_message(talk.id, sent.id)).delivery_at == read_at
    assert await report(Delivery.FAILED) == (Delivery.FAILED, True)
    assert await report(Delivery.SENT) == (Delivery.FAILED, False)


async def test_a_thread_pages_by_keyset_and_new_messages_never_shift_a_page(
    conversations: Conversations,
) -> None:
    talk = (await conversations.open_conversation(chat())).conversation
    for n in range(7):
        await conversations.append_message(said(talk.id, f"m{n}"))

    def bodies(messages: tuple[Message, ...]) -> list[str]:
        return [m.body for m in messages]

    latest = await conversations.thread(talk.id, limit=3)
    assert bodies(latest.messages) == ["m4", "m5", "m6"]
    assert latest.newer is None
    assert latest.older is not None
    await conversations.append_message(said(talk.id, "m7"))  # meanwhile
    middle = await conversations.thread(talk.id, limit=3, before=latest.older)
    assert bodies(middle.messages) == ["m1", "m2", "m3"]
    first = await conversations.thread(talk.id, limit=3, before=middle.older)
    assert (bodies(first.messages), first.older) == (["m0"], None)
    onward = await conversations.thread(talk.id, limit=3, after=latest.messages[-1].id)
    assert (bodies(onward.messages), onward.newer) == (["m7"], None)
    assert onward.conversation.id == talk.id


async def test_an_email_finds_its_conversation_by_in_reply_to_then_references(
    conversations: Conversations,
) -> None:
    mail = NewConversation(channel=Channel.EMAIL, identity=JANE_MAIL, reuse=False)
    thread_a = (await conversations.open_conversation(mail)).conversation
    thread_b = (await conversations.open_conversation(mail)).conversation
    await conversations.append_message(said(thread_a.id, "a", external_id="<a1@mail.example>"))
    await conversations.append_message(
        answered(thread_b.id, "b", external_id="<b1@hotline.example>")
    )

    async def conversation_of(*ids: str) -> int | None:
        found = await conversations.conversation_of_external_id(ids)
        return None if found is None else found.id

    assert await conversation_of("<b1@hotline.example>") == thread_b.id
    assert await conversation_of("<unknown@x>", "<a1@mail.example>") == thread_a.id
    assert await conversation_of("<a1@mail.example>", "<b1@hotline.example>") == thread_a.id
    assert await conversation_of("<unknown@x>") is None
    stranger = await conversations.repository.find_customer("email", "jane@example.com")
    assert stranger is not None
    other = (
        await conversations.open_conversation(
            NewConversation(
                channel=Channel.EMAIL,
                identity=IdentityIn(kind=IdentityKind.EMAIL, value="mallory@x.example"),
            )
        )
    ).conversation
    assert other.customer_id is not None
    # A forged References header names Jane's message: not Mallory's conversation.
    forged = await conversations.conversation_of_external_id(
        "<a1@mail.example>", customer_id=other.customer_id
    )
    assert forged is None
    own = await conversations.conversation_of_external_id(
        "<a1@mail.example>", customer_id=stranger.id, channel=Channel.EMAIL
    )
    assert own is not None
    assert own.id == thread_a.id


async def test_the_timeline_shows_each_conversations_message_count_and_last_message(
    conversations: Conversations,
) -> None:
    history = conversations.repository
    talk = (await conversations.open_conversation(chat())).conversation
    await conversations.append_message(said(talk.id, "my parcel is late"))
    await conversations.append_message(answered(talk.id, "It arrives tomorrow"))
    assert talk.customer_id is not None
    call = await history.append_interaction(
        NewInteraction(channel=Channel.VOICE, customer_id=talk.customer_id)
    )
    page = await history.timeline(talk.customer_id)
    by_id = {e.interaction.id: e for e in page.entries}
    summary = by_id[talk.id].conversation
    assert summary is not None
    assert summary.message_count == 2
    assert summary.last_message is not None
    assert summary.last_message.body == "It arrives tomorrow"
    assert by_id[call.id].conversation is None
    empty = (await conversations.open_conversation(chat(channel="sms", reuse=False))).conversation
    entry = next(e for e in (await history.timeline(talk.customer_id)).entries)
    assert entry.interaction.id == empty.id
    assert entry.conversation is not None
    assert (entry.conversation.message_count, entry.conversation.last_message) == (0, None)


async def test_a_merged_customers_conversations_are_the_survivors(
    conversations: Conversations,
) -> None:
    history = conversations.repository
    talk = (await conversations.open_conversation(chat())).conversation
    mail = (
        await conversations.open_conversation(
            NewConversation(channel=Channel.EMAIL, identity=JANE_MAIL)
        )
    ).conversation
    assert talk.customer_id is not None
    assert mail.customer_id is not None
    await conversations.append_message(said(talk.id, "chat first"))
    await history.merge_customers(mail.customer_id, talk.customer_id, by="sup", reason="same")
    again = await conversations.open_conversation(chat())
    assert (again.created, again.conversation.id) == (False, talk.id)
    page = await history.timeline(talk.customer_id)  # the old id resolves to the survivor
    assert {e.interaction.id for e in page.entries} == {talk.id, mail.id}
