"""``LiveAcd``: the ``AcdGateway`` that queues calls in hotline's own ACD.

The IVR hands the call over and the caller's AGI session stays with it until an agent has
talked to the caller or the call has left the line:

1. **join**: the call is queued (``AcdService.call_arrived``); with no logged-in agent who
   could ever serve it, the queue's ``on_empty`` action instead (unless ``join_empty``);
2. **wait** (``center.waiting``): hold music, position and expected-wait announcements,
   the callback key, the maximum wait, leave-when-empty;
3. **offer** (``center.offer_loop``, the ring by ``center.ringing``): Dial the agent; a
   failed ring goes back to 2 with the call's place kept (that phone is not rung for it
   again before ``retry_s``); after the conversation, if the agent hung up first, the
   caller hears ``prompts.after_call`` and the call ends; with ``survey.enabled`` they are
   first asked to rate the call from 1 to 5 by key (the interaction's ``csat``);
4. **leave** without an agent: the queue's overflow (another queue, voicemail, a callback,
   the dialplan fallback, goodbye).

Callbacks: the key books a ``CallbackRequest`` (``ivr.flow.handoff``) for the caller ID and
the call leaves the line. The request carries the queue and the original entry time
(``acd.entry_at``). The dialler (``center.callbacks``) keeps it and queues it again as a
virtual call with that entry time (``callback_entry_time``), so it keeps its place; when an
agent is offered it, the agent's phone is rung first and the dialplan then dials the
customer.

The rules are the current ``waiting.yaml`` (``LiveAcd.settings``): a reload swaps it, and
calls already in the gateway follow the new one from their next step (a waiting caller:
from its next hold slice).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from acd.agent_events import HungUp
from acd.calls import IncomingCall
from acd.contacts import CUT_BY_ASTERISK, HANDED_TO_FALLBACK, sent_on
from acd.offer import Offer
from center.call_control import PendingTransfers, requeued
from center.call_interactions import InteractionRecorder, NoInteractions
from center.consult import Consults
from center.incoming import to_incoming_call
from center.offer_loop import OfferLoop, PhoneFailed, PhoneRoute, same_phone
from center.phone_locations import call_system
from center.recording import RecordingHook
from center.ringing import Rang, ring_agent
from center.service import AcdService, CallTicket
from center.settings import Overflow, Survey, WaitingConfig
from center.waiting import (
    AskedForCallback,
    GotOffer,
    LetGo,
    NoAgentLeft,
    PromptResolver,
    WaitedTooLong,
    WaitingCaller,
    bare_prompt,
)
from history.outcomes import Outcome
from ivr.flow.handoff import (
    CallAttributes,
    CallbackRequest,
    CallbackRequests,
    FallbackAcd,
)
from telephony.agi_server import Fallback
from telephony.agi_session import AgiSession, CallerHangup

log = logging.getLogger(__name__)

__all__ = [
    "ATTR_ENTRY_AT",
    "ATTR_QUEUE",
    "ATTR_WAITED_S",
    "LiveAcd",
    "callback_entry_time",
    "csat_score",
    "diallable",
    "priority_now",
]

#: Attributes a callback request carries (beside the IVR's).
ATTR_QUEUE = "acd.queue"
ATTR_ENTRY_AT = "acd.entry_at"
ATTR_WAITED_S = "acd.waited_s"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
#: What ends a caller's wait other than an offer.
_WaitEnd = AskedForCallback | WaitedTooLong | NoAgentLeft | LetGo
_DIALLABLE = re.compile(r"^\+?[0-9]{3,20}$")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def callback_entry_time(
    attributes: Mapping[str, str], *, wall_now: dt.datetime, clock_now: float
) -> float | None:
    """The ACD clock reading of a callback's original entry (for ``IncomingCall.entry_time``)."""
    try:
        entry = dt.datetime.fromisoformat(attributes[ATTR_ENTRY_AT])
    except (KeyError, ValueError):
        return None
    return clock_now - max((wall_now - entry).total_seconds(), 0.0)


@dataclass
class _Run:
    """One call's way through the gateway, and what the history records of it: its one
    outcome (``history.outcomes``; None until something decides it), the wait and the
    priority when it was answered or left the queue."""

    session: AgiSession
    call: CallAttributes
    outcome: Outcome | None = None
    recording: str | None = None
    #: the ACD's clock at the call's first queue entry (kept across overflows)
    entry_time: float | None = None
    #: set when the call left the queue without an agent (answered: the ACD tells the wait)
    wait_s: float | None = None
    priority: float | None = None
    ringing: bool = False
    #: False when the agent's answer was learnt only after the conversation (AMI silent)
    talk_known: bool = True

    def caller_gone(self, now: float, short_abandon_s: float) -> Outcome:
        """The outcome of a caller who hung up before anything else was decided (a short
        abandon by its wait alone, as the KPIs count it, even while a phone rang)."""
        if self.entry_time is not None and now - self.entry_time < short_abandon_s:
            return Outcome.ABANDONED_SHORT
        return Outcome.ABANDONED_RINGING if self.ringing else Outcome.ABANDONED_QUEUE


class LiveAcd:
    def __init__(
        self,
        service: AcdService,
        settings: WaitingConfig,
        *,
        fallback: Fallback,
        callbacks: CallbackRequests,
        interactions: InteractionRecorder | None = None,
        resolve_prompt: PromptResolver = bare_prompt,
        wall: Callable[[], dt.datetime] = _utc_now,
        max_overflows: int = 3,
        transfers: PendingTransfers | None = None,
        consults: Consults | None = None,
        recording: RecordingHook | None = None,
        phone_route: PhoneRoute = same_phone,
    ) -> None:
        self._service = service
        #: how an agent's phone is dialled from here (a peer's phone: through the trunk)
        self._phone_route = phone_route
        #: consent and call recording (``center.recording``), asked before the call queues
        self._recording = recording
        self._settings = settings
        self._fallback = FallbackAcd(fallback)
        self._callbacks = callbacks
        self._interactions: InteractionRecorder = interactions or NoInteractions()
        self._resolve = resolve_prompt
        self._wall = wall
        self._max_overflows = max_overflows
        #: blind transfers agents asked for (``center.call_control``)
        self._transfers = transfers or PendingTransfers()
        #: consults agents completed (``center.consult``): the colleague has the caller
        self._consults = consults if consults is not None else Consults()
        #: call id -> when an agent answered it (the ACD's clock), until its Dial returns
        self._answered_at: dict[str, float] = {}
        service.on_moved(self._moved)

    @property
    def settings(self) -> WaitingConfig:
        """The current ``waiting.yaml``."""
        return self._settings

    @settings.setter
    def settings(self, settings: WaitingConfig) -> None:
        """A reload's ``waiting.yaml``: new calls follow it at once, and so does each
        waiting caller from its next hold slice (``center.waiting``)."""
        self._settings = settings

    @property
    def default_queue(self) -> str | None:
        names = self._service.queue_names
        return self._settings.default_queue or (names[0] if names else None)

    async def enqueue(self, session: AgiSession, call: CallAttributes) -> None:
        """Serve the call until it is answered or leaves; its interaction ends with exactly
        one outcome, whatever way that happens (an error: ``failed``; the service
        stopping, which hands the call to the dialplan's fallback: ``fallback``)."""
        run = _Run(session, call)
        queue = call.queue or self.default_queue
        self._interactions.queued(call, queue)
        try:
            if queue is None:
                log.error("call %s: no queue configured; sending it to the fallback", call.call_id)
                await self._to_fallback(run)
                return
            if self._recording is not None:
                await self._recording.consent(run.session, call, queue)
            await self._join(run, to_incoming_call(call, default_queue=queue), 0)
        except CallerHangup:
            if run.outcome is None:
                short = self._service.setup.sl_policy.short_abandon_s
                run.outcome = run.caller_gone(self._service.now(), short)
            raise
        except asyncio.CancelledError:
            if run.outcome is None:
                run.outcome = Outcome.FALLBACK  # the AGI server hands it to the fallback
            raise
        except Exception:
            if run.outcome is None:
                run.outcome = Outcome.FAILED
            raise
        finally:
            self._answered_at.pop(call.call_id, None)
            self._interactions.ended(
                call.call_id,
                outcome=run.outcome or Outcome.FAILED,
                wait_s=run.wait_s,
                priority=run.priority,
                recording=run.recording,
                talk_known=run.talk_known,
            )

    # join, wait, ring ------------------------------------------------------------------
    async def _join(self, run: _Run, incoming: IncomingCall, depth: int) -> None:
        service = self._service
        if incoming.queue not in service.queue_names:
            log.error("call %s: queue %r is not in queues.yaml", incoming.call_id, incoming.queue)
            await self._to_fallback(run)
            return
        run.outcome = None
        policy = self._settings.policy(incoming.queue)
        ticket = service.call_arrived(incoming, on_answered=self._answered)
        if run.entry_time is None:
            run.entry_time = ticket.entry_time
        waiter: WaitingCaller | None = None
        try:
            if not policy.join_empty and not service.can_serve(ticket):
                reason = "join-empty: no logged-in agent can serve the call"
                await self._leave(run, ticket, None, policy.on_empty, reason, depth)
                return
            waiter = WaitingCaller(
                run.session,
                service,
                ticket,
                lambda: self._settings,
                language=run.call.language,
                resolve=self._resolve,
            )
            await self._wait(run, waiter, depth)
        except CallerHangup:
            self._left(run, waiter.ticket if waiter else ticket)
            call_id = (waiter.ticket if waiter else ticket).call_id
            if run.outcome is None and await run.session.cut_by_asterisk():
                run.outcome = Outcome.FAILED
                service.caller_left(call_id, CUT_BY_ASTERISK)
            else:
                service.caller_hung_up(call_id)
            raise
        except asyncio.CancelledError:  # the service stops: the fallback takes the call
            self._left(run, waiter.ticket if waiter else ticket)
            service.caller_left((waiter.ticket if waiter else ticket).call_id, HANDED_TO_FALLBACK)
            raise
        finally:
            service.release(waiter.ticket if waiter else ticket)

    async def _wait(self, run: _Run, waiter: WaitingCaller, depth: int) -> None:
        """Until the call is answered or leaves; the rules (overflows, assumed talk time)
        are those of the queue the call waits in when it happens (a supervisor may move it).
        Offers go through the offer loop (``center.offer_loop``): Dial, a failed ring back
        here with the call's place kept."""
        offers: OfferLoop[Rang, _WaitEnd] = OfferLoop(
            self._service,
            lambda: self._settings,
            next_offer=lambda: _next_offer(waiter),
            ring=lambda offer, endpoint: self._ring(run, waiter, offer, endpoint),
            pause=lambda seconds: self._hold_off(run, waiter, seconds),
            route=self._phone_route,
            system=call_system(run.session.env.uniqueid),  # the Dial runs on the caller's
        )
        while True:
            outcome = await offers.serve()
            ticket, policy = waiter.ticket, waiter.policy
            if isinstance(outcome, Rang):
                run.outcome, run.priority = Outcome.ANSWERED, outcome.offer.priority.total
                run.talk_known = outcome.answer_seen
                answered_at = self._answered_at.pop(ticket.call_id, self._service.now())
                talk_s = max(self._service.now() - answered_at, 0.0)
                if outcome.answer_seen:  # else the talk time is not known
                    self._service.talk_times.observe(ticket.queue, talk_s, policy.assumed_talk_s)
                if await self._transferred(run, ticket, outcome, depth):
                    return
                self._consulted(run, ticket)
                await self._after_call(run, outcome)
                return
            elif isinstance(outcome, AskedForCallback):
                if await self._book_callback(run, ticket, waiter):
                    return
            elif isinstance(outcome, WaitedTooLong):
                reason = f"max wait: {outcome.waited_s:.0f} s in {ticket.queue}"
                await self._leave(run, ticket, waiter, policy.on_max_wait, reason, depth)
                return
            elif isinstance(outcome, NoAgentLeft):
                reason = "leave-when-empty: no agent left who can serve the call"
                await self._leave(run, ticket, waiter, policy.on_empty, reason, depth)
                return
            else:  # the ACD let go (a reconcile) though the caller is still here
                log.warning(
                    "call %s: dropped by the ACD (%s) while the caller waits; queued again",
                    ticket.call_id,
                    outcome.reason,
                )
                self._service.release(ticket)
                again = replace(ticket.call, entry_time=ticket.entry_time)
                waiter.ticket = self._service.call_arrived(again, on_answered=self._answered)

    async def _hold_off(self, run: _Run, waiter: WaitingCaller, seconds: float) -> None:
        """The phone that just failed this call is not rung again yet: the caller waits on
        hold (a key cuts it short)."""
        await waiter.start_music()
        await run.session.wait_for_digit(max(1, round(seconds * 1000)))

    async def _ring(
        self, run: _Run, waiter: WaitingCaller, offer: Offer, endpoint: str
    ) -> Rang | PhoneFailed:
        await waiter.stop_music()
        run.ringing = True  # until the ring is over: a hang-up meanwhile leaves it set
        try:
            rang = await ring_agent(
                run.session,
                self._service,
                offer,
                endpoint,
                ring_timeout_s=self._service.setup.ring_timeout_s,
                options=self._settings.dial_options,
            )
        finally:
            waiter.music_stopped()
        run.ringing = False
        return rang

    async def _transferred(self, run: _Run, ticket: CallTicket, rang: Rang, depth: int) -> bool:
        """The agent transferred the call (``center.call_control``): with the caller still
        up, it is queued again as the call's next segment, its place kept."""
        transfer = self._transfers.take(ticket.call_id)
        if transfer is None or not rang.outcome.caller_alive:
            return False
        if run.session.dead:
            return False
        incoming = requeued(ticket.call, transfer, entry_time=ticket.entry_time)
        log.info(
            "call %s: transferred by agent %s to %s as %s",
            run.call.call_id,
            transfer.by_agent,
            transfer.target,
            incoming.call_id,
        )
        self._interactions.transferred(
            run.call.call_id,
            segment=incoming.call_id,
            by_agent=transfer.by_agent,
            target=transfer.target,
        )
        if incoming.queue != ticket.queue:
            self._interactions.moved(run.call.call_id, incoming.queue)
        await self._join(run, incoming, depth)
        return True

    def _consulted(self, run: _Run, ticket: CallTicket) -> None:
        """The agent completed a consult: the colleague talked to the caller until Dial
        returned. Their segment ends; the interaction names them, with a transfer note."""
        done = self._consults.completed(ticket.call_id)
        if done is None or done.segment is None:
            return
        self._consults.end(ticket.call_id)
        self._service.fact(HungUp(done.colleague, done.segment))
        log.info(
            "call %s: consulted by agent %s, completed to %s as %s",
            run.call.call_id,
            done.by_agent,
            done.colleague,
            done.segment,
        )
        self._interactions.transferred(
            run.call.call_id, segment=done.segment, by_agent=done.by_agent, target=done.target
        )
        self._interactions.answered(done.segment, agent_id=done.colleague, wait_s=0.0)
        if done.ticket is not None:
            self._service.release(done.ticket)

    async def _after_call(self, run: _Run, rang: Rang) -> None:
        """The agent hung up first: a last word, then the call ends."""
        if not rang.outcome.caller_alive or run.session.dead:
            return
        if self._settings.survey.enabled:
            await self._survey(run, self._settings.survey)
        after = self._settings.prompts.after_call
        if after is not None:
            await self._play(run, after)
        await run.session.hangup()

    async def _survey(self, run: _Run, survey: Survey) -> None:
        """Ask "rate this call from 1 to 5": a valid key is the interaction's ``csat``; another
        key or none records nothing; a hang-up raises ``CallerHangup`` (the call's outcome
        and talk time are written all the same)."""
        assert survey.prompt is not None, "settings refuse an enabled survey without prompt"
        prompt = self._resolve(survey.prompt, run.call.language)
        heard = await run.session.get_data(
            prompt, timeout_ms=max(1, round(survey.timeout_s * 1000)), max_digits=1
        )
        score = csat_score(heard.digits)
        if score is None:
            log.info("call %s: no survey score (heard %r)", run.call.call_id, heard.digits)
            return
        self._interactions.rated(run.call.call_id, score)
        if survey.thanks is not None:
            await self._play(run, survey.thanks)

    # leaving without an agent ----------------------------------------------------------
    async def _leave(
        self,
        run: _Run,
        ticket: CallTicket,
        waiter: WaitingCaller | None,
        overflow: Overflow,
        reason: str,
        depth: int,
    ) -> None:
        self._left(run, ticket)
        action = self._destination(run, overflow, depth)
        self._service.caller_left(ticket.call_id, sent_on(reason, action))
        log.info("call %s leaves %s (%s): %s", ticket.call_id, ticket.queue, reason, action)
        if waiter is not None:
            await waiter.stop_music()
        if overflow.prompt is not None:
            await self._play(run, overflow.prompt)
        if action == "queue" and overflow.queue is not None:
            moved = replace(ticket.call, queue=overflow.queue, entry_time=ticket.entry_time)
            await self._join(run, moved, depth + 1)
        elif action == "voicemail":
            await self._voicemail(run)
        elif action == "callback" and await self._book_callback(run, ticket, None):
            pass
        elif action == "hangup":
            run.outcome = Outcome.OVERFLOWED
            await self._play(run, self._settings.prompts.goodbye)
            await run.session.hangup()
        else:
            if overflow.action == "callback":  # no number to call back
                await self._play(run, self._settings.prompts.callback_impossible)
            await self._to_fallback(run)

    def _destination(self, run: _Run, overflow: Overflow, depth: int) -> str:
        """Where a queue rule sends the call: its action, or the fallback when that cannot
        be done (no queue left to overflow to, no number to call back)."""
        action = overflow.action
        if action == "queue" and (overflow.queue is None or depth >= self._max_overflows):
            return "fallback"
        if action == "callback" and not diallable(run.call.caller_number or ""):
            return "fallback"
        return action

    async def _book_callback(
        self, run: _Run, ticket: CallTicket, waiter: WaitingCaller | None
    ) -> bool:
        """Book a callback to the caller ID, keeping the entry time; False when the number
        is withheld (the caller is told, and keeps waiting)."""
        prompts, number = self._settings.prompts, run.call.caller_number
        if waiter is not None:
            await waiter.stop_music()
        if not number or not diallable(number):
            await self._play(run, prompts.callback_impossible)
            return False
        waited = self._service.now() - ticket.entry_time
        now = self._wall()
        self._left(run, ticket)
        self._service.caller_left(ticket.call_id, "callback requested")
        run.outcome = Outcome.CALLBACK_REQUESTED
        attributes = {
            **run.call.attributes,
            ATTR_QUEUE: ticket.queue,
            ATTR_ENTRY_AT: (now - dt.timedelta(seconds=waited)).isoformat(),
            ATTR_WAITED_S: f"{waited:.1f}",
        }
        request = CallbackRequest(number, ticket.call_id, run.call.language, now, attributes)
        await self._callbacks.request(request)
        await self._play(run, prompts.callback_booked)
        await run.session.hangup()
        return True

    async def _voicemail(self, run: _Run) -> None:
        settings = self._settings
        run.outcome = Outcome.VOICEMAIL
        base = f"{settings.voicemail_dir.rstrip('/')}/{_UNSAFE.sub('_', run.call.call_id)}"
        recording = await run.session.record_file(
            base, "wav", "#", timeout_ms=settings.voicemail_max_s * 1000, silence_s=5
        )
        run.recording = recording.path
        if recording.reason != "hangup":
            await self._play(run, settings.prompts.goodbye)
            await run.session.hangup()

    async def _to_fallback(self, run: _Run) -> None:
        run.outcome = Outcome.FALLBACK
        await self._fallback.enqueue(run.session, run.call)

    def _left(self, run: _Run, ticket: CallTicket) -> None:
        """The call leaves the queue without an agent: its wait and priority until now
        (once: a caller who hangs up after the outcome was decided changes neither)."""
        if run.outcome is not None:
            return
        now = self._service.now()
        if run.entry_time is not None:
            run.wait_s = max(now - run.entry_time, 0.0)
        run.priority = priority_now(self._service, ticket.call_id)

    async def _play(self, run: _Run, prompt: str) -> None:
        await run.session.stream_file(self._resolve(prompt, run.call.language))

    def _answered(self, ticket: CallTicket, agent_id: str, wait_s: float) -> None:
        self._answered_at[ticket.call_id] = ticket.entry_time + wait_s
        self._interactions.answered(ticket.call_id, agent_id=agent_id, wait_s=wait_s)

    def _moved(self, ticket: CallTicket, queue: str) -> None:
        self._interactions.moved(ticket.call_id, queue)


async def _next_offer(waiter: WaitingCaller) -> Offer | _WaitEnd:
    """The waiting caller's next offer, or what else ended its wait."""
    outcome = await waiter.wait()
    if isinstance(outcome, GotOffer):
        return outcome.offer
    return outcome


def priority_now(service: AcdService, call_id: str) -> float | None:
    """The call's priority as the router compares it now (its base, a supervisor's raise,
    aging); None when the router no longer holds the call."""
    for held in service.distributor.router.calls():
        if held.call_id == call_id:
            urgency = service.distributor.router.urgency(held.queue, held.channel)
            return urgency.effective(held.priority.total, service.now() - held.entry_time)
    return None


def diallable(number: str) -> bool:
    """Can the dialler call this caller ID back (a number, not a SIP user)?"""
    return _DIALLABLE.fullmatch(number) is not None


def csat_score(digits: str) -> int | None:
    """A survey key as a score: "1" to "5", else None."""
    return int(digits) if len(digits) == 1 and digits in "12345" else None
