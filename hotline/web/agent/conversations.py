"""The agent page's digital tasks: ``/ws/agent/desk`` and the actions on a conversation.

Same rules as the rest of the agent page: signed in as an agent (``User.agent_id``), the
WebSocket only from this site's pages, every POST with the session's CSRF token. An agent
acts only on their own tasks: the desk and the ACD refuse anything else (409), and the feed
carries only the agent's own.

    POST /page-api/agent/conversations/{id}/accept
    POST /page-api/agent/conversations/{id}/decline
    POST /page-api/agent/conversations/{id}/messages   {"text": "...", "ref": "<page's id>"}
    POST /page-api/agent/conversations/{id}/close      {"status": "resolved" | "postponed",
                                                        "disposition": "<a configured code>"}
    POST /page-api/agent/conversations/{id}/transfer   {"queue": "billing"} | {"agent": "1002"}
    POST /page-api/agent/conversations/{id}/note       {"text": "...", "ref": "<page's id>"}
    POST /page-api/agent/conversations/{id}/callback   {"number": "+44..." (optional), "ref": "..."}
    GET  /page-api/agent/conversations/{id}/messages/{id}/attachments/{id}
    GET  /page-api/agent/conversations/{id}/customer   who they are, open issues, timeline

An attachment is served only to the agent the conversation is with (403 to any other, 401
signed out): a recording as audio its page can play (``audio/wav``), any other file as a
download (``application/octet-stream``, never rendered); ids are numbers in the path, the
file is found by them in the history, never by a name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import quote

from aiohttp import WSMsgType, web
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from acd.agent_events import AgentError
from center.conversations import ConversationDesk, DeskError
from center.task_callbacks import TaskCallbacks
from history.attachments import OCTET_STREAM
from history.conversations import Conversations
from history.errors import (
    AttachmentMissing,
    HistoryError,
    NotAConversation,
    TooLarge,
    UnknownAttachment,
    UnknownInteraction,
    UnknownMessage,
)
from history.inputs import InteractionUpdate, NewNote, Status
from history.repository import HistoryRepository
from hotline.web.access import note_read
from hotline.web.agent.customer_history import customer_history
from hotline.web.agent.desk_panel import DeskPanel, PanelClient, shown
from hotline.web.agent.presence import DesktopPresence, desktop_page
from hotline.web.auth.guard import current_session, requires
from hotline.web.auth.users import Role
from hotline.web.pushes import push

log = logging.getLogger(__name__)

__all__ = ["DeskRoutes"]

DESK_ROUTES: web.AppKey[DeskRoutes] = web.AppKey("hotline_agent_desk")
#: What a page may send on the desk's socket (typing, read receipts): small.
MAX_FRAME_BYTES = 8192
MAX_READ_IDS = 200
MAX_REF = 64
MAX_NOTE_CHARS = 20_000
MAX_NUMBER_CHARS = 32
#: Recordings the agent's page plays (stored type -> the type it is served as).
PLAYABLE = {
    "audio/wav": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mpeg": "audio/mpeg",
    "audio/ogg": "audio/ogg",
}
_ID = r"\d{1,18}"


class DeskRoutes:
    def __init__(
        self,
        desk: ConversationDesk,
        panel: DeskPanel,
        repository: HistoryRepository,
        *,
        presence: DesktopPresence | None = None,
        callbacks: TaskCallbacks | None = None,
    ) -> None:
        """``presence``: the desk's socket counts as the agent being at their desktop."""
        self.desk = desk
        self.desk_acd = panel.acd
        self.panel = panel
        self.repository = repository
        self.presence = presence
        self.conversations = Conversations(repository)  # reads only: no caps needed
        self.callbacks = callbacks

    def add_routes(self, app: web.Application) -> None:
        app[DESK_ROUTES] = self
        app.router.add_get("/ws/agent/desk", desk_feed)
        app.router.add_post(
            r"/page-api/agent/conversations/{conversation:\d{1,18}}/{action:accept|decline}",
            answer_offer,
        )
        app.router.add_post(
            r"/page-api/agent/conversations/{conversation:\d{1,18}}/messages", write
        )
        app.router.add_post(r"/page-api/agent/conversations/{conversation:\d{1,18}}/close", close)
        app.router.add_post(
            r"/page-api/agent/conversations/{conversation:\d{1,18}}/transfer", transfer
        )
        base = f"/page-api/agent/conversations/{{conversation:{_ID}}}"
        app.router.add_post(base + "/note", note)
        app.router.add_get(base + "/customer", customer)
        app.router.add_post(base + "/callback", book_callback)
        app.router.add_get(
            base + f"/messages/{{message:{_ID}}}/attachments/{{attachment:{_ID}}}", attachment
        )


def _agent_id(request: web.Request) -> str:
    agent_id = current_session(request).user.agent_id
    if agent_id is None:
        raise web.HTTPForbidden(text="this user is not tied to an ACD agent")
    return agent_id


def _conversation(request: web.Request) -> int:
    return int(request.match_info["conversation"])


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="malformed JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return body


def _refused(error: Exception, status: int = 409) -> web.Response:
    return web.json_response({"error": str(error).splitlines()[0]}, status=status)


@requires(Role.AGENT)
async def desk_feed(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id = _agent_id(request)
    # each card sent (the customer, the thread) is a read of the customer's data
    client = await routes.panel.connect(
        agent_id, shown=lambda customers, what: note_read(request, customers, what)
    )
    if client is None:
        return web.json_response({"error": "too many desk pages open"}, status=503)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME_BYTES)
    try:
        await ws.prepare(request)
        reader = asyncio.create_task(_read(ws, routes.panel, client))
        try:
            # the page may go away while a frame is on its way: then the push just ends
            with desktop_page(routes.presence, agent_id), contextlib.suppress(ConnectionError):
                await push(ws, client, reader)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    finally:
        routes.panel.disconnect(client)
        await ws.close()
    return ws


async def _read(ws: web.WebSocketResponse, panel: DeskPanel, client: PanelClient) -> None:
    """What the page says: typing in a conversation, customer messages it showed."""
    async for message in ws:
        if message.type is not WSMsgType.TEXT:
            break
        try:
            frame = json.loads(message.data)
            kind, conversation = frame["type"], frame["conversation"]
            if not isinstance(conversation, int) or isinstance(conversation, bool):
                continue
            if kind == "typing" and isinstance(frame.get("on"), bool):
                panel.agent_typing(client.agent_id, conversation, frame["on"])
            elif kind == "read" and isinstance(frame.get("ids"), list):
                ids = [i for i in frame["ids"][:MAX_READ_IDS] if type(i) is int and i > 0]
                await panel.read(client.agent_id, conversation, ids)
        except (ValueError, KeyError, TypeError):
            continue  # a page of ours sends neither; nothing to do with it


@requires(Role.AGENT)
async def answer_offer(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    try:
        if request.match_info["action"] == "accept":
            await routes.desk.accept(agent_id, conversation)
        else:
            routes.desk.decline(agent_id, conversation)
    except (AgentError, DeskError) as error:  # not offered to this agent (any more)
        return _refused(error)
    return web.json_response({"ok": True})


@requires(Role.AGENT)
async def write(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    body = await _body(request)
    text, ref = body.get("text"), body.get("ref")
    if not isinstance(text, str) or not text.strip():
        return web.json_response({"error": "write something first"}, status=422)
    if ref is not None and (not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF):
        return web.json_response({"error": "ref is a short text"}, status=422)
    try:
        message = await routes.desk.agent_wrote(
            agent_id,
            conversation,
            text.strip(),
            external_id=None if ref is None else f"agent-{agent_id}-{ref}",
        )
    except DeskError as error:
        return _refused(error)
    except TooLarge as error:
        return _refused(error, 413)
    except (ValidationError, ValueError) as error:
        return _refused(error, 422)
    return web.json_response({"ok": True, "message": shown(message)})


@requires(Role.AGENT)
async def close(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    body = await _body(request)
    try:
        status = Status(body.get("status") or Status.RESOLVED)
    except ValueError:
        return web.json_response({"error": "status is resolved or postponed"}, status=422)
    if status is Status.OPEN:
        return web.json_response({"error": "status is resolved or postponed"}, status=422)
    disposition = body.get("disposition") or None
    if disposition is not None and not isinstance(disposition, str):
        return web.json_response({"error": "disposition is a code"}, status=422)
    task_id = routes.desk.task_of(conversation)
    task = None if task_id is None else routes.desk_acd.task(task_id)
    refusal = routes.desk_acd.setup.desk.disposition_refusal(
        None if task is None else task.queue, disposition
    )
    if refusal is not None:
        return web.json_response({"error": refusal}, status=422)
    if routes.panel.ended_by_customer(agent_id, conversation):
        # the customer left: the task is over; the agent still says how it stands
        try:
            found = await routes.repository.get_interaction(conversation)
        except UnknownInteraction as error:
            return _refused(error, 404)
        if found.agent != agent_id:
            return web.json_response({"error": "not your conversation"}, status=403)
        try:
            await routes.repository.update_interaction(
                conversation, InteractionUpdate(status=status, disposition=disposition)
            )
        except HistoryError as error:
            return _refused(error, 503)
        routes.panel.closed(agent_id, conversation)
        return web.json_response({"ok": True})
    try:
        routes.desk.finish(agent_id, conversation, status=status, disposition=disposition)
    except (AgentError, DeskError) as error:
        return _refused(error)
    return web.json_response({"ok": True})


@requires(Role.AGENT)
async def transfer(request: web.Request) -> web.StreamResponse:
    """Hand an accepted conversation on to a queue or a colleague (``ConversationDesk
    .transfer``): it leaves this agent's page; 409 with the reason when it cannot be made."""
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    body = await _body(request)
    queue, to_agent = body.get("queue") or None, body.get("agent") or None
    for value in (queue, to_agent):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_REF):
            return web.json_response({"error": "name a queue or a colleague"}, status=422)
    try:
        target = await routes.desk.transfer(agent_id, conversation, queue=queue, to_agent=to_agent)
    except DeskError as error:
        return _refused(error)
    return web.json_response({"ok": True, "transferred_to": target})


def _holds(routes: DeskRoutes, agent_id: str, conversation: int) -> bool:
    """Is the conversation with this agent (offered, accepted, or ended by the customer and
    still theirs to close)?"""
    if routes.desk.holder(conversation) == agent_id:
        return True
    return routes.panel.ended_by_customer(agent_id, conversation)


def _not_yours() -> web.Response:
    return web.json_response({"error": "not your conversation"}, status=403)


@requires(Role.AGENT)
async def attachment(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    if not _holds(routes, agent_id, conversation):
        return _not_yours()
    ids = int(request.match_info["message"]), int(request.match_info["attachment"])
    try:
        found, data = await routes.conversations.read_attachment(conversation, *ids)
        owner = (await routes.conversations.get_conversation(conversation)).customer_id
    except (UnknownMessage, UnknownAttachment, UnknownInteraction, NotAConversation) as error:
        return _refused(error, 404)
    except AttachmentMissing as error:
        return _refused(error, 410)
    except (SQLAlchemyError, OSError) as error:
        return _refused(error, 503)
    note_read(request, [owner], "a conversation's file")  # a recording is the customer's
    played = PLAYABLE.get(found.content_type)
    disposition = "inline" if played else "attachment"
    return web.Response(
        body=data,
        headers={
            "Content-Type": played or OCTET_STREAM,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@requires(Role.AGENT)
async def note(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    body = await _body(request)
    text, ref = body.get("text"), body.get("ref")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        return web.json_response({"error": "write the note first"}, status=422)
    if ref is not None and (not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF):
        return web.json_response({"error": "ref is a short text"}, status=422)
    if not _holds(routes, agent_id, conversation):
        return _not_yours()
    try:
        kept = await routes.repository.add_note(
            NewNote(
                author=f"agent:{agent_id}",
                body=text.strip(),
                interaction_id=conversation,
                idempotency_key=None if ref is None else f"note-{agent_id}-{ref}",
            )
        )
    except (ValidationError, ValueError) as error:
        return _refused(error, 422)
    except (HistoryError, SQLAlchemyError, OSError) as error:
        return _refused(error, 503)
    shown_note = {"id": kept.id, "text": kept.body, "at": kept.created_at.isoformat()}
    return web.json_response({"ok": True, "note": shown_note})


@requires(Role.AGENT)
async def customer(request: web.Request) -> web.StreamResponse:
    """The conversation's customer with their open issues and cross-channel timeline (the
    conversation itself marked ``current``); ``customer`` null for an anonymous one."""
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    if not _holds(routes, agent_id, conversation):
        return _not_yours()
    empty: dict[str, Any] = {"customer": None, "timeline": [], "open_issues": []}
    try:
        interaction = await routes.repository.get_interaction(conversation)
        if interaction.customer_id is None:
            return web.json_response(empty)
        found = await routes.repository.get_customer(interaction.customer_id)
        names = {a: p.name or a for a, p in routes.desk_acd.distributor.agents.items()}
        answer = await customer_history(routes.repository, found, names, (str(conversation),))
    except (HistoryError, SQLAlchemyError, OSError) as error:
        return _refused(error, 503)
    note_read(request, [found.id], "desk")
    return web.json_response(answer)


@requires(Role.AGENT)
async def book_callback(request: web.Request) -> web.StreamResponse:
    routes = request.app[DESK_ROUTES]
    agent_id, conversation = _agent_id(request), _conversation(request)
    body = await _body(request)
    number, ref = body.get("number") or None, body.get("ref")
    if number is not None and (not isinstance(number, str) or len(number) > MAX_NUMBER_CHARS):
        return web.json_response({"error": "the number is a short text"}, status=422)
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF:
        return web.json_response({"error": "ref is a short text"}, status=422)
    if routes.callbacks is None:
        return web.json_response({"error": "callbacks are not available here"}, status=404)
    if routes.desk.holder(conversation) != agent_id:
        return _not_yours()
    try:
        booked = await routes.callbacks.book(agent_id, conversation, ref=ref, number=number)
    except DeskError as error:
        return _refused(error, 422)
    except (HistoryError, SQLAlchemyError, OSError) as error:
        return _refused(error, 503)
    return web.json_response(
        {"ok": True, "callback": {"id": booked.call_id, "number": booked.number}}
    )
