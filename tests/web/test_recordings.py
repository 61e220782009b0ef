"""Call recordings on the web (hotline/web/recordings.py), on the shipped service over the
emulated Asterisk with recording on: the agent pauses and resumes their own call's
recording (CSRF, their own call only); supervisors list and play it (Range for <audio>),
each read in the access log; agents cannot play; erasing the customer deletes the file."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from center.recording import RecordingRetention
from history.access_log import AccessLog
from history.recordings import CallRecording, RecordingWrite
from tests.web.support import Stack, running, signed_in
from tests.web.test_agent import NUMBER, call_for_agent_1001, jar


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    recorded = {"recording.mode": "record", "recording.directory": str(tmp_path / "recordings")}
    async with running(tmp_path, ring_s=0.5, overrides=recorded) as live:
        yield live


async def post(
    http: Any, stack: Stack, path: str, csrf: str | None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    async with http.post(stack.url + path, json=body or {}, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def ended(stack: Stack, call_id: str) -> CallRecording:
    """The call's recording once its call ended and the history has it."""
    async with asyncio.timeout(10):
        while True:
            await stack.service.recorder.flush()
            await stack.service.history_writer.flush()
            found = await stack.service.history.call_recording_of("hotline", call_id)
            if found is not None and found.status != "recording":
                return found
            await asyncio.sleep(0.05)


def exists(path: str) -> bool:
    return Path(path).is_file()


async def test_the_agent_pauses_the_recording_and_a_supervisor_plays_it(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    customer = await stack.service.history.find_customer("phone", NUMBER)
    assert customer is not None
    async with jar() as http:
        csrf = await signed_in(http, stack.url, "1001")
        async with asyncio.timeout(10):
            while True:
                async with http.get(stack.url + "page-api/agent/call/recording") as response:
                    state = await response.json()
                if state["recording"]:
                    break
                await asyncio.sleep(0.05)
        assert (state["call_id"], state["paused"]) == (call_id, False)

        status, _ = await post(http, stack, "page-api/agent/call/recording/pause", None)
        assert status == 403  # no CSRF token
        status, paused = await post(
            http, stack, "page-api/agent/call/recording/pause", csrf, {"call_id": call_id}
        )
        assert (status, paused["paused"]) == (200, True)
        status, stale = await post(
            http, stack, "page-api/agent/call/recording/resume", csrf, {"call_id": "gone"}
        )
        assert (status, stale["error"]) == (409, "not on call gone")
        status, resumed = await post(http, stack, "page-api/agent/call/recording/resume", csrf)
        assert (status, resumed["paused"]) == (200, False)
    async with jar() as other:  # another agent, on no call, acts on nothing
        csrf_other = await signed_in(other, stack.url, "1002")
        status, refused = await post(
            other, stack, "page-api/agent/call/recording/pause", csrf_other
        )
        assert (status, refused["error"]) == (409, "not on a call")

    await stack.service.call_control.hang_up("1001")
    recording = await ended(stack, call_id)
    assert (recording.status, recording.consent, recording.queue) == (
        "recorded",
        "given",
        "support",
    )
    assert [(m["action"], m["agent"], m["by"]) for m in recording.marks] == [
        ("paused", "1001", "1001"),
        ("resumed", "1001", "1001"),
    ]
    assert recording.path is not None
    assert await asyncio.to_thread(exists, recording.path)

    async with jar() as http:
        await signed_in(http, stack.url, "sam")
        async with http.get(stack.url + f"page-api/customers/{customer.id}/recordings") as response:
            listed = await response.json()
        (shown,) = listed["recordings"]
        assert (shown["call_id"], shown["url"]) == (call_id, f"/recordings/{recording.id}")
        async with http.get(stack.url.rstrip("/") + shown["url"]) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "audio/wav"
            assert response.headers["Cache-Control"] == "no-store"
            whole = await response.read()
        assert whole[:4] == b"RIFF"
        ranged = {"Range": "bytes=0-99"}
        async with http.get(stack.url.rstrip("/") + shown["url"], headers=ranged) as response:
            assert response.status == 206
            assert await response.read() == whole[:100]
    async with jar() as http:  # agents do not replay recordings, their own calls' included
        await signed_in(http, stack.url, "1001")
        async with http.get(stack.url + f"recordings/{recording.id}") as response:
            assert response.status == 403

    await stack.service.history_writer.flush()
    reads = await AccessLog(stack.service.store).query(customer_id=customer.id, actor="sam")
    assert [r.what for r in reads] == ["customerRecordings", "playRecording", "playRecording"]
    assert {r.route for r in reads} == {
        "/page-api/customers/{customer_id}/recordings",
        "/recordings/{recording_id}",
    }


async def test_erasing_the_customer_deletes_the_recording(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    customer = await stack.service.history.find_customer("phone", NUMBER)
    assert customer is not None
    async with asyncio.timeout(10):
        while not stack.service.recorder.state("1001").recording:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await stack.service.call_control.hang_up("1001")
    recording = await ended(stack, call_id)
    assert recording.path is not None
    path = recording.path
    assert await asyncio.to_thread(exists, path)
    exported = await stack.service.history.export_customer(customer.id)
    assert [r["path"] for r in exported["call_recordings"]] == [path]

    erasure = await stack.service.history.erase_customer(customer.id, by="dpo", reason="request")

    assert erasure.removed["call_recordings"] == 1
    assert erasure.recording_refs == ()  # deleted here: nothing left for anyone to delete
    assert not await asyncio.to_thread(exists, path)
    gone = await stack.service.history.call_recording_of("hotline", call_id)
    assert gone is not None
    assert (gone.status, gone.path, gone.deleted_reason) == ("deleted", None, "erasure")
    async with jar() as http:
        await signed_in(http, stack.url, "sam")
        async with http.get(stack.url + f"recordings/{recording.id}") as response:
            assert response.status == 404


async def test_a_recording_past_its_retention_is_purged(stack: Stack) -> None:
    call_id = await call_for_agent_1001(stack)
    async with asyncio.timeout(10):
        while not stack.service.recorder.state("1001").recording:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    await stack.service.call_control.hang_up("1001")
    recording = await ended(stack, call_id)
    assert recording.path is not None
    assert recording.expires_at is not None
    days = (recording.expires_at - recording.started_at).days
    assert days == 90  # the shipped default (support has no rule of its own)
    assert await RecordingRetention(stack.service.history).purge() == 0  # not yet
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    await stack.service.history.write_recording(  # as if 90 days had gone by
        RecordingWrite(source="hotline", call_id=call_id, at=yesterday, expires_at=yesterday)
    )

    assert await RecordingRetention(stack.service.history).purge() == 1

    assert not await asyncio.to_thread(exists, recording.path)
    gone = await stack.service.history.call_recording_of("hotline", call_id)
    assert gone is not None
    assert (gone.status, gone.path, gone.deleted_reason) == ("deleted", None, "retention")
