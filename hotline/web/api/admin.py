"""Supervisor and admin operations: the ACD event log, a customer's export and erasure, and
the access log (who read which customer's data)."""

from __future__ import annotations

import logging
from dataclasses import asdict

from history.access_log import AccessLog
from history.records import Customer
from hotline.web.api.context import ApiServices
from hotline.web.api.endpoints import Answer, Call, Operation, Reply
from hotline.web.api.schemas import (
    AccessList,
    AccessOut,
    AccessQuery,
    CustomerExport,
    EraseIn,
    ErasureOut,
    EventList,
    EventsQuery,
)
from hotline.web.tokens import Scope

log = logging.getLogger(__name__)

PRIVACY = (Scope.PRIVACY_ADMIN,)


def personal_values(customer: Customer) -> list[str]:
    """What identifies the customer in text kept outside the store (the spool's rejects)."""
    values = [identity.value for identity in customer.identities]
    return values + ([customer.name] if customer.name else [])


class AdminEndpoints:
    def __init__(self, services: ApiServices) -> None:
        self.repository = services.repository
        self.idempotency = services.idempotency
        self.writer = services.writer
        self.access_log = AccessLog(services.repository.engine)

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/events",
                "readEvents",
                "The ACD event log in order of record",
                self.events,
                (Answer(200, "Events after `after_seq`, oldest first.", EventList),),
                scopes=(Scope.EVENTS_READ,),
                query=EventsQuery,
                description="Read on with `after_seq=next_after_seq`. Filter by `call_id` or "
                "`kind` (repeatable).",
            ),
            Operation(
                "GET",
                "/customers/{customer_id}/export",
                "exportCustomer",
                "Everything held about a customer, as JSON (the right of access)",
                self.export,
                (Answer(200, "The export.", CustomerExport),),
                scopes=PRIVACY,
            ),
            Operation(
                "POST",
                "/customers/{customer_id}/erase",
                "eraseCustomer",
                "Erase a customer's personal data, keeping what the KPIs count",
                self.erase,
                (Answer(200, "Erased; delete the listed recordings.", ErasureOut),),
                scopes=PRIVACY,
                body=EraseIn,
                description="Removes name, identities, custom fields, consent, notes, "
                "transcripts, recording references and personal values in the call events. "
                "The customer's interactions stay, anonymous, for the KPIs.",
                example={"by": "dpo-maria", "reason": "erasure request 2026-117"},
            ),
            Operation(
                "GET",
                "/access-log",
                "readAccessLog",
                "Who read which customer's data, oldest first",
                self.access,
                (Answer(200, "Records after `after_id`.", AccessList),),
                scopes=PRIVACY,
                query=AccessQuery,
                description="Filter by `customer_id`, by `actor` (a user's or a token's name) "
                "and by time (`since` included, `until` excluded); read on with "
                "`after_id=next_after_id`. Every read of a customer's data by a token, a "
                "signed-in user or a shell command is recorded; the records are kept "
                "`privacy.access_log_retention_days`.",
            ),
        ]

    async def access(self, call: Call) -> Reply:
        query = call.query_as(AccessQuery)
        records = await self.access_log.query(
            customer_id=query.customer_id,
            actor=query.actor,
            since=query.since,
            until=query.until,
            after_id=query.after_id,
            limit=query.limit,
        )
        last = records[-1].id if records else query.after_id
        items = [AccessOut(**asdict(record)) for record in records]
        return Reply(200, AccessList(items=items, next_after_id=last))

    async def events(self, call: Call) -> Reply:
        query = call.query_as(EventsQuery)
        items = await self.repository.events(
            after_seq=query.after_seq,
            limit=query.limit,
            call_id=query.call_id,
            kinds=query.kind or None,
        )
        last = items[-1].seq if items else query.after_seq
        return Reply(200, EventList(items=items, next_after_seq=last))

    async def export(self, call: Call) -> Reply:
        exported = await self.repository.export_customer(call.ids["customer_id"])
        log.info("customer %d exported with token %r", call.ids["customer_id"], call.caller.name)
        customer_id = int(exported["customer"]["id"])
        return Reply(200, CustomerExport.model_validate(exported), customers=(customer_id,))

    async def erase(self, call: Call) -> Reply:
        body = call.body_as(EraseIn)
        customer = await self.repository.get_customer(call.ids["customer_id"])
        await self.idempotency.forget_customer(customer.id)
        erasure = await self.repository.erase_customer(customer.id, by=body.by, reason=body.reason)
        if self.writer is not None:  # writes the store refused on replay, kept aside
            await self.writer.forget(personal_values(customer))
        log.info("customer %d erased by %r with token %r", customer.id, body.by, call.caller.name)
        return Reply(200, ErasureOut.model_validate(erasure, from_attributes=True))
