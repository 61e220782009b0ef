"""``/supervisor`` (the page), ``/ws/supervisor`` (its live feed) and its actions."""

from __future__ import annotations

import logging

from aiohttp import web

from acd.live.service import AcdService
from hotline.web.auth.guard import current_session, page, requires
from hotline.web.auth.users import Role
from hotline.web.supervisor.feed import serve_feed
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.supervisor.spy import SpyMode, spy
from hotline.web.templates import render
from telephony.ami_client import AmiClient, AmiError

log = logging.getLogger(__name__)

HUB = web.AppKey("hotline_supervisor_hub", SupervisorHub)
ACD = web.AppKey("hotline_acd", AcdService)
AMI = web.AppKey("hotline_ami", AmiClient)
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
MAX_REASON_CHARS = 64


@requires(*SUPERVISORS)
async def supervisor_page(request: web.Request) -> web.StreamResponse:
    return page(request, "Supervisor", render("supervisor.html"))


@requires(*SUPERVISORS)
async def supervisor_feed(request: web.Request) -> web.StreamResponse:
    return await serve_feed(request, request.app[HUB], what="supervisor")


def _agent(request: web.Request) -> str:
    agent_id = request.match_info["agent_id"]
    acd = request.app[ACD]
    if agent_id not in {a.agent_id for a in acd.agents()}:
        raise web.HTTPNotFound(text="no such agent")
    return agent_id


@requires(*SUPERVISORS)
async def pause_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    body = await request.json() if request.can_read_body else {}
    reason = str(body.get("reason") or "supervisor")[:MAX_REASON_CHARS]
    try:
        request.app[ACD].pause(agent_id, reason)
    except Exception as error:  # noqa: BLE001 (the state machine refuses with its own types)
        return web.json_response({"error": str(error)}, status=409)
    log.info("supervisor %s paused agent %s", current_session(request).user.name, agent_id)
    return web.json_response({"ok": True})


@requires(*SUPERVISORS)
async def ready_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    try:
        request.app[ACD].ready(agent_id)
    except Exception as error:  # noqa: BLE001
        return web.json_response({"error": str(error)}, status=409)
    log.info("supervisor %s made agent %s ready", current_session(request).user.name, agent_id)
    return web.json_response({"ok": True})


@requires(*SUPERVISORS)
async def spy_on_agent(request: web.Request) -> web.StreamResponse:
    agent_id = _agent(request)
    body = await request.json() if request.can_read_body else {}
    try:
        mode = SpyMode(str(body.get("mode", "")))
    except ValueError:
        modes = ", ".join(m.value for m in SpyMode)
        return web.json_response({"error": f"mode: one of {modes}"}, status=422)
    user = current_session(request).user
    if user.endpoint is None:
        message = "you have no phone on record (hotline user add ... --endpoint PJSIP/...)"
        return web.json_response({"error": message}, status=409)
    ami = request.app.get(AMI)
    if ami is None:
        return web.json_response({"error": "no Asterisk connection"}, status=503)
    try:
        await spy(
            ami,
            supervisor_endpoint=user.endpoint,
            agent_endpoint=request.app[ACD].endpoint(agent_id),
            agent_id=agent_id,
            mode=mode,
        )
    except AmiError as error:
        return web.json_response({"error": f"Asterisk refused: {error}"}, status=502)
    log.info("supervisor %s: %s on agent %s", user.name, mode.value, agent_id)
    return web.json_response({"ok": True, "mode": mode.value})


def add_routes(
    app: web.Application, hub: SupervisorHub, acd: AcdService, ami: AmiClient | None = None
) -> None:
    app[HUB] = hub
    app[ACD] = acd
    if ami is not None:
        app[AMI] = ami
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/ws/supervisor", supervisor_feed)
    app.router.add_post("/page-api/agents/{agent_id}/pause", pause_agent)
    app.router.add_post("/page-api/agents/{agent_id}/ready", ready_agent)
    app.router.add_post("/page-api/agents/{agent_id}/spy", spy_on_agent)
