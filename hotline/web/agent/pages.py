"""``/agent``, its live feed ``/ws/agent``, its actions and the screen-pop.

Every route acts on the signed-in user's own ACD agent (``User.agent_id``): an agent can
never act for another. Wrap-up goes to the history through the voice side's writer, on the
call's interaction (source ``hotline``, the call's uniqueid as idempotency key).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from acd.agent_events import AgentState, Login, Logout, Ready, WrapUpDone
from acd.calls import CallerCard, CallFacts
from acd.contacts import call_of
from center.service import AcdService
from history.errors import HistoryError, UnknownInteraction
from history.identities import IdentityKind
from history.inputs import InteractionRef, InteractionUpdate, NewNote, Status
from history.records import to_json
from history.repository import HistoryRepository
from history.writer import HistoryWriter
from hotline.web.access import note_read
from hotline.web.agent.customer_history import customer_history
from hotline.web.agent.presence import DesktopPresence, desktop_page
from hotline.web.auth.guard import current_session, page, requires
from hotline.web.auth.users import Role
from hotline.web.supervisor.feed import serve_feed
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.templates import render

log = logging.getLogger(__name__)

AGENT_PAGES: web.AppKey[AgentPages] = web.AppKey("hotline_agent_pages")
MAX_REASON_CHARS = 64
SOURCE = "hotline"


class AgentPages:
    def __init__(
        self,
        acd: AcdService,
        hub: SupervisorHub,
        repository: HistoryRepository,
        writer: HistoryWriter | None,
        *,
        presence: DesktopPresence | None = None,
    ) -> None:
        """``presence``: the page's live feed counts as the agent being at their desktop."""
        self.acd = acd
        self.hub = hub
        self.repository = repository
        self.writer = writer
        self.presence = presence

    def add_routes(self, app: web.Application) -> None:
        app[AGENT_PAGES] = self
        app.router.add_get("/agent", agent_page)
        app.router.add_get("/ws/agent", agent_feed)
        app.router.add_post("/page-api/agent/{action:login|logout|ready|pause|wrapup-done}", act)
        app.router.add_get("/page-api/agent/options", options)
        app.router.add_get("/page-api/agent/calls/{call_id}", screen_pop)
        app.router.add_post("/page-api/agent/calls/{call_id}/wrapup", wrap_up)


def _agent_id(request: web.Request) -> str:
    agent_id = current_session(request).user.agent_id
    if agent_id is None:
        raise web.HTTPForbidden(text="this user is not tied to an ACD agent")
    return agent_id


@requires(Role.AGENT)
async def agent_page(request: web.Request) -> web.StreamResponse:
    return page(request, "Agent", render("agent.html", agent_id=_agent_id(request)))


@requires(Role.AGENT)
async def agent_feed(request: web.Request) -> web.StreamResponse:
    pages = request.app[AGENT_PAGES]
    agent_id = _agent_id(request)
    return await serve_feed(
        request,
        pages.hub,
        agent_id=agent_id,
        what="agent",
        while_open=desktop_page(pages.presence, agent_id),
    )


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="malformed JSON") from None
    return body if isinstance(body, dict) else {}


@requires(Role.AGENT)
async def act(request: web.Request) -> web.StreamResponse:
    acd = request.app[AGENT_PAGES].acd
    agent_id = _agent_id(request)
    action = request.match_info["action"]
    body = await _body(request)
    try:
        if action == "login":
            acd.agent_event(Login(agent_id))
        elif action == "logout":
            acd.agent_event(Logout(agent_id))
        elif action == "ready":
            acd.agent_event(Ready(agent_id))
        elif action == "pause":
            reason = body.get("reason")
            if not isinstance(reason, str) or not 0 < len(reason.strip()) <= MAX_REASON_CHARS:
                return web.json_response({"error": "say why you pause"}, status=422)
            acd.agent_paused(agent_id, reason.strip())  # the reasons' limits: PauseRefused
        else:
            acd.agent_event(WrapUpDone(agent_id))
    except Exception as error:  # noqa: BLE001 (the state machine refuses with its own types)
        return web.json_response({"error": str(error)}, status=409)
    return web.json_response({"ok": True, "state": str(acd.distributor.book.view(agent_id).state)})


@requires(Role.AGENT)
async def options(request: web.Request) -> web.StreamResponse:
    """What the agent may pick from (agents.yaml, as reloaded): pause reasons with their
    limits and how many of each they have taken today; wrap-up codes (a call's own queue's
    come with its screen-pop); empty lists: free text."""
    acd = request.app[AGENT_PAGES].acd
    agent_id = _agent_id(request)
    rules = acd.setup.desk
    today = acd.today()
    return web.json_response(
        {
            "pause_reasons": [
                {
                    "reason": reason,
                    "max_s": rule.max_s,
                    "per_day": rule.per_day,
                    "taken_today": acd.agent_day.taken(agent_id, reason, today),
                }
                for reason, rule in rules.pause_reasons.items()
            ],
            "dispositions": list(rules.dispositions),
            # where a chat may be transferred: queues, and colleagues logged in now
            "queues": list(acd.queue_names),
            "colleagues": [
                {
                    "agent_id": view.agent_id,
                    "name": acd.distributor.agents[view.agent_id].name or view.agent_id,
                    "state": str(view.state),
                    "channels": sorted(
                        c
                        for c, n in acd.distributor.agents[view.agent_id].capacity.digital.items()
                        if n
                    ),
                }
                for view in acd.distributor.book.views()
                if view.agent_id != agent_id
                and view.agent_id in acd.distributor.agents
                and view.state is not AgentState.LOGGED_OUT
            ],
        }
    )


async def _queue_of(pages: AgentPages, call_id: str) -> str | None:
    """The queue a call was answered from: the ACD's while it holds the call, else its
    interaction's (None: not known)."""
    call = pages.acd.call(call_id)
    if call is not None:
        return call.queue
    with contextlib.suppress(Exception):
        found = await pages.repository.get_interaction(
            InteractionRef(source=SOURCE, idempotency_key=call_of(call_id))
        )
        return found.queue
    return None


def _may_see(pages: AgentPages, agent_id: str, call_id: str) -> bool:
    """An agent sees the calls it was offered (to pop, talk and wrap up); no other."""
    return pages.hub.offered_to(call_id) == agent_id


@requires(Role.AGENT)
async def screen_pop(request: web.Request) -> web.StreamResponse:
    pages = request.app[AGENT_PAGES]
    agent_id = _agent_id(request)
    call_id = request.match_info["call_id"]
    if not _may_see(pages, agent_id, call_id):
        return web.json_response({"error": "not your call"}, status=403)
    facts = pages.hub.facts(call_id)
    card = pages.hub.caller(call_id) or CallerCard()
    answer: dict[str, Any] = {
        "call_id": call_id,
        "caller": {
            "number": card.number,
            "customer_id": card.customer_id,
            "customer_name": card.customer_name,
        },
        "ivr": _findings(facts, card) if facts is not None else None,
        "customer": None,
        "timeline": [],
        "open_issues": [],
    }
    queue = await _queue_of(pages, call_id)
    answer["queue"] = queue
    answer["dispositions"] = list(pages.acd.setup.desk.dispositions_for(queue))
    try:
        await _from_history(pages, call_id, card, answer)
    except (HistoryError, OSError) as error:
        answer["history_unavailable"] = type(error).__name__
    except Exception as error:  # noqa: BLE001 (a store that is down must not break the pop)
        log.warning("screen-pop: history unavailable (%s)", type(error).__name__)
        answer["history_unavailable"] = type(error).__name__
    if answer["customer"] is not None:
        note_read(request, [answer["customer"]["id"]], "screen-pop")
    return web.json_response(answer)


async def _from_history(
    pages: AgentPages, call_id: str, card: CallerCard, answer: dict[str, Any]
) -> None:
    """The customer, their open issues and their timeline on every channel. The customer is
    the one the IVR identified; else the call's interaction's (once written); else whoever
    holds the caller's number."""
    repository = pages.repository
    call_id = call_of(call_id)  # a transferred call's segment: the call's one interaction
    customer_id = int(card.customer_id) if card.customer_id and card.customer_id.isdigit() else None
    with contextlib.suppress(UnknownInteraction):
        interaction = await repository.get_interaction(
            InteractionRef(source=SOURCE, idempotency_key=call_id)
        )
        answer["interaction"] = to_json(interaction)
        customer_id = customer_id or interaction.customer_id
    customer = None
    if customer_id is not None:
        customer = await repository.get_customer(customer_id)
    elif card.number:
        customer = await repository.find_customer(IdentityKind.PHONE, card.number)
    if customer is None:
        return
    names = {a: p.name or a for a, p in pages.acd.distributor.agents.items()}
    answer.update(await customer_history(repository, customer, names, (call_id,)))


def _findings(facts: CallFacts, card: CallerCard) -> dict[str, Any]:
    """What the IVR learnt: the intent and how sure it was, what the caller said, the way
    through the menus, the entities it heard, and what routing used."""
    return {
        "intent": facts.intent,
        "intent_confidence": card.intent_confidence,
        "call_type": facts.call_type,
        "tier": facts.tier,
        "language": facts.language,
        "complexity": facts.complexity,
        "days_since_last_contact": facts.days_since_last_contact,
        "tags": sorted(facts.tags),
        "transcript": card.transcript,
        "menu_path": [{"node": s.node, "heard": s.heard} for s in card.menu_path],
        "entities": [{"name": name, "value": value} for name, value in card.entities],
        "open_issues": card.open_issues,
    }


@requires(Role.AGENT)
async def wrap_up(request: web.Request) -> web.StreamResponse:
    pages = request.app[AGENT_PAGES]
    agent_id = _agent_id(request)
    call_id = request.match_info["call_id"]
    if not _may_see(pages, agent_id, call_id):
        return web.json_response({"error": "not your call"}, status=403)
    body = await _body(request)
    ref = InteractionRef(source=SOURCE, idempotency_key=call_of(call_id))
    disposition = body.get("disposition") or None
    if disposition is not None and not isinstance(disposition, str):
        return web.json_response({"error": "disposition is a code"}, status=422)
    refusal = pages.acd.setup.desk.disposition_refusal(await _queue_of(pages, call_id), disposition)
    if refusal is not None:
        return web.json_response({"error": refusal}, status=422)
    try:
        change = InteractionUpdate(
            disposition=disposition,
            status=Status(body.get("status") or "resolved"),
        )
        note_text = str(body.get("note") or "").strip()
        note = (
            NewNote(
                author=f"agent:{agent_id}",
                body=note_text,
                interaction=ref,
                source=SOURCE,
                idempotency_key=f"wrapup-{call_id}",
            )
            if note_text
            else None
        )
    except (ValidationError, ValueError) as error:
        return web.json_response({"error": str(error).splitlines()[0]}, status=422)
    if pages.writer is not None:
        await pages.writer.update_interaction(ref, change)
        if note is not None:
            await pages.writer.add_note(note)
    else:
        await pages.repository.update_interaction(ref, change)
        if note is not None:
            await pages.repository.add_note(note)
    if body.get("done"):
        with contextlib.suppress(Exception):
            pages.acd.agent_event(WrapUpDone(agent_id))
    return web.json_response({"ok": True})
