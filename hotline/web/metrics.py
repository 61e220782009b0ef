"""``/metrics``: the ACD's live figures in Prometheus' text format (version 0.0.4).

For a scraper with a bearer token holding ``events:read`` (``hotline token create
prometheus --scope events:read``), or a signed-in supervisor or admin. Everything comes from
the supervisor hub's snapshot, so a scrape costs what one page update costs.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from hotline.web.auth.guard import AUTH
from hotline.web.auth.sessions import COOKIE
from hotline.web.auth.users import Role
from hotline.web.supervisor.hub import SupervisorHub
from hotline.web.tokens import Scope, TokenStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HUB = web.AppKey("hotline_metrics_hub", SupervisorHub)
TOKENS = web.AppKey("hotline_metrics_tokens", TokenStore)


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


def render(hub: SupervisorHub) -> str:
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
        "Agents in each state.",
        [(f"{{state={_label(s)}}}", n) for s, n in sorted(states.items())],
    )
    kpis = snapshot["kpis"]
    for name, key, help_ in (
        ("hotline_service_level_ratio", "service_level", "Share answered within target."),
        ("hotline_asa_seconds", "asa", "Average speed of answer."),
        ("hotline_aht_seconds", "aht", "Average handle time."),
        ("hotline_abandon_ratio", "abandon_rate", "Share of offered calls abandoned."),
    ):
        out.metric(name, "gauge", help_ + " Today, since local midnight.", [("", kpis[key])])
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
    return "\n".join(out.lines) + "\n"


async def metrics(request: web.Request) -> web.StreamResponse:
    if not await _allowed(request):
        raise web.HTTPUnauthorized(
            text="send a bearer token with events:read, or sign in as a supervisor",
            headers={"WWW-Authenticate": 'Bearer realm="hotline"'},
        )
    return web.Response(
        body=render(request.app[HUB]).encode(),
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


def add_routes(app: web.Application, hub: SupervisorHub, tokens: TokenStore | None) -> None:
    app[HUB] = hub
    if tokens is not None:
        app[TOKENS] = tokens
    app.router.add_get("/metrics", metrics)
