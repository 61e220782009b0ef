from __future__ import annotations

import json

from history.identities import IdentityKind
from history.inputs import (
    Channel,
    IdentityIn,
    InteractionUpdate,
    NewCustomer,
    NewEvent,
    NewInteraction,
    NewNote,
    Status,
)
from history.records import Fcr
from history.repository import HistoryRepository

from .conftest import ManualClock

PHONE = IdentityIn(kind=IdentityKind.PHONE, value="01632 960123")
EMAIL = IdentityIn(kind=IdentityKind.EMAIL, value="jane@example.com")


async def _jane_with_history(repository: HistoryRepository) -> tuple[int, int]:
    jane = await repository.create_customer(
        NewCustomer(
            name="Jane Doe",
            tier="gold",
            language="en",
            tags=("key account",),
            consent={"recording": True},
            custom_fields={"contract": "C-77"},
            identities=(PHONE, EMAIL),
        )
    )
    call = await repository.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            customer_id=jane.id,
            queue="billing",
            agent="agent1001",
            wait_s=30.0,
            talk_s=200.0,
            csat=4,
            status=Status.RESOLVED,
            external_id="1795356299.17",
            recording_ref="rec/2026/03/1795356299.17.wav",
            transcript="my number is 01632 960123",
            idempotency_key="1795356299.17",
        )
    )
    await repository.add_note(
        NewNote(author="agent1001", body="Jane is moving house", interaction_id=call.id)
    )
    await repository.append_event(
        NewEvent(
            kind="queued",
            call_id="1795356299.17",
            payload={
                "caller_id": "+441632960123",
                "queue": "billing",
                "note": "call back on +441632960123",
            },
        )
    )
    return jane.id, call.id


async def test_export_holds_everything_and_is_plain_json(repository: HistoryRepository) -> None:
    jane_id, call_id = await _jane_with_history(repository)
    export = await repository.export_customer(jane_id)
    assert json.loads(json.dumps(export)) == export
    assert export["customer"]["name"] == "Jane Doe"
    assert {i["value"] for i in export["customer"]["identities"]} == {
        "+441632960123",
        "jane@example.com",
    }
    assert [i["id"] for i in export["interactions"]] == [call_id]
    assert export["interactions"][0]["transcript"] == "my number is 01632 960123"
    assert [n["body"] for n in export["notes"]] == ["Jane is moving house"]
    assert [e["kind"] for e in export["events"]] == ["queued"]


async def test_erasure_keeps_kpis_but_removes_personal_data(
    repository: HistoryRepository, clock: ManualClock
) -> None:
    jane_id, call_id = await _jane_with_history(repository)
    erasure = await repository.erase_customer(jane_id, by="dpo", reason="art. 17 request #12")

    assert erasure.recording_refs == ("rec/2026/03/1795356299.17.wav",)
    assert erasure.removed == {
        "identities": 2,
        "notes": 1,
        "recordings": 1,
        "transcripts": 1,
        "event_payloads": 1,
    }
    assert await repository.find_customer("phone", "01632 960123") is None
    assert await repository.find_customer("email", "jane@example.com") is None
    customer = await repository.get_customer(jane_id)
    assert (customer.name, customer.tags, customer.custom_fields, customer.identities) == (
        None,
        (),
        {},
        (),
    )
    assert customer.erased_at == clock.now
    call = await repository.get_interaction(call_id)
    assert (call.transcript, call.recording_ref) == (None, None)
    assert (call.queue, call.agent, call.wait_s, call.talk_s, call.csat, call.status) == (
        "billing",
        "agent1001",
        30.0,
        200.0,
        4,
        Status.RESOLVED,
    )
    assert await repository.first_contact_resolution(call_id, window_days=0) is Fcr.ACHIEVED
    (event,) = await repository.events(call_id="1795356299.17")
    assert event.payload == {
        "caller_id": "[erased]",
        "queue": "billing",
        "note": "call back on [erased]",
    }
    export = await repository.export_customer(jane_id)
    assert "Jane" not in json.dumps(export)
    assert "960123" not in json.dumps(export)
    assert [e["erased_by"] for e in export["erasures"]] == ["dpo"]


async def test_a_new_contact_after_erasure_starts_a_new_customer(
    repository: HistoryRepository,
) -> None:
    jane_id, _ = await _jane_with_history(repository)
    await repository.erase_customer(jane_id, by="dpo", reason="request")
    again = await repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, identity=PHONE)
    )
    assert again.customer_id not in (None, jane_id)
    await repository.update_interaction(again.id, InteractionUpdate(status=Status.RESOLVED))
