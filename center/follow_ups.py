"""A callback that never reached the customer becomes a follow-up: a task of the one ACD.

The dialler (``center.callbacks``) gives a request up for good through its book's
``failed``: the customer did not answer ``max_attempts`` times, the number cannot be
dialled, or the request's queue is gone from the config. In every case the customer asked
to be called and will not be, so somebody should reach them another way: ``FollowUpBook``
wraps the dialler's ``CallbackBook`` and, once ``failed`` is stored, hands the request to
``FollowUps``, which in the background (``WorkIntake``) opens a conversation on the
``follow_up`` channel for the customer (the request's, else the holder of its number) with
the request's queue, intent and call type (a work channel of the desk: routed there, no
written reply; a queue that is gone leaves the choice to the conversations' routing), and
gives it a message saying what happened (the number, when it was asked for, how long the
caller had waited and where, the attempts and the last result) so an agent can follow up:
book a new callback, write by e-mail, or note why not.

One follow-up per request (the conversation's idempotency key is ``follow-up-<call>``).
A stop between the request's failure and its follow-up being stored loses the follow-up:
the failed request stays in the book (and on the supervisor's page).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from center.conversations import ConversationDesk
from center.work_intake import Owner, WorkIntake
from history.callbacks import Callback, CallbackBook, NewCallback
from history.conversations import Conversations
from history.identities import IdentityNormaliser
from history.inputs import AuthorKind, Channel, Direction, IdentityIn, NewConversation, NewMessage
from ivr.flow.state import WellKnown

log = logging.getLogger(__name__)

__all__ = ["FOLLOW_UP_SOURCE", "FollowUpBook", "FollowUps", "follow_up_text"]

#: The interaction source of follow-up conversations.
FOLLOW_UP_SOURCE = "follow_up"
#: Attributes the gateway gives a callback request (``center.gateway``; named here too
#: rather than imported, to read them only).
_WAITED_S = "acd.waited_s"
_QUEUE = "acd.queue"


def follow_up_text(callback: Callback) -> str:
    """What the agent reads: what the customer asked for, and what became of it."""
    attributes: Mapping[str, str] = callback.attributes
    lines = [f"Callback to {callback.number} failed: the customer was not reached."]
    asked = f"Asked for {_when(callback.requested_at)} on call {callback.call_id}"
    waited = _seconds(attributes.get(_WAITED_S))
    if waited is not None:
        asked += f", after waiting {_duration(waited)}"
    lines.append(asked + ".")
    about = f"Queue {callback.queue}"
    if intent := attributes.get(WellKnown.INTENT):
        about += f", intent {intent}"
    lines.append(about + ".")
    result = callback.last_result or "no result"
    if callback.attempts:
        times = "attempt" if callback.attempts == 1 else "attempts"
        lines.append(f"{callback.attempts} {times}; the last: {result}.")
    else:
        lines.append(f"Never dialled: {result}.")
    lines.append("Reach the customer another way, or book a new callback.")
    return "\n".join(lines)


class FollowUps:
    def __init__(
        self,
        desk: ConversationDesk,
        conversations: Conversations,
        *,
        intake: WorkIntake | None = None,
        identities: IdentityNormaliser | None = None,
    ) -> None:
        self._desk = desk
        self._store = conversations
        self.intake = intake or WorkIntake(conversations)
        self._identities = identities or conversations.repository.identities
        desk.register_work_channel(Channel.FOLLOW_UP.value)

    def failed(self, callback: Callback) -> None:
        """The dialler gave ``callback`` up: a follow-up task in the background."""
        owner = Owner()
        self.intake.submit(
            f"follow-up of callback {callback.call_id}", lambda: self._take(callback, owner)
        )

    async def _take(self, callback: Callback, owner: Owner) -> None:
        found = self._identities.caller_identity(callback.number)
        identity = None if found is None else IdentityIn(kind=found[0], value=found[1])
        owner = await self.intake.owner(owner, callback.customer_id, identity)
        attributes = callback.attributes
        opened = await self._store.open_conversation(
            NewConversation(
                channel=Channel.FOLLOW_UP,
                customer_id=owner.customer_id,
                identity=owner.identity,
                intent=attributes.get(WellKnown.INTENT) or None,
                call_type=attributes.get(WellKnown.CALL_TYPE) or None,
                queue=callback.queue or attributes.get(_QUEUE) or None,
                reuse=False,
                source=FOLLOW_UP_SOURCE,
                external_id=callback.call_id[:128],
                idempotency_key=f"follow-up-{callback.call_id}"[:128],
            )
        )
        conversation = opened.conversation
        appended = await self._store.append_message(
            NewMessage(
                conversation_id=conversation.id,
                direction=Direction.IN,
                author_kind=AuthorKind.SYSTEM,
                author_name="hotline",
                body=follow_up_text(callback),
                external_id=f"follow-up-{callback.call_id}"[:255],
            )
        )
        if appended.created:  # told once: the desk routes it (a work channel's message)
            await self._desk.message_appended(conversation, appended.message)
        log.info("callback %s failed: follow-up %s", callback.call_id, conversation.id)


class FollowUpBook:
    """The dialler's ``CallbackBook``: ``inner``'s, and a request given up is followed up."""

    def __init__(self, inner: CallbackBook, follow_ups: FollowUps) -> None:
        self._inner = inner
        self._follow_ups = follow_ups

    async def failed(self, callback_id: int, *, result: str, agent: str | None = None) -> Callback:
        given_up = await self._inner.failed(callback_id, result=result, agent=agent)
        self._follow_ups.failed(given_up)
        return given_up

    async def add(self, new: NewCallback) -> Callback:
        return await self._inner.add(new)

    async def get(self, call_id: str) -> Callback | None:
        return await self._inner.get(call_id)

    async def due(self, now: dt.datetime, *, limit: int = 50) -> list[Callback]:
        return await self._inner.due(now, limit=limit)

    async def next_attempt_at(self) -> dt.datetime | None:
        return await self._inner.next_attempt_at()

    async def claim(self, callback_id: int) -> Callback | None:
        return await self._inner.claim(callback_id)

    async def finished(self, callback_id: int, *, agent: str, result: str) -> Callback:
        return await self._inner.finished(callback_id, agent=agent, result=result)

    async def retry(
        self, callback_id: int, *, at: dt.datetime, result: str, agent: str | None
    ) -> Callback:
        return await self._inner.retry(callback_id, at=at, result=result, agent=agent)

    async def release(self, callback_id: int, *, at: dt.datetime, result: str) -> Callback:
        return await self._inner.release(callback_id, at=at, result=result)

    async def cancel(self, callback_id: int) -> Callback | None:
        return await self._inner.cancel(callback_id)

    async def open(self) -> list[Callback]:
        return await self._inner.open()

    async def recover(self) -> int:
        return await self._inner.recover()


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
