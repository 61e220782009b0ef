"""Whether each agent's desktop (the agent page) is open, and what happens when it is not.

An agent may have the page open in several tabs or on two screens; each page holds the
agent page's sockets (``/ws/agent``, ``/ws/agent/desk``). While one of them is open, the
agent is *at their desktop*. When the last one closes (the browser closed, the laptop slept,
the network dropped and the socket's heartbeat gave up), the agent has
``desk_reconnect_grace_s`` (agents.yaml's ``policy``) to come back: a reload or a short
outage keeps everything. Not back in time, they are taken as gone
(``AcdService.desktop_lost``): the chats and e-mails they were offered or had open go back
in line with their place kept, to be offered to someone else with their history, and they
are paused "disconnected", still logged in; a call on their phone goes on (the phone does
not need the browser).

Only agents whose page was open are watched: an agent logged in some other way (the demo's
``login_all_agents_at_start``) is not taken as gone for never having opened it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

from acd.agent_events import AgentError
from center.service import AcdService

log = logging.getLogger(__name__)

__all__ = ["DesktopPresence", "desktop_page"]


class DesktopPresence:
    def __init__(
        self, acd: AcdService, *, grace_s: Callable[[], float | None] | None = None
    ) -> None:
        """``grace_s`` says the grace period now (None: an agent is never taken as gone);
        agents.yaml's ``desk_reconnect_grace_s`` by default."""
        self._acd = acd
        self._grace_s = grace_s or (lambda: acd.setup.agent_policy.desk_reconnect_grace_s)
        #: agent -> their desktop's sockets open now
        self._open: dict[str, int] = {}
        #: agent -> the end of their grace period
        self._away: dict[str, asyncio.TimerHandle] = {}
        self._closed = False
        #: Agents taken as gone since start (for the log and tests).
        self.lost = 0

    def at_desktop(self, agent_id: str) -> bool:
        return self._open.get(agent_id, 0) > 0

    def away(self, agent_id: str) -> bool:
        """Is the agent's grace period running (their desktop gone, not yet given up on)?"""
        return agent_id in self._away

    @contextlib.contextmanager
    def page(self, agent_id: str) -> Iterator[None]:
        """One of the agent's desktop sockets, while it is open."""
        self.opened(agent_id)
        try:
            yield
        finally:
            self.closed(agent_id)

    def opened(self, agent_id: str) -> None:
        self._open[agent_id] = self._open.get(agent_id, 0) + 1
        timer = self._away.pop(agent_id, None)
        if timer is not None:
            timer.cancel()
            log.info("agent %s: desktop back within the grace period", agent_id)

    def closed(self, agent_id: str) -> None:
        left = self._open.get(agent_id, 0) - 1
        if left > 0:
            self._open[agent_id] = left
            return
        self._open.pop(agent_id, None)
        grace = self._grace_s()
        if grace is None or self._closed or agent_id in self._away:
            return
        loop = asyncio.get_running_loop()
        self._away[agent_id] = loop.call_later(grace, self._gone, agent_id)

    def close(self) -> None:
        """The service stops: pages closing now are not agents leaving."""
        self._closed = True
        for timer in self._away.values():
            timer.cancel()
        self._away.clear()

    def _gone(self, agent_id: str) -> None:
        self._away.pop(agent_id, None)
        if self.at_desktop(agent_id):
            return
        try:
            self._acd.desktop_lost(agent_id)
        except AgentError as error:  # an agent no longer in the roster, say
            log.warning("agent %s: desktop gone, not handled: %s", agent_id, error)
            return
        self.lost += 1
        log.info(
            "agent %s: desktop gone past the grace period: paused, chats and e-mails requeued",
            agent_id,
        )


def desktop_page(
    presence: DesktopPresence | None, agent_id: str
) -> contextlib.AbstractContextManager[None]:
    """``presence.page(agent_id)``, or nothing when no presence is kept."""
    return contextlib.nullcontext() if presence is None else presence.page(agent_id)
