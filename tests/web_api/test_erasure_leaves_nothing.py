"""Erasure leaves no personal data anywhere it landed (issue 16, finding 5).

A customer writes, calls (recorded, transcribed after the call), chats and is written about
(with the service logging at DEBUG and one write spooled while SQLite was locked); then
they are erased. Every table, the
database file and its WAL (SQLite), the spool's files and the captured log are searched
for what they told us: none of it is there. The idempotency fingerprints are salted while
they live and gone with the customer.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from center.call_analytics import fold
from history.inputs import Channel, NewInteraction
from history.masking import redact_text
from history.models import ApiIdempotencyRow, Base
from history.recordings import RecordingWrite
from history.spool import forget_rejected
from history.transcripts import TranscriptWrite
from hotline.logs import configure_logging
from hotline.web.api.idempotency import fingerprint
from hotline.web.api.schemas import InteractionIn
from tests.history.conftest import Target

from .conftest import CHAT_SCOPES, Served

NAME = "Zebulon Quillfeather"
PHONE = "+44 1632 960777"
EMAIL = "zebulon.q@example.org"
#: What must be found nowhere afterwards (each in the spelling it would be stored in).
ERASED = (
    "Zebulon",
    "Quillfeather",
    "1632960777",
    "1632 960777",
    "zebulon.q",
    "LOYAL-778899",
    "ZEBRA-CROSSING",
    "prefers mornings",
    "the blue door",
    "quillfeather",  # a call's transcript as search folds it
)
CONTACT = {
    "channel": "chat",
    "identity": {"kind": "email", "value": EMAIL},
    "transcript": "my locker code is ZEBRA-CROSSING-42",
    "disposition": f"cb {PHONE.replace(' ', '')} {EMAIL}",
}


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The service's own logging, at DEBUG, captured."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def tables_text(engine: AsyncEngine) -> str:
    """Every row of every table, as text."""
    found: list[str] = []
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = await connection.execute(select(table))
            found.extend(f"{table.name}: {tuple(row)}" for row in rows)
    return "\n".join(found)


def nowhere(where: str, haystack: str | bytes) -> None:
    for value in ERASED:
        if isinstance(haystack, bytes):
            assert value.encode() not in haystack, f"{value!r} is still in {where}"
        else:
            assert value not in haystack, f"{value!r} is still in {where}"


def stored_files(tmp_path: Path, target: Target) -> list[tuple[str, bytes]]:
    """The spool's files (the journal, its mark, its rejects) and, on SQLite, the database
    file and its WAL. ``secure_delete`` is set by the store: Debian's SQLite has it on by
    default, others do not, and then erased cells stay in the file's free space."""
    files = list(tmp_path.glob("spool.jsonl*"))
    if target.backend == "sqlite":
        database = make_url(target.url).database
        assert database is not None
        files += [p for p in (Path(database), Path(database + "-wal")) if p.exists()]
    return [(path.name, path.read_bytes()) for path in files]


async def recorded_call(served: Served, customer: int) -> None:
    """A recorded call of theirs, transcribed after the call."""
    now = dt.datetime.now(dt.UTC)
    history = served.repository
    await history.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            customer_id=customer,
            started_at=now,
            source="hotline",
            external_id="call-zq",
            idempotency_key="call-zq",
        )
    )
    await history.write_recording(
        RecordingWrite(
            source="hotline", call_id="call-zq", at=now, status="recorded", path="/r/zq.wav"
        )
    )
    said = "This is Zebulon Quillfeather, cancel my account"
    stored = await history.write_transcript(
        TranscriptWrite(
            source="hotline",
            call_id="call-zq",
            language="en",
            model="whisper base",
            text=said,
            folded=fold(said),
            audio_s=4.0,
            decode_s=1.0,
            spotted={"cancellation": ["cancel my account"]},
            sentiment=0.0,
            at=now,
        )
    )
    assert stored is not None


async def test_an_erased_customer_is_found_nowhere(
    served: Served, target: Target, tmp_path: Path, debug_log: io.StringIO
) -> None:
    api = served.api
    chat = await served.token("chat", *CHAT_SCOPES)
    admin = await served.token("dpo", "history:read", "history:write", "privacy:admin")
    created = await api.post(
        "/customers",
        admin,
        json_body={
            "name": NAME,
            "tier": "gold",
            "identities": [{"kind": "phone", "value": PHONE}, {"kind": "email", "value": EMAIL}],
            "custom_fields": {"loyalty": "LOYAL-778899"},
            "tags": ["Quillfeather-household"],
        },
    )
    assert created.status == 201, created.body
    customer = created.body["id"]
    written = await api.post(
        "/interactions", chat, json_body=CONTACT, headers={"Idempotency-Key": "zq-1"}
    )
    assert written.status == 201
    note = {"author": "a1001", "body": "Zebulon prefers mornings", "customer_id": customer}
    assert (await api.post("/notes", chat, json_body=note)).status == 201
    chat_open = {
        "channel": "chat",
        "identity": {"kind": "email", "value": EMAIL},
        "message": {"direction": "in", "author_kind": "customer", "body": "it is the blue door"},
    }
    assert (await api.post("/conversations", chat, json_body=chat_open)).status in (200, 201)
    await recorded_call(served, customer)
    if target.backend == "sqlite":  # one write waits in the spool, then is replayed
        database = make_url(target.url).database
        assert database is not None
        locker = sqlite3.connect(database, isolation_level=None, timeout=0)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            later = {**CONTACT, "transcript": "Quillfeather again: ZEBRA-CROSSING-43"}
            spooled = await api.post(
                "/interactions", chat, json_body=later, headers={"Idempotency-Key": "zq-2"}
            )
            assert spooled.status == 202
        finally:
            locker.execute("COMMIT")
            locker.close()
        await served.writer.drained()
    async with served.repository.engine.connect() as connection:
        prints = (await connection.execute(select(ApiIdempotencyRow.fingerprint))).scalars()
        plain = fingerprint("interaction", InteractionIn.model_validate(CONTACT))
        assert plain not in list(prints)  # salted while it lives

    erased = await api.post(
        f"/customers/{customer}/erase", admin, json_body={"by": "dpo", "reason": "request 7"}
    )
    assert erased.status == 200
    assert erased.body["removed"]["dispositions"] >= 1

    engine = served.repository.engine
    nowhere("the tables", await tables_text(engine))
    kept = await api.get(f"/interactions/{written.body['id']}", chat)
    assert kept.body["disposition"] == "cb [erased] [erased]"  # the code stays, not the data
    for name, content in stored_files(tmp_path, target):
        nowhere(name, content)
    nowhere("the DEBUG log", debug_log.getvalue())
    async with engine.connect() as connection:
        counted = await connection.execute(text("SELECT count(*) FROM api_idempotency"))
        assert counted.scalar_one() == 0


def test_rejected_writes_naming_an_erased_customer_are_forgotten(tmp_path: Path) -> None:
    rejected = tmp_path / "spool.jsonl.rejected"
    lines = [
        {"op": "interaction.append", "data": {"identity": {"value": "+44 (0)1632 960 777"}}},
        {"op": "note.add", "data": {"body": "Zebulon called"}},
        {"op": "note.add", "data": {"body": "someone else"}},
    ]
    rejected.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert forget_rejected(rejected, ["+441632960777", NAME.split()[0]]) == 2
    assert json.loads(rejected.read_text())["data"]["body"] == "someone else"


def test_redaction_keeps_nothing_of_a_number_or_address() -> None:
    assert redact_text(f"cb {PHONE} or {EMAIL}") == "cb [erased] or [erased]"
