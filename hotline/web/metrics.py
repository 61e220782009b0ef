"""``/metrics``: the ACD's live figures in Prometheus' text format (version 0.0.4).

For a scraper with a bearer token holding ``events:read`` (``hotline token create
prometheus --scope events:read``), or a signed-in supervisor or admin. Everything comes from
the supervisor hub's snapshot, so a scrape costs what one page update costs, and the
figures are the page's: today's contacts per queue and channel by outcome
(``history.outcomes`` names), the callbacks, the rolling windows; per channel (label
``channel``, ``all`` for every channel but callback attempts together) service level, ASA,
handle time and agent time per task, abandonment, the backlog now and its oldest task, the
use of digital capacity and FCR; the occupancy (digital work included); and
``hotline_kpi_stale`` (1 while today's figures hold only this run's events: the event log
is being read, or could not be). ``acd.kpi`` defines every figure. A node of a shared ACD
(``cluster:``) adds its ``hotline_cluster_*`` figures (``center.acd_cluster_figures``), its
conversation relay's among them (``hotline_cluster_relay_notices_*``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from acd.kpi import ALL_CHANNELS
from center.acd_cluster_figures import ClusterFigures
from hotline.web.auth.guard import AUTH
from hotline.web.auth.sessions import COOKIE
from hotline.web.auth.users import Role
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.tokens import Scope, TokenStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HUB = web.AppKey("hotline_metrics_hub", SupervisorHub)
TOKENS = web.AppKey("hotline_metrics_tokens", TokenStore)
#: A node of a shared ACD: its figures now.
CLUSTER: web.AppKey[Callable[[], ClusterFigures]] = web.AppKey("hotline_metrics_cluster")


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return f'"{text}"'


def _number(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_: str, samples: list[tuple[str, Any]]) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{labels} {_number(value)}")


def render(hub: SupervisorHub, cluster: ClusterFigures | None = None) -> str:
    snapshot = hub.snapshot()
    out = _Text()
    out.metric(
        "hotline_calls_waiting",
        "gauge",
        "Calls waiting in each queue (ringing an agent included).",
        [(f"{{queue={_label(q['name'])}}}", len(q["calls"])) for q in snapshot["queues"]],
    )
    out.metric(
        "hotline_longest_wait_seconds",
        "gauge",
        "The longest current wait in each queue.",
        [(f"{{queue={_label(q['name'])}}}", q["longest_wait_s"]) for q in snapshot["queues"]],
    )
    states: dict[str, int] = {}
    for agent in snapshot["agents"]:
        states[agent["state"]] = states.get(agent["state"], 0) + 1
    out.metric(
        "hotline_agents",
        "gauge",
        "Agents in each state of their voice seat.",
        [(f"{{state={_label(s)}}}", n) for s, n in sorted(states.items())],
    )
    _agents_work(out, snapshot["agents"])
    kpis = snapshot["kpis"]
    for name, key, help_ in (
        ("hotline_service_level_ratio", "service_level", "Share answered within target."),
        ("hotline_asa_seconds", "asa", "Average speed of answer."),
        ("hotline_aht_seconds", "aht", "Average handle time."),
        ("hotline_abandon_ratio", "abandon_rate", "Share of offered calls abandoned."),
    ):
        out.metric(name, "gauge", help_ + " Today, since local midnight.", [("", kpis[key])])
    _contacts(out, snapshot)
    _thresholds(out, snapshot)
    _channels(out, snapshot)
    counts = hub.event_counts
    for name, kind, help_ in (
        ("hotline_routing_decisions_total", "CallOffered", "Offers of a call to an agent."),
        ("hotline_calls_queued_total", "CallQueued", "Calls that joined a queue."),
        ("hotline_calls_abandoned_total", "CallAbandoned", "Calls that left while waiting."),
        ("hotline_acd_errors_total", "EventRejected", "Events the ACD core refused."),
    ):
        out.metric(name, "counter", help_, [("", counts.get(kind, 0))])
    out.metric(
        "hotline_web_live_pages",
        "gauge",
        "Pages connected to the live feed.",
        [("", hub.clients)],
    )
    out.metric(
        "hotline_web_live_pages_dropped_total",
        "counter",
        "Pages dropped for not keeping up.",
        [("", hub.dropped_clients)],
    )
    if cluster is not None:
        _cluster(out, cluster)
    return "\n".join(out.lines) + "\n"


def _cluster(out: _Text, f: ClusterFigures) -> None:
    """This node of the shared ACD: the readiness probe's state, counted."""
    out.metric(
        "hotline_cluster_node_info",
        "gauge",
        "This node of the shared ACD, and the leader its copy names (1).",
        [(_labels(node=f.node, leader=f.leader or ""), 1)],
    )
    for name, kind, help_, value in (
        ("leader", "gauge", "1 while this node leads the shared ACD.", int(f.leads)),
        ("leader_epoch", "gauge", "The leader's epoch as this node's copy has it.", f.epoch),
        ("joined", "gauge", "1 once this node's copy is joined (a snapshot read).", int(f.joined)),
        ("log_reachable", "gauge", "1 while this node reads the log.", int(f.reachable)),
        ("nodes_alive", "gauge", "Nodes whose heartbeat is alive (last look).", f.nodes_alive),
        (
            "log_position_seconds",
            "gauge",
            "The log's time of the last record this node's copy includes.",
            f.position_s,
        ),
        (
            "log_lag_seconds",
            "gauge",
            "How far this node's copy is behind the log's end, in the log's time.",
            f.lag_s,
        ),
        ("changes_applied_total", "counter", "Changes this node's copy applied.", f.applied),
        ("records_refused_total", "counter", "Log records with a wrong signature.", f.refused),
        ("records_skipped_total", "counter", "Log records malformed, skipped.", f.skipped),
        ("changes_waiting", "gauge", "This node's changes waiting to be appended.", f.waiting),
        ("snapshots_written_total", "counter", "Snapshots this node wrote.", f.snapshots),
        ("snapshot_bytes", "gauge", "The size of the last snapshot written.", f.snapshot_bytes),
        (
            "snapshot_write_seconds",
            "gauge",
            "How long the last snapshot took to write.",
            f.snapshot_write_s,
        ),
    ):
        out.metric(f"hotline_cluster_{name}", kind, help_, [("", value)])
    relay = f.relay
    if relay is None:
        return
    for name, kind, help_, value in (
        ("sent_total", "counter", "Notices published to the other nodes.", relay.sent),
        ("heard_total", "counter", "Notices heard from the other nodes.", relay.heard),
        ("refused_total", "counter", "Notices with a wrong signature.", relay.refused),
        (
            "dropped_total",
            "counter",
            "Notices dropped, the outbox full while Redis could not be reached.",
            relay.dropped,
        ),
        ("waiting", "gauge", "Notices waiting in the outbox.", relay.waiting),
    ):
        out.metric(f"hotline_cluster_relay_notices_{name}", kind, help_, [("", value)])


def _agents_work(out: _Text, agents: list[dict[str, Any]]) -> None:
    """What agents do now as occupancy counts it, and the chats and e-mails in their hands:
    the supervisor's agents table, counted."""
    activities: dict[str, int] = {}
    tasks: dict[str, int] = {}
    for agent in agents:
        activities[agent["activity"]] = activities.get(agent["activity"], 0) + 1
        for channel, n in agent["tasks"].items():
            tasks[channel] = tasks.get(channel, 0) + n
    out.metric(
        "hotline_agents_by_activity",
        "gauge",
        "Agents by what their time counts as in the occupancy (digital: a chat or e-mail in"
        " hand while the phone is free or paused).",
        [(_labels(activity=a), n) for a, n in sorted(activities.items())],
    )
    out.metric(
        "hotline_agent_tasks",
        "gauge",
        "Digital tasks in agents' hands now (accepted, or in their wrap-up), per channel.",
        [(_labels(channel=ch), n) for ch, n in sorted(tasks.items())],
    )
    out.metric(
        "hotline_agents_full",
        "gauge",
        "Agents ready but offered nothing more: at their capacity, or their phone busy.",
        [("", sum(1 for agent in agents if agent["busy"]))],
    )


def _contacts(out: _Text, snapshot: dict[str, Any]) -> None:
    contacts = snapshot["contacts"]
    out.metric(
        "hotline_contacts_offered_today",
        "gauge",
        "Contacts offered to each queue today, by channel (voice: inbound; callback: attempts).",
        [(_labels(queue=c["queue"], channel=c["channel"]), c["offered"]) for c in contacts],
    )
    ended = []
    for c in contacts:
        by_outcome = {
            "answered": c["answered"],
            "abandoned_queue": c["abandoned"] - c["abandoned_ringing"],
            "abandoned_ringing": c["abandoned_ringing"],
            "abandoned_short": c["short_abandoned"],
            **c["exits"],
        }
        ended += [
            (_labels(queue=c["queue"], channel=c["channel"], outcome=o), n)
            for o, n in by_outcome.items()
        ]
    out.metric(
        "hotline_contacts_today",
        "gauge",
        "Contacts of each queue and channel today, by outcome (answered, abandoned, exits).",
        ended,
    )
    out.metric(
        "hotline_callbacks_today",
        "gauge",
        "Callbacks today: requested by callers, attempts, connected, completed, failed.",
        [(_labels(result=k), v) for k, v in snapshot["callbacks"].items()],
    )
    rolling = snapshot["rolling"]
    out.metric(
        "hotline_rolling_service_level_ratio",
        "gauge",
        "Share answered within target over the last minutes (window).",
        [(_labels(window=f"{r['window_min']}m"), r["service_level"]) for r in rolling],
    )
    out.metric(
        "hotline_rolling_offered",
        "gauge",
        "Inbound calls offered over the last minutes (window).",
        [(_labels(window=f"{r['window_min']}m"), r["offered"]) for r in rolling],
    )
    out.metric(
        "hotline_kpi_stale",
        "gauge",
        "1 while today's figures hold only this run's events (event log not read yet).",
        [("", int(bool(snapshot["kpi_status"]["stale"])))],
    )


#: Today's figures per channel: (metric, the figure's key, help).
CHANNEL_FIGURES = (
    ("hotline_channel_offered_today", "offered", "Contacts offered today."),
    ("hotline_channel_answered_today", "answered", "Contacts answered today."),
    ("hotline_channel_abandoned_today", "abandoned", "Contacts abandoned today (not short)."),
    ("hotline_channel_service_level_ratio", "service_level", "Share answered within target."),
    ("hotline_channel_asa_seconds", "asa", "Average speed of answer."),
    ("hotline_channel_aht_seconds", "aht", "Handle time per contact (talk, hold, wrap-up)."),
    (
        "hotline_channel_agent_time_seconds",
        "agent_time",
        "Agent time per contact: agents' time divided among the contacts held at once.",
    ),
    ("hotline_channel_abandon_ratio", "abandon_rate", "Share of contacts abandoned."),
    ("hotline_channel_backlog", "backlog", "Contacts waiting now."),
    (
        "hotline_channel_backlog_oldest_seconds",
        "oldest_age_s",
        "Age of the oldest contact waiting now (NaN: none).",
    ),
)


def _channels(out: _Text, snapshot: dict[str, Any]) -> None:
    channels = snapshot["channels"]
    for name, key, help_ in CHANNEL_FIGURES:
        samples = [(_labels(channel=ch), k[key]) for ch, k in channels.items()]
        out.metric(name, "gauge", f"{help_} Today, per channel (all: every one).", samples)
    out.metric(
        "hotline_occupancy_ratio",
        "gauge",
        "Agents' time occupied (a call, or a chat or e-mail in hand) over occupied and idle."
        " Today.",
        [("", snapshot["occupancy"])],
    )
    out.metric(
        "hotline_capacity_utilisation_ratio",
        "gauge",
        "Digital tasks in agents' hands over the capacity staffed agents offered, per channel"
        " (all: over the total). Today.",
        [(_labels(channel=ch), u["utilisation"]) for ch, u in snapshot["capacity"].items()],
    )
    quality = snapshot.get("quality") or {}
    today = quality.get("today") or {}
    fcr = [(_labels(channel=ALL_CHANNELS), today["fcr_so_far"])] if today else []
    fcr += [
        (_labels(channel=ch), f["fcr_so_far"])
        for ch, f in (today.get("fcr_by_channel") or {}).items()
    ]
    out.metric(
        "hotline_fcr_ratio",
        "gauge",
        "First-contact resolution so far of today's contacts, per channel of the first contact"
        " (the history's; a repeat on any channel undoes it).",
        fcr,
    )


_LEVEL_RANK = {"ok": 0, "warn": 1, "crit": 2}


def _thresholds(out: _Text, snapshot: dict[str, Any]) -> None:
    """The supervisor page's threshold colours (``queues.yaml`` ``thresholds``), counted."""
    figures = [
        (q["name"], channel, metric, shown)
        for q in snapshot["queues"]
        for channel, metrics in sorted(q.get("thresholds", {}).items())
        for metric, shown in metrics.items()
    ]
    out.metric(
        "hotline_threshold_value",
        "gauge",
        "The figure each threshold watches (service level and abandonment: today; longest"
        " wait and waiting: now), per queue and channel.",
        [(_labels(queue=q, channel=ch, metric=m), f["value"]) for q, ch, m, f in figures],
    )
    out.metric(
        "hotline_threshold_breached",
        "gauge",
        "1 while a queue's figure is at or beyond a threshold level (warn, crit), as the"
        " supervisor page colours it.",
        [
            (
                _labels(queue=q, channel=ch, metric=m, level=level),
                int(_LEVEL_RANK[f["level"]] >= _LEVEL_RANK[level]),
            )
            for q, ch, m, f in figures
            for level in ("warn", "crit")
        ],
    )
    active = snapshot.get("thresholds", {}).get("active", [])
    out.metric(
        "hotline_threshold_alerts",
        "gauge",
        "Threshold alerts raised and not cleared, by level.",
        [
            (_labels(level=level), sum(1 for a in active if a["level"] == level))
            for level in ("warn", "crit")
        ],
    )


def _labels(**labels: object) -> str:
    return "{" + ",".join(f"{k}={_label(v)}" for k, v in labels.items()) + "}"


async def metrics(request: web.Request) -> web.StreamResponse:
    if not await _allowed(request):
        raise web.HTTPUnauthorized(
            text="send a bearer token with events:read, or sign in as a supervisor",
            headers={"WWW-Authenticate": 'Bearer realm="hotline"'},
        )
    cluster = request.app[CLUSTER]() if CLUSTER in request.app else None
    return web.Response(
        body=render(request.app[HUB], cluster).encode(),
        content_type=None,
        headers={"Content-Type": CONTENT_TYPE},
    )


async def _allowed(request: web.Request) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret and TOKENS in request.app:
        token = await request.app[TOKENS].authenticate(secret.strip())
        return token is not None and token.allows(Scope.EVENTS_READ)
    if AUTH in request.app:
        session = request.app[AUTH].sessions.get(request.cookies.get(COOKIE))
        return session is not None and session.user.role in (Role.SUPERVISOR, Role.ADMIN)
    return False


def add_routes(
    app: web.Application,
    hub: SupervisorHub,
    tokens: TokenStore | None,
    cluster: Callable[[], ClusterFigures] | None = None,
) -> None:
    app[HUB] = hub
    if cluster is not None:
        app[CLUSTER] = cluster
    if tokens is not None:
        app[TOKENS] = tokens
    app.router.add_get("/metrics", metrics)
