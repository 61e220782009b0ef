"""What the next agent needs to know: the cross-channel timeline and its summaries."""

from __future__ import annotations

from history.records import TimelinePage
from hotline.web.api.context import ApiServices
from hotline.web.api.customers import READ
from hotline.web.api.endpoints import Answer, Call, Operation, Reply
from hotline.web.api.errors import invalid
from hotline.web.api.schemas import (
    FcrRateOut,
    FcrRateQuery,
    InteractionList,
    LastAgentOut,
    ListQuery,
    NoteList,
    RecentContacts,
    RecentQuery,
    TimelineQuery,
)


class TimelineEndpoints:
    def __init__(self, services: ApiServices) -> None:
        self.repository = services.repository

    def operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/customers/{customer_id}/timeline",
                "customerTimeline",
                "Every channel's interactions with their notes, newest first",
                self.timeline,
                (Answer(200, "One page; `next_cursor` fetches the older one.", TimelinePage),),
                scopes=READ,
                query=TimelineQuery,
                description="Keyset pagination: pass `next_cursor` back as `cursor` until it "
                "is null. Pages stay consistent while new contacts are written (they appear "
                "on the first page, never twice). Filter with `channel=chat&channel=voice`.",
            ),
            Operation(
                "GET",
                "/customers/{customer_id}/open-issues",
                "openIssues",
                "Interactions still open or postponed, newest first",
                self.open_issues,
                (Answer(200, "The open interactions.", InteractionList),),
                scopes=READ,
                query=ListQuery,
            ),
            Operation(
                "GET",
                "/customers/{customer_id}/recent-contacts",
                "recentContacts",
                "Contacts on any channel in the last `days` (a repeat contact if any)",
                self.recent_contacts,
                (Answer(200, "The contacts, newest first.", RecentContacts),),
                scopes=READ,
                query=RecentQuery,
            ),
            Operation(
                "GET",
                "/customers/{customer_id}/last-agent",
                "lastAgent",
                "Who last handled this customer, on any channel",
                self.last_agent,
                (Answer(200, "`last_agent` is null when no agent ever did.", LastAgentOut),),
                scopes=READ,
            ),
            Operation(
                "GET",
                "/customers/{customer_id}/notes",
                "customerNotes",
                "Notes on the customer (not on one interaction), newest first",
                self.notes,
                (Answer(200, "The notes.", NoteList),),
                scopes=READ,
            ),
            Operation(
                "GET",
                "/reports/fcr",
                "fcrRate",
                "First-contact resolution over the contacts that started in [since, until)",
                self.fcr_rate,
                (Answer(200, "Counts and the rate.", FcrRateOut),),
                scopes=READ,
                query=FcrRateQuery,
            ),
        ]

    async def timeline(self, call: Call) -> Reply:
        query = call.query_as(TimelineQuery)
        page = await self.repository.timeline(
            call.ids["customer_id"],
            limit=query.limit,
            cursor=query.cursor,
            channels=query.channel or None,
        )
        return Reply(200, page, customers=(call.ids["customer_id"],))

    async def open_issues(self, call: Call) -> Reply:
        limit = call.query_as(ListQuery).limit
        items = await self.repository.open_issues(call.ids["customer_id"], limit=limit)
        return Reply(200, InteractionList(items=items), customers=(call.ids["customer_id"],))

    async def recent_contacts(self, call: Call) -> Reply:
        query = call.query_as(RecentQuery)
        items = await self.repository.recent_contacts(
            call.ids["customer_id"], days=query.days, limit=query.limit
        )
        recent = RecentContacts(days=query.days, repeat=bool(items), items=items)
        return Reply(200, recent, customers=(call.ids["customer_id"],))

    async def last_agent(self, call: Call) -> Reply:
        last = await self.repository.last_agent(call.ids["customer_id"])  # 404 if unknown
        return Reply(200, LastAgentOut(last_agent=last), customers=(call.ids["customer_id"],))

    async def notes(self, call: Call) -> Reply:
        notes = await self.repository.customer_notes(call.ids["customer_id"])
        return Reply(200, NoteList(items=notes), customers=(call.ids["customer_id"],))

    async def fcr_rate(self, call: Call) -> Reply:
        query = call.query_as(FcrRateQuery)
        if query.until <= query.since:
            raise invalid(["query", "until"], "until must be after since")
        rate = await self.repository.fcr_rate(
            query.since, query.until, window_days=query.window_days
        )
        out = FcrRateOut(
            since=rate.since,
            until=rate.until,
            window_days=rate.window_days,
            contacts=rate.contacts,
            achieved=rate.achieved,
            repeated=rate.repeated,
            unresolved=rate.unresolved,
            pending=rate.pending,
            rate=rate.rate,
        )
        return Reply(200, out)
