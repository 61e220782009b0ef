"""The durable spool: writes the database could not take, on disk, in order, until replayed.

A JSON-lines journal, each line fsync'd before the writer is told "spooled", and beside it
a mark of how far replay has got (``<journal>.applied``, a byte offset). The mark is
written without fsync: after a crash the last few entries may be replayed twice, which
the store's idempotency keys make harmless. Entries the store refuses on replay (bad data,
not an outage) go to ``<journal>.rejected`` with the reason, so one poisoned write cannot
hold back the rest; erasing a customer removes the rejected entries that name them
(``forget_rejected``). Applied entries leave the journal when it is drained.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 4 * 1024 * 1024
UNREADABLE = "unreadable"


def _line(op: str, data: dict[str, Any]) -> bytes:
    line = json.dumps({"op": op, "data": data}, separators=(",", ":")).encode() + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"a spool entry of {len(line)} bytes is over {MAX_LINE_BYTES}")
    return line


_NOT_DIGITS = re.compile(r"\D")
#: A phone number is recognised in any spelling by its last digits.
_PHONE_TAIL = 9


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _names_any(line: bytes, values: Collection[str]) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return any(v.encode() in line for v in values)
    tails = {
        _NOT_DIGITS.sub("", v)[-_PHONE_TAIL:]
        for v in values
        if len(_NOT_DIGITS.sub("", v)) >= _PHONE_TAIL
    }
    for text in _strings(record):
        if any(v in text for v in values):
            return True
        digits = _NOT_DIGITS.sub("", text)
        if digits and any(tail in digits for tail in tails):
            return True
    return False


def forget_rejected(rejected_path: Path, values: Collection[str]) -> int:
    """Remove the rejected entries naming any of ``values`` (a customer's name, numbers,
    addresses; a number in any spelling); returns how many went. Rewritten atomically."""
    values = [v for v in values if len(v) >= 3]
    if not values or not rejected_path.exists():
        return 0
    kept, dropped = [], 0
    with open(rejected_path, "rb") as rejected:
        for line in rejected:
            if _names_any(line, values):
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        temporary = rejected_path.with_name(rejected_path.name + ".tmp")
        with open(temporary, "wb") as out:
            out.writelines(kept)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, rejected_path)
    return dropped


def rejected_path(journal: Path) -> Path:
    """Where the journal at ``journal`` keeps the writes the store refused."""
    return journal.with_name(journal.name + ".rejected")


@dataclass(frozen=True)
class SpoolEntry:
    op: str
    data: dict[str, Any]
    end: int  # byte offset just after this entry's line


class Spool:
    """Append-only journal of pending writes. Synchronous file I/O: call it off the loop."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.mark_path = self.path.with_name(self.path.name + ".applied")
        self.rejected_path = rejected_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()
        self._file = open(self.path, "ab")  # noqa: SIM115 (held open for the journal's life)

    def _recover(self) -> None:
        """Drop a torn last line (a crash mid-append: that write was never acknowledged)."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut != len(data):
            log.warning(
                "history spool %s: dropping a torn last entry (%d bytes)",
                self.path,
                len(data) - cut,
            )
            with open(self.path, "r+b") as journal:
                journal.truncate(cut)
                os.fsync(journal.fileno())
        if self._mark() > cut:
            self._write_mark(0)

    def close(self) -> None:
        self._file.close()

    def append(self, op: str, data: dict[str, Any]) -> None:
        """Journal one write; returns once it is on disk."""
        self.append_many([(op, data)])

    def append_many(self, writes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Journal several writes, in order, with one fsync; returns once all are on disk.

        One oversized write refuses the lot before anything is written.
        """
        lines = [_line(op, data) for op, data in writes]
        self._file.write(b"".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())

    def pending(self) -> list[SpoolEntry]:
        """Entries not yet applied, oldest first (a line still being written is left out)."""
        start = self._mark()
        with open(self.path, "rb") as journal:
            journal.seek(start)
            data = journal.read()
        entries: list[SpoolEntry] = []
        position = start
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            position += len(line)
            try:
                record = json.loads(line)
                entries.append(SpoolEntry(str(record["op"]), dict(record["data"]), position))
            except (ValueError, KeyError, TypeError):
                # Kept in its place: the replayer refuses it in order (an unknown operation).
                text = line.decode(errors="replace")
                entries.append(SpoolEntry(UNREADABLE, {"line": text}, position))
        return entries

    @property
    def empty(self) -> bool:
        return self._mark() >= self.path.stat().st_size

    def mark_applied(self, entry: SpoolEntry) -> None:
        """``entry`` and every entry before it are applied."""
        self._write_mark(entry.end)

    def reject(self, entry: SpoolEntry, reason: str) -> None:
        record = {"op": entry.op, "data": entry.data, "reason": reason}
        with open(self.rejected_path, "ab") as rejected:
            rejected.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
            rejected.flush()
            os.fsync(rejected.fileno())
        self._write_mark(entry.end)

    def forget(self, values: Collection[str]) -> int:
        """Rejected entries naming an erased customer removed (see ``forget_rejected``)."""
        return forget_rejected(self.rejected_path, values)

    def reset_if_drained(self) -> bool:
        """Empty the journal once everything in it is applied; False if entries remain."""
        if not self.empty:
            return False
        self._file.truncate(0)
        os.fsync(self._file.fileno())
        self._write_mark(0)
        return True

    def _mark(self) -> int:
        try:
            return int(self.mark_path.read_text() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning(
                "history spool mark %s unreadable: replaying from the start", self.mark_path
            )
            return 0

    def _write_mark(self, offset: int) -> None:
        temporary = self.mark_path.with_name(self.mark_path.name + ".tmp")
        temporary.write_text(str(offset))
        os.replace(temporary, self.mark_path)
