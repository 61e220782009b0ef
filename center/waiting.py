"""The waiting caller: hold music, announcements and the callback key, until something
happens (an offer, the callback key, the maximum wait, no agent left, the ACD let go).

The caller is kept on hold with ``WAIT FOR DIGIT`` slices of ``poll_s`` under
``StartMusicOnHold``: the FastAGI server sees a command at least every slice (its idle
timeout never fires) and a key the caller presses is read at once. Each command is raced
against the ticket: when an offer arrives the session stops waiting for the command's reply
and writes its fence, which stops the slice or the announcement's ``STREAM FILE`` at once
(``telephony.agi_session``); numbers are said as core sound files, not ``SAY NUMBER``,
which Asterisk does not stop (``ivr.spoken_numbers``).

The rules are those of the queue the ticket says the call waits in, in the current
``waiting.yaml``. When a supervisor moves the call, the new queue's rules apply from the
next hold slice, as if the caller had just joined it (like an overflow): its hold music,
callback key, maximum wait and announcement schedule, the last two counted from the move.
When a reload changes the rules of the queue the call waits in, they apply from the next
hold slice too, but the call keeps its place in them: the maximum wait still counts from
joining, and the next announcement comes the new period after the last one (the new first
delay after joining, if none was made yet).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from acd.offer import Offer
from center.service import AcdService, CallTicket
from center.settings import WaitingConfig, WaitingPolicy
from center.staffing import estimate_wait
from ivr.prompts import PromptStore
from ivr.spoken_numbers import number_files
from telephony.agi_session import AgiSession, Playback

__all__ = [
    "AskedForCallback",
    "GotOffer",
    "LetGo",
    "NoAgentLeft",
    "PromptResolver",
    "WaitOutcome",
    "WaitedTooLong",
    "WaitingCaller",
    "bare_prompt",
    "recorded_or_core",
]

T = TypeVar("T")

#: (prompt name, language) -> what STREAM FILE plays.
PromptResolver = Callable[[str, str], str]
#: The shortest hold slice, so a near deadline does not turn into a flood of commands.
MIN_SLICE_MS = 100


def bare_prompt(name: str, language: str) -> str:
    """Asterisk's own sounds by name: Asterisk picks the channel's language itself."""
    return name


def recorded_or_core(store: Callable[[], PromptStore]) -> PromptResolver:
    """Hotline's recording of ``name`` in the caller's language when there is one (e.g. a
    ``callback_offer`` prompt imported with ``hotline prompts``), else Asterisk's sound of
    that name. ``store`` is called each time, so a reloaded IVR flow's store is used."""

    def resolve(name: str, language: str) -> str:
        prompts = store()
        if prompts.is_core(name) or not prompts.file(name, language).is_file():
            return name
        return prompts.asterisk_name(name, language)

    return resolve


@dataclass(frozen=True, slots=True)
class GotOffer:
    offer: Offer


@dataclass(frozen=True, slots=True)
class AskedForCallback:
    pass


@dataclass(frozen=True, slots=True)
class WaitedTooLong:
    waited_s: float


@dataclass(frozen=True, slots=True)
class NoAgentLeft:
    pass


@dataclass(frozen=True, slots=True)
class LetGo:
    """The ACD dropped the call (a reconcile) although its session is still here."""

    reason: str


WaitOutcome = GotOffer | AskedForCallback | WaitedTooLong | NoAgentLeft | LetGo


class WaitingCaller:
    """Keeps one caller company; ``wait`` returns at the next thing the gateway must act on
    and may be called again (after a failed offer) with the same announcements schedule.
    ``settings`` gives the current ``waiting.yaml`` (a reload swaps it)."""

    def __init__(
        self,
        session: AgiSession,
        service: AcdService,
        ticket: CallTicket,
        settings: Callable[[], WaitingConfig],
        *,
        language: str,
        resolve: PromptResolver = bare_prompt,
    ) -> None:
        self._session = session
        self._service = service
        self.ticket = ticket
        self._settings = settings
        self._language = language
        self._resolve = resolve
        #: The music class on hold now (None: no music).
        self._music: str | None = None
        self.announcements = 0
        #: The queue whose rules the loop follows, the rules, when the call joined it
        #: (moved: when it was moved) and when it last heard an announcement there.
        self._queue = ticket.queue
        self._policy = settings().policy(ticket.queue)
        self.joined_at = service.now()
        self._announced_at: float | None = None
        self._next_announce = self._next_announcement()

    @property
    def policy(self) -> WaitingPolicy:
        """The waiting rules of the queue the call waits in now."""
        return self._settings().policy(self.ticket.queue)

    async def _follow_rules(self) -> None:
        """After a supervisor's move, take the new queue's rules as if just joined; after
        a reload, the queue's new rules from where the call is. Either way its hold music."""
        queue, policy = self.ticket.queue, self.policy
        if queue != self._queue:
            self._queue = queue
            self.joined_at = self._service.now()
            self._announced_at = None
        elif policy is self._policy:
            return
        self._policy = policy
        self._next_announce = self._next_announcement()
        if self._music is not None and self._music != policy.music_class:
            await self.stop_music()  # the loop starts the new class

    def _next_announcement(self) -> float | None:
        announce = self._policy.announce
        if self._announced_at is None:
            return self.joined_at + announce.first_after_s
        return None if announce.every_s is None else self._announced_at + announce.every_s

    # the loop --------------------------------------------------------------------------
    async def wait(self) -> WaitOutcome:
        while True:
            pending = self._pending()
            if pending is not None:
                return pending
            await self._follow_rules()
            policy = self._policy
            now = self._service.now()
            if policy.max_wait_s is not None and now - self.joined_at >= policy.max_wait_s:
                return WaitedTooLong(now - self.joined_at)
            if policy.leave_when_empty and not self._service.can_serve(self.ticket):
                return NoAgentLeft()
            if self._next_announce is not None and now >= self._next_announce:
                self._announced_at = now
                self._next_announce = self._next_announcement()
                outcome = await self._announce()
                if outcome is not None:
                    return outcome
            await self.start_music()
            digit = await self._race(self._session.wait_for_digit(self._slice_ms(now)))
            if not isinstance(digit, str | None):
                return digit
            if digit is not None and digit == policy.callback_digit:
                return AskedForCallback()

    async def start_music(self) -> None:
        if self._music is None:
            music_class = self._policy.music_class
            await self._session.start_music_on_hold(music_class)
            self._music = music_class

    async def stop_music(self) -> None:
        if self._music is not None:
            self._music = None
            await self._session.stop_music_on_hold()

    def music_stopped(self) -> None:
        """Something else (a Dial) ended the hold music."""
        self._music = None

    # announcements -------------------------------------------------------------------
    async def _announce(self) -> WaitOutcome | None:
        """Position, expected wait and the callback offer; the callback key works here too."""
        await self.stop_music()
        self.announcements += 1
        policy, prompts = self._policy, self._settings().prompts
        service = self._service
        wrap_s = service.setup.agent_policy.wrap_up_s  # None: open-ended, assume the queue's
        estimate = estimate_wait(
            service.distributor,
            self.ticket,
            now=service.now(),
            talk_s=service.talk_times.mean(self.ticket.queue, policy.assumed_talk_s),
            wrap_s=policy.assumed_wrap_s if wrap_s is None else wrap_s,
        )
        parts: list[str | int] = []
        if estimate is not None and policy.announce.position:
            if estimate.position == 1:
                parts.append(prompts.first_in_line)
            else:
                parts += [prompts.there_are, estimate.position - 1, prompts.calls_waiting]
        if estimate is not None and policy.announce.expected_wait:
            seconds = estimate.expected_s
            if seconds is not None and seconds < 60:
                parts += [prompts.hold_time, prompts.less_than, 1, prompts.minute]
            elif seconds is not None:
                parts += [prompts.hold_time, math.ceil(seconds / 60), prompts.minutes]
        if policy.callback_digit is not None and prompts.callback_offer is not None:
            parts.append(prompts.callback_offer)
        for part in parts:
            heard = await self._race(self._say(part))
            if not isinstance(heard, str | None):
                return heard
            if heard is not None and heard == policy.callback_digit:
                return AskedForCallback()
        return None

    async def _say(self, part: str | int) -> str | None:
        """A prompt, or a number as core sound files (``ivr.spoken_numbers``: an offer
        stops a STREAM FILE at once, not SAY NUMBER); the callback key ends it."""
        escape = self._policy.callback_digit or ""
        if isinstance(part, int):
            files = number_files(part, self._language)
        else:
            files = (self._resolve(part, self._language),)
        for name in files:
            played: Playback = await self._session.stream_file(name, escape)
            if played.digit is not None:
                return played.digit
        return None

    # racing a command against the ticket ---------------------------------------------
    def _pending(self) -> WaitOutcome | None:
        ticket = self.ticket
        if not ticket.offers.empty():
            return GotOffer(ticket.offers.get_nowait())
        if ticket.gone.is_set():
            return LetGo(ticket.gone_reason)
        return None

    async def _race(self, command: Coroutine[Any, Any, T]) -> T | WaitOutcome:
        """The command's result, or the offer / release that came first (the command's
        reply is then discarded by the session). A hang-up during the command raises."""
        pending = self._pending()
        if pending is not None:
            command.close()
            return pending
        ticket = self.ticket
        running = asyncio.ensure_future(command)
        offer = asyncio.ensure_future(ticket.offers.get())
        gone = asyncio.ensure_future(ticket.gone.wait())
        tasks = (running, offer, gone)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if running.done() and not running.cancelled():
            error = running.exception()
            if error is not None:
                raise error
        if offer.done() and not offer.cancelled():
            return GotOffer(offer.result())
        if gone.done() and not gone.cancelled():
            return LetGo(ticket.gone_reason)
        return running.result()

    def _slice_ms(self, now: float) -> int:
        until = [self._settings().poll_s]
        if self._next_announce is not None:
            until.append(self._next_announce - now)
        if self._policy.max_wait_s is not None:
            until.append(self.joined_at + self._policy.max_wait_s - now)
        return max(MIN_SLICE_MS, round(min(until) * 1000))
