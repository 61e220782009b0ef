from __future__ import annotations

import pytest
from pydantic import ValidationError

from history.errors import IdentityConflict, InvalidMerge, UnknownCustomer
from history.identities import IdentityKind
from history.inputs import (
    Channel,
    CustomerUpdate,
    IdentityIn,
    NewCustomer,
    NewInteraction,
    NewNote,
)
from history.repository import HistoryRepository

PHONE = IdentityIn(kind=IdentityKind.PHONE, value="01632 960123")
EMAIL = IdentityIn(kind=IdentityKind.EMAIL, value="Jane.Doe@example.com")


async def test_customer_is_found_by_any_of_its_identities_however_written(
    repository: HistoryRepository,
) -> None:
    created = await repository.create_customer(
        NewCustomer(name="Jane Doe", tier="gold", tags=("key account",), identities=(PHONE, EMAIL))
    )
    by_phone = await repository.find_customer("phone", "+44 1632 960-123")
    by_email = await repository.find_customer("email", "JANE.DOE@EXAMPLE.COM")
    assert by_phone == by_email == created
    assert {(i.kind, i.value) for i in created.identities} == {
        (IdentityKind.PHONE, "+441632960123"),
        (IdentityKind.EMAIL, "jane.doe@example.com"),
    }
    assert await repository.find_customer("phone", "01632 960999") is None


async def test_whatsapp_message_from_a_known_phone_number_finds_the_caller(
    repository: HistoryRepository,
) -> None:
    caller = await repository.create_customer(NewCustomer(identities=(PHONE,)))
    found = await repository.find_customer("whatsapp", "whatsapp:+441632960123")
    assert found is not None
    assert found.id == caller.id


async def test_identity_held_by_another_customer_is_refused_naming_the_holder(
    repository: HistoryRepository,
) -> None:
    holder = await repository.create_customer(NewCustomer(name="Jane", identities=(PHONE,)))
    other = await repository.create_customer(NewCustomer(name="John", identities=(EMAIL,)))
    with pytest.raises(IdentityConflict) as conflict:
        await repository.add_identity(
            other.id, IdentityIn(kind=IdentityKind.PHONE, value="+441632960123")
        )
    assert conflict.value.customer_id == holder.id
    assert "+44******0123" in str(conflict.value)
    with pytest.raises(IdentityConflict):
        await repository.create_customer(NewCustomer(identities=(PHONE,)))


async def test_adding_an_identity_the_customer_already_holds_changes_nothing(
    repository: HistoryRepository,
) -> None:
    customer = await repository.create_customer(NewCustomer(identities=(PHONE,)))
    again = await repository.add_identity(
        customer.id, IdentityIn(kind=IdentityKind.PHONE, value="01632960123")
    )
    assert again.identities == customer.identities
    with_chat = await repository.add_identity(
        customer.id, IdentityIn(kind=IdentityKind.CHAT, value="jd42")
    )
    assert [i.kind for i in with_chat.identities] == [IdentityKind.PHONE, IdentityKind.CHAT]


async def test_update_changes_only_the_fields_given(repository: HistoryRepository) -> None:
    customer = await repository.create_customer(
        NewCustomer(name="Jane", tier="standard", language="en", custom_fields={"contract": "C-9"})
    )
    updated = await repository.update_customer(customer.id, CustomerUpdate(tier="gold"))
    assert (updated.name, updated.tier, updated.language) == ("Jane", "gold", "en")
    assert updated.custom_fields == {"contract": "C-9"}
    cleared = await repository.update_customer(customer.id, CustomerUpdate(language=None))
    assert cleared.language is None
    assert cleared.tier == "gold"


async def test_unknown_customer_is_a_typed_error(repository: HistoryRepository) -> None:
    with pytest.raises(UnknownCustomer):
        await repository.get_customer(999)


def test_oversized_custom_fields_are_refused_before_reaching_the_store() -> None:
    with pytest.raises(ValidationError, match="bytes of JSON"):
        NewCustomer(custom_fields={f"f{i}": "x" * 1000 for i in range(70)})


async def test_merge_moves_identities_and_timeline(repository: HistoryRepository) -> None:
    phone_only = await repository.create_customer(
        NewCustomer(
            name="J. Doe", tags=("legacy system",), consent={"recording": True}, identities=(PHONE,)
        )
    )
    email_only = await repository.create_customer(
        NewCustomer(
            name="Jane Doe",
            tier="gold",
            consent={"recording": False, "marketing": True},
            identities=(EMAIL,),
        )
    )
    call = await repository.append_interaction(
        NewInteraction(channel=Channel.VOICE, identity=PHONE, intent="billing")
    )
    mail = await repository.append_interaction(
        NewInteraction(channel=Channel.EMAIL, identity=EMAIL)
    )
    await repository.add_note(
        NewNote(author="agent7", body="wants a refund", interaction_id=call.id)
    )

    merge = await repository.merge_customers(
        email_only.id, phone_only.id, by="supervisor1", reason="same person, confirmed by phone"
    )

    assert merge.moved == {"identities": 1, "interactions": 1, "notes": 1}
    survivor = await repository.get_customer(email_only.id)
    assert {i.kind for i in survivor.identities} == {IdentityKind.PHONE, IdentityKind.EMAIL}
    assert survivor.name == "Jane Doe"
    assert survivor.tier == "gold"
    assert survivor.tags == ("legacy system",)
    assert survivor.consent == {"recording": False, "marketing": True}
    page = await repository.timeline(email_only.id)
    assert [e.interaction.id for e in page.entries] == [mail.id, call.id]
    assert page.entries[1].notes[0].body == "wants a refund"
    # Whoever still holds the old id reaches the survivor.
    assert (await repository.get_customer(phone_only.id)).id == email_only.id
    assert (await repository.find_customer("phone", "01632960123")) == survivor
    export = await repository.export_customer(email_only.id)
    assert [m["merged_id"] for m in export["merges"]] == [phone_only.id]


async def test_merging_a_customer_into_itself_is_refused(repository: HistoryRepository) -> None:
    a = await repository.create_customer(NewCustomer(identities=(PHONE,)))
    b = await repository.create_customer(NewCustomer(identities=(EMAIL,)))
    await repository.merge_customers(a.id, b.id, by="s", reason="r")
    with pytest.raises(InvalidMerge):
        await repository.merge_customers(a.id, b.id, by="s", reason="again")
