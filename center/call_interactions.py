"""Every call's one interaction in the customer history (``HistoryInteractions``), written
through, never on a call's path. A queued call's is appended when the call is queued
(idempotency key = the call's uniqueid, the same key any other writer of that call uses, so
a second append finds the first), with ``started_at`` its arrival (the AGI session's start,
noted by ``calls``); updated with the agent and the wait when answered, with the queue when
a supervisor moves it, with talk, hold and wrap-up times from the ACD's events
(``observe``), with the caller's survey score (``csat``), and with its one
``history.outcomes.Outcome``, the wait and the priority at the end (``ended``). A call that
never reaches a queue (self-service, voicemail, a caller who leaves in the IVR) is written
when its flow ends (``ivr_ended``), one the service is stopped during before either when it
is cut off: so every call is one interaction, and its outcome is written once (a caller gone
before the dialplan's ``AGI()`` ran too: ``ended_before_service``). The caller ID is kept as
the identity it is (phone, extension, SIP user; none when withheld): no caller ID costs a
call its record.

``InteractionRecorder`` is what the ACD's voice paths call; ``NoInteractions`` when there is
no history store. The writes go through a ``center.history_outbox`` outbox, like the event
log's (``center.persistence``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from acd.contacts import call_of, segment_number
from acd.events import EventRecord
from center.contact_times import ContactTimes, Talked, WrappedUp
from center.history_outbox import HistoryOutbox
from history.identities import IdentityNormaliser
from history.inputs import (
    Channel,
    Direction,
    IdentityIn,
    InteractionRef,
    InteractionUpdate,
    NewInteraction,
    NewNote,
    Status,
)
from history.outcomes import DEFAULT_STATUS, Outcome
from ivr.flow.handoff import CallAttributes
from ivr.flow.state import CallReport, Ending, WellKnown
from telephony.agi_session import AgiSession

log = logging.getLogger(__name__)

__all__ = [
    "AGENT_TALKED",
    "IVR_OUTCOMES",
    "AgiHandler",
    "HistoryInteractions",
    "InteractionRecorder",
    "InteractionWriter",
    "NoInteractions",
    "ivr_outcome",
]


#: How a call that ended in the IVR is recorded (``history.outcomes``; the status is
#: ``DEFAULT_STATUS``'s). A flow that failed sent the call to the fallback, but the service
#: failed it: ``failed``. A callback booked in the flow: see ``ivr_outcome``.
IVR_OUTCOMES: dict[Ending, Outcome] = {
    "hangup": Outcome.SELF_SERVICE,
    "voicemail": Outcome.VOICEMAIL,
    "caller_hangup": Outcome.ABANDONED_IVR,
    "cut": Outcome.FAILED,
    "fallback": Outcome.FALLBACK,
    "error": Outcome.FAILED,
}

#: Outcomes in which an agent talked to the customer: their status is set when the
#: conversation ends, so the agent's disposition in wrap-up is not overwritten.
AGENT_TALKED = frozenset({Outcome.ANSWERED, Outcome.CALLBACK_COMPLETED})

#: A FastAGI route's handler.
AgiHandler = Callable[[AgiSession], Awaitable[None]]

#: Calls whose talk, hold and wrap-up sums are kept (a transfer adds to them).
SPENT_KEPT = 10_000


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class InteractionWriter(Protocol):
    """``history.writer.HistoryWriter``'s interaction side."""

    def append_interaction(self, new: NewInteraction) -> Awaitable[object]: ...
    def update_interaction(
        self, target: int | InteractionRef, change: InteractionUpdate
    ) -> Awaitable[object]: ...
    def add_note(self, new: NewNote) -> Awaitable[object]: ...


class InteractionRecorder(Protocol):
    """The voice interaction of a queued call (fire and forget: never raises, never waits)."""

    def queued(self, call: CallAttributes, queue: str | None) -> None: ...
    def moved(self, call_id: str, queue: str) -> None: ...
    def transferred(self, call_id: str, *, segment: str, by_agent: str, target: str) -> None: ...
    def answered(self, call_id: str, *, agent_id: str, wait_s: float) -> None: ...
    def rated(self, call_id: str, csat: int) -> None: ...
    def ended(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        wait_s: float | None = None,
        priority: float | None = None,
        talk_s: float | None = None,
        recording: str | None = None,
        talk_known: bool = True,
    ) -> None: ...


class NoInteractions:
    """When there is no history store: nothing is written."""

    def queued(self, call: CallAttributes, queue: str | None) -> None:
        pass

    def moved(self, call_id: str, queue: str) -> None:
        pass

    def transferred(self, call_id: str, *, segment: str, by_agent: str, target: str) -> None:
        pass

    def answered(self, call_id: str, *, agent_id: str, wait_s: float) -> None:
        pass

    def rated(self, call_id: str, csat: int) -> None:
        pass

    def ended(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        wait_s: float | None = None,
        priority: float | None = None,
        talk_s: float | None = None,
        recording: str | None = None,
        talk_known: bool = True,
    ) -> None:
        pass


def ivr_outcome(report: CallReport) -> Outcome:
    """The outcome of a call that ended in the IVR: a callback booked in the flow makes it
    ``callback_requested`` whether the flow or the caller hung up after."""
    outcome = IVR_OUTCOMES[report.ending]
    booked = report.attributes.get(WellKnown.CALLBACK_NUMBER)
    if booked and outcome in (Outcome.SELF_SERVICE, Outcome.ABANDONED_IVR):
        return Outcome.CALLBACK_REQUESTED
    return outcome


class HistoryInteractions:
    """Every call's one interaction. ``calls`` wraps the FastAGI handler: it notes each
    call's arrival (the interaction's ``started_at``) and records a call the service was
    stopped during before any other record of it was written."""

    def __init__(
        self,
        writer: InteractionWriter,
        *,
        wall: Callable[[], dt.datetime] = _utc_now,
        source: str = "hotline",
        identities: IdentityNormaliser | None = None,
    ) -> None:
        self._writer = writer
        self._wall = wall
        self._source = source
        self._identities = identities or IdentityNormaliser()
        self._outbox = HistoryOutbox("acd-interactions")
        self._times = ContactTimes()
        #: call id -> arrival, while the call's AGI session runs
        self._arrivals: dict[str, dt.datetime] = {}
        #: calls with an interaction written (queued, or ended in the IVR)
        self._recorded: set[str] = set()
        #: callback attempts: their talk time is the customer's, told by the dialler
        self._outbound: set[str] = set()
        #: call -> [talk, hold, wrap] so far, summed over its segments (a transferred call
        #: is one interaction: ``center.call_control``)
        self._spent: OrderedDict[str, list[float]] = OrderedDict()

    @property
    def source(self) -> str:
        """The interactions' ``source`` (this node's: ``close_interrupted`` closes these)."""
        return self._source

    # the call's arrival ----------------------------------------------------------------
    def calls(self, handler: AgiHandler) -> AgiHandler:
        """``handler`` with each call's arrival noted, and a record for a call cut off by
        the service stopping before anything else recorded it (the server hands it to the
        dialplan's fallback: ``fallback``)."""

        async def recorded(session: AgiSession) -> None:
            call_id = session.env.uniqueid or "unknown"
            self._arrivals[call_id] = self._wall()
            try:
                await handler(session)
            except asyncio.CancelledError:
                if call_id not in self._recorded:
                    self._cut_off(call_id, session.env.caller_id)
                raise
            finally:
                self._arrivals.pop(call_id, None)
                self._recorded.discard(call_id)

        return recorded

    def _cut_off(self, call_id: str, caller_id: str | None) -> None:
        arrived = self._arrivals.get(call_id) or self._wall()

        def build() -> NewInteraction:
            return NewInteraction(
                channel=Channel.VOICE,
                started_at=arrived,
                ended_at=self._wall(),
                identity=self._identity(caller_id),
                outcome=Outcome.FALLBACK,
                status=Status(DEFAULT_STATUS[Outcome.FALLBACK]),
                source=self._source,
                external_id=call_id,
                idempotency_key=call_id,
            )

        self._write(call_id, build, self._writer.append_interaction)

    def ended_before_service(
        self, call_id: str, caller_id: str | None, arrived: dt.datetime | None
    ) -> None:
        """A caller gone before the dialplan's ``AGI()`` ran (``center.before_service``):
        one closed ``abandoned_ivr`` interaction (never queued, so out of service level and
        abandonment). Keyed by the uniqueid: a record of the call written before stays."""
        if call_id in self._arrivals:  # a session of this call is running: it records it
            return
        outcome = Outcome.ABANDONED_IVR

        def build() -> NewInteraction:
            ended = self._wall()
            return NewInteraction(
                channel=Channel.VOICE,
                started_at=min(arrived or ended, ended),
                ended_at=ended,
                identity=self._identity(caller_id),
                outcome=outcome,
                status=Status(DEFAULT_STATUS[outcome]),
                source=self._source,
                external_id=call_id,
                idempotency_key=call_id,
            )

        self._write(call_id, build, self._writer.append_interaction)

    # the ACD's calls -------------------------------------------------------------------
    def queued(self, call: CallAttributes, queue: str | None) -> None:
        arrived = self._arrivals.get(call.call_id)
        if arrived is not None:  # a call in its AGI session (forgotten when it ends)
            self._recorded.add(call.call_id)
        if call.direction == "out":
            self._outbound.add(call.call_id)

        def build() -> NewInteraction:
            customer = call.customer_id
            known = customer is not None and customer.isdigit()
            return NewInteraction(
                channel=Channel.VOICE,
                direction=Direction(call.direction),
                started_at=arrived or self._wall(),
                customer_id=int(customer) if known and customer else None,
                identity=None if known else self._identity(call.caller_number),
                intent=call.intent,
                call_type=call.call_type,
                queue=queue,
                source=self._source,
                external_id=call.call_id,
                idempotency_key=call.call_id,
            )

        self._write(call.call_id, build, self._writer.append_interaction)

    def moved(self, call_id: str, queue: str) -> None:
        """A supervisor moved the waiting call: the interaction says the queue it is in."""
        self._update(call_id, lambda: InteractionUpdate(queue=queue))

    def answered(self, call_id: str, *, agent_id: str, wait_s: float) -> None:
        """An agent answered: the interaction names them. Its ``wait_s`` is the wait for
        the first agent; a transferred segment's answer only changes the agent."""
        if segment_number(call_id):
            self._update(call_id, lambda: InteractionUpdate(agent=agent_id))
            return
        self._update(call_id, lambda: InteractionUpdate(agent=agent_id, wait_s=max(wait_s, 0.0)))

    def transferred(self, call_id: str, *, segment: str, by_agent: str, target: str) -> None:
        """An agent's blind transfer: a note on the call's interaction (its times are the
        sums of its segments; the event log has each segment's)."""
        body = f"transferred to {target}"

        def build() -> NewNote:
            return NewNote(
                author=f"agent:{by_agent}",
                body=body,
                interaction=InteractionRef(source=self._source, idempotency_key=call_of(call_id)),
                source=self._source,
                idempotency_key=f"transfer-{segment}",
            )

        self._write(call_id, build, self._writer.add_note)

    def rated(self, call_id: str, csat: int) -> None:
        """The caller's satisfaction score (1-5) from the after-call survey."""
        self._update(call_id, lambda: InteractionUpdate(csat=csat))

    def ended(
        self,
        call_id: str,
        *,
        outcome: Outcome,
        wait_s: float | None = None,
        priority: float | None = None,
        talk_s: float | None = None,
        recording: str | None = None,
        talk_known: bool = True,
    ) -> None:
        """The call's one outcome, when the customer's side ended. The status of a call an
        agent talked on was written when the conversation ended (the agent's disposition
        may have changed it since); any other takes ``DEFAULT_STATUS``. ``talk_known``
        False: when the conversation began is not known (the ACD learnt the answer only
        after it, AMI being silent): its talk time is cleared, not left near 0."""
        self._outbound.discard(call_id)

        def build() -> InteractionUpdate:
            change: dict[str, Any] = {"ended_at": self._wall(), "outcome": outcome}
            if outcome not in AGENT_TALKED:
                change["status"] = Status(DEFAULT_STATUS[outcome])
            if wait_s is not None:
                change["wait_s"] = max(wait_s, 0.0)
            if priority is not None:
                change["priority"] = round(priority)
            if talk_s is not None:
                change["talk_s"] = max(talk_s, 0.0)
            if not talk_known:
                change["talk_s"] = None
            if recording is not None:
                change["recording_ref"] = recording
            return InteractionUpdate(**change)

        self._update(call_id, build)

    def recording_moved(self, call_id: str, ref: str | None) -> None:
        """The call's recording is kept at ``ref`` now (a voicemail copied into the
        attachment store: ``center.voicemail_tasks``), or nowhere (None). Written after
        every change of the call told before, in order."""
        self._update(call_id, lambda: InteractionUpdate(recording_ref=ref))

    def observe(self, record: EventRecord) -> None:
        """Each ACD event (subscribe this to the ACD's sink): talk, hold and wrap-up times
        as they become known (``center.contact_times``)."""
        told = self._times.observe(record.at, record.event)
        if isinstance(told, Talked):
            talk, hold, _ = self._spend(told.call_id, told.talk_s, told.hold_s, 0.0)
            if told.call_id in self._outbound:  # the dialler tells the customer's talk time
                change = InteractionUpdate(hold_s=hold)
            else:
                status = Status(DEFAULT_STATUS[Outcome.ANSWERED])
                change = InteractionUpdate(talk_s=talk, hold_s=hold, status=status)
            self._update(told.call_id, lambda: change)
        elif isinstance(told, WrappedUp):
            wrap = InteractionUpdate(wrap_s=self._spend(told.call_id, 0.0, 0.0, told.wrap_s)[2])
            self._update(told.call_id, lambda: wrap)

    def ivr_ended(self, report: CallReport) -> None:
        """The flow's end: a queued call is the ACD's to record; any other is written now."""
        if report.ending == "queued":
            return
        if report.call_id in self._arrivals:
            self._recorded.add(report.call_id)
        outcome = ivr_outcome(report)
        started = self._arrivals.get(report.call_id) or report.started_at

        def build() -> NewInteraction:
            known = WellKnown
            customer = report.attributes.get(known.CUSTOMER_ID, "")
            return NewInteraction(
                channel=Channel.VOICE,
                started_at=started,
                ended_at=self._wall(),
                customer_id=int(customer) if customer.isdigit() else None,
                identity=None if customer.isdigit() else self._identity(report.caller_number),
                intent=report.attributes.get(known.INTENT) or None,
                call_type=report.attributes.get(known.CALL_TYPE) or None,
                outcome=outcome,
                status=Status(DEFAULT_STATUS[outcome]),
                source=self._source,
                external_id=report.call_id,
                idempotency_key=report.call_id,
            )

        self._write(report.call_id, build, self._writer.append_interaction)

    def _spend(self, call_id: str, talk: float, hold: float, wrap: float) -> list[float]:
        """Add a segment's times to its call's (kept for the last ``SPENT_KEPT`` calls)."""
        key = call_of(call_id)
        spent = self._spent.get(key)
        if spent is None:
            spent = self._spent[key] = [0.0, 0.0, 0.0]
            while len(self._spent) > SPENT_KEPT:
                self._spent.popitem(last=False)
        self._spent.move_to_end(key)
        spent[0] += talk
        spent[1] += hold
        spent[2] += wrap
        return spent

    async def close(self) -> None:
        await self._outbox.close()

    async def flush(self) -> None:
        await self._outbox.flush()

    def _identity(self, caller_id: str | None) -> IdentityIn | None:
        """The caller ID as the identity it is (phone, extension, SIP user), or None when
        it is withheld: an anonymous contact, never a refused write."""
        found = self._identities.caller_identity(caller_id)
        return None if found is None else IdentityIn(kind=found[0], value=found[1])

    def _update(self, call_id: str, build: Callable[[], InteractionUpdate]) -> None:
        key = call_of(call_id)  # a transferred call's segments update the call's interaction

        def make() -> tuple[InteractionRef, InteractionUpdate]:
            return InteractionRef(source=self._source, idempotency_key=key), build()

        self._write(call_id, make, lambda pair: self._writer.update_interaction(*pair))

    def _write(
        self,
        call_id: str,
        build: Callable[[], Any],
        send: Callable[[Any], Awaitable[object]],
    ) -> None:
        try:
            value = build()
        except ValueError as error:  # a value the history refuses: the call goes on
            log.error("call %s: interaction not written: %s", call_id, error)
            return
        self._outbox.put(lambda: send(value))
