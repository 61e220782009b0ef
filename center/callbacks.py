"""The dialler: booked callbacks queued in the ACD as virtual calls and dialled back.

A waiting caller who asks for a callback (``center.gateway``) or books one in the IVR
becomes a request in a ``CallbackBook`` (``history.callbacks``: the history store, or memory).
One owned task sleeps until a request is added or the next one falls due (never polls),
claims it and queues it in the ACD as a call without a channel whose entry time is the
caller's original one: the callback keeps its place and competes by priority like any call.

When the router offers it, the **agent is rung first**, by an asynchronous AMI
``Originate`` of the agent's endpoint into ``callbacks.context`` with the customer's number
as the extension (the agent's phone shows the customer). ``center.callback_legs`` sends
it and matches the AMI events to the attempt's leg. Once the agent answers, the dialplan
dials the customer over the trunk. The offers are taken by the inbound path's offer loop
(``center.offer_loop``: a failed ring is told to the ACD, that phone held off ``retry_s``)
and outcomes map onto the ACD as the inbound path's do (``center.ringing``):

==============================  ===========================================================
what happened                   the ACD, and the request
==============================  ===========================================================
OriginateResponse Reason 3      ``RingNoAnswer``: re-offered with its place kept
Reason 5 / 0, 1, 8              ``Busy`` / ``Unreachable``: likewise
Reason 4 (agent answered)       ``OfferRang`` + ``Answered``: the agent is on the call
DialEnd from the agent's leg    the customer's answer: ``ANSWER`` makes the request done
                                at once, anything else (or none) a retry after
                                ``retry_after_s``, failed after ``max_attempts``
Hangup of the agent's leg       ``HungUp``: the agent goes to wrap-up
==============================  ===========================================================

Every attempt is one outbound voice interaction in the history (the customer's number,
queue, agent, outcome, talk time) through the gateway's ``InteractionRecorder``: its outcome
is ``callback_completed`` when the customer answered and ``callback_failed`` otherwise
(customer busy or not answering, no agent, the ACD let it go, the service stopped); a retry
is a new attempt, a new interaction. The call that asked for it stays ``callback_requested``.
An attempt's ``wait_s`` runs from its being queued to the agent's answer, its ``talk_s``
from the customer's answer to the end. A request
whose number cannot be dialled, or whose queue is gone, fails at once. While AMI is down
an offer is withdrawn and the request waits ``AMI_DOWN_RETRY_S``, without counting an
attempt.

Durability: a request is done as soon as the customer answers (``_reached``), so a stop
during the conversation does not call them again. Any other stop while dialling leaves it
``dialing``, and ``start`` makes it pending again: the customer **may still be called
twice** after a stop while their phone rang, in the instant before that UPDATE commits,
or, when the store was down as they answered, before the write tried again at the end of
the conversation. The interaction of an attempt cut short by a stop says what it got to:
``callback_completed`` when the customer had answered (their conversation goes on in
Asterisk; its talk time is counted to the stop), ``callback_failed`` otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Literal

from sqlalchemy.exc import SQLAlchemyError

from acd.agent_events import Answered, HungUp, OfferRang, Unreachable
from acd.contacts import CALLBACK, callback_attempt_id
from acd.offer import Offer
from acd.router import RoutingError
from center.call_interactions import InteractionRecorder, NoInteractions
from center.callback_legs import (
    VAR_CALLBACK,
    VAR_CALLBACK_CALLERID,
    VAR_CALLBACK_RING_S,
    AgentRefused,
    CallbackLegs,
    CustomerDialled,
    Leg,
    LegGone,
    failed_offer,
)
from center.gateway import ATTR_ENTRY_AT, ATTR_QUEUE, callback_entry_time, diallable
from center.incoming import to_incoming_call
from center.offer_loop import OfferLoop, PhoneFailed, PhoneRoute, same_phone
from center.ringing import DIAL_ANSWER
from center.service import AcdService, CallTicket
from center.settings import CallbackDialling, WaitingConfig
from history.callbacks import Callback, CallbackBook, NewCallback
from history.outcomes import Outcome
from ivr.flow.handoff import CallAttributes, CallbackRequest
from ivr.flow.state import CallState, WellKnown
from telephony.ami_client import AmiClient, AmiError

log = logging.getLogger(__name__)

__all__ = [
    "AMI_DOWN_RETRY_S",
    "VAR_CALLBACK",
    "VAR_CALLBACK_CALLERID",
    "VAR_CALLBACK_RING_S",
    "CallbackDialler",
    "failed_offer",
    "next_step",
]

#: Without AMI nothing can be dialled: the request waits this long, no attempt counted.
AMI_DOWN_RETRY_S: Final = 30.0
_DB_ERRORS = (SQLAlchemyError, OSError)

Step = Literal["done", "retry", "failed"]


def next_step(customer_status: str, attempts_before: int, max_attempts: int) -> Step:
    """What becomes of a request after the agent's leg ended."""
    if customer_status == DIAL_ANSWER:
        return "done"
    return "failed" if attempts_before + 1 >= max_attempts else "retry"


# how an attempt ended ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Talked:
    """The agent answered; ``status`` is the customer's DIALSTATUS ("" when never dialled)."""

    agent_id: str
    status: str
    talk_s: float
    #: From the attempt's queueing to the agent's answer.
    wait_s: float = 0.0
    #: The priority of the offer the agent answered.
    priority: float | None = None
    #: The request was marked done when the customer answered.
    saved: bool = False


@dataclass(slots=True)
class _Progress:
    """How far an attempt got, kept as it goes: what it ended as when it is cut short."""

    queued_at: float
    talked: _Talked | None = None
    talking_since: float | None = None

    def ended(self, now: float) -> _Talked | None:
        if self.talked is None:
            return None
        since = self.talking_since
        return replace(self.talked, talk_s=0.0 if since is None else max(now - since, 0.0))


@dataclass(frozen=True, slots=True)
class _Dropped:
    """The ACD let the callback go (a supervisor, a reconcile) or nothing could be dialled."""

    reason: str
    ami_down: bool = False


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallbackDialler:
    """``CallbackRequests`` for the IVR and the gateway, and the task that calls back."""

    def __init__(
        self,
        service: AcdService,
        book: CallbackBook,
        ami: AmiClient,
        settings: WaitingConfig,
        *,
        interactions: InteractionRecorder | None = None,
        wall: Callable[[], dt.datetime] = _utc_now,
        phone_route: PhoneRoute = same_phone,
    ) -> None:
        self._service = service
        self._book = book
        #: how an agent's phone is dialled from here (a peer's phone: through the trunk)
        self._phone_route = phone_route
        self._ami = ami
        self._waiting = settings
        self._settings: CallbackDialling = settings.callbacks
        self._interactions: InteractionRecorder = interactions or NoInteractions()
        self._wall = wall
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._attempts: set[asyncio.Task[None]] = set()
        self._unsaved: list[NewCallback] = []
        self._legs = CallbackLegs()
        #: attempt call id -> how far it got
        self._progress: dict[str, _Progress] = {}

    @property
    def settings(self) -> WaitingConfig:
        return self._waiting

    @settings.setter
    def settings(self, settings: WaitingConfig) -> None:
        """A reload's ``waiting.yaml``: what the dialler reads from now on."""
        self._waiting, self._settings = settings, settings.callbacks

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen to AMI and start the dialler (pending requests are reloaded by it)."""
        if self._task is not None:
            return
        self._legs.attach(self._ami)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="callbacks")

    async def close(self) -> None:
        """Stop dialling; requests being dialled stay ``dialing`` until the next start."""
        self._legs.detach()
        tasks = [t for t in (self._task, *self._attempts) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        self._attempts.clear()

    # CallbackRequests ------------------------------------------------------------------
    async def request(self, callback: CallbackRequest) -> None:
        """Book it (kept in memory and retried while the store is down) and wake up."""
        new = _new_callback(callback, self._default_queue())
        try:
            await self._book.add(new)
        except _DB_ERRORS as error:
            log.error(
                "callback for call %s kept in memory until the store answers: %s",
                new.call_id,
                type(error).__name__,
            )
            self._unsaved.append(new)
        log.info("callback requested by call %s for %s", new.call_id, new.queue)
        self._wake.set()

    # the dialler task ------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 1.0
        recovered = False
        while True:
            self._wake.clear()
            delay: float | None
            try:
                if not recovered:
                    if count := await self._book.recover():
                        log.info("%d callbacks being dialled at the last stop are pending", count)
                    recovered = True
                await self._save_unsaved()
                started = await self._start_due()
                upcoming = await self._book.next_attempt_at()
                delay = None
                if upcoming is not None:
                    delay = max((upcoming - self._wall()).total_seconds(), 0.0)
                    if delay == 0.0 and not started:
                        delay = 1.0  # due but not ours to take: don't spin
                backoff = 1.0
            except _DB_ERRORS as error:
                log.warning(
                    "callbacks: store unavailable (%s); again in %g s",
                    type(error).__name__,
                    backoff,
                )
                delay, backoff = backoff, min(backoff * 2, 30.0)
            if delay is None:
                await self._wake.wait()
            elif delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()

    async def _save_unsaved(self) -> None:
        while self._unsaved:
            await self._book.add(self._unsaved[0])
            self._unsaved.pop(0)

    async def _start_due(self) -> int:
        started = 0
        for due in await self._book.due(self._wall()):
            claimed = await self._book.claim(due.id)
            if claimed is None:
                continue  # another dialler took it
            task = asyncio.get_running_loop().create_task(
                self._attempt(claimed), name=f"callback {claimed.call_id}"
            )
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
            started += 1
        return started

    # one attempt -----------------------------------------------------------------------
    async def _attempt(self, callback: Callback) -> None:
        try:
            await self._try(callback)
        except asyncio.CancelledError:
            raise
        except Exception:  # the attempt task's boundary: logged, the request retried later
            log.exception("callback %s: attempt failed", callback.call_id)
            with contextlib.suppress(*_DB_ERRORS):
                await self._book.release(
                    callback.id, at=self._later(self._settings.retry_after_s), result="error"
                )
        finally:
            self._wake.set()

    async def _try(self, callback: Callback) -> None:
        service, book = self._service, self._book
        if not diallable(callback.number):
            log.warning("callback %s: number cannot be dialled; given up", callback.call_id)
            await book.failed(callback.id, result="number cannot be dialled")
            return
        if callback.queue not in service.queue_names:
            log.warning("callback %s: queue %r is gone; given up", callback.call_id, callback.queue)
            await book.failed(callback.id, result=f"unknown queue {callback.queue}")
            return
        call = _attributes(callback)
        entry = callback_entry_time(
            {ATTR_ENTRY_AT: callback.entry_at.isoformat()},
            wall_now=self._wall(),
            clock_now=service.now(),
        )
        incoming = replace(
            to_incoming_call(call, default_queue=callback.queue),
            queue=callback.queue,
            line=None,
            channel=CALLBACK,
            entry_time=entry,
        )
        try:
            ticket = service.call_arrived(incoming)
        except RoutingError as error:
            await book.release(callback.id, at=self._later(AMI_DOWN_RETRY_S), result=str(error))
            return
        log.info(
            "callback %s queued in %s as call %s", callback.call_id, callback.queue, call.call_id
        )
        self._interactions.queued(call, callback.queue)
        progress = self._progress[call.call_id] = _Progress(service.now())
        ended: _Talked | _Dropped = _Dropped("stopped")
        try:
            ended = await self._serve(callback, ticket)
        finally:
            service.release(ticket)
            del self._progress[call.call_id]
            if isinstance(ended, _Dropped):  # cut short: as far as it got
                ended = progress.ended(service.now()) or ended
            talked = ended if isinstance(ended, _Talked) else None
            outcome = attempt_outcome(ended)
            detail = ended.reason if isinstance(ended, _Dropped) else ended.status
            service.callback_settled(call.call_id, outcome, detail)
            self._interactions.ended(
                call.call_id,
                outcome=outcome,
                wait_s=None if talked is None else talked.wait_s,
                priority=None if talked is None else talked.priority,
                talk_s=None if talked is None else talked.talk_s,
            )
        await self._settle(callback, ended)

    async def _serve(self, callback: Callback, ticket: CallTicket) -> _Talked | _Dropped:
        """Offers until an agent answered (or the ACD let the call go): the offer loop
        (``center.offer_loop``), the agent rung by Originate."""
        offers: OfferLoop[_Talked | _Dropped, _Dropped] = OfferLoop(
            self._service,
            lambda: self._waiting,
            next_offer=lambda: _next_offer(ticket),
            ring=lambda offer, endpoint: self._ring(callback, ticket, offer, endpoint),
            route=self._phone_route,
        )
        return await offers.serve()

    async def _ring(
        self, callback: Callback, ticket: CallTicket, offer: Offer, endpoint: str
    ) -> _Talked | _Dropped | PhoneFailed:
        """Ring the agent, then follow the call."""
        with self._legs.opened() as leg:
            try:
                await self._legs.originate(
                    self._ami,
                    leg,
                    endpoint=endpoint,
                    number=callback.number,
                    call_id=callback.call_id,
                    settings=self._settings,
                )
            except AmiError as error:
                log.warning("callback %s: Originate not sent (%s)", callback.call_id, error)
                self._service.caller_left(offer.call_id, "callback: AMI unavailable")
                return _Dropped("AMI unavailable", ami_down=True)
            return await self._follow(callback, offer, ticket, leg)

    async def _follow(
        self, callback: Callback, offer: Offer, ticket: CallTicket, leg: Leg
    ) -> _Talked | PhoneFailed:
        """The agent's phone, then the conversation."""
        service, agent_id, call_id = self._service, offer.agent_id, offer.call_id
        answer = await leg.agent_answer(self._settings.agent_ring_timeout_s)
        if answer is None:
            log.warning(
                "callback call %s: no OriginateResponse; agent %s unreachable", call_id, agent_id
            )
            return PhoneFailed(Unreachable(agent_id, call_id), rest=False)
        if isinstance(answer, AgentRefused):
            log.info(
                "callback call %s: agent %s's phone: reason %s",
                call_id,
                agent_id,
                answer.reason or "?",
            )
            return PhoneFailed(failed_offer(answer.reason, agent_id, call_id))
        service.fact(OfferRang(agent_id, call_id, answer.channel))  # for the watchdog
        service.fact(Answered(agent_id, call_id, answer.channel))
        progress = self._progress[call_id]
        waited = max(service.now() - progress.queued_at, 0.0)
        self._interactions.answered(call_id, agent_id=agent_id, wait_s=waited)
        answered = progress.talked = _Talked(agent_id, "", 0.0, waited, offer.priority.total)
        while (told := await leg.next(ticket)) is not None and not isinstance(told, LegGone):
            if isinstance(told, CustomerDialled):
                progress.talked = replace(progress.talked, status=told.status)
                if told.status == DIAL_ANSWER:
                    progress.talking_since = service.now()
                    saved = await self._reached(callback, agent_id)
                    progress.talked = replace(progress.talked, saved=saved)
        service.fact(HungUp(agent_id, call_id))
        return progress.ended(service.now()) or answered

    async def _reached(self, callback: Callback, agent_id: str) -> bool:
        """The customer answered: the request is done now, not when the conversation ends
        (a stop meanwhile must not call them again). False: not saved, ``_settle`` tries."""
        try:
            await self._book.finished(
                callback.id, agent=agent_id, result=_customer_result(DIAL_ANSWER)
            )
        except _DB_ERRORS as error:
            log.warning(
                "callback %s: customer reached, not saved yet (%s); again after the call",
                callback.call_id,
                type(error).__name__,
            )
            return False
        return True

    async def _settle(self, callback: Callback, ended: _Talked | _Dropped) -> None:
        book, settings = self._book, self._settings
        if isinstance(ended, _Dropped):
            if ended.ami_down:
                await book.release(
                    callback.id, at=self._later(AMI_DOWN_RETRY_S), result=ended.reason
                )
            else:
                await book.cancel(callback.id)
            return
        result = _customer_result(ended.status)
        step = next_step(ended.status, callback.attempts, settings.max_attempts)
        log.info(
            "callback %s attempt %d: %s -> %s",
            callback.call_id,
            callback.attempts + 1,
            result,
            step,
        )
        if step == "done":
            if not ended.saved:  # else done since the customer answered
                await book.finished(callback.id, agent=ended.agent_id, result=result)
        elif step == "retry":
            at = self._later(settings.retry_after_s)
            await book.retry(callback.id, at=at, result=result, agent=ended.agent_id)
        else:
            await book.failed(callback.id, result=result, agent=ended.agent_id)

    def _later(self, seconds: float) -> dt.datetime:
        return self._wall() + dt.timedelta(seconds=seconds)

    def _default_queue(self) -> str:
        names = self._service.queue_names
        return self._waiting.default_queue or (names[0] if names else "")


# helpers ---------------------------------------------------------------------------------
async def _next_offer(ticket: CallTicket) -> Offer | _Dropped:
    """The callback's next offer, or its end when the ACD let it go first."""
    offer = await ticket.next_offer()
    return _Dropped(ticket.gone_reason or "left the ACD") if offer is None else offer


def _new_callback(request: CallbackRequest, default_queue: str) -> NewCallback:
    attributes = dict(request.attributes)
    entry_at = request.requested_at
    with contextlib.suppress(KeyError, ValueError):
        entry_at = dt.datetime.fromisoformat(attributes[ATTR_ENTRY_AT])
    customer = attributes.get(WellKnown.CUSTOMER_ID, "")
    return NewCallback(
        call_id=request.call_id,
        number=request.number,
        queue=attributes.get(ATTR_QUEUE) or attributes.get(WellKnown.QUEUE) or default_queue,
        language=request.language,
        requested_at=request.requested_at,
        entry_at=entry_at,
        attributes=attributes,
        customer_id=int(customer) if customer.isdigit() else None,
    )


def _attributes(callback: Callback) -> CallAttributes:
    """The virtual call as the ACD and the history see it: the IVR's findings, outbound."""
    attributes = {**callback.attributes, WellKnown.LANGUAGE: callback.language}
    attempt = callback.attempts + 1
    found = CallAttributes.from_state(
        CallState(attributes=attributes),
        call_id=callback_attempt_id(callback.call_id, attempt),
        channel="",
        caller_number=callback.number,
    )
    return replace(found, queue=callback.queue, direction="out")


def _customer_result(status: str) -> str:
    if not status:
        return "customer not reached"
    return "answered" if status == DIAL_ANSWER else f"customer {status.lower()}"


def attempt_outcome(ended: _Talked | _Dropped) -> Outcome:
    """A callback attempt's one outcome: completed when an agent talked to the customer."""
    if isinstance(ended, _Talked) and ended.status == DIAL_ANSWER:
        return Outcome.CALLBACK_COMPLETED
    return Outcome.CALLBACK_FAILED
