"""Call recordings on the web pages (``center.recording``, ``history.recordings``).

The agent's desktop (their own call only, as ``agent/call_routes.py``):

* ``GET /page-api/agent/call/recording``: is the agent's call recorded, is it paused;
* ``POST /page-api/agent/call/recording/{pause|resume}``: pause while the customer gives a
  card number (PCI DSS), resume after. The body may name the ``call_id`` the page shows.
  Refusals are 409 (not on a call, a call that is not recorded), Asterisk's 502.

Playing recordings is for **supervisors and admins only**: a recording holds what the
customer said, and listening back is quality assurance, not the agent's job (an agent
hears their calls as they happen; they cannot replay them, their own included):

* ``GET /page-api/customers/{customer_id}/recordings``: the references of the customer's
  recordings (consent, pauses with who and when, retention), newest last;
* ``GET /recordings/{recording_id}``: the WAV, streamed with ``Range`` support (an
  ``<audio>`` element seeks), ``Cache-Control: no-store``; 404 once deleted (retention,
  erasure). The file is looked up inside ``recording.directory`` only.

Both reads are in the access log (``note_read``: ``customerRecordings``,
``playRecording``), under the customer's id; a recording of an anonymous call (caller ID
withheld) has no customer to log it under.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from center.call_controller import CallControlError
from center.recording import CallRecorder, RecordingState
from history.recordings import RecordingFiles
from history.repository import HistoryRepository
from hotline.web.access import note_read
from hotline.web.auth.guard import current_session, requires
from hotline.web.auth.users import Role
from hotline.web.bodies import json_object

log = logging.getLogger(__name__)

RECORDER: web.AppKey[CallRecorder] = web.AppKey("hotline_call_recorder", CallRecorder)
RECORDINGS: web.AppKey[HistoryRepository] = web.AppKey(
    "hotline_recordings_store", HistoryRepository
)
LISTENERS = (Role.SUPERVISOR, Role.ADMIN)
MAX_CALL_ID_CHARS = 128


def add_routes(app: web.Application, recorder: CallRecorder, store: HistoryRepository) -> None:
    app[RECORDER] = recorder
    app[RECORDINGS] = store
    app.router.add_get("/page-api/agent/call/recording", recording_state)
    app.router.add_post("/page-api/agent/call/recording/{action:pause|resume}", pause_recording)
    app.router.add_get("/page-api/customers/{customer_id:[0-9]{1,18}}/recordings", list_recordings)
    app.router.add_get("/recordings/{recording_id:[0-9]{1,18}}", play_recording)


def _agent_id(request: web.Request) -> str:
    agent_id = current_session(request).user.agent_id
    if agent_id is None:
        raise web.HTTPForbidden(text="this user is not tied to an ACD agent")
    return agent_id


def _state(state: RecordingState) -> dict[str, Any]:
    return {"call_id": state.call_id, "recording": state.recording, "paused": state.paused}


@requires(Role.AGENT)
async def recording_state(request: web.Request) -> web.StreamResponse:
    return web.json_response(_state(request.app[RECORDER].state(_agent_id(request))))


@requires(Role.AGENT)
async def pause_recording(request: web.Request) -> web.StreamResponse:
    recorder = request.app[RECORDER]
    agent_id = _agent_id(request)
    body = await json_object(request)
    call_id = body.get("call_id")
    if call_id is not None and (not isinstance(call_id, str) or len(call_id) > MAX_CALL_ID_CHARS):
        raise web.HTTPUnprocessableEntity(text="call_id: the call's id")
    paused = request.match_info["action"] == "pause"
    user = current_session(request).user.name
    try:
        state = await recorder.pause(agent_id, paused=paused, by=user, call_id=call_id or None)
    except CallControlError as error:
        status = 409 if error.refused else 502
        return web.json_response({"error": str(error)}, status=status)
    return web.json_response({"ok": True, **_state(state)})


@requires(*LISTENERS)
async def list_recordings(request: web.Request) -> web.StreamResponse:
    customer_id = int(request.match_info["customer_id"])
    found = await request.app[RECORDINGS].call_recordings(customer_id)
    note_read(request, [customer_id], "customerRecordings")
    return web.json_response(
        {
            "customer_id": customer_id,
            "recordings": [
                {**r.as_json(), "url": f"/recordings/{r.id}" if r.playable else None} for r in found
            ],
        }
    )


@requires(*LISTENERS)
async def play_recording(request: web.Request) -> web.StreamResponse:
    store = request.app[RECORDINGS]
    found = await store.call_recording(int(request.match_info["recording_id"]))
    if found is None:
        raise web.HTTPNotFound(text="no such recording")
    recording, customer_id = found
    files = store.recording_files or RecordingFiles(request.app[RECORDER].files.directory)
    path = files.open_file(recording.path) if recording.playable and recording.path else None
    if path is None:
        raise web.HTTPNotFound(text="this recording is not kept (deleted or never made)")
    note_read(request, [customer_id], "playRecording")
    log.info(
        "recording %d (call %s) played by %s",
        recording.id,
        recording.call_id,
        current_session(request).user.name,
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'inline; filename="recording-{recording.id}.wav"',
            "Cache-Control": "no-store",
        },
    )
