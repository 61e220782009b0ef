"""Contact-center KPIs computed from the event log alone.

Definitions (waits are measured from the call's original entry time):

* **Service level**: the share of calls answered within ``target_s`` (inclusive). Abandons
  follow ``SlPolicy.abandons``: ``against`` (default) A_T / (A + Ab); ``ignore`` A_T / A;
  ``met_within_target`` (A_T + Ab_T) / (A + Ab); ``exclude_within_target``
  A_T / (A + Ab - Ab_T). *Short abandons* (gone in under ``short_abandon_s``, default 5 s:
  misdials, caller changed mind) are left out of every ratio; ``short_abandon_s = 0`` keeps
  them.
* **ASA**: mean wait of answered calls (ringing included). **P(wait)**: share of answered +
  (non-short) abandoned calls that were not offered to an agent the instant they arrived
  (Erlang C's C(N, A)).
* **Abandonment rate**: Ab / (A + Ab), short abandons excluded.
* **Exits**: calls the ACD routed out of the queue (a callback request, an overflow on
  maximum wait, a queue with no agent) are counted as ``left`` and kept out of service
  level and abandonment: the caller did not give up, the centre chose another path.
* **AHT**: talk + hold + wrap-up, averaged over calls that ended (wrap-up counted as far as
  it has gone when the report is made).
* **Occupancy**: time offered (ringing), on call or in wrap-up, over that plus time
  available; paused and logged-out time count in neither.
* **Callbacks are contacts of their own** (``acd.contacts``): a caller who asks for one
  leaves the queue as an exit (``callback_requested``); each attempt the dialler queues is
  a contact on the ``callback`` channel, never an offered inbound call. ``calls`` and
  ``by_queue`` are the inbound (``voice``) figures; ``by_channel`` and ``callbacks`` the
  rest. Exits are named by ``history.outcomes.Outcome`` (``callback_requested``,
  ``overflowed``, ``callback_failed``, ``failed``); abandons while an agent's phone rang
  (``abandoned_ringing``) are a part of ``abandoned``.

Calls belong to the interval of their entry time; agent time is split at interval edges.
A call a supervisor moved to another queue (``CallMoved``) belongs to the queue where it
ends: it is offered, answered or abandoned there, once, and never in the queue it left; its
wait still runs from its original entry time. A supervisor's priority bump changes nothing
here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from acd.contacts import CALLBACK, VOICE, channel_of, exit_outcome
from acd.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallQueued,
    EventRecord,
)
from history.outcomes import Outcome

__all__ = [
    "AbandonTreatment",
    "AgentKpi",
    "CallKpis",
    "CallOutcome",
    "CallbackKpis",
    "KpiAccumulator",
    "KpiReport",
    "SlPolicy",
    "call_kpis",
    "callback_kpis",
    "compute_kpis",
]

BUSY_STATES = ("offered", "on_call", "wrap_up")
#: A wait this short is no wait (the router decided in the same instant).
NO_WAIT_S = 1e-9


class AbandonTreatment(StrEnum):
    AGAINST = "against"
    IGNORE = "ignore"
    MET_WITHIN_TARGET = "met_within_target"
    EXCLUDE_WITHIN_TARGET = "exclude_within_target"


@dataclass(frozen=True, slots=True)
class SlPolicy:
    target_s: float = 20.0
    short_abandon_s: float = 5.0
    abandons: AbandonTreatment = AbandonTreatment.AGAINST
    #: Per-queue targets (a queue not listed uses ``target_s``).
    queue_targets: Mapping[str, float] = field(default_factory=dict)

    def service_level(self, a_t: int, a: int, ab_t: int, ab: int) -> float | None:
        t = self.abandons
        if t is AbandonTreatment.IGNORE:
            num, den = a_t, a
        elif t is AbandonTreatment.MET_WITHIN_TARGET:
            num, den = a_t + ab_t, a + ab
        elif t is AbandonTreatment.EXCLUDE_WITHIN_TARGET:
            num, den = a_t, a + ab - ab_t
        else:
            num, den = a_t, a + ab
        return num / den if den else None


@dataclass(slots=True)
class CallOutcome:
    """What the log says happened to one call."""

    call_id: str
    queue: str
    entry: float
    call_type: str | None = None
    agent_id: str | None = None
    offered_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    abandoned_at: float | None = None
    #: Routed out of the queue by the ACD (callback, overflow, no agent): not an abandon.
    left_at: float | None = None
    #: The outcome that exit names (``acd.contacts.exit_outcome``).
    left_as: str | None = None
    #: Abandoned while an agent's phone rang.
    during_offer: bool = False
    #: ``voice`` or ``callback`` (``acd.contacts.channel_of``).
    channel: str = VOICE
    #: A callback attempt's ``CallbackSettled`` outcome.
    settled: str | None = None
    hold_s: float = 0.0
    hold_since: float | None = None
    wrap_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallKpis:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    #: Calls the ACD sent elsewhere (callback, overflow, empty queue): outside the ratios.
    left: int
    waiting: int
    answered_within_target: int
    abandoned_within_target: int
    service_level: float | None
    asa: float | None
    p_wait: float | None
    abandon_rate: float | None
    aht: float | None
    avg_talk: float | None
    avg_hold: float | None
    avg_wrap: float | None
    longest_wait: float
    #: Of ``abandoned``: while an agent's phone rang.
    abandoned_ringing: int = 0
    #: ``left`` by the outcome its exit names.
    exits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallbackKpis:
    """Callbacks as contacts of their own: requests made by waiting callers, and attempts."""

    requested: int = 0
    attempts: int = 0
    #: Attempts an agent answered (the customer is dialled from there).
    connected: int = 0
    #: Attempts that reached the customer (``callback_completed``).
    completed: int = 0
    #: Attempts that did not: not dialled, or the customer not reached (``callback_failed``).
    failed: int = 0


@dataclass(frozen=True, slots=True)
class AgentKpi:
    agent_id: str
    calls: int
    talk_s: float
    hold_s: float
    wrap_s: float
    pause_s: float
    available_s: float
    staffed_s: float
    rona: int
    occupancy: float | None


@dataclass(frozen=True, slots=True)
class KpiReport:
    start: float
    end: float
    calls: CallKpis
    occupancy: float | None
    by_queue: Mapping[str, CallKpis] = field(default_factory=dict)
    agents: tuple[AgentKpi, ...] = ()
    #: Every contact by channel (``voice``: inbound calls; ``callback``: attempts).
    by_channel: Mapping[str, CallKpis] = field(default_factory=dict)
    callbacks: CallbackKpis = CallbackKpis()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def call_kpis(outcomes: Iterable[CallOutcome], policy: SlPolicy) -> CallKpis:
    targets, default, short = policy.queue_targets, policy.target_s, policy.short_abandon_s
    answered = abandoned = short_ab = left = waiting = a_t = ab_t = waited = handled = 0
    ringing = 0
    exits: dict[str, int] = {}
    wait_sum = talk_sum = hold_sum = wrap_sum = longest = 0.0
    for c in outcomes:
        if c.answered_at is not None:
            wait = c.answered_at - c.entry
            answered += 1
            wait_sum += wait
            a_t += wait <= targets.get(c.queue, default)
            queued = (c.answered_at if c.offered_at is None else c.offered_at) - c.entry
            waited += queued > NO_WAIT_S
            longest = max(longest, wait)
            if c.ended_at is not None:
                handled += 1
                talk_sum += c.ended_at - c.answered_at - c.hold_s
                hold_sum += c.hold_s
                wrap_sum += c.wrap_s
        elif c.left_at is not None:
            left += 1
            kind = c.left_as or Outcome.FAILED
            exits[kind] = exits.get(kind, 0) + 1
        elif c.abandoned_at is not None:
            wait = c.abandoned_at - c.entry
            if wait < short:
                short_ab += 1
                continue
            abandoned += 1
            ringing += c.during_offer
            ab_t += wait <= targets.get(c.queue, default)
            waited += c.offered_at is None or c.offered_at - c.entry > NO_WAIT_S
            longest = max(longest, wait)
        else:
            waiting += 1
    decided = answered + abandoned
    return CallKpis(
        offered=decided + short_ab + left + waiting,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short_ab,
        left=left,
        waiting=waiting,
        answered_within_target=a_t,
        abandoned_within_target=ab_t,
        service_level=policy.service_level(a_t, answered, ab_t, abandoned),
        asa=_ratio(wait_sum, answered),
        p_wait=_ratio(waited, decided),
        abandon_rate=_ratio(abandoned, decided),
        aht=_ratio(talk_sum + hold_sum + wrap_sum, handled),
        avg_talk=_ratio(talk_sum, handled),
        avg_hold=_ratio(hold_sum, handled),
        avg_wrap=_ratio(wrap_sum, handled),
        longest_wait=longest,
        abandoned_ringing=ringing,
        exits=exits,
    )


def callback_kpis(outcomes: Iterable[CallOutcome]) -> CallbackKpis:
    requested = attempts = connected = completed = failed = 0
    for c in outcomes:
        if c.channel != CALLBACK:
            requested += c.left_as == Outcome.CALLBACK_REQUESTED
            continue
        attempts += 1
        connected += c.answered_at is not None
        completed += c.settled == Outcome.CALLBACK_COMPLETED
        failed += c.settled == Outcome.CALLBACK_FAILED or c.left_as == Outcome.CALLBACK_FAILED
    return CallbackKpis(requested, attempts, connected, completed, failed)


class _AgentClock:
    __slots__ = ("since", "state", "times")

    def __init__(self, state: str, since: float) -> None:
        self.state = state
        self.since = since
        #: seconds per state, plus RONA_KEY: the number of ring-no-answers
        self.times: dict[str, float] = {}


RONA_KEY = "#rona"


class KpiAccumulator:
    """Folds event records into KPIs; feed it a stored log or subscribe it to a live one."""

    def __init__(self, policy: SlPolicy = SlPolicy(), *, interval_s: float | None = None) -> None:
        self.policy = policy
        self.interval_s = interval_s
        self.calls: dict[str, CallOutcome] = {}
        self._agents: dict[str, _AgentClock] = {}
        self._buckets: dict[int, dict[str, dict[str, float]]] = {}
        self.start: float | None = None
        self.last: float = 0.0

    def add(self, record: EventRecord) -> None:
        at, e = record.at, record.event
        if self.start is None:
            self.start = at
        self.last = at
        if isinstance(e, AgentStateChanged):
            self._agent_state(e, at)
        elif isinstance(e, CallQueued):
            self.calls[e.call_id] = CallOutcome(
                e.call_id,
                e.queue,
                e.entry_time,
                e.call_type,
                channel=channel_of(e.call_id, e.channel),
            )
        elif isinstance(e, CallOffered):
            if (c := self.calls.get(e.call_id)) is not None and c.offered_at is None:
                c.offered_at = at
        elif isinstance(e, CallAnswered):
            if (c := self.calls.get(e.call_id)) is not None:
                c.answered_at, c.agent_id = at, e.agent_id
        elif isinstance(e, CallEnded):
            if (c := self.calls.get(e.call_id)) is not None and c.answered_at is not None:
                self._end_hold(c, at)
                c.ended_at = at
        elif isinstance(e, CallAbandoned):
            if (c := self.calls.get(e.call_id)) is not None:
                if e.by_caller:
                    c.abandoned_at, c.during_offer = at, e.during_offer
                else:
                    c.left_at, c.left_as = at, exit_outcome(e.reason, c.channel)
        elif isinstance(e, CallMoved):
            if (c := self.calls.get(e.call_id)) is not None:
                c.queue = e.queue
        elif isinstance(e, CallbackSettled):
            if (c := self.calls.get(e.call_id)) is not None and c.left_as is None:
                c.settled = e.outcome
        elif isinstance(e, CallHoldChanged) and (c := self.calls.get(e.call_id)) is not None:
            if e.on_hold:
                c.hold_since = at if c.hold_since is None else c.hold_since
            else:
                self._end_hold(c, at)

    def add_all(self, records: Iterable[EventRecord]) -> KpiAccumulator:
        for record in records:
            self.add(record)
        return self

    def report(self, end: float | None = None) -> KpiReport:
        end = self.last if end is None else end
        start = self.start if self.start is not None else end
        outcomes = list(self.calls.values())
        agent_rows = {a: self._open_times(a, end, start, end) for a in self._agents}
        return self._report(outcomes, agent_rows, start, end)

    def intervals(self, end: float | None = None) -> list[KpiReport]:
        """One report per interval (``interval_s`` must be set), oldest first."""
        if self.interval_s is None:
            raise ValueError("KpiAccumulator was made without interval_s")
        size = self.interval_s
        end = self.last if end is None else end
        by_bucket: dict[int, list[CallOutcome]] = {}
        for c in self.calls.values():
            by_bucket.setdefault(math.floor(c.entry / size), []).append(c)
        keys = sorted(set(by_bucket) | set(self._buckets))
        reports = []
        for k in keys:
            lo, hi = k * size, (k + 1) * size
            rows = {a: self._open_times(a, end, lo, hi, bucket=k) for a in self._agents}
            reports.append(self._report(by_bucket.get(k, []), rows, lo, min(hi, max(end, lo))))
        return reports

    def window(self, lo: float, hi: float, end: float | None = None) -> KpiReport:
        """The report of the calls that entered in [lo, hi) and of agent time in it (``lo``
        and ``hi`` on interval edges; ``interval_s`` must be set): today, the last interval.
        """
        if self.interval_s is None:
            raise ValueError("KpiAccumulator was made without interval_s")
        size = self.interval_s
        end = self.last if end is None else end
        first, stop = math.floor(lo / size), math.ceil(hi / size) if math.isfinite(hi) else None
        outcomes = [c for c in self.calls.values() if lo <= c.entry < hi]
        rows: dict[str, dict[str, float]] = {}
        for agent_id, agent in self._agents.items():
            row: dict[str, float] = {}
            for k, cells in self._buckets.items():
                if k >= first and (stop is None or k < stop):
                    for state, value in cells.get(agent_id, {}).items():
                        row[state] = row.get(state, 0.0) + value
            open_lo, open_hi = max(agent.since, lo), min(end, hi)
            if open_hi > open_lo:
                row[agent.state] = row.get(agent.state, 0.0) + open_hi - open_lo
            rows[agent_id] = row
        return self._report(outcomes, rows, lo, min(hi, max(end, lo)))

    def forget_before(self, at: float) -> None:
        """Drop calls that entered before ``at`` and are over, and interval cells that end
        by ``at`` (a long-running page keeps only today); overall agent time stays."""
        for call_id, c in list(self.calls.items()):
            over = c.ended_at is not None or c.abandoned_at is not None or c.left_at is not None
            if c.entry < at and over:
                del self.calls[call_id]
        if self.interval_s is not None:
            size = self.interval_s
            for k in [k for k in self._buckets if (k + 1) * size <= at]:
                del self._buckets[k]

    # internals -------------------------------------------------------------------------
    def _end_hold(self, c: CallOutcome, at: float) -> None:
        if c.hold_since is not None:
            c.hold_s += at - c.hold_since
            c.hold_since = None

    def _agent_state(self, e: AgentStateChanged, at: float) -> None:
        agent = self._agents.get(e.agent_id)
        if agent is None:
            agent = self._agents[e.agent_id] = _AgentClock(e.before, at)
        self._spend(e.agent_id, agent, agent.state, agent.since, at)
        if agent.state == "wrap_up" and e.call_id is not None:
            call = self.calls.get(e.call_id)
            if call is not None:
                call.wrap_s += at - agent.since
        if e.event == "ring_no_answer":
            self._count(e.agent_id, agent, RONA_KEY, at)
        agent.state, agent.since = e.after, at

    def _count(self, agent_id: str, agent: _AgentClock, key: str, at: float) -> None:
        agent.times[key] = agent.times.get(key, 0.0) + 1
        if self.interval_s is not None:
            row = self._buckets.setdefault(math.floor(at / self.interval_s), {})
            cell = row.setdefault(agent_id, {})
            cell[key] = cell.get(key, 0.0) + 1

    def _spend(self, agent_id: str, agent: _AgentClock, state: str, lo: float, hi: float) -> None:
        if hi <= lo:
            return
        agent.times[state] = agent.times.get(state, 0.0) + hi - lo
        size = self.interval_s
        if size is None:
            return
        k = math.floor(lo / size)
        while lo < hi:
            edge = min(hi, (k + 1) * size)
            row = self._buckets.setdefault(k, {}).setdefault(agent_id, {})
            row[state] = row.get(state, 0.0) + edge - lo
            lo, k = edge, k + 1

    def _open_times(
        self, agent_id: str, end: float, lo: float, hi: float, bucket: int | None = None
    ) -> dict[str, float]:
        """Closed state time (overall or of one bucket) plus the open stretch up to end."""
        agent = self._agents[agent_id]
        times = dict(
            agent.times if bucket is None else self._buckets.get(bucket, {}).get(agent_id, {})
        )
        open_lo, open_hi = max(agent.since, lo), min(end, hi)
        if open_hi > open_lo:
            times[agent.state] = times.get(agent.state, 0.0) + open_hi - open_lo
        return times

    def _report(
        self,
        outcomes: list[CallOutcome],
        agent_rows: Mapping[str, Mapping[str, float]],
        start: float,
        end: float,
    ) -> KpiReport:
        by_queue: dict[str, list[CallOutcome]] = {}
        by_channel: dict[str, list[CallOutcome]] = {}
        for c in outcomes:
            by_channel.setdefault(c.channel, []).append(c)
            if c.channel == VOICE:
                by_queue.setdefault(c.queue, []).append(c)
        busy = sum(row.get(s, 0.0) for row in agent_rows.values() for s in BUSY_STATES)
        idle = sum(row.get("available", 0.0) for row in agent_rows.values())
        handled: dict[str, list[CallOutcome]] = {}
        for c in outcomes:
            if c.agent_id is not None and c.ended_at is not None:
                handled.setdefault(c.agent_id, []).append(c)
        agents = []
        for agent_id, row in sorted(agent_rows.items()):
            mine = handled.get(agent_id, [])
            talk = sum((c.ended_at or 0.0) - (c.answered_at or 0.0) - c.hold_s for c in mine)
            a_busy = sum(row.get(s, 0.0) for s in BUSY_STATES)
            agents.append(
                AgentKpi(
                    agent_id,
                    len(mine),
                    talk,
                    sum(c.hold_s for c in mine),
                    row.get("wrap_up", 0.0),
                    row.get("paused", 0.0),
                    row.get("available", 0.0),
                    sum(v for s, v in row.items() if s not in ("logged_out", RONA_KEY)),
                    int(row.get(RONA_KEY, 0)),
                    _ratio(a_busy, a_busy + row.get("available", 0.0)),
                )
            )
        return KpiReport(
            start=start,
            end=end,
            calls=call_kpis(by_channel.get(VOICE, []), self.policy),
            occupancy=_ratio(busy, busy + idle),
            by_queue={q: call_kpis(cs, self.policy) for q, cs in sorted(by_queue.items())},
            agents=tuple(agents),
            by_channel={ch: call_kpis(cs, self.policy) for ch, cs in sorted(by_channel.items())},
            callbacks=callback_kpis(outcomes),
        )


def compute_kpis(
    records: Iterable[EventRecord], policy: SlPolicy = SlPolicy(), *, end: float | None = None
) -> KpiReport:
    return KpiAccumulator(policy).add_all(records).report(end)
