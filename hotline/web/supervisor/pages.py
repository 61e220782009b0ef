"""``/supervisor`` (the page) and ``/ws/supervisor`` (its live feed), ``/wallboard`` (the
wall screen) and ``/ws/wallboard`` (its smaller feed: ``wallboard``), and the supervisor's
actions: pause, ready and force out agents, listen, whisper or barge (and stop it); raise a
waiting call's priority or move it to another queue. Every action is written to the audit
log (``history.audit``) with who did it; an audit store that does not answer is logged and
does not stop the action (calls go on while the database is down)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from acd.agent_events import Logout, Pause, Ready
from acd.router import RoutingError
from center.service import AcdService
from history.audit import AuditLog
from hotline.web.auth.guard import current_session, page, requires
from hotline.web.auth.users import Role
from hotline.web.bodies import json_object
from hotline.web.supervisor.feed import serve_feed
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.spy import SpyDesk, SpyError, SpyMode
from hotline.web.templates import render
from telephony.ami_client import AmiClient, AmiError

log = logging.getLogger(__name__)

HUB = web.AppKey("hotline_supervisor_hub", SupervisorHub)
ACD = web.AppKey("hotline_acd", AcdService)
AMI = web.AppKey("hotline_ami", AmiClient)
SPIES = web.AppKey("hotline_spy_desk", SpyDesk)
AUDIT = web.AppKey("hotline_supervisor_audit", AuditLog)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
#: Who may see the wallboard: supervisors, and a wall screen's own sign-in.
WALL_SCREENS = (*SUPERVISORS, Role.WALLBOARD)
MAX_REASON_CHARS = 64
#: The largest priority bump one click may give (priority.yaml's scores are tens of points).
MAX_BUMP = 1000


@requires(*SUPERVISORS)
async def supervisor_page(request: web.Request) -> web.StreamResponse:
    return page(request, "Supervisor", render("supervisor.html"))


@requires(*WALL_SCREENS)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    return page(request, "Wallboard", render("wallboard.html"))


@requires(*WALL_SCREENS)
async def wallboard_feed(request: web.Request) -> web.StreamResponse:
    return await serve_feed(request, request.app[HUB], wallboard=True, what="wallboard")


@requires(*SUPERVISORS)
async def supervisor_feed(request: web.Request) -> web.StreamResponse:
    return await serve_feed(request, request.app[HUB], what="supervisor")


async def audited(request: web.Request, target: str, action: str, summary: str) -> bool:
    """One supervisor's action in the audit log; False (and a log line) if it is not."""
    audit = request.app.get(AUDIT)
    user = current_session(request).user.name
    log.info("supervisor %s: %s %s: %s", user, action, target, summary)
    if audit is None:
        return False
    try:
        await audit.append(actor=user, target=target, action=action, summary=summary)
    except Exception as error:  # noqa: BLE001 (any store failure: the action stands)
        log.error("audit log not written (%s): %s %s by %s", error, action, target, user)
        return False
    return True


def _agent(request: web.Request) -> str:
    agent_id = request.match_info["agent_id"]
    if agent_id not in request.app[ACD].distributor.book:
        raise web.HTTPNotFound(text="no such agent")
    return agent_id


@requires(*SUPERVISORS)
async def pause_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    body = await json_object(request)
    reason = str(body.get("reason") or "supervisor")[:MAX_REASON_CHARS]
    try:
        request.app[ACD].agent_event(Pause(agent_id, reason))
    except Exception as error:  # noqa: BLE001 (the state machine refuses with its own types)
        return web.json_response({"error": str(error)}, status=409)
    view = request.app[ACD].distributor.book.view(agent_id)
    pending = view.pending is not None  # on a call: the pause lands when it is over
    when = " (pending until the call is over)" if pending else ""
    await audited(request, f"agent:{agent_id}", "pause", f"paused: {reason}{when}")
    return web.json_response({"ok": True, "state": str(view.state), "pending": pending})


@requires(*SUPERVISORS)
async def ready_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    try:
        request.app[ACD].agent_event(Ready(agent_id))
    except Exception as error:  # noqa: BLE001
        return web.json_response({"error": str(error)}, status=409)
    await audited(request, f"agent:{agent_id}", "ready", "made ready")
    return web.json_response({"ok": True})


@requires(*SUPERVISORS)
async def force_logout(request: web.Request) -> web.StreamResponse:
    """Log an agent out (their chats and e-mails go back to the queues); on a call, once the
    call and its wrap-up are over."""
    agent_id = _agent(request)
    acd = request.app[ACD]
    held = len(acd.distributor.tasks_of(agent_id))
    try:
        acd.agent_event(Logout(agent_id))
    except Exception as error:  # noqa: BLE001 (the state machine refuses with its own types)
        return web.json_response({"error": str(error)}, status=409)
    view = acd.distributor.book.view(agent_id)
    pending = view.pending is not None
    summary = "forced log-out" + (
        " (pending until the call is over)" if pending else f"; {held} tasks handed back"
    )
    await audited(request, f"agent:{agent_id}", "force_logout", summary)
    return web.json_response(
        {"ok": True, "state": str(view.state), "pending": pending, "handed_back": held}
    )


@requires(*SUPERVISORS)
async def spy_on_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    body = await json_object(request)
    try:
        mode = SpyMode(str(body.get("mode", "")))
    except ValueError:
        modes = ", ".join(m.value for m in SpyMode)
        return web.json_response({"error": f"mode: one of {modes}"}, status=422)
    user = current_session(request).user
    if user.endpoint is None:
        message = "you have no phone on record (hotline user add ... --endpoint PJSIP/...)"
        return web.json_response({"error": message}, status=409)
    desk = request.app.get(SPIES)
    if desk is None:
        return web.json_response({"error": "no Asterisk connection"}, status=503)
    try:
        session = await desk.start(
            supervisor=user.name,
            endpoint=user.endpoint,
            agent_id=agent_id,
            agent_endpoint=request.app[ACD].distributor.agents[agent_id].endpoint,
            mode=mode,
        )
    except AmiError as error:
        return web.json_response({"error": f"Asterisk refused: {error}"}, status=502)
    await audited(request, f"agent:{agent_id}", mode.value, f"{mode.value} ({session.id})")
    return web.json_response({"ok": True, "mode": mode.value, "session": session.to_json()})


@requires(*SUPERVISORS)
async def stop_spying(request: web.Request) -> web.StreamResponse:
    desk = request.app.get(SPIES)
    if desk is None:
        return web.json_response({"error": "no Asterisk connection"}, status=503)
    user = current_session(request).user.name
    session_id = request.match_info["session_id"]
    try:
        session = await desk.stop(session_id, by=user)
    except SpyError as error:
        return web.json_response({"error": str(error)}, status=409)
    except AmiError as error:
        return web.json_response({"error": f"Asterisk refused: {error}"}, status=502)
    await audited(request, f"agent:{session.agent_id}", "stop_" + session.mode.value, session.id)
    return web.json_response({"ok": True})


def _waiting_call(request: web.Request) -> str:
    call_id = request.match_info["call_id"]
    if request.app[ACD].call(call_id) is None:
        raise web.HTTPNotFound(text="no such call waiting")
    return call_id


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPUnprocessableEntity(text="a JSON object is expected") from None
    if not isinstance(body, dict):
        raise web.HTTPUnprocessableEntity(text="a JSON object is expected")
    return body


@requires(*SUPERVISORS)
async def raise_call_priority(request: web.Request) -> web.StreamResponse:
    call_id = _waiting_call(request)
    by = (await _body(request)).get("by")
    if isinstance(by, bool) or not isinstance(by, int | float) or not 0 < by <= MAX_BUMP:
        message = f"by: a number of priority points above 0, at most {MAX_BUMP}"
        return web.json_response({"error": message}, status=422)
    user = current_session(request).user.name
    try:
        request.app[ACD].raise_priority(call_id, float(by), user)
    except RoutingError as error:
        return web.json_response({"error": str(error)}, status=409)
    await audited(request, f"call:{call_id}", "raise_priority", f"priority +{by:g}")
    return web.json_response({"ok": True})


@requires(*SUPERVISORS)
async def move_call(request: web.Request) -> web.StreamResponse:
    call_id = _waiting_call(request)
    queue = (await _body(request)).get("queue")
    acd = request.app[ACD]
    if not isinstance(queue, str) or queue not in acd.queue_names:
        names = ", ".join(acd.queue_names)
        return web.json_response({"error": f"queue: one of {names}"}, status=422)
    user = current_session(request).user.name
    try:
        acd.move_call(call_id, queue, user)
    except RoutingError as error:
        return web.json_response({"error": str(error)}, status=409)
    await audited(request, f"call:{call_id}", "move", f"moved to queue {queue}")
    return web.json_response({"ok": True})


def add_routes(
    app: web.Application,
    hub: SupervisorHub,
    acd: AcdService,
    ami: AmiClient | None = None,
    audit: AuditLog | None = None,
) -> None:
    app[HUB] = hub
    app[ACD] = acd
    if audit is not None:
        app[AUDIT] = audit
    if ami is not None:
        app[AMI] = ami
        desk = app[SPIES] = SpyDesk(ami, changed=hub.refresh)
        desk.attach()
        hub.add_part("spies", desk.to_json)

        async def detach(_: web.Application) -> None:
            desk.detach()

        app.on_cleanup.append(detach)
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_post("/page-api/agents/{agent_id}/logout", force_logout)
    app.router.add_post("/page-api/spy/{session_id}/stop", stop_spying)
    app.router.add_get("/ws/supervisor", supervisor_feed)
    app.router.add_get("/ws/wallboard", wallboard_feed)
    app.router.add_post("/page-api/agents/{agent_id}/pause", pause_agent)
    app.router.add_post("/page-api/agents/{agent_id}/ready", ready_agent)
    app.router.add_post("/page-api/agents/{agent_id}/spy", spy_on_agent)
    app.router.add_post("/page-api/calls/{call_id}/priority", raise_call_priority)
    app.router.add_post("/page-api/calls/{call_id}/move", move_call)
