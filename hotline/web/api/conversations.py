"""Conversations over HTTP: open or continue one, read its thread, append messages, report
delivery, upload and download attachments.

Appends are idempotent by the message's ``external_id``, its identity; without one, the
``Idempotency-Key`` header stands in for it (with one, the key adds nothing). A retry
answers 200 with the first message; the same id with different content is 409. The stored
message is the record of the first request, so no fingerprint is kept beside it: erasing
the message's content erases all there was. Attachments travel as base64 in JSON: one media type
for the whole API, so the gateway's body cap, validation, error shape and the OpenAPI
document (and the fuzzing of it) cover uploads unchanged, at the cost of a third more bytes
on the wire for files that are capped at a few megabytes anyway. Downloads are the raw bytes,
always ``application/octet-stream`` with ``Content-Disposition: attachment`` and ``nosniff``:
a sender's HTML or SVG is never rendered by a browser on the service's origin.

What was stored is handed to the ``ConversationIntake`` (routing), when there is one, after
the write: a failure there is logged and does not undo the write or fail the request.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from history.attachments import OCTET_STREAM, AttachmentData
from history.conversations import ConversationIntake
from history.errors import InvalidAttachment, InvalidIdentity, UnknownCustomer
from history.inputs import Channel, DeliveryUpdate, MessageContent, NewConversation, NewMessage
from history.records import Appended, Attachment, Interaction, Message, ThreadPage
from hotline.web.api.context import ApiServices
from hotline.web.api.customers import READ, WRITE_ANY
from hotline.web.api.endpoints import PREFIX, Answer, Call, Operation, Reply, forbidden, refusal
from hotline.web.api.errors import IDEMPOTENCY_CONFLICT, ApiError, invalid
from hotline.web.api.schemas import AttachmentIn, ConversationIn, ConversationOpened, ThreadQuery
from hotline.web.tokens import ApiToken, Scope, write_scope

log = logging.getLogger(__name__)

#: What a retry must repeat exactly (delivery may have moved on since; times are optional).
_SAME_FIELDS = (
    "direction",
    "author_kind",
    "author_id",
    "author_name",
    "body",
    "subject",
    "in_reply_to",
    "references",
)
_JSON_OVERHEAD = 64 * 1024


def conversation_location(conversation_id: int) -> dict[str, str]:
    return {"Location": f"{PREFIX}/conversations/{conversation_id}"}


class ConversationEndpoints:
    def __init__(self, services: ApiServices) -> None:
        self.conversations = services.conversations
        self.intake: ConversationIntake | None = services.intake

    def operations(self) -> list[Operation]:
        limits = self.conversations.limits
        conflict = refusal(409, "The id (`external_id` or key) was used for other content.")
        too_large = refusal(413, "Over a cap (`message_too_large`, `body_too_large`).")
        operations = [
            Operation(
                "POST",
                "/conversations",
                "openConversation",
                "Open a conversation, or continue the customer's open one, with a first message",
                self.open,
                (
                    Answer(201, "Opened.", ConversationOpened),
                    Answer(200, "An open conversation continued, or a retry.", ConversationOpened),
                    refusal(
                        409,
                        "The key opened another customer's or channel's conversation"
                        " (`conversation_conflict`), or the message id was used for other"
                        " content (`idempotency_conflict`).",
                    ),
                    too_large,
                ),
                scopes=WRITE_ANY,
                body=ConversationIn,
                idempotency="optional",
                description="Needs the write scope of the channel. With `reuse` (default) the "
                "customer's newest conversation on the channel that is open or postponed "
                "continues; otherwise (or when there is none) a new one opens. An identity "
                "nobody holds creates its customer. The `Idempotency-Key` makes a retry open "
                "nothing twice and is the first message's `external_id` unless it has one. "
                "Close or postpone a conversation with `PATCH /interactions/{id}` (`status`).",
                example={
                    "channel": "chat",
                    "identity": {"kind": "chat", "value": "visitor-81"},
                    "message": {
                        "direction": "in",
                        "author_kind": "customer",
                        "body": "Hello, my parcel has not arrived.",
                    },
                },
            ),
            Operation(
                "GET",
                "/conversations/{conversation_id}",
                "getConversation",
                "A conversation and a page of its messages, oldest first",
                self.get,
                (Answer(200, "`older`/`newer` are the cursors around the page.", ThreadPage),),
                scopes=READ,
                query=ThreadQuery,
                description="Without `before` or `after`: the newest `limit` messages. Pass "
                "`older` as `before` for the page before; follow a live thread with `after` = "
                "the last message's id. Text is as written: HTML in a message is text.",
            ),
            Operation(
                "POST",
                "/conversations/{conversation_id}/messages",
                "appendMessage",
                "Append a message (idempotent by external_id or Idempotency-Key)",
                self.append,
                (
                    Answer(201, "Stored.", Message),
                    Answer(200, "A retry: the message the first request stored.", Message),
                    conflict,
                    too_large,
                ),
                scopes=WRITE_ANY,
                body=MessageContent,
                idempotency="optional",
                description="Needs the write scope of the conversation's channel. "
                f"`body` is capped at {limits.max_body_chars} characters (413 "
                "`message_too_large`). `external_id` is the message's identity in the "
                "conversation; without one, the `Idempotency-Key` is used as it.",
                example={
                    "direction": "out",
                    "author_kind": "agent",
                    "author_id": "a1001",
                    "body": "It will arrive tomorrow <b>before noon</b>.",
                    "external_id": "agent-msg-1",
                },
            ),
            Operation(
                "PATCH",
                "/conversations/{conversation_id}/messages/{message_id}",
                "setDelivery",
                "Report a message's delivery (queued, sent, delivered, read, failed)",
                self.set_delivery,
                (Answer(200, "The message as it now is.", Message),),
                scopes=WRITE_ANY,
                body=DeliveryUpdate,
                description="The state only moves forward (queued → sent → delivered → read, "
                "steps may be skipped); `failed` may follow any state. A late or repeated "
                "report changes nothing and answers 200 with the current state.",
                example={"delivery": "read"},
            ),
        ]
        if self.conversations.repository.attachments is not None:
            operations += self._attachment_operations()
        return operations

    def _attachment_operations(self) -> list[Operation]:
        limits = self.conversations.limits
        encoded = 4 * math.ceil(limits.max_attachment_bytes / 3)
        return [
            Operation(
                "POST",
                "/conversations/{conversation_id}/messages/{message_id}/attachments",
                "addAttachment",
                "Attach a file to a message (base64 in JSON)",
                self.add_attachment,
                (
                    Answer(201, "Stored.", Attachment),
                    Answer(
                        200, "The message has this file (content and name) already.", Attachment
                    ),
                    refusal(413, "Over a cap (`attachment_too_large`, `body_too_large`)."),
                ),
                scopes=WRITE_ANY,
                body=AttachmentIn,
                description=f"At most {limits.max_attachment_bytes} bytes a file, "
                f"{limits.max_message_attachment_bytes} bytes and "
                f"{limits.max_attachments_per_message} files a message (413 "
                "`attachment_too_large`, with `limit` in the details).",
                example={
                    "filename": "receipt.txt",
                    "content_type": "text/plain",
                    "data": "UGFpZCAxMiBFVVI=",
                },
                max_body_bytes=encoded + _JSON_OVERHEAD,
            ),
            Operation(
                "GET",
                "/conversations/{conversation_id}/messages/{message_id}/attachments/"
                "{attachment_id}",
                "downloadAttachment",
                "An attachment's bytes",
                self.download,
                (Answer(200, "The file, as a download.", bytes, media_type=OCTET_STREAM),),
                scopes=READ,
                description="Always `application/octet-stream`, as an attachment (the type "
                "the sender gave is in the message's `attachments`), never rendered inline.",
            ),
        ]

    # conversations

    async def open(self, call: Call) -> Reply:
        token, key, body = call.caller, call.idempotency_key, call.body_as(ConversationIn)
        _may_write(token, body.channel)
        new = NewConversation.model_validate(
            {
                **body.model_dump(exclude={"message"}),
                "source": token.source,
                "idempotency_key": key,
            }
        )
        content = None
        if body.message is not None:
            content = _keyed(body.message, key)
            _may_write(token, content.channel or body.channel)
            self.conversations.check_message(content)
        try:
            opened = await self.conversations.open_conversation(new)
        except UnknownCustomer as error:
            raise invalid(["body", "customer_id"], str(error), "unknown_customer") from None
        except InvalidIdentity as error:
            raise invalid(["body", "identity", "value"], error.reason, "invalid_identity") from None
        conversation, appended = opened.conversation, None
        if content is not None:
            appended = await self._append(conversation.id, content)
        first = None if appended is None else appended.message
        if opened.created:
            await self._hand_over(
                conversation,
                "a new conversation",
                lambda i: i.conversation_opened(conversation, first),
            )
        elif appended is not None and appended.created:
            await self._hand_over(
                conversation,
                "a new message",
                lambda i: i.message_appended(conversation, appended.message),
            )
        out = ConversationOpened(conversation=conversation, created=opened.created, message=first)
        if opened.created:
            return Reply(201, out, conversation_location(conversation.id))
        return Reply(200, out)

    async def get(self, call: Call) -> Reply:
        query = call.query_as(ThreadQuery)
        page = await self.conversations.thread(
            call.ids["conversation_id"], limit=query.limit, before=query.before, after=query.after
        )
        return Reply(200, page, customers=(page.conversation.customer_id,))

    # messages

    async def append(self, call: Call) -> Reply:
        conversation = await self._writable(call)
        content = _keyed(call.body_as(MessageContent), call.idempotency_key)
        _may_write(call.caller, content.channel or conversation.channel)
        appended = await self._append(conversation.id, content)
        if appended.created:
            await self._hand_over(
                conversation,
                "a new message",
                lambda i: i.message_appended(conversation, appended.message),
            )
        return Reply(201 if appended.created else 200, appended.message)

    async def set_delivery(self, call: Call) -> Reply:
        conversation = await self._writable(call)
        report = call.body_as(DeliveryUpdate)
        done = await self.conversations.set_delivery(
            conversation.id, call.ids["message_id"], report
        )
        if done.changed:
            await self._hand_over(
                conversation,
                "a delivery report",
                lambda i: i.delivery_changed(conversation, done.message),
            )
        return Reply(200, done.message)

    async def _append(self, conversation_id: int, content: MessageContent) -> Appended:
        new = NewMessage.model_validate(
            {**content.model_dump(), "conversation_id": conversation_id}
        )
        appended = await self.conversations.append_message(new)
        if not appended.created:
            _same_message(appended.message, content)
        return appended

    # attachments

    async def add_attachment(self, call: Call) -> Reply:
        await self._writable(call)
        body = call.body_as(AttachmentIn)
        try:
            data = base64.b64decode(body.data, validate=True)
        except (binascii.Error, ValueError):
            raise invalid(["body", "data"], "not base64 (RFC 4648, padded)") from None
        file = AttachmentData(body.filename, body.content_type, data)
        try:
            attached = await self.conversations.add_attachment(
                call.ids["conversation_id"], call.ids["message_id"], file
            )
        except InvalidAttachment as error:
            raise invalid(["body", "content_type"], str(error)) from None
        return Reply(201 if attached.created else 200, attached.attachment)

    async def download(self, call: Call) -> Reply:
        found, data = await self.conversations.read_attachment(
            call.ids["conversation_id"], call.ids["message_id"], call.ids["attachment_id"]
        )
        conversation = await self.conversations.get_conversation(call.ids["conversation_id"])
        return Reply(200, data, _download_headers(found), customers=(conversation.customer_id,))

    # helpers

    async def _writable(self, call: Call) -> Interaction:
        conversation = await self.conversations.get_conversation(call.ids["conversation_id"])
        _may_write(call.caller, conversation.channel)
        return conversation

    async def _hand_over(
        self,
        conversation: Interaction,
        what: str,
        handing: Callable[[ConversationIntake], Awaitable[None]],
    ) -> None:
        if self.intake is None:
            return
        try:
            await handing(self.intake)
        except Exception:
            log.exception("conversation %d: the intake failed on %s", conversation.id, what)


def _may_write(token: ApiToken, channel: Channel) -> None:
    if not token.may_write(channel):
        needed = (write_scope(channel), Scope.HISTORY_WRITE)
        raise forbidden(token, needed, f"write {channel.value} conversations")


def _keyed(content: MessageContent, key: str | None) -> MessageContent:
    """The message with its identity: its own ``external_id``, or else the key."""
    if key is None or content.external_id is not None:
        return content
    return content.model_copy(update={"external_id": key})


def _same_message(stored: Message, retry: MessageContent) -> None:
    """A retry must repeat the first request; the same id for other content is a 409."""
    differs = [f for f in _SAME_FIELDS if getattr(stored, f) != getattr(retry, f)]
    if retry.channel is not None and retry.channel != stored.channel:
        differs.append("channel")
    if retry.sent_at is not None and retry.sent_at != stored.sent_at:
        differs.append("sent_at")
    if differs:
        message = (
            f"message {stored.external_id!r} was stored with other content"
            f" ({', '.join(differs)}): a new message needs a new id"
        )
        detail = {"message": message, "message_id": stored.id, "fields": differs}
        raise ApiError(409, IDEMPOTENCY_CONFLICT, message, details=[detail])


def _download_headers(attachment: Attachment) -> dict[str, str]:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
        for c in attachment.filename
    )
    disposition = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(attachment.filename)}"
    )
    return {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "ETag": f'"{attachment.sha256}"',
    }
