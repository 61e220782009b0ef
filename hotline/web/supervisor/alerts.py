"""Thresholds on the snapshot's queues, and the alerts they raise and clear.

``ThresholdWatch.apply`` reads each queue's figures per channel as the snapshot has them
(``by_channel``: waiting and the longest wait now, from the live view; ``channels``: today's
service level and abandonment, from the KPIs), gives each its level from ``queues.yaml``'s
thresholds (``acd.thresholds``), writes them into the queue (``thresholds``: channel ->
metric -> value, level and the band; ``level``: the queue's worst) and keeps the alerts: a
figure that crosses a level is raised with the time it did (``since``; ``level_since`` when
it went from warning to critical), and cleared (``cleared_at``) when it is back under. The
page, the wallboard and ``/metrics`` all read this one result, so they say the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from acd.contacts import VOICE
from acd.thresholds import METRICS, Level, Thresholds

log = logging.getLogger(__name__)

__all__ = ["KEEP_CLEARED", "ThresholdWatch"]

#: Cleared alerts the page still lists (newest first).
KEEP_CLEARED = 20
Key = tuple[str, str, str]  # queue, channel, metric


@dataclass(slots=True)
class _Alert:
    queue: str
    channel: str
    metric: str
    level: Level
    value: float | None
    limit: float | None
    since: float
    level_since: float
    cleared_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "channel": self.channel,
            "metric": self.metric,
            "level": self.level.value,
            "value": self.value,
            "limit": self.limit,
            "since": self.since,
            "level_since": self.level_since,
            "cleared_at": self.cleared_at,
        }


class ThresholdWatch:
    def __init__(self, table: Callable[[], Thresholds], *, keep_cleared: int = KEEP_CLEARED):
        self._table = table
        self._keep = keep_cleared
        self._active: dict[Key, _Alert] = {}
        self._cleared: list[_Alert] = []

    def apply(self, queues: Iterable[dict[str, Any]], wall: float) -> dict[str, Any]:
        """Levels into each queue; the alerts at ``wall`` (epoch seconds): ``active`` (worst
        and oldest first) and ``cleared`` (newest first)."""
        table = self._table()
        seen: set[Key] = set()
        for queue in queues:
            name = queue["name"]
            live = queue.get("by_channel") or {}
            today = queue.get("channels") or {}
            per_channel: dict[str, dict[str, Any]] = {}
            worst = Level.OK
            for channel in sorted({VOICE, *live, *today}):
                figures = _figures(live.get(channel) or {}, today.get(channel) or {})
                bands = table.bands(name, channel)
                shown: dict[str, Any] = {}
                for metric in METRICS:
                    value = figures[metric]
                    level = table.level(name, channel, metric, value)
                    band = bands[metric]
                    shown[metric] = {
                        "value": value,
                        "level": level.value,
                        "warn": band.warn,
                        "crit": band.crit,
                    }
                    if level is not Level.OK:
                        worst = max(worst, level, key=lambda lv: lv.rank)
                        key = (name, channel, metric)
                        seen.add(key)
                        limit = band.crit if level is Level.CRIT else band.warn
                        self._raise(key, level, value, limit, wall)
                per_channel[channel] = shown
            queue["thresholds"] = per_channel
            queue["level"] = worst.value
        for key in [k for k in self._active if k not in seen]:
            self._clear(key, wall)
        active = sorted(self._active.values(), key=lambda a: (-a.level.rank, a.since))
        return {
            "active": [a.to_json() for a in active],
            "cleared": [a.to_json() for a in self._cleared],
        }

    def _raise(
        self, key: Key, level: Level, value: float | None, limit: float | None, wall: float
    ) -> None:
        alert = self._active.get(key)
        if alert is None:
            queue, channel, metric = key
            alert = _Alert(queue, channel, metric, level, value, limit, wall, wall)
            self._active[key] = alert
            log.warning("threshold crossed: %s %s %s %s (%s)", queue, channel, metric, level, value)
        elif alert.level is not level:
            alert.level, alert.level_since = level, wall
        alert.value, alert.limit = value, limit

    def _clear(self, key: Key, wall: float) -> None:
        alert = self._active.pop(key)
        alert.cleared_at = wall
        self._cleared.insert(0, alert)
        del self._cleared[self._keep :]
        log.info("threshold cleared: %s %s %s", *key)


def _figures(live: dict[str, Any], today: dict[str, Any]) -> dict[str, float | None]:
    return {
        "service_level": today.get("service_level"),
        "longest_wait_s": live.get("longest_wait_s", 0.0),
        "abandon_rate": today.get("abandon_rate"),
        "waiting": live.get("waiting", 0),
    }
