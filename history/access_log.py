"""The access log (``access_log``): who read which customer's data, when, how, from where.

One record per read of a customer's data by a person (a signed-in user, by name and role),
a module (an API token, by name and scopes) or a shell command (``cli:`` and the user): the
customer's id, *what* was read (the kind: ``getCustomer``, ``customerTimeline``,
``exportCustomer``...), the route's template (``/customers/{customer_id}/timeline``: never
the query string, which may hold a phone number), and the reader's address. No value that
was read is kept, so a record holds nothing of the customer's but their id.

Writes never slow a read: the web records through ``HistoryWriter.record_access`` (queued
without waiting, group-committed with the other history writes, spooled to disk while the
store is down); ``record`` writes directly (the CLI, tests). A record carries a random
``key`` so a replayed one lands once.

The log is exported by customer (inside the customer's own export: who looked at my data),
by reader and by time range (``hotline customer access``, the API's ``/access-log``, the
admins' ``/admin/access.csv``), and purged after ``privacy.access_log_retention_days``.
Erasing a customer keeps their access records (SECURITY.md): they hold no personal data of
the customer (the id of an anonymised record), and they are the controller's evidence of
who accessed the data before the erasure.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from history.context import Clock, utc_now
from history.models import AccessRow
from history.store import writing_sessions

__all__ = ["CSV_FIELDS", "AccessLog", "AccessRecord", "NewAccess", "append_many", "to_csv"]

ActorKind = Literal["user", "token", "cli"]
#: The most records one query returns (an export asks again with ``after_id``).
MAX_READ = 100_000
CSV_FIELDS = ("id", "at", "actor", "actor_kind", "role", "customer_id", "what", "route", "address")


def _cut(limit: int) -> Any:
    return Field(min_length=1, max_length=limit)


class NewAccess(BaseModel):
    """One read to record (the writer journals it as JSON while the store is down)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Annotated[str, _cut(64)]
    actor_kind: ActorKind
    role: Annotated[str, _cut(64)]
    customer_id: Annotated[int, Field(ge=1)]
    what: Annotated[str, _cut(64)]
    route: Annotated[str, _cut(256)]
    address: Annotated[str, Field(max_length=64)] | None = None
    at: datetime | None = None
    key: Annotated[str, _cut(64)] = Field(default_factory=lambda: uuid4().hex)


@dataclass(frozen=True, slots=True)
class AccessRecord:
    id: int
    at: datetime
    actor: str
    actor_kind: str
    role: str
    customer_id: int
    what: str
    route: str
    address: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "role": self.role,
            "customer_id": self.customer_id,
            "what": self.what,
            "route": self.route,
            "address": self.address,
        }


_TABLE = AccessRow.metadata.tables[AccessRow.__tablename__]
#: On the table, not the entity: one multi-row statement (the ORM's bulk insert makes one per
#: run of rows with the same non-null columns).
_APPEND_MANY = {
    name: insert_for(_TABLE).on_conflict_do_nothing(index_elements=["key"])
    for name, insert_for in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


async def append_many(session: AsyncSession, now: datetime, batch: Sequence[NewAccess]) -> None:
    """Insert the records; one whose key is recorded already (a replay) is skipped."""
    if not batch:
        return
    rows = [
        {
            "key": new.key,
            "at": new.at or now,
            "actor": new.actor,
            "actor_kind": new.actor_kind,
            "role": new.role,
            "customer_id": new.customer_id,
            "what": new.what,
            "route": new.route,
            "address": new.address,
        }
        for new in batch
    ]
    await session.execute(_APPEND_MANY[session.get_bind().dialect.name], rows)


async def of_customer(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
    """The customer's own export's part: who read their data."""
    rows = await session.execute(
        select(AccessRow)
        .where(AccessRow.customer_id == customer_id)
        .order_by(AccessRow.at, AccessRow.id)
        .limit(MAX_READ)
    )
    return [_record(row).as_json() for row in rows.scalars()]


class AccessLog:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._reads = async_sessionmaker(engine, expire_on_commit=False)
        self._writes = writing_sessions(engine)

    async def record(self, batch: Sequence[NewAccess]) -> None:
        async with self._writes() as session, session.begin():
            await append_many(session, self._clock(), batch)

    async def query(
        self,
        *,
        customer_id: int | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[AccessRecord]:
        """Records oldest first, filtered by customer, reader and [since, until)."""
        query = select(AccessRow).where(AccessRow.id > after_id)
        if customer_id is not None:
            query = query.where(AccessRow.customer_id == customer_id)
        if actor is not None:
            query = query.where(AccessRow.actor == actor)
        if since is not None:
            query = query.where(AccessRow.at >= since)
        if until is not None:
            query = query.where(AccessRow.at < until)
        query = query.order_by(AccessRow.id).limit(max(1, min(limit, MAX_READ)))
        async with self._reads() as session:
            return [_record(row) for row in (await session.execute(query)).scalars()]

    async def purge(self, before: datetime) -> int:
        """Delete the records older than ``before`` (the retention period)."""
        async with self._writes() as session, session.begin():
            result = await session.execute(delete(AccessRow).where(AccessRow.at < before))
        return int(getattr(result, "rowcount", 0) or 0)


def to_csv(records: Sequence[AccessRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for record in records:
        row = record.as_json()
        writer.writerow([_cell(row[name]) for name in CSV_FIELDS])
    return out.getvalue()


def _cell(value: object) -> str:
    """A spreadsheet must not run a cell as a formula (a name could start with ``=``)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _record(row: AccessRow) -> AccessRecord:
    return AccessRecord(
        row.id,
        row.at,
        row.actor,
        row.actor_kind,
        row.role,
        row.customer_id,
        row.what,
        row.route,
        row.address,
    )
