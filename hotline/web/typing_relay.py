"""Typing indicators between a customer's channel and the agent's desk: relayed as they
happen, never stored. The chat hub tells a customer's typing and hears the agent's; the
agent's desk panel the other way round. Channels without one (e-mail) have no listener.
With several nodes (``relay_to``: ``center.conversation_relay``) each typing goes to the
other nodes too, whose pages may be the other side's."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

__all__ = ["TypingListener", "TypingRelay"]

#: (conversation id, typing now?)
TypingListener = Callable[[int, bool], None]


class TypingRelay:
    def __init__(self) -> None:
        self._agents: list[TypingListener] = []
        self._customers: dict[str, TypingListener] = {}
        self._out: Callable[[str, str, int, bool], None] | None = None

    def relay_to(self, send: Callable[[str, str, int, bool], None]) -> None:
        """``send(side, channel, conversation, on)``: to the other nodes ("customer" or
        "agent" typing)."""
        self._out = send

    def on_customer_typing(self, listener: TypingListener) -> None:
        self._agents.append(listener)

    def on_agent_typing(self, channel: str, listener: TypingListener) -> None:
        self._customers[channel] = listener

    def customer_typing(self, conversation_id: int, on: bool, *, relayed: bool = False) -> None:
        """``relayed``: told by another node (not sent on again)."""
        for listener in self._agents:
            _call(listener, conversation_id, on)
        if self._out is not None and not relayed:
            self._out("customer", "", conversation_id, on)

    def agent_typing(
        self, channel: str, conversation_id: int, on: bool, *, relayed: bool = False
    ) -> None:
        listener = self._customers.get(channel)
        if listener is not None:
            _call(listener, conversation_id, on)
        if self._out is not None and not relayed:
            self._out("agent", channel, conversation_id, on)


def _call(listener: TypingListener, conversation_id: int, on: bool) -> None:
    try:
        listener(conversation_id, on)
    except Exception:  # one side's fault is not the other's
        log.exception("typing listener failed (conversation %s)", conversation_id)
