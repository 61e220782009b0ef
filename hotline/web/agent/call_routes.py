"""The agent page's call control (``center.call_controller``), and a supervisor's hang-up.

* ``GET /page-api/agent/call``: the agent's call as the desktop shows it (on hold, muted, a
  transfer under way, the colleague consulted and the consult's phase) and where it may be
  transferred (queues, logged-in colleagues) or whom it may be consulted with (``consult``:
  colleagues with the call's skills, available first, then by level);
* ``POST /page-api/agent/call/{hangup|transfer|mute}``: on the signed-in agent's own call
  only (``User.agent_id``); the body may name the ``call_id`` the page shows, so a click
  meant for a call that has since ended is refused instead of acting on the next one.
  ``transfer``: ``{"queue": ...}`` or ``{"agent": ...}``; ``mute``: ``{"on": true|false}``;
* ``POST /page-api/agent/call/{hold|resume}``: the desktop holds the call (the caller hears
  music on hold; an attended transfer of the agent's leg) and resumes it; ``desk_hold`` in
  the state tells the desktop's hold from the phone's (which only the phone resumes). On
  with consult (``consult_enabled``: both need Dial option ``t``);
* ``POST /page-api/agent/call/{consult|complete|cancel|conference}`` (``center.consult``):
  ``consult`` ``{"agent": ...}`` rings the colleague while the caller holds; then the
  consult is completed (the caller to the colleague), cancelled or made a conference;
* ``POST /page-api/agents/{agent_id}/hangup``: a supervisor (or admin) ends any agent's call.

Refusals are 409 with the reason; Asterisk refusing the action is 502.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from acd.agent_events import AgentState
from center.call_controller import CallControlError, CallController
from hotline.web.auth.guard import current_session, requires
from hotline.web.auth.users import Role
from hotline.web.bodies import json_object

log = logging.getLogger(__name__)

CALL_CONTROL: web.AppKey[CallController] = web.AppKey("hotline_call_control", CallController)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
MAX_NAME_CHARS = 64


def add_routes(app: web.Application, control: CallController) -> None:
    app[CALL_CONTROL] = control
    app.router.add_get("/page-api/agent/call", call_state)
    app.router.add_post(
        "/page-api/agent/call/{action:hangup|transfer|mute|hold|resume|consult|complete|cancel|conference}",
        control_call,
    )
    app.router.add_post("/page-api/agents/{agent_id}/hangup", supervisor_hang_up)


def _agent_id(request: web.Request) -> str:
    agent_id = current_session(request).user.agent_id
    if agent_id is None:
        raise web.HTTPForbidden(text="this user is not tied to an ACD agent")
    return agent_id


def _name(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise web.HTTPUnprocessableEntity(text=f"{key}: a name of at most {MAX_NAME_CHARS}")
    return value


def _state(control: CallController, agent_id: str) -> dict[str, Any]:
    state = control.state(agent_id)
    return {
        "call_id": state.call_id,
        "on_hold": state.on_hold,
        "desk_hold": state.desk_hold,
        "muted": state.muted,
        "transferring": state.transferring,
        "consulting": state.consulting,
        "consult_phase": state.consult_phase,
    }


def _refused(error: CallControlError) -> web.Response:
    return web.json_response({"error": str(error)}, status=409 if error.refused else 502)


@requires(Role.AGENT)
async def call_state(request: web.Request) -> web.StreamResponse:
    control = request.app[CALL_CONTROL]
    agent_id = _agent_id(request)
    service = control.service
    colleagues = [
        {
            "agent_id": view.agent_id,
            "name": service.distributor.agents[view.agent_id].name or view.agent_id,
        }
        for view in service.distributor.book.views()
        if view.agent_id != agent_id and view.state is not AgentState.LOGGED_OUT
    ]
    consult = [
        {
            "agent_id": c.agent_id,
            "name": c.name or c.agent_id,
            "state": c.state,
            "level": c.level,
            "available": c.available,
        }
        for c in (control.colleagues(agent_id) if control.consult_enabled() else ())
    ]
    return web.json_response(
        {
            **_state(control, agent_id),
            "queues": list(service.queue_names),
            "agents": colleagues,
            "consult": consult,
            "consult_enabled": control.consult_enabled(),
        }
    )


@requires(Role.AGENT)
async def control_call(request: web.Request) -> web.StreamResponse:
    control = request.app[CALL_CONTROL]
    agent_id = _agent_id(request)
    action = request.match_info["action"]
    body = await json_object(request)
    call_id = _name(body, "call_id")
    try:
        if action == "hangup":
            await control.hang_up(agent_id, call_id)
        elif action == "transfer":
            await control.transfer(
                agent_id, queue=_name(body, "queue"), agent=_name(body, "agent"), call_id=call_id
            )
        elif action == "mute":
            await control.mute(agent_id, on=body.get("on") is not False, call_id=call_id)
        elif action == "hold":
            await control.hold(agent_id, call_id)
        elif action == "resume":
            await control.resume(agent_id, call_id)
        elif action == "consult":
            colleague = _name(body, "agent")
            if colleague is None:
                raise web.HTTPUnprocessableEntity(text="agent: whom to consult")
            await control.consult(agent_id, colleague, call_id)
        elif action == "complete":
            await control.complete_consult(agent_id, call_id)
        elif action == "cancel":
            await control.cancel_consult(agent_id, call_id)
        else:
            await control.conference(agent_id, call_id)
    except CallControlError as error:
        return _refused(error)
    return web.json_response({"ok": True, **_state(control, agent_id)})


@requires(*SUPERVISORS)
async def supervisor_hang_up(request: web.Request) -> web.StreamResponse:
    control = request.app[CALL_CONTROL]
    agent_id = request.match_info["agent_id"]
    if agent_id not in control.service.distributor.agents:
        raise web.HTTPNotFound(text="no such agent")
    try:
        await control.hang_up(agent_id)
    except CallControlError as error:
        return _refused(error)
    user = current_session(request).user.name
    log.info("supervisor %s hung up agent %s's call", user, agent_id)
    return web.json_response({"ok": True})
