"""Customers and their identities: find by any identity, create, change, merge."""

from __future__ import annotations

from collections.abc import Sequence

from history.errors import InvalidIdentity, UnknownCustomer
from history.inputs import CustomerUpdate, IdentityIn, NewCustomer
from history.records import Customer, Merge
from hotline.web.api.context import ApiServices
from hotline.web.api.endpoints import PREFIX, Answer, Call, Operation, Reply, forbidden, refusal
from hotline.web.api.errors import ApiError, invalid
from hotline.web.api.schemas import CustomerList, CustomerLookup, MergeIn
from hotline.web.tokens import CHANNEL_WRITE_SCOPES, Scope

READ = (Scope.HISTORY_READ,)
#: Customer records are shared by every channel: any module that writes may keep them.
WRITE_ANY = (Scope.HISTORY_WRITE, *sorted(CHANNEL_WRITE_SCOPES))
#: A customer's tier raises their calls' priority: a token scoped to one channel (a chat
#: module) may not set it; ``history:write`` (every channel) may.
TIER = (Scope.HISTORY_WRITE,)


def _may_set_tier(call: Call) -> None:
    token = call.caller
    if not any(token.allows(scope) for scope in TIER):
        raise forbidden(token, TIER, "set a customer's tier (it feeds voice priority)")


def customer_location(customer_id: int) -> dict[str, str]:
    return {"Location": f"{PREFIX}/customers/{customer_id}"}


def identity_at(
    error: InvalidIdentity, identities: Sequence[IdentityIn], where: list[str | int]
) -> ApiError:
    """The refusal located at the identity that caused it."""
    for index, identity in enumerate(identities):
        if identity.kind.value == error.kind and identity.value == error.value:
            return invalid([*where, index, "value"], error.reason, "invalid_identity")
    return invalid(where, error.reason, "invalid_identity")


class CustomerEndpoints:
    def __init__(self, services: ApiServices) -> None:
        self.repository = services.repository

    def operations(self) -> list[Operation]:
        customer = Answer(200, "The customer (the survivor, if the id was merged).", Customer)
        return [
            Operation(
                "GET",
                "/customers",
                "findCustomer",
                "Find the customer holding an identity",
                self.find,
                (Answer(200, "The holder in `items`; empty when nobody holds it.", CustomerList),),
                scopes=READ,
                query=CustomerLookup,
                description="`?phone=+441632960123` (or `email`, `chat`, `whatsapp`, `sms`). "
                "Numbers are normalised to E.164 first, and a number also finds its holder "
                "on the other phone-like kinds.",
            ),
            Operation(
                "POST",
                "/customers",
                "createCustomer",
                "Create a customer",
                self.create,
                (
                    Answer(201, "Created.", Customer),
                    refusal(409, "An identity belongs to another customer (`holder_id`)."),
                ),
                scopes=WRITE_ANY,
                body=NewCustomer,
                example={
                    "name": "Jane Doe",
                    "tier": "gold",
                    "language": "en",
                    "identities": [{"kind": "phone", "value": "+44 1632 960123"}],
                },
            ),
            Operation(
                "GET",
                "/customers/{customer_id}",
                "getCustomer",
                "A customer",
                self.get,
                (customer,),
                scopes=READ,
            ),
            Operation(
                "PATCH",
                "/customers/{customer_id}",
                "updateCustomer",
                "Change a customer's fields (only those given; null clears)",
                self.update,
                (customer,),
                scopes=WRITE_ANY,
                body=CustomerUpdate,
                description="Setting `tier` (it raises the customer's calls' priority) needs "
                "`history:write`; a token scoped to one channel gets 403.",
                example={"tier": "platinum", "tags": ["key-account"]},
            ),
            Operation(
                "POST",
                "/customers/{customer_id}/identities",
                "addIdentity",
                "Add an identity (one the customer holds already is a no-op)",
                self.add_identity,
                (
                    customer,
                    refusal(409, "The identity belongs to another customer (`holder_id`)."),
                ),
                scopes=WRITE_ANY,
                body=IdentityIn,
                example={"kind": "chat", "value": "jane-d"},
            ),
            Operation(
                "POST",
                "/customers/{customer_id}/merge",
                "mergeCustomers",
                "Merge another customer into this one (two records, one person)",
                self.merge,
                (
                    Answer(200, "Merged: the other id now resolves to this customer.", Merge),
                    refusal(409, "Not mergeable (the same customer, or already merged)."),
                ),
                scopes=(Scope.HISTORY_WRITE,),
                body=MergeIn,
                example={"merged_id": 2, "by": "supervisor-ann", "reason": "same person"},
            ),
        ]

    async def find(self, call: Call) -> Reply:
        kind, value = call.query_as(CustomerLookup).identity
        assert value is not None  # the model guarantees one identity
        try:
            found = await self.repository.find_customer(kind, value)
        except InvalidIdentity as error:
            raise invalid(["query", kind.value], error.reason, "invalid_identity") from None
        items = [] if found is None else [found]
        return Reply(200, CustomerList(items=items), customers=tuple(c.id for c in items))

    async def create(self, call: Call) -> Reply:
        new = call.body_as(NewCustomer)
        if new.tier is not None:
            _may_set_tier(call)
        try:
            created = await self.repository.create_customer(new)
        except InvalidIdentity as error:
            raise identity_at(error, new.identities, ["body", "identities"]) from None
        return Reply(201, created, customer_location(created.id))

    async def get(self, call: Call) -> Reply:
        customer = await self.repository.get_customer(call.ids["customer_id"])
        return Reply(200, customer, customers=(customer.id,))

    async def update(self, call: Call) -> Reply:
        change = call.body_as(CustomerUpdate)
        if "tier" in change.model_fields_set:
            _may_set_tier(call)
        return Reply(200, await self.repository.update_customer(call.ids["customer_id"], change))

    async def add_identity(self, call: Call) -> Reply:
        identity = call.body_as(IdentityIn)
        try:
            updated = await self.repository.add_identity(call.ids["customer_id"], identity)
        except InvalidIdentity as error:
            raise invalid(["body", "value"], error.reason, "invalid_identity") from None
        return Reply(200, updated)

    async def merge(self, call: Call) -> Reply:
        body = call.body_as(MergeIn)
        survivor = call.ids["customer_id"]
        try:
            merge = await self.repository.merge_customers(
                survivor, body.merged_id, by=body.by, reason=body.reason
            )
        except UnknownCustomer as error:
            if error.customer_id == survivor:
                raise
            raise invalid(["body", "merged_id"], str(error), "unknown_customer") from None
        return Reply(200, merge)
