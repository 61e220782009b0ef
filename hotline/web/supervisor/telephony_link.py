"""Is the service in touch with Asterisk? What the supervisor's page says beside "live".

The page's figures about agents and calls come from Asterisk (AMI events, AGI sessions):
while the AMI link is down, an agent's "time in state" keeps counting from the last event
and a caller who hung up may still be shown waiting. The page says *live* only when the
AMI session is logged in and the FastAGI server listens; otherwise it says why, and marks
those figures stale.

``TelephonyLink`` reads the AMI client's and the FastAGI server's state through callables
(so the composition root decides what they are) and notes the time of the last AMI event;
``link_status`` is the pure decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from acd.clock import Clock

__all__ = ["AmiLike", "LinkState", "LinkStatus", "TelephonyLink", "link_status"]


class LinkState(StrEnum):
    LIVE = "live"
    #: AMI has never logged in since the service started.
    CONNECTING = "connecting"
    #: AMI was logged in and is not any more (Asterisk stopped, the network went).
    ASTERISK_DOWN = "asterisk_down"
    #: The FastAGI server does not listen: no call can reach the IVR.
    AGI_DOWN = "agi_down"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState
    ami_connected: bool
    agi_listening: bool
    #: Seconds since the last AMI event (None: none seen yet).
    last_event_age_s: float | None
    #: Why the AMI link is down, as the client last saw it.
    ami_error: str | None = None
    #: Seconds the link has been down (None while live, or never up).
    down_for_s: float | None = None

    @property
    def live(self) -> bool:
        return self.state is LinkState.LIVE

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "state": self.state.value,
            "live": self.live,
            "ami": "connected" if self.ami_connected else "disconnected",
            "fastagi": "listening" if self.agi_listening else "not listening",
            "last_event_age_s": rounded(self.last_event_age_s),
            "ami_error": self.ami_error,
            "down_for_s": rounded(self.down_for_s),
        }


def link_status(
    *,
    ami_connected: bool,
    ever_connected: bool,
    agi_listening: bool,
    last_event_age_s: float | None,
    ami_error: str | None = None,
    down_for_s: float | None = None,
) -> LinkStatus:
    if not ami_connected:
        state = LinkState.ASTERISK_DOWN if ever_connected else LinkState.CONNECTING
    elif not agi_listening:
        state = LinkState.AGI_DOWN
    else:
        state = LinkState.LIVE
    return LinkStatus(
        state,
        ami_connected,
        agi_listening,
        last_event_age_s,
        None if ami_connected else ami_error,
        None if state is LinkState.LIVE else down_for_s,
    )


class AmiLike(Protocol):
    """What is read off ``telephony.ami_client.AmiClient``."""

    @property
    def connected(self) -> bool: ...

    last_error: str | None

    def on_event(self, name: str, callback: Callable[[Any], None]) -> Callable[[], None]: ...


class TelephonyLink:
    def __init__(
        self,
        ami: AmiLike,
        *,
        events: Iterable[str],
        agi_listening: Callable[[], bool],
        clock: Clock = time.monotonic,
    ) -> None:
        """``events``: the AMI events that count as a sign of life (the ones the service
        consumes, ``hotline.ami_events.CONSUMED_EVENTS``: Asterisk sends no other)."""
        self._ami = ami
        self._agi_listening = agi_listening
        self._clock = clock
        self._last_event: float | None = None
        self._ever_connected = False
        #: When the link was last seen going from live to not live.
        self._down_since: float | None = clock()
        self._unsubscribe = [ami.on_event(name, self._saw_event) for name in events]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def _saw_event(self, _message: object) -> None:
        self._last_event = self._clock()
        self._ever_connected = True

    def status(self) -> LinkStatus:
        now = self._clock()
        connected = self._ami.connected
        self._ever_connected = self._ever_connected or connected
        agi = self._agi_listening()
        if connected and agi:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = now
        return link_status(
            ami_connected=connected,
            ever_connected=self._ever_connected,
            agi_listening=agi,
            last_event_age_s=None if self._last_event is None else now - self._last_event,
            ami_error=self._ami.last_error,
            down_for_s=None if self._down_since is None else now - self._down_since,
        )
