"""How an agent's message leaves the conversation desk: on its channel's *outlet* (the chat
hub pushes it to the customer's page, e-mail sends it to the relay: ``register_outlet``),
or with a messaging module that hears it by webhook and reports its delivery itself
(``hand_to_module``); the message is marked ``sent`` or ``failed`` by what the outlet said
(``_deliver``), and the change told to the desk's subscribers.

A part of ``center.conversations.ConversationDesk``, which holds the state and the tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from center.desk_events import DeskEvent
from history.inputs import Delivery, DeliveryUpdate
from history.records import Interaction, Message

if TYPE_CHECKING:
    from history.conversations import Conversations

log = logging.getLogger(__name__)

__all__ = ["DeskOutlets", "Outlet"]

#: Delivers an agent's message on its channel; raises when it could not (marked failed).
Outlet = Callable[[Interaction, Message], Awaitable[None]]


class DeskOutlets:
    if TYPE_CHECKING:  # the desk's state and steps these use
        _store: Conversations
        _outlets: dict[str, Outlet]
        _module_channels: set[str]
        _message_ids: dict[str, Callable[[], str]]

        def _tell(self, event: DeskEvent) -> None: ...

    def register_outlet(
        self, channel: str, outlet: Outlet, *, message_ids: Callable[[], str] | None = None
    ) -> None:
        """How agents' messages leave on ``channel`` (one outlet per channel); with
        ``message_ids``, an agent's message given no ``external_id`` is stored with a new one
        (e-mail: the reply's Message-ID, which the customer's answer names)."""
        self._outlets[channel] = outlet
        if message_ids is not None:
            self._message_ids[channel] = message_ids

    def hand_to_module(self, channel: str) -> None:
        """Agents' messages on ``channel`` are delivered by a messaging module that hears
        them by webhook and reports their delivery over the API: they stay ``queued``
        until it does."""
        self._module_channels.add(channel)

    async def _deliver(self, conversation: Interaction, message: Message) -> Message:
        channel = str(conversation.channel)
        outlet = self._outlets.get(channel)
        if outlet is None and channel in self._module_channels:
            return message  # the module delivers it and reports
        state = Delivery.SENT
        if outlet is None:
            log.error("no outlet for %s: message %s not sent", conversation.channel, message.id)
            state = Delivery.FAILED
        else:
            try:
                await outlet(conversation, message)
            except Exception as error:  # noqa: BLE001 (any failure of the channel: failed)
                log.warning(
                    "message %s not sent on %s: %s", message.id, conversation.channel, error
                )
                state = Delivery.FAILED
        update = DeliveryUpdate(delivery=state)
        done = await self._store.set_delivery(conversation.id, message.id, update)
        self._tell(DeskEvent("delivery", conversation.id, channel, message=done.message))
        return done.message
