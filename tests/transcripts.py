"""Loader for the recorded Asterisk wire transcripts in tests/fixtures/asterisk (the ground truth).

The format and what each transcript shows are described in tests/fixtures/asterisk/README.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent / "fixtures" / "asterisk"
ASTERISK_TO_SERVICE = "asterisk>service"
SERVICE_TO_ASTERISK = "service>asterisk"


@dataclass(frozen=True)
class Record:
    t: float
    dir: str
    data: str
    conn: int | None = None
    eof: bool = False
    note: str = ""


@cache
def _load(name: str) -> tuple[Record, ...]:
    path = TRANSCRIPTS / (name if name.endswith(".jsonl") else f"{name}.jsonl")
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            records.append(
                Record(
                    t=float(raw["t"]),
                    dir=raw["dir"],
                    data=raw["data"],
                    conn=raw.get("conn"),
                    eof=bool(raw.get("eof", False)),
                    note=raw.get("note", ""),
                )
            )
    return tuple(records)


def load(name: str) -> list[Record]:
    """All records of one transcript (`name` with or without `.jsonl`), in file order."""
    return list(_load(name))


def stream(name: str, direction: str, conn: int | None = None) -> bytes:
    """The exact byte stream one side sent (on one connection if `conn` is given)."""
    return b"".join(
        r.data.encode("utf-8")
        for r in _load(name)
        if r.dir == direction and (conn is None or r.conn == conn)
    )


def names(prefix: str) -> list[str]:
    """Transcript names (without `.jsonl`) starting with `prefix`, e.g. `"ami_"`."""
    return sorted(p.stem for p in TRANSCRIPTS.glob(f"{prefix}*.jsonl"))
