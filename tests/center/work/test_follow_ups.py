"""A callback the dialler gives up on becomes a follow-up task, in the request's queue, saying
what happened; from a voicemail or a follow-up an agent books a callback through the
dialler (no written reply). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from acd.agent_events import Login
from center.conversations import DeskError
from center.follow_ups import FollowUpBook, follow_up_text
from center.voicemail_tasks import LeftVoicemail
from history.callbacks import Callback, CallbackStore, NewCallback
from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel
from ivr.flow.state import WellKnown
from tests.center.work.support import BILLING_AGENT, TECHNICIAN, Rig, work_rig
from tests.history.conftest import Target
from tests.telephony.test_emulator_calls import tone_wav

NUMBER = "+441632960188"
ASKED = dt.datetime(2027, 2, 1, 10, 4, tzinfo=dt.UTC)


async def given_up(rig: Rig, call_id: str, *, attempts: int, result: str, **more: str) -> Callback:
    """A request of ``call_id`` in the store, dialled ``attempts`` times, then failed."""
    book = FollowUpBook(CallbackStore(rig.repository.engine), rig.follow_ups)
    attributes = {"acd.waited_s": "123.4", WellKnown.INTENT: "billing_question", **more}
    await book.add(
        NewCallback(call_id, NUMBER, "billing", "en", ASKED, ASKED, attributes=attributes)
    )
    for _ in range(attempts - 1):
        claimed = await book.claim((await book.get(call_id) or _missing()).id)
        assert claimed is not None
        await book.retry(claimed.id, at=ASKED, result="customer noanswer", agent=BILLING_AGENT)
    found = await book.get(call_id) or _missing()
    if attempts:
        claimed = await book.claim(found.id)
        assert claimed is not None
        return await book.failed(found.id, result=result, agent=BILLING_AGENT)
    return await book.failed(found.id, result=result)


def _missing() -> Callback:
    raise AssertionError("the request is not in the book")


async def test_a_callback_that_never_reached_the_customer_is_followed_up_in_its_queue(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login(TECHNICIAN))
        rig.acd.agent_event(Login(BILLING_AGENT))
        failed = await given_up(rig, "1712399.5", attempts=3, result="customer busy")
        assert (failed.status, failed.attempts) == ("failed", 3)
        await rig.settle()

        conversation = await rig.conversation("follow-up-1712399.5")
        assert (conversation.channel, conversation.external_id) == (Channel.FOLLOW_UP, "1712399.5")
        assert rig.queue_of(conversation.id) == "billing"  # the request's, not its words'
        assert rig.desk.holder(conversation.id) == BILLING_AGENT
        customer = await rig.repository.get_customer(conversation.customer_id or 0)
        assert [(i.kind, i.value) for i in customer.identities] == [(IdentityKind.PHONE, NUMBER)]
        [message] = (await rig.store.thread(conversation.id)).messages
        assert message.author_kind is AuthorKind.SYSTEM
        assert message.body.splitlines() == [
            f"Callback to {NUMBER} failed: the customer was not reached.",
            "Asked for 2027-02-01 10:04 UTC on call 1712399.5, after waiting 2 min 3 s.",
            "Queue billing, intent billing_question.",
            "3 attempts; the last: customer busy.",
            "Reach the customer another way, or book a new callback.",
        ]
        await rig.desk.accept(BILLING_AGENT, conversation.id)
        with pytest.raises(DeskError, match="no written reply"):
            await rig.desk.agent_wrote(BILLING_AGENT, conversation.id, "I e-mailed them")


async def test_a_number_that_cannot_be_dialled_is_followed_up_too(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        await given_up(rig, "1712399.6", attempts=0, result="number cannot be dialled")
        await rig.settle()
        conversation = await rig.conversation("follow-up-1712399.6")
        [message] = (await rig.store.thread(conversation.id)).messages
        assert "Never dialled: number cannot be dialled." in message.body.splitlines()
        assert rig.desk.task_of(conversation.id) is not None


def test_the_follow_up_says_one_attempt_and_no_wait_when_none_is_known() -> None:
    callback = Callback(
        id=1,
        call_id="1712399.7",
        number=NUMBER,
        customer_id=None,
        queue="support",
        language="en",
        requested_at=ASKED,
        entry_at=ASKED,
        attributes={},
        status="failed",
        attempts=1,
        next_attempt_at=ASKED,
        last_result="customer noanswer",
        agent=None,
        updated_at=ASKED,
    )
    assert follow_up_text(callback).splitlines()[1:4] == [
        "Asked for 2027-02-01 10:04 UTC on call 1712399.7.",
        "Queue support.",
        "1 attempt; the last: customer noanswer.",
    ]


async def test_an_agent_books_a_callback_from_a_voicemail_they_hold(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login(BILLING_AGENT))
        rig.acd.agent_event(Login(TECHNICIAN))
        path = tone_wav(rig.voicemail_dir / "1712399.8.wav", 2.0)
        rig.voicemails.left(
            LeftVoicemail("1712399.8", str(path), NUMBER, queue="billing", intent="refund")
        )
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712399.8")
        await rig.desk.accept(BILLING_AGENT, conversation.id)

        with pytest.raises(DeskError, match="not with agent tech"):
            await rig.callbacks.book(TECHNICIAN, conversation.id, ref="r1")
        with pytest.raises(DeskError, match="cannot be dialled"):
            await rig.callbacks.book(BILLING_AGENT, conversation.id, ref="r1", number="bot2")
        assert rig.dialler.requests == []

        booked = await rig.callbacks.book(BILLING_AGENT, conversation.id, ref="r1")
        [request] = rig.dialler.requests
        assert (request.number, request.call_id) == (NUMBER, booked.call_id)
        assert booked.call_id == f"task-{conversation.id}-r1"
        assert request.attributes == {
            WellKnown.QUEUE: "billing",
            WellKnown.INTENT: "refund",
            WellKnown.LAST_AGENT: BILLING_AGENT,  # the router prefers them for the call
            WellKnown.LANGUAGE: "en",
            WellKnown.CUSTOMER_ID: str(conversation.customer_id),
        }
        other = await rig.callbacks.book(
            BILLING_AGENT, conversation.id, ref="r2", number="+44 1632 960 199"
        )
        assert other.number == "+441632960199"  # another phone the customer asked for
        export = await rig.repository.export_customer(conversation.customer_id or 0)
        assert [n["body"] for n in export["notes"]] == [
            f"Callback booked to {NUMBER} (request task-{conversation.id}-r1).",
            f"Callback booked to +441632960199 (request task-{conversation.id}-r2).",
        ]


async def test_a_withheld_caller_is_called_back_only_on_a_number_the_agent_gives(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login(TECHNICIAN))
        path = tone_wav(rig.voicemail_dir / "1712399.9.wav", 2.0)
        rig.voicemails.left(LeftVoicemail("1712399.9", str(path)))
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712399.9")
        await rig.desk.accept(TECHNICIAN, conversation.id)
        with pytest.raises(DeskError, match="no phone number"):
            await rig.callbacks.book(TECHNICIAN, conversation.id, ref="r1")
        booked = await rig.callbacks.book(TECHNICIAN, conversation.id, ref="r1", number=NUMBER)
        assert booked.number == NUMBER
