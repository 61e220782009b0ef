"""When things fail on the e-mail channel nothing is lost: a relay that refuses or is down
leaves the agent's reply kept and marked failed (after retries, without holding the agent's
request for long); a store that is down or slow when mail arrives makes the sender try again
(451), and its retry finishes the work once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from acd.agent_events import Login
from center.email_intake import EmailIntake
from history.attachments import AttachmentData
from history.conversations import Conversations
from history.inputs import Channel, Delivery, NewMessage
from history.models import InteractionRow
from history.records import Appended
from tests.center.email.support import Rig, customer_mail, email_rig
from tests.e2e.stack import wait_until
from tests.history.conftest import PG_URL, Target
from tests.history.outage import Outage
from tests.ports import unused_port


async def open_with_tech(rig: Rig, message_id: str) -> int:
    rig.acd.agent_event(Login("tech"))
    assert (await rig.send(customer_mail("No signal at all", message_id=message_id)))[0] == 250
    conversation = (await rig.conversation_with(message_id)).id
    await rig.offered_to("tech", conversation)
    await rig.desk.accept("tech", conversation)
    return conversation


async def email_conversations(rig: Rig) -> int:
    async with rig.store.repository.engine.connect() as connection:
        query = select(func.count()).where(InteractionRow.channel == Channel.EMAIL.value)
        return int((await connection.execute(query)).scalar_one())


async def test_a_reply_the_relay_refuses_is_kept_and_marked_failed(
    target: Target, tmp_path: Path
) -> None:
    async with email_rig(target, tmp_path) as rig:
        conversation = await open_with_tech(rig, "<refused@example.com>")
        rig.relay.data_replies = ["554 5.7.1 Rejected as spam"]
        said = await rig.desk.agent_wrote("tech", conversation, "Please restart the router.")
        assert said.delivery is Delivery.FAILED
        assert len(rig.relay.messages) == 1  # tried once: a 5xx is not tried again
        thread = await rig.thread(conversation)
        assert (thread[-1].body, thread[-1].delivery) == (said.body, Delivery.FAILED)


async def test_a_relay_that_stays_down_is_retried_then_the_reply_is_failed(
    target: Target, tmp_path: Path
) -> None:
    relay = {"attempts": 3, "first_backoff_s": 0.05}
    async with email_rig(target, tmp_path, relay_port=unused_port(), relay=relay) as rig:
        conversation = await open_with_tech(rig, "<down@example.com>")
        said = await rig.desk.agent_wrote("tech", conversation, "We are on it.")
        assert said.delivery is Delivery.FAILED
        assert [m.body for m in await rig.thread(conversation)][-1] == "We are on it."


async def test_a_reply_still_being_retried_does_not_hold_the_agent_and_fails_later(
    target: Target, tmp_path: Path
) -> None:
    relay = {"attempts": 3, "first_backoff_s": 0.15}  # tries for 0.45 s; the agent waits 0.05
    async with email_rig(
        target, tmp_path, relay_port=unused_port(), relay=relay, reply_wait_s=0.05
    ) as rig:
        conversation = await open_with_tech(rig, "<slow@example.com>")
        said = await rig.desk.agent_wrote("tech", conversation, "We are on it.")
        assert said.delivery is Delivery.SENT  # handed to the channel, still being tried
        await wait_until(
            lambda: any(
                e.kind == "delivery" and e.message is not None and e.message.id == said.id
                and e.message.delivery is Delivery.FAILED for e in rig.events
            ),
            10,
        )  # fmt: skip
        [kept] = [m for m in await rig.thread(conversation) if m.id == said.id]
        assert kept.delivery is Delivery.FAILED


async def test_a_store_that_is_down_when_mail_arrives_defers_it_and_the_retry_is_taken_once(
    pg_target: Target, tmp_path: Path
) -> None:
    server = make_url(PG_URL)
    outage = Outage(server.host or "127.0.0.1", server.port or 5432)
    port = await outage.start()
    proxied = Target("postgresql", server.set(port=port).render_as_string(False), pg_target.schema)
    try:
        async with email_rig(proxied, tmp_path) as rig:
            rig.acd.agent_event(Login("tech"))
            raw = customer_mail("Internet down again", message_id="<outage@example.com>")
            await outage.cut()
            code, text = await rig.send(raw)
            assert (code, text) == (451, "4.3.0 Temporary failure: please try again later")
            await outage.restore()
            assert await rig.store.conversation_of_external_id("<outage@example.com>") is None
            assert await email_conversations(rig) == 0  # nothing half-stored

            assert (await rig.send(raw))[0] == 250  # the sender's retry
            conversation = (await rig.conversation_with("<outage@example.com>")).id
            await rig.offered_to("tech", conversation)
            assert len(await rig.thread(conversation)) == 1
    finally:
        await outage.close()


async def test_a_failure_after_the_conversation_was_opened_is_finished_by_the_retry(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        original = rig.store.append_message
        failures = [OSError("connection to the store lost")]

        async def append_once_failing(
            new: NewMessage, attachments: Sequence[AttachmentData] = ()
        ) -> Appended:
            if failures:
                raise failures.pop()
            return await original(new, attachments)

        monkeypatch.setattr(rig.store, "append_message", append_once_failing)
        raw = customer_mail("My router is dead", message_id="<half@example.com>")
        assert (await rig.send(raw))[0] == 451
        assert await email_conversations(rig) == 1  # opened, empty, not routed
        assert (await rig.send(raw))[0] == 250
        conversation = (await rig.conversation_with("<half@example.com>")).id
        assert await email_conversations(rig) == 1  # the same one continued
        assert [m.body for m in await rig.thread(conversation)] == ["My router is dead"]
        await rig.offered_to("tech", conversation)


async def test_a_store_slower_than_the_smtp_deadline_still_finishes_the_write_once(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with email_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login("tech"))
        server = rig.channel.server
        settings = server.settings
        server.settings = dataclasses.replace(settings, callback_timeout_s=0.2)
        intake: EmailIntake = rig.channel.intake
        original = Conversations.append_message
        gate = asyncio.Event()

        async def slow_append(self: Conversations, *args: Any, **kwargs: Any) -> Appended:
            await gate.wait()
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(Conversations, "append_message", slow_append)
        raw = customer_mail("Dropped calls", message_id="<slow-store@example.com>")
        assert (await rig.send(raw))[0] == 451  # the sender will try again
        gate.set()  # the store answers: the write that was begun finishes
        await wait_until(lambda: intake.in_progress == 0, 5)
        conversation = (await rig.conversation_with("<slow-store@example.com>")).id
        server.settings = settings  # the retry's answer is not a race with a 0.2 s deadline
        assert (await rig.send(raw))[0] == 250  # the retry finds it kept
        assert [m.body for m in await rig.thread(conversation)] == ["Dropped calls"]
        assert rig.desk.task_of(conversation) == f"email-{conversation}.1"
