"""A voicemail is a task of the one ACD: the recording is kept in the history (copied into
the attachment store, the original deleted), its conversation waits in the call's queue
with the call's intent, an agent with that queue's skills is offered it, listens, cannot
answer in writing, and closes it; a restart queues it again; export and erasure cover the
recording. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from acd.agent_events import Login
from acd.workload import TaskPhase
from center.conversations import DeskError
from center.voicemail_tasks import LeftVoicemail
from history.conversations import MessageLimits
from history.identities import IdentityKind
from history.inputs import AuthorKind, Channel, NewCustomer, Status
from tests.center.work.support import BILLING_AGENT, TECHNICIAN, Rig, work_rig
from tests.history.conftest import Target
from tests.telephony.test_emulator_calls import tone_wav

CALLER = "+441632960123"


def there(path: str | Path) -> bool:
    return Path(path).exists()


def contents(path: str) -> bytes:
    return Path(path).read_bytes()


def left(
    rig: Rig,
    call_id: str,
    seconds: float,
    *,
    caller_number: str | None = CALLER,
    customer_id: str | None = None,
    queue: str | None = None,
    intent: str | None = None,
    call_type: str | None = None,
) -> LeftVoicemail:
    """A caller's voicemail of ``seconds`` recorded into the rig's voicemail directory."""
    path = tone_wav(rig.voicemail_dir / f"{call_id}.wav", seconds)
    return LeftVoicemail(call_id, str(path), caller_number, customer_id, queue, intent, call_type)


async def test_a_voicemail_about_a_bill_is_offered_to_billing_with_its_recording(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.acd.agent_event(Login(TECHNICIAN))
        rig.acd.agent_event(Login(BILLING_AGENT))
        voicemail = left(
            rig, "1712345.77", 3.5, queue="billing", intent="billing_question", call_type="billing"
        )
        recorded = contents(voicemail.path)
        rig.voicemails.left(voicemail)
        await rig.settle()

        conversation = await rig.conversation("voicemail-1712345.77")
        assert (conversation.channel, conversation.external_id) == (
            Channel.VOICEMAIL,
            "1712345.77",
        )
        # the call's queue and intent, not what the words "Voicemail, 3.5 s" would say
        assert rig.queue_of(conversation.id) == "billing"
        assert rig.desk.holder(conversation.id) == BILLING_AGENT
        [message] = (await rig.store.thread(conversation.id)).messages
        assert message.author_kind is AuthorKind.CUSTOMER
        assert message.body.splitlines()[:3] == [
            "Voicemail, 3.5 s",
            "Left on call 1712345.77 in queue billing, intent billing_question.",
            f"Caller ID: {CALLER}.",
        ]
        [attached] = message.attachments
        assert (attached.content_type, attached.size) == ("audio/wav", len(recorded))
        assert attached.sha256 == hashlib.sha256(recorded).hexdigest()
        _, kept = await rig.store.read_attachment(conversation.id, message.id, attached.id)
        assert kept == recorded
        assert not there(voicemail.path)  # the history's copy is the one kept
        assert rig.moved == [("1712345.77", attached.storage_ref)]
        customer = await rig.repository.get_customer(conversation.customer_id or 0)
        assert [(i.kind, i.value) for i in customer.identities] == [(IdentityKind.PHONE, CALLER)]

        await rig.desk.accept(BILLING_AGENT, conversation.id)
        with pytest.raises(DeskError, match="no written reply"):
            await rig.desk.agent_wrote(BILLING_AGENT, conversation.id, "I listened to it")
        assert len((await rig.store.thread(conversation.id)).messages) == 1  # nothing kept
        rig.desk.finish(BILLING_AGENT, conversation.id, status=Status.RESOLVED)
        await rig.settle()
        done = await rig.repository.get_interaction(conversation.id)
        assert (done.queue, done.intent, done.call_type) == (
            "billing",
            "billing_question",
            "billing",
        )
        assert (done.agent, done.outcome, done.status) == (
            BILLING_AGENT,
            "answered",
            Status.RESOLVED,
        )


async def test_the_customer_the_ivr_found_gets_the_voicemail_in_the_default_queue(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        known = await rig.repository.create_customer(NewCustomer(name="Nadia", tier="gold"))
        rig.voicemails.left(left(rig, "1712345.78", 2.0, customer_id=str(known.id)))
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712345.78")
        assert conversation.customer_id == known.id
        assert rig.queue_of(conversation.id) == "support"  # no queue, no call type: the default


async def test_a_withheld_number_still_leaves_a_task_for_a_new_customer(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.voicemails.left(left(rig, "1712345.79", 2.0, caller_number=None))
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712345.79")
        customer = await rig.repository.get_customer(conversation.customer_id or 0)
        assert customer.identities == ()
        [message] = (await rig.store.thread(conversation.id)).messages
        assert "Caller ID withheld." in message.body
        assert rig.desk.task_of(conversation.id) is not None


async def test_a_recording_shorter_than_a_second_is_no_message(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        voicemail = left(rig, "1712345.80", 0.4)
        rig.voicemails.left(voicemail)
        await rig.settle()
        assert await rig.store.conversation_of_external_id("voicemail-1712345.80") is None
        assert not there(voicemail.path)
        assert rig.moved == [("1712345.80", None)]  # the call no longer names the file


async def test_a_recording_over_the_cap_is_named_and_kept_where_it_is(
    target: Target, tmp_path: Path
) -> None:
    limits = MessageLimits(max_attachment_bytes=20_000)  # 1.25 s of 8 kHz audio
    async with work_rig(target, tmp_path, message_limits=limits) as rig:
        voicemail = left(rig, "1712345.81", 3.0)
        rig.voicemails.left(voicemail)
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712345.81")
        [message] = (await rig.store.thread(conversation.id)).messages
        assert message.attachments == ()
        assert message.body.splitlines()[0] == "Voicemail"
        assert message.body.splitlines()[-1] == (
            f"The recording is not attached (48044 bytes, over the limit of 20000 a file):"
            f" {voicemail.path}"
        )
        assert there(voicemail.path)
        assert rig.moved == []  # the call still names the file
        assert rig.desk.task_of(conversation.id) is not None  # an agent still calls back


async def test_a_file_outside_the_voicemail_directories_is_never_read(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        elsewhere = tone_wav(tmp_path / "elsewhere.wav", 2.0)
        escape = rig.voicemail_dir / "link.wav"
        escape.symlink_to(elsewhere)
        for call_id, path in (("1712345.82", elsewhere), ("1712345.83", escape)):
            rig.voicemails.left(LeftVoicemail(call_id, str(path), CALLER))
        await rig.settle()
        for call_id in ("1712345.82", "1712345.83"):
            conversation = await rig.conversation(f"voicemail-{call_id}")
            [message] = (await rig.store.thread(conversation.id)).messages
            assert message.attachments == ()
            assert "(outside the voicemail directories)" in message.body
        assert there(elsewhere)
        assert there(escape)


async def test_a_restart_queues_an_unfinished_voicemail_again_in_its_queue(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.voicemails.left(left(rig, "1712345.84", 2.0, queue="billing", call_type="billing"))
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712345.84")
        assert rig.queue_of(conversation.id) == "billing"  # nobody logged in: it waits
    async with work_rig(target, tmp_path) as again:
        assert again.desk.task_of(conversation.id) is None
        assert await again.desk.resume() == 1
        assert again.queue_of(conversation.id) == "billing"
        again.acd.agent_event(Login(BILLING_AGENT))
        assert again.desk.holder(conversation.id) == BILLING_AGENT
        [held] = again.acd.distributor.tasks_of(BILLING_AGENT)
        assert (held.channel, held.phase) == ("voicemail", TaskPhase.RESERVED)


async def test_export_holds_the_recording_and_erasure_deletes_it(
    target: Target, tmp_path: Path
) -> None:
    async with work_rig(target, tmp_path) as rig:
        rig.voicemails.left(left(rig, "1712345.85", 2.0))
        await rig.settle()
        conversation = await rig.conversation("voicemail-1712345.85")
        [message] = (await rig.store.thread(conversation.id)).messages
        [attached] = message.attachments
        customer_id = conversation.customer_id
        assert customer_id is not None
        stored = rig.store.attachments.path_of(attached.storage_ref)
        assert stored.exists()

        export = await rig.repository.export_customer(customer_id)
        exported = [m for m in export["messages"] if m["conversation_id"] == conversation.id]
        assert [a["storage_ref"] for a in exported[0]["attachments"]] == [attached.storage_ref]
        assert exported[0]["body"].startswith("Voicemail, 2.0 s")

        erased = await rig.repository.erase_customer(customer_id, by="dpo", reason="request")
        assert erased.attachment_refs == (attached.storage_ref,)
        assert not stored.exists()
        [emptied] = (await rig.store.thread(conversation.id)).messages
        assert (emptied.body, emptied.attachments, emptied.author_name) == ("", (), None)
