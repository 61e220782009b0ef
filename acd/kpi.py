"""Contact-center KPIs computed from the event log alone, for every channel.

A *task* is a contact of any channel the ACD routes (``acd.contacts``): an inbound call
(``voice``), a callback attempt (``callback``), a chat, an e-mail, a voicemail. Every
``Call*`` event is about a task and ``CallQueued.channel`` names its channel. Figures are
kept per queue and channel: ``calls`` and ``by_queue`` are the inbound calls' (``voice``),
``by_channel`` each channel's, and ``overall`` every channel's but ``callback`` (an attempt
follows up a call already counted, as its exit ``callback_requested``: counting both would
count the customer twice). Two folds give them, with the same definitions:
``acd.kpi_recount`` (keeps every task: reports, the simulator) and ``acd.kpi_aggregate``
(running sums: the supervisor's pages and /metrics).

Waits are measured from the task's original entry time. A digital task is *answered* when
an agent accepts it (``CallAnswered``), so its wait includes its reservation (the digital
ring) as a call's includes its ringing.

* **Service level**: the share of tasks answered within the target of their queue and
  channel (inclusive; ``SlPolicy.target``: queues.yaml's per-queue ``channel_targets_s``,
  else ``service_level.channel_targets_s``, else the queue's ``sl_target_s``: an e-mail's
  target is hours where a call's is seconds). Abandons follow ``SlPolicy.abandons``:
  ``against`` (default) A_T / (A + Ab); ``ignore`` A_T / A; ``met_within_target``
  (A_T + Ab_T) / (A + Ab); ``exclude_within_target`` A_T / (A + Ab - Ab_T). *Short abandons*
  (gone in under ``short_abandon_s``, default 5 s: misdials, caller changed mind) are left
  out of every ratio; ``short_abandon_s = 0`` keeps them.
* **ASA**: mean wait of answered tasks (ringing or reservation included). **P(wait)**: share
  of answered + (non-short) abandoned tasks that were not offered to an agent the instant
  they arrived (Erlang C's C(N, A)).
* **Abandonment rate**: Ab / (A + Ab), short abandons excluded. A chat customer who leaves
  before an agent accepts abandons as a caller who hangs up does (``gave_up``), during the
  reservation as during the ringing (``abandoned_ringing``).
* **Exits**: tasks the ACD routed out of the queue (a callback request, an overflow on
  maximum wait, a queue with no agent) are counted as ``left`` and kept out of service
  level and abandonment: the customer did not give up, the centre chose another path.
* **AHT** (handle time of a task): talk + hold + wrap-up, averaged over tasks that ended
  (wrap-up counted as it ends). A call's talk runs from answer to hang-up, hold apart; a
  digital task's from the agent's accept to their close (``CallEnded``), and its wrap-up is
  its ``AgentTaskChanged`` ``wrap_up`` phase (a call's: the voice seat's ``wrap_up``). Three
  chats handled side by side for 10 minutes are 3 x 10 minutes of handle time: what each
  customer's contact took.
* **Agent time per task** (``agent_time``): the agent's time each task took. While an agent
  handles n tasks at once (the call on their phone, from answer to the end of its wrap-up,
  hold included; digital tasks active or in wrap-up), each second is divided equally among
  the n; averaged over tasks that ended (shares in the wrap-up counted as they accrue).
  Three chats side by side for 10 minutes are 10 minutes of agent time, 3 min 20 s each.
  Summed over tasks it is the agents' handling time, so volume x agent time is the workload
  staffing needs, where volume x AHT would count an agent several times over. For calls
  (one at a time) both are the same, unless chats are held during a call
  (``Capacity.during_voice``). The pages show both: "AHT" (handle time) and "agent time".
* **Occupancy**: an agent is *occupied* while their phone rings, talks or wraps up
  (``offered``, ``on_call``, ``wrap_up``), or while they hold at least one digital task active
  or in wrap-up, their phone free or paused (``digital``; a task only reserved does not
  occupy them); *idle* while available with no task in hand. Occupancy = occupied /
  (occupied + idle), for each agent and the centre; paused and logged-out time with nothing
  in hand count in neither (``pause_s`` is pause with nothing in hand).
* **Utilisation of capacity** (digital channels, ``KpiReport.capacity``): per channel, the
  task-seconds of its tasks in agents' hands (active or wrap-up) over the slot-seconds the
  agents' capacity (agents.yaml: ``min(digital[channel], total)``) offered while they were
  staffed (logged in and not paused, or paused with tasks in hand); ``all``: every digital
  task over ``total``. Capacity is the config's: the log does not carry it, so a rebuild
  after a reload that changed an agent's capacity counts the new one for the whole day.
* **Backlog** (``backlog``, ``oldest_age_s``): tasks waiting at the report's end (queued,
  not yet answered nor gone; a reserved one still waits), in the queue they wait in then,
  and the age of the oldest of them from its entry time; at the time of the report, or for
  a closed interval at its end edge (just before it). A task counts as waiting until it is
  first answered (one taken back at a logout is not counted again).
* **FCR** is the history's (``history.repository.HistoryRepository.fcr_rate``): a resolved
  contact with no inbound contact of the same customer on any channel within the window,
  per channel of that first contact.

Tasks belong to the interval of their entry time; agent time is split at interval edges.
A task a supervisor moved to another queue (``CallMoved``) belongs to the queue where it
ends: it is offered, answered or abandoned there, once, and never in the queue it left; its
wait still runs from its original entry time. A supervisor's priority bump changes nothing
here. Callbacks are contacts of their own (``acd.contacts``): a caller who asks for one
leaves the queue as an exit (``callback_requested``); each attempt the dialler queues is a
contact on the ``callback`` channel, never an offered inbound call (``callbacks``). Exits
are named by ``history.outcomes.Outcome`` (``callback_requested``, ``overflowed``,
``callback_failed``, ``failed``); abandons while an agent's phone rang
(``abandoned_ringing``) are a part of ``abandoned``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from acd.contacts import CALLBACK, TRANSFER, VOICE, VOICE_SEAT
from acd.events import CallAbandoned, CallQueued
from history.outcomes import Outcome

__all__ = [
    "ALL_CHANNELS",
    "BUSY_STATES",
    "DIGITAL_WORK",
    "AbandonTreatment",
    "AgentKpi",
    "CallKpis",
    "CallOutcome",
    "CallbackKpis",
    "CapacityUse",
    "KpiReport",
    "SlPolicy",
    "call_kpis",
    "callback_kpis",
    "counted_from",
    "gave_up",
    "overall_channels",
]

#: An agent's activity while their phone is free or paused and they hold at least one
#: digital task active or in wrap-up (``acd.kpi_work``).
DIGITAL_WORK = "digital"
#: The activities in which an agent is occupied (the voice seat's busy states, and digital
#: work).
BUSY_STATES = ("offered", "on_call", "wrap_up", DIGITAL_WORK)
#: The key of the figures of every channel together (``overall``, ``capacity``): no
#: channel may be named so (``acd.policy``).
ALL_CHANNELS = "all"
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
    #: Per-channel targets in every queue (a channel not listed uses the queue's).
    channel_targets: Mapping[str, float] = field(default_factory=dict)
    #: A queue's own target for a channel: (queue, channel) -> seconds.
    queue_channel_targets: Mapping[tuple[str, str], float] = field(default_factory=dict)

    def target(self, queue: str, channel: str = VOICE) -> float:
        """The service-level target of a task of ``channel`` in ``queue``: the queue's own
        for the channel, else the channel's, else the queue's, else ``target_s``."""
        found = self.queue_channel_targets.get((queue, channel))
        if found is None:
            found = self.channel_targets.get(channel)
            if found is None:
                return self.queue_targets.get(queue, self.target_s)
        return found

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
    """What the log says happened to one task (a call, a chat, an e-mail...)."""

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
    #: ``voice``, ``callback``, ``chat``, ``email``... (``acd.contacts.channel_of``).
    channel: str = VOICE
    #: A callback attempt's ``CallbackSettled`` outcome.
    settled: str | None = None
    hold_s: float = 0.0
    hold_since: float | None = None
    wrap_s: float = 0.0
    #: When it was first queued (its entry time may be earlier: a callback keeps its place).
    queued_at: float | None = None
    #: The agent's time it took: its share of their time while they handled it (``acd.kpi``).
    agent_s: float = 0.0


@dataclass(frozen=True, slots=True)
class CallKpis:
    """The figures of the tasks of a queue, a channel or both, over a span."""

    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    #: Tasks the ACD sent elsewhere (callback, overflow, empty queue): outside the ratios.
    left: int
    #: Of ``offered``: still waiting or with an agent unanswered (entered in the span).
    waiting: int
    answered_within_target: int
    abandoned_within_target: int
    service_level: float | None
    asa: float | None
    p_wait: float | None
    abandon_rate: float | None
    #: Handle time of a task: talk + hold + wrap-up.
    aht: float | None
    avg_talk: float | None
    avg_hold: float | None
    avg_wrap: float | None
    longest_wait: float
    #: Of ``abandoned``: while an agent's phone rang.
    abandoned_ringing: int = 0
    #: ``left`` by the outcome its exit names.
    exits: Mapping[str, int] = field(default_factory=dict)
    #: Agent time per task: the agent's time divided among the tasks they held at once.
    agent_time: float | None = None
    #: Tasks waiting at the report's end (whenever they entered), and the oldest one's age.
    backlog: int = 0
    oldest_age_s: float | None = None


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
class CapacityUse:
    """A digital channel's use of the agents' capacity over a span (``acd.kpi``)."""

    #: Task-seconds of its tasks in agents' hands (active or wrap-up).
    used_s: float
    #: Slot-seconds the agents' capacity offered while they were staffed.
    slots_s: float

    @property
    def utilisation(self) -> float | None:
        return self.used_s / self.slots_s if self.slots_s else None


@dataclass(frozen=True, slots=True)
class AgentKpi:
    agent_id: str
    #: Tasks of every channel they handled that ended.
    calls: int
    talk_s: float
    hold_s: float
    wrap_s: float
    #: Paused with nothing in hand.
    pause_s: float
    #: Available with nothing in hand (idle).
    available_s: float
    staffed_s: float
    rona: int
    occupancy: float | None
    #: Digital work with the phone free or paused (``DIGITAL_WORK``).
    digital_s: float = 0.0


@dataclass(frozen=True, slots=True)
class KpiReport:
    start: float
    end: float
    calls: CallKpis
    occupancy: float | None
    by_queue: Mapping[str, CallKpis] = field(default_factory=dict)
    agents: tuple[AgentKpi, ...] = ()
    #: Every contact by channel (``voice``: inbound calls; ``callback``: attempts; ...).
    by_channel: Mapping[str, CallKpis] = field(default_factory=dict)
    callbacks: CallbackKpis = CallbackKpis()
    #: Every channel's tasks but callback attempts and transfers (``overall_channels``).
    overall: CallKpis = field(default_factory=lambda: call_kpis((), SlPolicy()))
    #: Digital channels' use of capacity, and ``ALL_CHANNELS``'s (over ``total``).
    capacity: Mapping[str, CapacityUse] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def gave_up(abandon: CallAbandoned, channel: str) -> bool:
    """Did the customer leave the queue (an abandon), or did the ACD send the task elsewhere
    (an exit)? A digital task leaves its queue only by its customer (who closed the chat...),
    whatever the reason says; a call as ``CallAbandoned.by_caller`` says."""
    return abandon.by_caller or channel not in VOICE_SEAT


def overall_channels(channel: str) -> bool:
    """Is a task of ``channel`` one of ``overall``'s? (Not a callback attempt nor a
    transferred call's segment: their customer was counted where they first queued.)"""
    return channel not in (CALLBACK, TRANSFER)


def counted_from(queued: CallQueued, channel: str, at: float) -> float:
    """When a task's wait starts for the figures: its original entry time (a callback
    keeps the caller's), except a transferred call's segment, which waits from its
    transfer (``at``, when it was queued): the caller's first wait and talk are counted
    in the segment before it."""
    return at if channel == TRANSFER else queued.entry_time


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def call_kpis(outcomes: Iterable[CallOutcome], policy: SlPolicy) -> CallKpis:
    """The figures of ``outcomes`` (their backlog aside: ``acd.kpi_recount``)."""
    answered = abandoned = short_ab = left = waiting = a_t = ab_t = waited = handled = 0
    ringing = 0
    exits: dict[str, int] = {}
    wait_sum = talk_sum = hold_sum = wrap_sum = agent_sum = longest = 0.0
    short = policy.short_abandon_s
    for c in outcomes:
        if c.answered_at is not None:
            wait = c.answered_at - c.entry
            answered += 1
            wait_sum += wait
            a_t += wait <= policy.target(c.queue, c.channel)
            queued = (c.answered_at if c.offered_at is None else c.offered_at) - c.entry
            waited += queued > NO_WAIT_S
            longest = max(longest, wait)
            if c.ended_at is not None:
                handled += 1
                talk_sum += c.ended_at - c.answered_at - c.hold_s
                hold_sum += c.hold_s
                wrap_sum += c.wrap_s
                agent_sum += c.agent_s
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
            ab_t += wait <= policy.target(c.queue, c.channel)
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
        agent_time=_ratio(agent_sum, handled),
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
