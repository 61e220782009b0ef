"""An agent books a callback from a task they hold (a voicemail to answer, a follow-up).

The request goes to the one dialler (``CallbackDialler.request``, as the waiting caller's
key and the IVR's callback step do): queued in the conversation's queue with its intent, the
customer's own, and the booking agent as the customer's last agent (the router prefers them
within the queue's ``preferred_agent`` window). The number is the one the agent gives (a
customer may ask in their voicemail to be called on another phone), else the customer's
first phone identity; it must be one the dialler can dial. The request's id is
``task-<conversation>-<ref>``: the page's ``ref`` makes a repeated click one request. A note
on the conversation says who booked which number, for the history.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from center.conversations import ConversationDesk, DeskError
from center.gateway import diallable
from history.conversations import Conversations
from history.identities import IdentityKind
from history.inputs import NewNote
from history.records import Interaction
from ivr.flow.handoff import CallbackRequest, CallbackRequests
from ivr.flow.state import WellKnown

log = logging.getLogger(__name__)

__all__ = ["BookedCallback", "TaskCallbacks"]

_REF = re.compile(r"^[A-Za-z0-9]{1,32}$")
_SEPARATORS = re.compile(r"[\s().\-/]")


@dataclass(frozen=True, slots=True)
class BookedCallback:
    call_id: str
    number: str


class TaskCallbacks:
    def __init__(
        self,
        desk: ConversationDesk,
        conversations: Conversations,
        dialler: CallbackRequests,
        *,
        language: str = "en",
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._desk = desk
        self._store = conversations
        self._dialler = dialler
        self._language = language
        self._wall = wall

    async def book(
        self, agent_id: str, conversation_id: int, *, ref: str, number: str | None = None
    ) -> BookedCallback:
        """Book a callback to the customer of the conversation ``agent_id`` holds;
        ``DeskError`` (nothing booked) when it is not theirs or there is no number to dial."""
        if self._desk.holder(conversation_id) != agent_id:
            raise DeskError(f"conversation {conversation_id} is not with agent {agent_id}")
        if not _REF.match(ref):
            raise DeskError("ref is up to 32 letters and digits")
        conversation = await self._store.get_conversation(conversation_id)
        customer = None
        if conversation.customer_id is not None:
            customer = await self._store.repository.get_customer(conversation.customer_id)
        if number is not None:
            dialled = _SEPARATORS.sub("", number)
        elif customer is not None:
            phones = [i.value for i in customer.identities if i.kind is IdentityKind.PHONE]
            dialled = phones[0] if phones else ""
        else:
            dialled = ""
        if not dialled:
            raise DeskError("the customer has no phone number: give one")
        if not diallable(dialled):
            raise DeskError("that number cannot be dialled")
        call_id = f"task-{conversation_id}-{ref}"
        language = (customer.language if customer is not None else None) or self._language
        await self._dialler.request(
            CallbackRequest(
                number=dialled,
                call_id=call_id,
                language=language,
                requested_at=self._wall(),
                attributes=_attributes(conversation, agent_id, language),
            )
        )
        await self._store.repository.add_note(
            NewNote(
                author=f"agent:{agent_id}",
                body=f"Callback booked to {dialled} (request {call_id}).",
                interaction_id=conversation_id,
                idempotency_key=f"callback-{call_id}",
            )
        )
        log.info("agent %s booked callback %s from a task", agent_id, call_id)
        return BookedCallback(call_id, dialled)


def _attributes(conversation: Interaction, agent_id: str, language: str) -> dict[str, str]:
    known = WellKnown
    customer = conversation.customer_id
    found = {
        known.QUEUE: conversation.queue,
        known.INTENT: conversation.intent,
        known.CALL_TYPE: conversation.call_type,
        known.LAST_AGENT: agent_id,
        known.LANGUAGE: language,
        known.CUSTOMER_ID: None if customer is None else str(customer),
    }
    return {name: value for name, value in found.items() if value}
