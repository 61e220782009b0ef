"""A batch's interaction updates: applied to the rows in memory, written back together.

``HistoryRepository.write_batch`` used to apply each update as its own read and its own
``UPDATE``: two round trips per write, the larger part of a call's writes. Here the rows the
batch updates are read in one query up front (or taken from the appends of the batch as
they are inserted), each update is applied to its row in memory in batch order, and what
each one returns is the row as that update left it, as one-at-a-time updates would return.
Before the batch commits, the changed rows are written back with an ``UPDATE`` per set of
changed columns (executemany, ``WRITE_BACK_ROWS`` rows at a time): only the columns the
batch changed, so a concurrent change to another column is not overwritten.

Nothing in a batch reads an interaction's updatable columns from the database before the
write-back (notes and recordings read only its id and customer), so deferring the
``UPDATE`` to the end of the transaction changes nothing a caller or a reader can see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from history import bulk, convert
from history.context import Context
from history.errors import HistoryError, UnknownInteraction
from history.inputs import InteractionRef, InteractionUpdate
from history.models import InteractionRow
from history.records import Interaction

_TABLE = InteractionRow.metadata.tables[InteractionRow.__tablename__]
_COLUMNS = tuple(column.key for column in _TABLE.c)
#: One row by primary key: the columns set are the parameters' other keys.
_WRITE_BACK = update(_TABLE).where(_TABLE.c.id == bindparam("_id"))
#: Ids per ``IN (...)`` when reading rows up front.
_CHUNK = 500
#: Rows per write-back statement: the writer hears from the store between them (its
#: health check: ``history.writer``), so a large batch is never one long silence.
WRITE_BACK_ROWS = 50

Target = int | InteractionRef


def _state(row: InteractionRow | Row[Any]) -> dict[str, Any]:
    if isinstance(row, Row):
        return dict(row._mapping)
    return {name: getattr(row, name) for name in _COLUMNS}


class Changes:
    """The interactions a batch has read or updated, as they stand in the transaction."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._rows: dict[int, dict[str, Any]] = {}
        self._ids: dict[tuple[str, str], int] = {}
        #: id -> the columns changed (and so to write back)
        self._dirty: dict[int, set[str]] = {}

    def know(self, row: InteractionRow | Row[Any]) -> Interaction:
        """An interaction the batch has from the store (an append's row); if the batch has
        it already, the batch's copy (with the updates it made) wins."""
        state = self._rows.get(row.id)
        if state is None:
            state = self._remember(_state(row))
        return _record(state)

    async def load(self, session: AsyncSession, targets: Iterable[Target]) -> None:
        """Read the targets the batch does not hold yet, in one query or two (a target
        not found is left for ``apply`` to refuse: an append later in the batch may make it)."""
        ids = sorted({t for t in targets if isinstance(t, int)} - self._rows.keys())
        refs = {
            (t.source, t.idempotency_key)
            for t in targets
            if isinstance(t, InteractionRef) and (t.source, t.idempotency_key) not in self._ids
        }
        for start in range(0, len(ids), _CHUNK):
            found = await session.execute(
                select(*_TABLE.c).where(_TABLE.c.id.in_(ids[start : start + _CHUNK]))
            )
            for row in found:
                self.know(row)
        if refs:
            for row in (await bulk.by_refs(session, refs)).values():
                self.know(row)

    async def apply(
        self, session: AsyncSession, target: Target, change: InteractionUpdate
    ) -> Interaction:
        """The update applied to the row in memory; the row as it leaves it."""
        state = self._find(target)
        if state is None:
            await self.load(session, [target])
            state = self._find(target)
        if state is None:
            if isinstance(target, InteractionRef):
                raise UnknownInteraction(f"{target.source}/{target.idempotency_key}")
            raise UnknownInteraction(str(target))
        try:
            values = change.changes()
        except ValueError as error:
            raise HistoryError(str(error)) from None
        for name, value in values.items():
            state[name] = value.value if name == "status" else value
        state["updated_at"] = self._ctx.now()
        self._dirty.setdefault(state["id"], set()).update(values, ("updated_at",))
        return _record(state)

    async def write_back(self, session: AsyncSession, answered: Callable[[], None]) -> None:
        """The changed rows to the store: an executemany per set of changed columns (and
        per ``WRITE_BACK_ROWS``), ``answered()`` after each."""
        by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
        for interaction_id, columns in self._dirty.items():
            state = self._rows[interaction_id]
            values = {name: state[name] for name in columns}
            by_columns.setdefault(frozenset(columns), []).append({"_id": interaction_id, **values})
        self._dirty.clear()
        for rows in by_columns.values():
            for first in range(0, len(rows), WRITE_BACK_ROWS):
                await session.execute(_WRITE_BACK, rows[first : first + WRITE_BACK_ROWS])
                answered()

    def _find(self, target: Target) -> dict[str, Any] | None:
        if isinstance(target, InteractionRef):
            found = self._ids.get((target.source, target.idempotency_key))
            return None if found is None else self._rows[found]
        return self._rows.get(target)

    def _remember(self, state: dict[str, Any]) -> dict[str, Any]:
        self._rows[state["id"]] = state
        if state["idempotency_key"] is not None:
            self._ids[(state["source"], state["idempotency_key"])] = state["id"]
        return state


def _record(state: dict[str, Any]) -> Interaction:
    return convert.interaction(SimpleNamespace(**state))
