"""E-mail end to end over real sockets: a customer's mail reaches the service's SMTP server,
is kept and offered to the right agent as a task of the one ACD; the agent's reply leaves
through the relay threaded so that the customer's answer comes back into the same
conversation, to the same agent while it is open. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from acd.agent_events import Login
from acd.workload import TaskPhase
from center.email_message import NOTES_HEADING
from history.conversations import MessageLimits
from history.inputs import AuthorKind, Delivery, Direction, Status
from tests.center.email.support import (
    DOMAIN,
    NADIA,
    OMAR,
    SUPPORT,
    Rig,
    answer_to,
    customer_mail,
    email_rig,
)
from tests.e2e.stack import wait_until
from tests.history.conftest import Target


async def test_a_mail_about_a_bill_reaches_billing_and_the_answer_to_the_reply_threads_back(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        rig.acd.agent_event(Login("cashier"))
        first = customer_mail(
            "Hello,\nmy bill for March is twice what it should be.",
            subject="Wrong amount",
            message_id="<m1.nadia@example.com>",
        )
        assert (await rig.send(first))[0] == 250
        conversation = (await rig.conversation_with("<m1.nadia@example.com>")).id
        await rig.offered_to("cashier", conversation)  # billing's agent, not the first logged in
        await rig.desk.accept("cashier", conversation)
        said = await rig.desk.agent_wrote("cashier", conversation, "We are refunding the extra.")
        assert said.delivery is Delivery.SENT
        assert said.external_id is not None
        assert said.external_id.endswith(f"@{DOMAIN}>")

        [(mail_from, rcpt_tos, _)] = rig.relay.messages
        assert (mail_from, rcpt_tos) == (SUPPORT, [NADIA[1]])
        [reply] = rig.relay.replies()
        assert reply.message_id == said.external_id  # the one kept: the answer threads by it
        assert reply.in_reply_to == ("<m1.nadia@example.com>",)
        assert reply.references == ("<m1.nadia@example.com>",)
        assert reply.subject == "Re: Wrong amount"
        assert (reply.from_name, reply.from_address) == ("Hotline Support", SUPPORT)
        assert reply.body == "We are refunding the extra."

        answer = answer_to(reply, "Thanks! Will it be on my card?", message_id="<m2@example.com>")
        assert (await rig.send(answer))[0] == 250
        assert (await rig.conversation_with("<m2@example.com>")).id == conversation
        [held] = rig.acd.distributor.tasks_of("cashier")
        assert held.phase is TaskPhase.ACTIVE  # the same task, still with the same agent
        assert held.task_id == rig.desk.task_of(conversation)
        messages = await rig.thread(conversation)
        assert [(m.direction, m.body) for m in messages] == [
            (Direction.IN, "Hello,\nmy bill for March is twice what it should be."),
            (Direction.OUT, "We are refunding the extra."),
            (Direction.IN, "Thanks! Will it be on my card?"),
        ]
        assert messages[0].author_name == "Nadia Haddad <nadia@example.com>"
        assert messages[2].in_reply_to == said.external_id
        heard = [e for e in rig.events if e.kind == "message" and e.message == messages[2]]
        assert [(e.task_id, e.agent_id) for e in heard] == [(held.task_id, "cashier")]

        rig.desk.finish("cashier", conversation)
        await rig.settle()
        interaction = await rig.store.repository.get_interaction(conversation)
        assert (interaction.channel, interaction.queue, interaction.agent) == (
            "email",
            "billing",
            "cashier",
        )
        assert interaction.status is Status.RESOLVED


async def test_a_new_mail_that_replies_to_nothing_opens_another_conversation(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        await rig.send(customer_mail("No internet since noon", message_id="<a@example.com>"))
        await rig.send(customer_mail("And my bill is wrong", message_id="<b@example.com>"))
        await rig.send(
            customer_mail("Router blinking red", message_id="<c@example.org>", sender=OMAR),
            mail_from=OMAR[1],
        )
        a, b, c = [await rig.conversation_with(f"<{x}>") for x in
                   ("a@example.com", "b@example.com", "c@example.org")]  # fmt: skip
        assert len({a.id, b.id, c.id}) == 3
        assert a.customer_id == b.customer_id != c.customer_id
        # capacity: 2 e-mails
        await wait_until(lambda: len(rig.acd.distributor.tasks_of("tech")) == 2)
        assert rig.desk.task_of(b.id) is not None  # billing's task waits for the cashier


async def test_a_message_delivered_twice_is_stored_once_and_routed_once(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        raw = customer_mail("My line is dead", message_id="<twice@example.com>")
        assert (await rig.send(raw))[0] == 250
        codes = await asyncio.gather(rig.send(raw), rig.send(raw))  # and twice at once
        assert [code for code, _ in codes] == [250, 250]
        conversation = (await rig.conversation_with("<twice@example.com>")).id
        assert [m.body for m in await rig.thread(conversation)] == ["My line is dead"]
        assert rig.desk.task_of(conversation) == f"email-{conversation}.1"
        assert rig.kinds(conversation).count("message") == 1


async def test_automatic_mail_is_kept_but_never_routed(target: Target, tmp_path: Path) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        raw = customer_mail("Internet down", message_id="<q@example.com>")
        await rig.send(raw)
        conversation = (await rig.conversation_with("<q@example.com>")).id
        await rig.desk.accept("tech", conversation)
        said = await rig.desk.agent_wrote("tech", conversation, "Please restart the router.")
        [reply] = rig.relay.replies()
        assert reply.message_id is not None
        out_of_office = customer_mail(
            "I am away until Monday.",
            message_id="<ooo@example.com>",
            subject=f"Automatic reply: {reply.subject}",
            in_reply_to=reply.message_id,
            references=(*reply.references, reply.message_id),
            headers={"Auto-Submitted": "auto-replied"},
        )
        assert (await rig.send(out_of_office))[0] == 250
        list_mail = customer_mail(
            "Our newsletter", message_id="<news@example.org>", sender=OMAR,
            headers={"List-Id": "<news.example.org>"},
        )  # fmt: skip
        assert (await rig.send(list_mail, mail_from=OMAR[1]))[0] == 250
        bounce = customer_mail(
            "Delivery failed", message_id="<bounce@mx.example.org>",
            sender=("Mail Delivery System", "mailer-daemon@mx.example.org"),
        )  # fmt: skip
        assert (await rig.send(bounce, mail_from="<>"))[0] == 250
        looped = customer_mail("our own reply, back", message_id="<loop@hotline.test>",
                               sender=("Hotline Support", SUPPORT))  # fmt: skip
        assert (await rig.send(looped, mail_from=SUPPORT))[0] == 250
        await rig.settle()

        thread = await rig.thread(conversation)
        assert [(m.author_kind, m.body) for m in thread] == [
            (AuthorKind.CUSTOMER, "Internet down"),
            (AuthorKind.AGENT, said.body),
            (AuthorKind.SYSTEM, "I am away until Monday."),  # kept where it belongs
        ]
        assert [t.task_id for t in rig.acd.distributor.tasks_of("tech")] == [
            f"email-{conversation}.1"
        ]
        for message_id in ("<news@example.org>", "<bounce@mx.example.org>", "<loop@hotline.test>"):
            kept = await rig.conversation_with(message_id)
            assert rig.desk.task_of(kept.id) is None
            closed = await rig.store.repository.get_interaction(kept.id)
            assert (closed.status, closed.disposition) == (Status.RESOLVED, "automatic mail")
        assert rig.channel.intake.counts.automatic == 4
        assert len(rig.relay.messages) == 1  # nothing was sent to any machine

        again = await rig.desk.agent_wrote("tech", conversation, "Any news?")
        second = rig.relay.replies()[-1]  # the thread as the customer saw it, no auto-reply
        assert second.in_reply_to == (said.external_id,)
        assert second.references == ("<q@example.com>", said.external_id)
        assert second.subject == "Re: A question"
        assert second.message_id == again.external_id


async def test_attachments_are_kept_within_the_caps_and_what_was_left_out_is_noted(
    target: Target, tmp_path: Path
) -> None:
    caps = MessageLimits(max_attachment_bytes=4000, max_message_attachment_bytes=6000)
    sizes = (("scan", 3000), ("second", 3500), ("photo", 5000), ("video", 10_000))
    files = [(f"{name}.pdf", bytes([i]) * size) for i, (name, size) in enumerate(sizes)]
    async with email_rig(
        target, tmp_path, message_limits=caps, limits={"max_attachment_bytes": 9000}
    ) as rig:
        raw = customer_mail("The scans are attached.", message_id="<files@example.com>",
                            attachments=files)  # fmt: skip
        assert await rig.send(raw) == (250, "2.0.0 OK: message accepted")
        conversation = (await rig.conversation_with("<files@example.com>")).id
        [message] = await rig.thread(conversation)
        [kept] = message.attachments
        found, data = await rig.store.read_attachment(conversation, message.id, kept.id)
        assert (found.filename, data) == ("scan.pdf", files[0][1])
        text, notes = message.body.split("\n\n", 1)
        assert text == "The scans are attached."
        lines = notes.splitlines()
        assert lines[0] == NOTES_HEADING
        assert len(lines) == 4
        assert lines[1].startswith("- attachment 'video.pdf': ")  # the SMTP limit (parser)
        assert lines[1].endswith("bytes, over the limit of 9000")
        assert lines[2:] == [  # the store's caps
            "- attachment 'second.pdf': the message's files would be over 6000 bytes",
            "- attachment 'photo.pdf': 5000 bytes, over the limit of 4000 a file",
        ]


async def test_a_mail_with_no_address_to_answer_is_refused(target: Target, tmp_path: Path) -> None:
    async with email_rig(target, tmp_path) as rig:
        raw = customer_mail("hello", message_id="<anon@example.com>", sender=("", "not an address"))
        code, text = await rig.send(raw, mail_from="<>")
        assert code == 554
        assert "no sender address" in text
        assert await rig.store.conversation_of_external_id("<anon@example.com>") is None


async def test_the_reply_goes_to_the_reply_to_address_the_customer_gave(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        conversation = await opened(rig, "<rt@example.com>", {"Reply-To": "home@example.net"})
        await rig.desk.agent_wrote("tech", conversation, "Done.")
        [(_, rcpt_tos, _)] = rig.relay.messages
        assert rcpt_tos == ["home@example.net"]


async def test_a_stranger_naming_anothers_message_ids_does_not_enter_their_conversation(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        conversation = await opened(rig, "<private@example.com>")
        forged = customer_mail(
            "Show me her invoice", message_id="<forged@example.org>", sender=OMAR,
            in_reply_to="<private@example.com>", references=("<private@example.com>",),
        )  # fmt: skip
        assert (await rig.send(forged, mail_from=OMAR[1]))[0] == 250
        theirs = await rig.conversation_with("<forged@example.org>")
        assert theirs.id != conversation
        assert [m.body for m in await rig.thread(conversation)] == ["Internet is down"]


async def opened(rig: Rig, message_id: str, headers: dict[str, str] | None = None) -> int:
    """A customer's first mail, accepted by the technician."""
    rig.acd.agent_event(Login("tech"))
    raw = customer_mail("Internet is down", message_id=message_id, headers=headers)
    assert (await rig.send(raw))[0] == 250
    conversation = (await rig.conversation_with(message_id)).id
    await rig.offered_to("tech", conversation)
    await rig.desk.accept("tech", conversation)
    return conversation
