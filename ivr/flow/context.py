"""What a step works with: the call's session, its flow version, its state, the services.

Steps return a ``Transition`` (where to go, what was decided) and report what the caller
did with ``heard``; the engine turns both into the call's trace entry.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ivr.callers import CallerDirectory
from ivr.flow.calendar import Clock
from ivr.flow.flow import Flow
from ivr.flow.handoff import AcdGateway, CallAttributes, CallbackRequests
from ivr.flow.ports import Classifier, Recogniser, TalkDetection
from ivr.flow.state import CallState, Ending, WellKnown
from telephony.agi_server import Fallback
from telephony.agi_session import AgiSession, CallerHangup

log = logging.getLogger("ivr.flow")

__all__ = ["ALL_KEYS", "CHANNEL_LANGUAGE", "CallContext", "Services", "Transition"]

#: Every phone key: menus let any key stop the prompt, then judge it.
ALL_KEYS = "0123456789*#"
#: The channel function Asterisk picks its own sounds (and SAY) by.
CHANNEL_LANGUAGE = "CHANNEL(language)"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class Transition:
    next: str | None = None
    result: str = ""
    #: Set when the flow ends here (queued, hangup, voicemail, fallback).
    ending: Ending | None = None


@dataclass(frozen=True)
class Services:
    callers: CallerDirectory
    acd: AcdGateway
    callbacks: CallbackRequests
    fallback: Fallback
    clock: Clock
    recogniser: Recogniser | None = None
    classifier: Classifier | None = None
    #: Spoken barge-in: callers heard talking over a prompt (None: prompts play out).
    talk: TalkDetection | None = None


@dataclass
class CallContext:
    session: AgiSession
    flow: Flow
    services: Services
    state: CallState = field(default_factory=CallState)
    inputs: list[str] = field(default_factory=list)
    turns: int = 0
    #: A caller's voice may stop questions; off for the rest of the call once "talk" that
    #: stopped one was only noise (a noisy line would never let the caller hear a question).
    voice_barge_in: bool = True

    # -- identity ----------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.session.env.uniqueid or "unknown"

    @property
    def file_stem(self) -> str:
        """The call id, safe in a file name."""
        return _UNSAFE.sub("_", self.call_id)

    @property
    def caller_number(self) -> str | None:
        number = self.session.env.caller_id
        return number if number and number.lower() not in ("unknown", "anonymous") else None

    @property
    def language(self) -> str:
        return self.state.language

    def now(self) -> dt.datetime:
        return self.services.clock()

    # -- what happened -----------------------------------------------------------------------

    def heard(self, text: str) -> None:
        self.inputs.append(text)

    def note(self, text: str) -> None:
        self.state.notes.append(text)

    # -- prompts -----------------------------------------------------------------------------

    def prompt(self, name: str) -> str:
        return self.flow.prompts.asterisk_name(name, self.language)

    async def play(self, name: str | None, escape: str = "") -> str | None:
        """Plays one prompt; the key that stopped it, if any. A prompt Asterisk cannot play
        is logged and noted, and the flow goes on."""
        if name is None:
            return None
        playback = await self.session.stream_file(self.prompt(name), escape)
        if not playback.played:
            log.warning(
                "call %s node %s: prompt %r (%s) could not be played; going on",
                self.call_id,
                self.state.node,
                name,
                self.language,
            )
            self.note(f"prompt {name} missing")
        return playback.digit

    async def play_all(self, names: Iterable[str], escape: str = "") -> str | None:
        for name in names:
            digit = await self.play(name, escape)
            if digit is not None:
                return digit
        return None

    # -- attributes --------------------------------------------------------------------------

    async def set_attributes(self, values: Mapping[str, str], *, source: str = "caller") -> None:
        for name, value in values.items():
            if name == WellKnown.LANGUAGE:
                await self.set_language(value, source=source)
            else:
                self.state.attributes[name] = value

    async def set_language(self, language: str, *, source: str) -> None:
        attributes = self.state.attributes
        changed = attributes.get(WellKnown.LANGUAGE) != language
        attributes[WellKnown.LANGUAGE] = language
        attributes[WellKnown.LANGUAGE_SOURCE] = source
        if changed:
            await self.session.set_variable(CHANNEL_LANGUAGE, language)

    def call_attributes(self) -> CallAttributes:
        return CallAttributes.from_state(
            self.state,
            call_id=self.call_id,
            channel=self.session.env.channel,
            caller_number=self.caller_number,
        )

    # -- leaving -----------------------------------------------------------------------------

    async def to_fallback(self) -> None:
        """The dialplan's fallback (Asterisk's Queue()) takes the call when AGI ends."""
        target = self.services.fallback
        if self.session.dead:
            raise CallerHangup("hangup")
        await self.session.continue_at(target.context, target.extension, target.priority)
