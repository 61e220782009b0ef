"""The promise: a customer complains by phone, follows up in chat, and the chat agent,
through the HTTP API, already knows the story."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewInteraction, NewNote, Status
from tests.history.conftest import ManualClock

from .conftest import Api, Served

NOTE = "Disputes double charge; refund promised"
PHONE = IdentityIn(kind=IdentityKind.PHONE, value="07700 900123")


async def phone_complaint(served: Served) -> int:
    """What the voice side writes for one call, through the Python repository."""
    call = await served.repository.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            identity=PHONE,
            intent="billing",
            queue="billing",
            agent="a1001",
            transcript="I was charged twice for March.",
            idempotency_key="1795356299.17",
        )
    )
    await served.repository.add_note(
        NewNote(
            author="a1001", body="Disputes double charge; refund promised", interaction_id=call.id
        )
    )
    assert call.customer_id is not None
    return call.customer_id


async def test_chat_module_sees_the_phone_complaint(
    served: Served, api: Api, chat_token: str, clock: ManualClock
) -> None:
    customer_id = await phone_complaint(served)
    clock.advance(minutes=15)

    found = await api.get("/customers", chat_token, params={"phone": "+44 7700 900123"})
    assert found.status == 200
    assert [c["id"] for c in found.body["items"]] == [customer_id]

    timeline = await api.get(f"/customers/{customer_id}/timeline", chat_token)
    assert timeline.status == 200
    (entry,) = timeline.body["entries"]
    assert entry["interaction"]["channel"] == "voice"
    assert entry["interaction"]["transcript"] == "I was charged twice for March."
    assert [n["body"] for n in entry["notes"]] == [NOTE]
    assert timeline.body["next_cursor"] is None

    chat = {"channel": "chat", "customer_id": customer_id, "intent": "billing"}
    written = await api.post(
        "/interactions", chat_token, json_body=chat, headers={"Idempotency-Key": "conv-88"}
    )
    assert written.status == 201
    assert written.body["source"] == "chat"
    after = await api.get(f"/customers/{customer_id}/timeline", chat_token)
    channels = [e["interaction"]["channel"] for e in after.body["entries"]]
    assert channels == ["chat", "voice"]


async def test_a_chat_contact_from_a_known_number_lands_on_the_callers_record(
    served: Served, api: Api, chat_token: str
) -> None:
    customer_id = await phone_complaint(served)
    whatsapp = {"channel": "chat", "identity": {"kind": "whatsapp", "value": "+447700900123"}}
    written = await api.post(
        "/interactions", chat_token, json_body=whatsapp, headers={"Idempotency-Key": "wa-1"}
    )
    assert (written.status, written.body["customer_id"]) == (201, customer_id)


async def test_timeline_walk_sees_every_interaction_once_while_new_ones_arrive(
    served: Served, api: Api, chat_token: str, clock: ManualClock
) -> None:
    first = await served.repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, identity=PHONE, idempotency_key="call-0")
    )
    customer_id = first.customer_id
    expected = [first.id]
    for i in range(1, 23):
        clock.advance(minutes=1)
        channel = Channel.CHAT if i % 3 else Channel.EMAIL
        written = await served.repository.append_interaction(
            NewInteraction(channel=channel, customer_id=customer_id, idempotency_key=f"k{i}")
        )
        expected.append(written.id)

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    async with asyncio.timeout(20):
        while True:
            params = {"limit": "5"} | ({"cursor": cursor} if cursor else {})
            page = await api.get(f"/customers/{customer_id}/timeline", chat_token, params=params)
            assert page.status == 200
            seen += [e["interaction"]["id"] for e in page.body["entries"]]
            pages += 1
            clock.advance(seconds=30)  # a new contact arrives between every two pages
            new = {"channel": "chat", "customer_id": customer_id}
            arrived = await api.post(
                "/interactions", chat_token, json_body=new, headers={"Idempotency-Key": f"n{pages}"}
            )
            assert arrived.status == 201
            cursor = page.body["next_cursor"]
            if cursor is None:
                break
    assert seen == list(reversed(expected))
    assert pages == 5


async def test_timeline_filters_by_channel(
    served: Served, api: Api, chat_token: str, clock: ManualClock
) -> None:
    customer_id = await phone_complaint(served)
    for i, channel in enumerate(("chat", "email", "chat")):
        clock.advance(minutes=1)
        body = {"channel": channel, "customer_id": customer_id}
        await served.repository.append_interaction(
            NewInteraction.model_validate(body | {"idempotency_key": f"f{i}"})
        )
    page = await api.get(
        f"/customers/{customer_id}/timeline",
        chat_token,
        params=[("channel", "voice"), ("channel", "email")],
    )
    assert [e["interaction"]["channel"] for e in page.body["entries"]] == ["email", "voice"]


async def test_summaries_tell_the_next_agent_what_is_open_and_who_helped_last(
    served: Served, api: Api, chat_token: str, admin_token: str, clock: ManualClock
) -> None:
    customer_id = await phone_complaint(served)
    clock.advance(hours=1)
    resolved = await served.repository.append_interaction(
        NewInteraction(
            channel=Channel.EMAIL,
            customer_id=customer_id,
            agent="a2002",
            status=Status.RESOLVED,
            idempotency_key="mail-1",
        )
    )
    path = f"/customers/{customer_id}"

    open_issues = await api.get(path + "/open-issues", chat_token)
    assert [i["channel"] for i in open_issues.body["items"]] == ["voice"]
    last = await api.get(path + "/last-agent", chat_token)
    assert last.body["last_agent"]["agent"] == "a2002"
    recent = await api.get(path + "/recent-contacts", chat_token, params={"days": "1"})
    assert (recent.body["repeat"], len(recent.body["items"])) == (True, 2)
    clock.advance(days=3)
    later = await api.get(path + "/recent-contacts", chat_token, params={"days": "1"})
    assert (later.body["repeat"], later.body["items"]) == (False, [])

    fcr = await api.get(f"/interactions/{resolved.id}/fcr", chat_token)
    assert fcr.body["verdict"] == "pending"  # resolved 3 days ago; the 7-day window is open
    since = (clock.now - timedelta(days=30)).isoformat()
    rate = await api.get(
        "/reports/fcr", chat_token, params={"since": since, "until": clock.now.isoformat()}
    )
    assert rate.status == 200
    assert (rate.body["contacts"], rate.body["pending"], rate.body["unresolved"]) == (2, 1, 1)
