"""Listen, whisper and barge: Asterisk's ChanSpy, rung on the supervisor's own phone.

An AMI ``Originate`` calls the supervisor's endpoint; when it answers, Asterisk runs
``ChanSpy(<agent's endpoint>,<options>)``: ``q`` quiet (no beep, no name announced),
``w`` whisper (the agent hears the supervisor, the caller does not), ``B`` barge (both
hear), and always ``E``: ChanSpy ends when the spied call ends, so the supervisor's phone
hangs up with it instead of staying on the line, spying on the agent's next call. Every
value comes from config or the user table, never from the request.

``SpyDesk`` tells the page what happened to each one, from AMI (the Originate carries our
own uniqueid, ``ChannelId``, so its events are recognised in any order):

==========================  ===============================================================
what Asterisk says          the session's state
==========================  ===============================================================
the action accepted         ``calling``
Newchannel / Newstate 5     ``ringing`` (the supervisor's phone rings; its channel known)
OriginateResponse Success   ``connected`` (answered: ChanSpy runs)
OriginateResponse Failure   ``failed``: unreachable (0), no answer (3), busy (5),
                            congestion (8); matched by uniqueid or by the ActionID
Hangup of the channel       ``ended`` (after connected: who stopped it, or the cause),
                            ``failed`` before
the action refused          ``failed`` (Asterisk's message)
==========================  ===============================================================

``stop`` hangs the supervisor's channel up (``Hangup`` by its exact name).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from telephony.ami_client import AmiClient
from telephony.ami_codec import (
    ACTION_ORIGINATE,
    EVENT_HANGUP,
    EVENT_NEWCHANNEL,
    EVENT_NEWSTATE,
    EVENT_ORIGINATE_RESPONSE,
    HEADER_CAUSE,
    HEADER_CAUSE_TXT,
    HEADER_CHANNEL,
    HEADER_CHANNEL_STATE,
    HEADER_REASON,
    HEADER_RESPONSE,
    HEADER_UNIQUEID,
    RESPONSE_SUCCESS,
    AmiMessage,
)
from telephony.call_actions import hang_up

log = logging.getLogger(__name__)

APPLICATION = "ChanSpy"
RING_TIMEOUT_MS = 30_000


class SpyMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


OPTIONS = {SpyMode.LISTEN: "qE", SpyMode.WHISPER: "qwE", SpyMode.BARGE: "qBE"}


async def spy(
    ami: AmiClient,
    *,
    supervisor_endpoint: str,
    agent_endpoint: str,
    agent_id: str,
    mode: SpyMode,
    channel_id: str = "",
) -> AmiMessage:
    """Ring the supervisor (``channel_id``: the uniqueid its channel gets, else a new one);
    raises what the AMI client raises when Asterisk refuses. Returns Asterisk's answer."""
    return await ami.action(
        ACTION_ORIGINATE,
        Channel=supervisor_endpoint,
        Application=APPLICATION,
        Data=f"{agent_endpoint},{OPTIONS[mode]}",
        CallerID=f'"{mode.value} {agent_id}" <{agent_id}>',
        Timeout=RING_TIMEOUT_MS,
        Async="true",
        ChannelId=channel_id or new_channel_id(),
    )


def new_channel_id() -> str:
    """A uniqueid for the supervisor's channel (Asterisk takes it as the channel's own)."""
    return f"hotline-spy-{uuid.uuid4().hex[:20]}"


class SpyState(StrEnum):
    CALLING = "calling"
    RINGING = "ringing"
    CONNECTED = "connected"
    FAILED = "failed"
    ENDED = "ended"


#: OriginateResponse's Reason (Asterisk's AST_CONTROL_* codes), as people say it.
FAILURES: Final = {
    "0": "your phone could not be reached",
    "1": "your phone hung up",
    "3": "your phone did not answer",
    "5": "your phone is busy",
    "8": "the network is congested",
}
_RINGING_STATE: Final = "5"
#: Finished sessions the page still shows (newest last).
KEEP_FINISHED: Final = 10
_EARLY_KEPT: Final = 64


@dataclass(slots=True)
class SpySession:
    id: str
    supervisor: str
    agent_id: str
    mode: SpyMode
    started_at: float
    state: SpyState = SpyState.CALLING
    changed_at: float = 0.0
    reason: str | None = None
    channel: str | None = None
    action_id: str = ""
    stopped_by: str | None = None
    #: (state, wall time) as Asterisk told them, oldest first
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in (SpyState.FAILED, SpyState.ENDED)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "supervisor": self.supervisor,
            "agent_id": self.agent_id,
            "mode": self.mode.value,
            "state": self.state.value,
            "reason": self.reason,
            "started_at": self.started_at,
            "changed_at": self.changed_at,
            "stopped_by": self.stopped_by,
            "steps": [[state, at] for state, at in self.steps],
        }


class SpyError(Exception):
    """A session that cannot be stopped (unknown, finished, or not ringing yet)."""


class SpyDesk:
    """The spy sessions of every supervisor and what Asterisk said of each."""

    def __init__(
        self,
        ami: AmiClient,
        *,
        changed: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ami = ami
        self._changed = changed
        self._clock = clock
        self._sessions: OrderedDict[str, SpySession] = OrderedDict()
        self._by_action: dict[str, str] = {}
        self._early: OrderedDict[str, AmiMessage] = OrderedDict()
        self._unsubscribe: list[Callable[[], None]] = []

    def attach(self) -> None:
        for event in (EVENT_NEWCHANNEL, EVENT_NEWSTATE, EVENT_ORIGINATE_RESPONSE, EVENT_HANGUP):
            self._unsubscribe.append(self._ami.on_event(event, self.handle))

    def detach(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def get(self, session_id: str) -> SpySession | None:
        return self._sessions.get(session_id)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self._sessions.values()]

    async def start(
        self, *, supervisor: str, endpoint: str, agent_id: str, agent_endpoint: str, mode: SpyMode
    ) -> SpySession:
        """Ring ``endpoint``; the session is ``failed`` (with Asterisk's reason) when the
        action is refused, which ``AmiError`` from the client also says."""
        now = self._clock()
        session = SpySession(new_channel_id(), supervisor, agent_id, mode, now, changed_at=now)
        session.steps.append((SpyState.CALLING.value, now))
        self._sessions[session.id] = session
        self._forget_old()
        self._changed()
        try:
            response = await spy(
                self._ami,
                supervisor_endpoint=endpoint,
                agent_endpoint=agent_endpoint,
                agent_id=agent_id,
                mode=mode,
                channel_id=session.id,
            )
        except Exception as error:
            self._set(session, SpyState.FAILED, f"Asterisk refused: {error}")
            raise
        session.action_id = response.action_id or ""
        self._by_action[session.action_id] = session.id
        early = self._early.pop(session.action_id, None)
        if early is not None:
            self.handle(early)
        return session

    async def stop(self, session_id: str, *, by: str) -> SpySession:
        session = self._sessions.get(session_id)
        if session is None or session.finished:
            raise SpyError("no such listening session going on")
        if session.channel is None:
            raise SpyError("your phone is not ringing yet; try again in a moment")
        session.stopped_by = by
        action = hang_up(session.channel)
        await self._ami.action(action.name, timeout_s=None, **action.as_kwargs())
        return session

    def handle(self, message: AmiMessage) -> None:
        """One AMI event (inline in the AMI reader: quick, no awaits)."""
        event = (message.event or "").lower()
        uniqueid = message.get(HEADER_UNIQUEID) or ""
        if event == EVENT_ORIGINATE_RESPONSE.lower():
            action_id = message.action_id or ""
            session = self._sessions.get(uniqueid) or self._sessions.get(
                self._by_action.get(action_id, "")
            )
            if session is None:
                if action_id:
                    self._early[action_id] = message
                    while len(self._early) > _EARLY_KEPT:
                        self._early.popitem(last=False)
                return
            if session.finished:
                return
            if message.get(HEADER_RESPONSE) == RESPONSE_SUCCESS:
                session.channel = message.get(HEADER_CHANNEL) or session.channel
                self._set(session, SpyState.CONNECTED, None)
            else:
                reason = message.get(HEADER_REASON) or ""
                self._set(session, SpyState.FAILED, FAILURES.get(reason, f"reason {reason}"))
            return
        session = self._sessions.get(uniqueid)
        if session is None or session.finished:
            return
        if event == EVENT_HANGUP.lower():
            cause = message.get(HEADER_CAUSE_TXT) or message.get(HEADER_CAUSE) or ""
            if session.state is SpyState.CONNECTED:
                why = f"stopped by {session.stopped_by}" if session.stopped_by else cause
                self._set(session, SpyState.ENDED, why or None)
            else:
                self._set(session, SpyState.FAILED, cause or "your phone hung up")
            return
        # Newchannel, Newstate: the supervisor's channel exists (it can be stopped), rings
        session.channel = message.get(HEADER_CHANNEL) or session.channel
        ringing = message.get(HEADER_CHANNEL_STATE) == _RINGING_STATE
        if session.state is SpyState.CALLING and ringing:
            self._set(session, SpyState.RINGING, None)

    def _set(self, session: SpySession, state: SpyState, reason: str | None) -> None:
        session.state, session.reason, session.changed_at = state, reason, self._clock()
        session.steps.append((state.value, session.changed_at))
        log.info(
            "spy %s (%s on %s by %s): %s%s",
            session.id,
            session.mode.value,
            session.agent_id,
            session.supervisor,
            state.value,
            f" ({reason})" if reason else "",
        )
        if session.finished:
            self._by_action.pop(session.action_id, None)
        self._forget_old()
        self._changed()

    def _forget_old(self) -> None:
        finished = [s.id for s in self._sessions.values() if s.finished]
        for session_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._sessions[session_id]
