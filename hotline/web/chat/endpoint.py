"""``/chat/ws``: a visitor's page on the chat hub, one WebSocket each.

The handshake is refused unless chat is enabled, the page's ``Origin`` is the service's own
site or one of ``chat.allowed_origins`` (a browser always sends it; a site not listed cannot
open a chat in its visitors' name), and the service holds fewer pages than configured. Then
every text frame goes through ``protocol.parse`` and the hub, one at a time: a frame with a
mistake gets an ``error`` frame and the connection goes on; a client that does not speak
the protocol (binary frames, no hello first, a flood of frames, many bad frames) gets its
error and is closed (1003 or 1008). A frame over the byte cap is closed by aiohttp (1009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from hotline.web.chat import protocol as wire
from hotline.web.chat.hub import ChatHub, Connection

log = logging.getLogger(__name__)

__all__ = ["CHAT_HUB", "chat_socket", "origin_allowed"]

CHAT_HUB: web.AppKey[ChatHub] = web.AppKey("hotline_chat_hub")
#: Close codes (RFC 6455): a frame type we do not take, a broken rule of the protocol.
UNSUPPORTED = 1003
POLICY = 1008
#: Refused frames after which a client is taken as not speaking the protocol.
MAX_REFUSED = 20
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Is the handshake's Origin this service's own site or a configured one?"""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin.strip().lower())
    if parts.netloc == request.host.lower():
        return True
    try:
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = _DEFAULT_PORTS[parts.scheme]
    normal = f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")
    return normal in allowed


async def chat_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[CHAT_HUB]
    settings = hub.settings
    if not settings.enabled:
        raise web.HTTPNotFound(text="web chat is not enabled")
    if not origin_allowed(request, settings.allowed_origins):
        log.info("chat socket refused: origin not allowed")
        return web.json_response({"error": "this site may not open the chat"}, status=403)
    connection = hub.connect()
    if connection is None:
        return web.json_response({"error": "too many chats open; try again"}, status=503)
    # bytes: 4 a character at most in UTF-8, 6 for a JSON-escaped control character
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=settings.max_message_chars * 6 + 4096)
    try:
        await ws.prepare(request)
    except Exception:
        hub.disconnected(connection)
        raise
    writer = asyncio.create_task(_write(ws, connection), name="chat-writer")
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await _frame(hub, connection, message.data)
            elif message.type is WSMsgType.BINARY:
                error = wire.error(wire.MALFORMED, "frames are JSON text")
                connection.end(wire.dump(error), code=UNSUPPORTED)
            if connection.closed:
                break
    finally:
        hub.disconnected(connection)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            async with asyncio.timeout(5):
                await writer
        writer.cancel()
        await ws.close()
    return ws


async def _frame(hub: ChatHub, connection: Connection, text: str) -> None:
    try:
        if not connection.frames.take():
            raise wire.FrameError(wire.RATE_LIMITED, "too many frames", fatal=True)
        frame = wire.parse(text, max_chars=hub.settings.max_message_chars)
        if isinstance(frame, wire.Hello):
            await hub.hello(connection, frame)
        elif connection.visitor is None:
            raise wire.FrameError(wire.HELLO_FIRST, "say hello first", fatal=True)
        elif isinstance(frame, wire.Said):
            await hub.said(connection, frame)
        elif isinstance(frame, wire.Typing):
            hub.typing(connection, frame)
        elif isinstance(frame, wire.Receipt):
            await hub.receipt(connection, frame)
        else:
            await hub.leave(connection)
    except wire.FrameError as refused:
        connection.refused += 1
        error = wire.dump(wire.error(refused.code, refused.detail, ref=refused.ref))
        if refused.fatal or connection.refused > MAX_REFUSED:
            log.info("chat socket closed: %s", refused.code)
            connection.end(error, code=POLICY)
        else:
            connection.send(error)


async def _write(ws: web.WebSocketResponse, connection: Connection) -> None:
    """Send the connection's outbox in order; at its end, close with its code."""
    try:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the page went away
            while (text := await connection.outbox.get()) is not None:
                await ws.send_str(text)
    finally:
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=connection.close_code)
