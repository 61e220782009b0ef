"""Call recordings in the store (history.recordings): one row per call however often it is
written, pause marks once each, the retention purge (file, then reference), erasure and
export with the customer, and the file store that never leaves its directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from history.identities import IdentityKind
from history.inputs import Channel, IdentityIn, NewCustomer, NewInteraction
from history.recordings import RecordingFiles, RecordingMark, RecordingWrite
from history.repository import HistoryRepository
from history.writer import WRITE_RECORDING, decode

from .conftest import ManualClock

NUMBER = "+441632960301"


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    made = tmp_path / "recordings"
    made.mkdir()
    return made


@pytest.fixture
def store(engine: AsyncEngine, clock: ManualClock, directory: Path) -> HistoryRepository:
    return HistoryRepository(engine, clock=clock, recording_files=RecordingFiles(directory))


def wav(directory: Path, call_id: str) -> Path:
    path = directory / f"{call_id}.wav"
    path.write_bytes(b"RIFF" + bytes(40))
    return path


async def a_call(store: HistoryRepository, clock: ManualClock, call_id: str) -> int:
    """A known customer's call (interaction keyed by the call id); the customer's id."""
    customer = await store.find_customer(IdentityKind.PHONE, NUMBER)
    if customer is None:
        customer = await store.create_customer(
            NewCustomer(
                name="Rita Caller", identities=(IdentityIn(kind=IdentityKind.PHONE, value=NUMBER),)
            )
        )
    await store.append_interaction(
        NewInteraction(
            channel=Channel.VOICE,
            customer_id=customer.id,
            started_at=clock.now,
            source="hotline",
            external_id=call_id,
            idempotency_key=call_id,
        )
    )
    return customer.id


def started(
    clock: ManualClock, call_id: str, path: Path | None, *, days: float = 30
) -> RecordingWrite:
    return RecordingWrite(
        source="hotline",
        call_id=call_id,
        at=clock.now,
        status="recording" if path else "not_recorded",
        consent="given" if path else "opted_out",
        path=str(path) if path else None,
        queue="billing",
        started_at=clock.now,
        expires_at=clock.now + dt.timedelta(days=days),
    )


async def test_a_call_has_one_recording_and_each_pause_is_marked_once(
    store: HistoryRepository, clock: ManualClock, directory: Path
) -> None:
    path = wav(directory, "c1")
    await store.write_recording(started(clock, "c1", path))
    mark = RecordingMark(key="m1", at=clock.advance(seconds=30), action="paused", agent="1001")
    for _ in range(2):  # a replayed write (the spool) lands once
        await store.write_recording(
            RecordingWrite(source="hotline", call_id="c1", at=clock.now, mark=mark)
        )
    ended = clock.advance(seconds=90)
    final = await store.write_recording(
        RecordingWrite(source="hotline", call_id="c1", at=ended, status="recorded", ended_at=ended)
    )

    assert (final.status, final.consent, final.path, final.queue) == (
        "recorded",
        "given",
        str(path),
        "billing",
    )
    assert [(m["key"], m["action"], m["agent"]) for m in final.marks] == [("m1", "paused", "1001")]
    assert final.ended_at == ended
    change = RecordingWrite(source="hotline", call_id="c1", at=ended, mark=mark)
    assert decode(WRITE_RECORDING, change.model_dump(mode="json")) == change  # spool round trip


async def test_the_purge_deletes_expired_files_then_their_references(
    store: HistoryRepository, clock: ManualClock, directory: Path, tmp_path: Path
) -> None:
    old, young = wav(directory, "old"), wav(directory, "young")
    elsewhere = tmp_path / "elsewhere.wav"
    elsewhere.write_bytes(b"RIFF")
    await store.write_recording(started(clock, "old", old, days=30))
    await store.write_recording(started(clock, "optout", None, days=30))
    await store.write_recording(started(clock, "outside", elsewhere, days=30))
    await store.write_recording(started(clock, "young", young, days=90))
    clock.advance(days=31)

    purged = await store.purge_recordings()

    assert sorted(r.call_id for r in purged) == ["old", "optout"]
    assert not old.exists()
    assert young.exists()
    assert elsewhere.exists()  # a path outside the directory is never deleted...
    kept = await store.call_recording_of("hotline", "outside")
    assert kept is not None
    assert kept.path == str(elsewhere)  # ...and its reference stays until someone looks
    gone = await store.call_recording_of("hotline", "old")
    assert gone is not None
    assert (gone.status, gone.path, gone.deleted_reason) == ("deleted", None, "retention")
    assert gone.deleted_at == clock.now
    again = await store.write_recording(
        RecordingWrite(source="hotline", call_id="old", at=clock.now, status="recorded")
    )
    assert again.status == "deleted"  # a late write does not bring it back
    assert await store.purge_recordings() == []


async def test_erasure_deletes_the_customers_recordings_and_export_lists_them(
    store: HistoryRepository, clock: ManualClock, directory: Path, tmp_path: Path
) -> None:
    customer_id = await a_call(store, clock, "call-a")
    await a_call(store, clock, "call-b")
    mine = wav(directory, "call-a")
    elsewhere = tmp_path / "call-b.wav"  # not where the store may delete: listed instead
    elsewhere.write_bytes(b"RIFF")
    await store.write_recording(started(clock, "call-a", mine))
    await store.write_recording(started(clock, "call-b", elsewhere))
    await store.write_recording(started(clock, "someone-else", wav(directory, "someone-else")))

    exported = await store.export_customer(customer_id)
    assert [(r["call_id"], r["path"]) for r in exported["call_recordings"]] == [
        ("call-a", str(mine)),
        ("call-b", str(elsewhere)),
    ]
    erasure = await store.erase_customer(customer_id, by="dpo", reason="request")

    assert erasure.removed["call_recordings"] == 2
    assert not mine.exists()
    assert erasure.recording_refs == (str(elsewhere),)
    after = await store.export_customer(customer_id)
    assert [(r["status"], r["path"]) for r in after["call_recordings"]] == [
        ("deleted", None),
        ("deleted", None),
    ]
    other = await store.call_recording_of("hotline", "someone-else")
    assert other is not None
    assert other.path is not None  # another customer's recording is untouched


def test_the_file_store_resolves_only_files_inside_its_directory(
    directory: Path, tmp_path: Path
) -> None:
    files = RecordingFiles(directory)
    inside = wav(directory, "x")
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"secret")
    (directory / "link.wav").symlink_to(outside)

    assert files.open_file(str(inside)) == inside.resolve()
    assert files.open_file(f"{directory}/../secret.wav") is None
    assert files.open_file(str(directory / "link.wav")) is None  # a symlink out
    assert files.open_file(str(directory)) is None
    assert files.open_file(str(directory / "missing.wav")) is None
    assert files.open_file("") is None
