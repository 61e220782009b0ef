"""Transcripts of recorded calls in the store (history.transcripts): one per recording,
searched by folded text, category and date, trends per intent/queue/agent, in the
customer's export, and gone with the customer (from every table) and with the recording."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from history.models import Base
from history.repository import HistoryRepository
from history.transcripts import TranscriptWrite

from .conftest import ManualClock
from .test_recordings import a_call, directory, started, store, wav

__all__ = ["directory", "store"]  # fixtures

SAID = "I want to cancel my account, Zorblax is cheaper"


def said(
    clock: ManualClock, call_id: str, text: str = SAID, **spotted: list[str]
) -> TranscriptWrite:
    return TranscriptWrite(
        source="hotline",
        call_id=call_id,
        language="en",
        model="whisper base",
        text=text,
        folded=text.lower().replace(",", ""),
        audio_s=10.0,
        decode_s=2.0,
        spotted=spotted,
        sentiment=-0.5,
        at=clock.now,
    )


async def test_one_transcript_per_recording_searched_and_trended(
    store: HistoryRepository, clock: ManualClock, directory: Path
) -> None:
    await a_call(store, clock, "call-a")
    await store.write_recording(started(clock, "call-a", wav(directory, "call-a")))
    first = await store.write_transcript(said(clock, "call-a", "hello"))
    again = await store.write_transcript(said(clock, "call-a", cancellation=["cancel my account"]))
    assert first is not None
    assert again is not None
    assert again.id == first.id
    assert again.real_time_factor == 0.2
    assert await store.untranscribed() == []
    assert await store.write_transcript(said(clock, "no-recording")) is None

    found = await store.search_transcripts(folded="cancel my")
    assert [t.call_id for t in found] == ["call-a"]
    assert found[0].customer_id is not None
    assert await store.search_transcripts(folded="100%") == []
    assert len(await store.search_transcripts(category="cancellation")) == 1
    assert await store.search_transcripts(category="legal") == []
    assert await store.search_transcripts(since=clock.now + dt.timedelta(seconds=1)) == []
    trends = await store.transcript_trends("queue")
    assert trends == [
        {"queue": None, "calls": 1, "mean_sentiment": -0.5, "spotted": {"cancellation": 1}}
    ]


async def test_untranscribed_lists_kept_recordings_without_transcript(
    store: HistoryRepository, clock: ManualClock, directory: Path
) -> None:
    await a_call(store, clock, "call-a")
    await store.write_recording(started(clock, "call-a", wav(directory, "call-a")))
    await store.write_recording(
        started(clock, "call-a", None).model_copy(update={"status": "recorded", "consent": None})
    )
    await store.write_recording(started(clock, "call-b", None))  # opted out: no file
    pending = await store.untranscribed()
    assert [(p.call_id, p.queue) for p in pending] == [("call-a", "billing")]
    assert pending[0].path.endswith("call-a.wav")


async def test_erasure_deletes_transcripts_from_every_table_and_export_lists_them(
    store: HistoryRepository, clock: ManualClock, directory: Path, engine: AsyncEngine
) -> None:
    customer_id = await a_call(store, clock, "call-a")
    await store.write_recording(started(clock, "call-a", wav(directory, "call-a")))
    await store.write_recording(started(clock, "other", wav(directory, "other")))
    await store.write_transcript(said(clock, "call-a"))
    await store.write_transcript(said(clock, "other", "someone else's words"))

    exported = await store.export_customer(customer_id)
    assert [t["text"] for t in exported["call_transcripts"]] == [SAID]
    erasure = await store.erase_customer(customer_id, by="dpo", reason="request")
    assert erasure.removed["call_transcripts"] == 1
    assert (await store.export_customer(customer_id))["call_transcripts"] == []
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                assert "zorblax" not in repr(tuple(row)).lower(), table.name
    assert [t.call_id for t in await store.search_transcripts()] == ["other"]


async def test_the_retention_purge_takes_the_transcript_with_the_recording(
    store: HistoryRepository, clock: ManualClock, directory: Path
) -> None:
    await a_call(store, clock, "call-a")
    await store.write_recording(started(clock, "call-a", wav(directory, "call-a"), days=1))
    await store.write_transcript(said(clock, "call-a"))
    clock.advance(days=2)
    assert len(await store.purge_recordings()) == 1
    assert await store.search_transcripts() == []
