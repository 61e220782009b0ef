"""The conversation desk's events as webhooks (``channels.webhooks``), so messaging modules
(a WhatsApp Business provider, an SMS gateway, a CRM) hear of tasks and messages without
polling.

=======================  ==========================================================
desk event               webhook
=======================  ==========================================================
``queued``               ``task.created`` (task, conversation, channel, queue)
``accepted``             ``task.assigned`` (… agent)
``closed``/``abandoned`` ``task.completed`` (… agent, outcome: answered | abandoned)
``message``              ``message.created`` (the message, without attachments' bytes)
``delivery``             ``message.delivery`` (message id, state, when)
``status`` resolved      ``conversation.resolved``
=======================  ==========================================================

``data.customer_id`` ties each event to its customer (export and erasure find them).
Publishing writes the event to the webhook outbox; the desk's listener must not wait, so
each publish runs as an owned task, and a failure is logged with the event it lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from center.desk_events import DeskEvent
from history.records import Message

log = logging.getLogger(__name__)

__all__ = ["WebhookFeed", "webhook_of"]

#: ``WebhookDispatcher.publish``
Publish = Callable[[str, Mapping[str, Any]], Awaitable[object]]


def _message(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "direction": str(message.direction),
        "author_kind": str(message.author_kind),
        "author_id": message.author_id,
        "author_name": message.author_name,
        "subject": message.subject,
        "body": message.body,
        "sent_at": message.sent_at.isoformat(),
        "delivery": str(message.delivery),
        "external_id": message.external_id,
        "attachments": [
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in message.attachments
        ],
    }


def webhook_of(event: DeskEvent) -> tuple[str, dict[str, Any]] | None:
    """The webhook (type, data) a desk event makes, if any."""
    data: dict[str, Any] = {
        "conversation_id": event.conversation_id,
        "channel": event.channel,
        "customer_id": event.customer_id,
    }
    if event.task_id is not None:
        data["task_id"] = event.task_id
    match event.kind:
        case "queued":
            return "task.created", {**data, "queue": event.reason}
        case "accepted":
            return "task.assigned", {**data, "agent": event.agent_id}
        case "closed" | "abandoned":
            outcome = "answered" if event.kind == "closed" else "abandoned"
            return "task.completed", {**data, "agent": event.agent_id, "outcome": outcome}
        case "message" if event.message is not None:
            return "message.created", {**data, **_message(event.message)}
        case "delivery" if event.message is not None:
            message = event.message
            return "message.delivery", {
                **data,
                "message_id": message.id,
                "delivery": str(message.delivery),
                "at": message.delivery_at.isoformat(),
            }
        case "status" if event.reason == "resolved":
            return "conversation.resolved", {**data, "agent": event.agent_id}
    return None


class WebhookFeed:
    """Subscribed to the desk: each event it makes a webhook of is published."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, event: DeskEvent) -> None:
        made = webhook_of(event)
        if made is None:
            return
        kind, data = made

        async def publish() -> None:
            try:
                await self._publish(kind, data)
            except Exception:
                log.exception(
                    "webhook %s for conversation %s not queued", kind, data["conversation_id"]
                )

        task = asyncio.get_running_loop().create_task(publish(), name=f"webhook-{kind}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Until every event handed over is in the outbox (or logged as lost)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
