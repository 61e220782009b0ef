"""Voicemails and failed callbacks as tasks, through the whole service on the shipped config:
a caller whose wait in billing runs out leaves a voicemail, which billing's agent is offered
on the agent page, hears (the recording served to them only), notes, and closes; the IVR's
voicemail step does the same; a restart queues an unfinished voicemail again; a callback
that never reaches the customer becomes a follow-up task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from acd.agent_events import Pause, Ready
from history.access_log import AccessLog
from history.inputs import Channel, Status
from history.records import Interaction
from hotline.app import Hotline
from hotline.web.auth.users import Role, UserStore
from telephony.emulator import Caller, Customer
from tests.telephony.test_emulator_calls import tone_wav
from tests.web.chat_rig import AgentDesk
from tests.web.support import PASSWORD, signed_in

from .stack import Stack, running_stack, wait_until

CALLER = "+971501110077"
#: English, then billing (3) with an account number nobody has: billing's queue.
TO_BILLING = "13123456,"
#: English, then the main menu's 9, which these tests point at the voicemail step.
TO_VOICEMAIL = "19"
TO_AN_AGENT = "10"


def overrides(tmp_path: Path, **more: object) -> dict[str, object]:
    voicemail = str(tmp_path / "voicemail")
    return {
        "waiting.voicemail_dir": voicemail,
        "waiting.defaults.max_wait_s": 1,  # billing's rule: then voicemail (waiting.yaml)
        "ivr.nodes.voicemail.voicemail.directory": voicemail,
        "ivr.nodes.main.menu.options.9": "voicemail",
        **more,
    }


def recordings(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "voicemail"
    return sorted(folder.glob("*.wav")) if folder.exists() else []


async def conversation_of(service: Hotline, external_id: str) -> Interaction:
    for _ in range(500):
        found = await service.conversations.conversation_of_external_id(external_id)
        if found is not None:  # stored; routed once its intake is done with it
            await service.voicemails.intake.settle()
            await service.follow_ups.intake.settle()
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no conversation holds {external_id}")


async def add_agents(service: Hotline, *names: str) -> None:
    users = UserStore(service.store)
    for name in names:
        await users.add(name, Role.AGENT, PASSWORD)


@asynccontextmanager
async def agent_page(stack: Stack, name: str) -> AsyncIterator[AgentDesk]:
    """``name`` signed in on the agent page, its chats-and-e-mails feed open."""
    base = stack.service.web.url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await signed_in(http, base, name)
        async with http.ws_connect(base + "ws/agent/desk") as ws:
            yield AgentDesk(http, ws, csrf, base)


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with http.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


async def test_a_caller_whose_wait_runs_out_leaves_a_voicemail_billing_hears_and_closes(
    tmp_path: Path,
) -> None:
    said = tone_wav(tmp_path / "said.wav", 2.5)
    async with running_stack(tmp_path, overrides=overrides(tmp_path)) as stack:
        service, acd = stack.service, stack.service.acd
        await add_agents(service, "1001", "1002")
        for view in acd.distributor.book.views():
            acd.agent_event(Pause(view.agent_id, "meeting"))
        result = await stack.call(
            Caller(number=CALLER, dtmf=TO_BILLING, speech=said, barge_in=False)
        )
        call_id = result.uniqueid
        conversation = await conversation_of(service, f"voicemail-{call_id}")
        task_id = service.desk.task_of(conversation.id)
        assert task_id is not None
        task = acd.task(task_id)
        assert task is not None
        assert (task.channel, task.queue, task.facts.call_type) == (
            "voicemail",
            "billing",
            "billing",
        )
        acd.agent_event(Ready("1001"))  # no billing skill: not offered it
        assert service.desk.holder(conversation.id) is None
        acd.agent_event(Ready("1002"))
        await wait_until(lambda: service.desk.holder(conversation.id) == "1002")
        assert recordings(tmp_path) == []  # copied into the history, then deleted

        async with agent_page(stack, "1002") as bob, agent_page(stack, "1001") as ann:
            [card] = (await bob.next("snapshot"))["tasks"]
            assert (card["conversation"], card["channel"], card["phase"]) == (
                conversation.id,
                "voicemail",
                "reserved",
            )
            assert (card["work"], card["queue"]) == (True, "billing")
            [message] = card["thread"]
            lines = message["text"].splitlines()
            assert lines[0].startswith("Voicemail, ")  # and its length: "2.6 s"
            assert lines[1:3] == [
                f"Left on call {call_id} in queue billing.",
                f"Caller ID: {CALLER}.",
            ]
            [recording] = message["attachments"]
            assert recording["type"] == "audio/wav"
            assert (await bob.post(f"{conversation.id}/accept"))[0] == 200
            await bob.next("accepted")

            status, kind, body = await fetch(bob.http, bob.base + recording["url"][1:])
            assert (status, kind) == (200, "audio/wav")
            stored = await service.conversations.read_attachment(
                conversation.id, message["id"], recording["id"]
            )
            assert body == stored[1]
            assert body[:4] == b"RIFF"
            assert (await fetch(ann.http, ann.base + recording["url"][1:]))[0] == 403
            async with aiohttp.ClientSession() as stranger:
                assert (await fetch(stranger, bob.base + recording["url"][1:]))[0] == 401

            status, refused = await bob.post(
                f"{conversation.id}/messages", {"text": "Got it", "ref": "r1"}
            )
            assert (status, "no written reply" in refused["error"]) == (409, True)
            status, noted = await bob.post(
                f"{conversation.id}/note", {"text": "Refund promised", "ref": "n1"}
            )
            assert (status, noted["note"]["text"]) == (200, "Refund promised")
            assert (await ann.post(f"{conversation.id}/note", {"text": "mine?"}))[0] == 403
            status, _ = await bob.post(f"{conversation.id}/close", {"status": "resolved"})
            assert status == 200
            await bob.next("closed")

        await service.desk.flush()
        kpis = stack.kpis()
        voice = await stack.interaction(call_id)
        done = await service.history.get_interaction(conversation.id)
        customer_id = done.customer_id
        assert customer_id is not None
        reads = AccessLog(service.store)
        for _ in range(200):  # written through the history writer, group-committed
            listened = await reads.query(customer_id=customer_id)
            if any(r.what == "a conversation's file" for r in listened):
                break
            await asyncio.sleep(0.02)
        token = await stack.token("history:read")
        timeline = await stack.get_json(f"/customers/{customer_id}/timeline", token)
        export = await service.history.export_customer(customer_id)
        erased = await service.history.erase_customer(customer_id, by="dpo", reason="request")
        stored_file = service.conversations.attachments.path_of(stored[0].storage_ref)
        still_there = stored_file.exists()

    assert (voice.outcome, voice.recording_ref) == ("voicemail", stored[0].storage_ref)
    assert voice.customer_id == customer_id  # the caller's one customer record
    assert (done.channel, done.external_id, done.queue, done.call_type) == (
        Channel.VOICEMAIL,
        call_id,
        "billing",
        "billing",
    )
    assert (done.agent, done.outcome, done.status) == ("1002", "answered", Status.RESOLVED)
    # the supervisor's figures count it on its own channel, and the capacity it used
    heard = kpis.by_channel["voicemail"]
    assert (heard.offered, heard.answered, heard.answered_within_target) == (1, 1, 1)
    assert kpis.capacity["voicemail"].used_s > 0
    channels = {
        (e["interaction"]["channel"], e["interaction"]["external_id"]) for e in timeline["entries"]
    }
    assert channels == {("voice", call_id), ("voicemail", call_id)}
    assert [n["body"] for n in export["notes"]] == ["Refund promised"]
    # who listened to the recording is in the access log (only its agent could), and who
    # was shown the task's card (the customer, the thread) on their desk
    files = [(r.actor, r.what) for r in listened if r.what != "agent desk"]
    assert files == [("1002", "a conversation's file")]
    assert {r.actor for r in listened if r.what == "agent desk"} == {"1002"}
    exported: list[dict[str, Any]] = export["messages"]
    assert [a["storage_ref"] for a in exported[0]["attachments"]] == [stored[0].storage_ref]
    assert erased.attachment_refs == (stored[0].storage_ref,)
    assert not still_there  # the recording is gone with the customer's data


async def test_the_ivr_voicemail_step_leaves_a_task_in_the_default_queue(tmp_path: Path) -> None:
    said = tone_wav(tmp_path / "said.wav", 2.0)
    async with running_stack(tmp_path, overrides=overrides(tmp_path)) as stack:
        service, acd = stack.service, stack.service.acd
        for view in acd.distributor.book.views():
            acd.agent_event(Pause(view.agent_id, "meeting"))
        result = await stack.call(
            Caller(number=CALLER, dtmf=TO_VOICEMAIL, speech=said, barge_in=False)
        )
        conversation = await conversation_of(service, f"voicemail-{result.uniqueid}")
        acd.agent_event(Ready("1001"))
        await wait_until(lambda: service.desk.holder(conversation.id) == "1001")
        task_id = service.desk.task_of(conversation.id)
        task = None if task_id is None else acd.task(task_id)
        [message] = (await service.conversations.thread(conversation.id)).messages
        voice = await stack.interaction(result.uniqueid)
        files = recordings(tmp_path)

    assert result.dials == ()  # the caller talked to nobody
    assert task is not None
    assert (task.channel, task.queue) == ("voicemail", "support")  # conversations' default
    assert message.body.splitlines()[1] == f"Left on call {result.uniqueid}."
    [attached] = message.attachments
    assert attached.content_type == "audio/wav"
    assert (voice.outcome, voice.recording_ref) == ("voicemail", attached.storage_ref)
    assert files == []


async def test_a_restart_queues_an_unfinished_voicemail_again(tmp_path: Path) -> None:
    said = tone_wav(tmp_path / "said.wav", 2.0)
    async with running_stack(tmp_path, overrides=overrides(tmp_path)) as stack:
        acd = stack.service.acd
        for view in acd.distributor.book.views():
            acd.agent_event(Pause(view.agent_id, "meeting"))
        result = await stack.call(
            Caller(number=CALLER, dtmf=TO_BILLING, speech=said, barge_in=False)
        )
        conversation = await conversation_of(stack.service, f"voicemail-{result.uniqueid}")
        assert stack.service.desk.task_of(conversation.id) is not None
        await stack.stop_service()
        again = await stack.start_service()
        await wait_until(lambda: again.desk.task_of(conversation.id) is not None)
        task_id = again.desk.task_of(conversation.id)
        task = None if task_id is None else again.acd.task(task_id)

    assert task is not None
    assert (task.channel, task.queue) == ("voicemail", "billing")


async def test_a_callback_the_customer_never_answers_becomes_a_follow_up(tmp_path: Path) -> None:
    settings = overrides(tmp_path, **{"waiting.callbacks.max_attempts": 1})
    async with running_stack(tmp_path, overrides=settings) as stack:
        service, acd = stack.service, stack.service.acd
        for view in acd.distributor.book.views():
            acd.agent_event(Pause(view.agent_id, "meeting"))
        stack.emulator.set_customer(Customer(CALLER, "busy"))
        digit = stack.config.waiting.defaults.callback_digit
        assert digit is not None
        booked = await stack.call(Caller(number=CALLER, dtmf=TO_AN_AGENT + digit, barge_in=False))
        for view in acd.distributor.book.views():
            acd.agent_event(Ready(view.agent_id))
        conversation = await conversation_of(service, f"follow-up-{booked.uniqueid}")
        await wait_until(lambda: service.desk.holder(conversation.id) is not None)
        task_id = service.desk.task_of(conversation.id)
        task = None if task_id is None else acd.task(task_id)
        [message] = (await service.conversations.thread(conversation.id)).messages

    assert conversation.channel is Channel.FOLLOW_UP
    assert task is not None
    assert (task.channel, task.queue) == ("follow_up", "support")
    assert message.body.splitlines()[0] == (
        f"Callback to {CALLER} failed: the customer was not reached."
    )
    assert "1 attempt; the last: customer busy." in message.body.splitlines()
