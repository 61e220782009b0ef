"""Thresholds on a queue's live figures: when service level, the longest wait, abandonment or
the number waiting is worth a supervisor's look (``warn``) or action (``crit``).

``queues.yaml``'s ``thresholds:`` gives them for every queue, with ``channels:`` of their
own (an e-mail's longest wait is hours where a call's is a minute); a queue's own
``thresholds:`` come first. For a queue and channel, each metric's band is the first found
in: the queue's ``channels.<channel>``, the file's ``channels.<channel>``, the queue's own,
the file's, the built-in ``DEFAULT_BANDS``. An entry replaces the one below it as a whole:
``{}`` (no level) turns the metric off there.

Pure: the config models (validated with the rest of ``queues.yaml``) and ``Thresholds``,
which tells a figure's level. The supervisor's page, the wallboard and ``/metrics`` read the
same levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_BANDS",
    "LOWER_IS_WORSE",
    "METRICS",
    "Band",
    "BandConfig",
    "Level",
    "MetricThresholds",
    "Thresholds",
    "ThresholdsConfig",
]

#: The metrics thresholds apply to, in the order pages show them.
METRICS: Final = ("service_level", "longest_wait_s", "abandon_rate", "waiting")
#: Metrics where a lower figure is the worse one.
LOWER_IS_WORSE: Final = frozenset({"service_level"})
_RATIOS: Final = frozenset({"service_level", "abandon_rate"})
ChannelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    CRIT = "crit"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK: Final = {Level.OK: 0, Level.WARN: 1, Level.CRIT: 2}


@dataclass(frozen=True, slots=True)
class Band:
    """A metric's two levels (either may be None: that level is not watched)."""

    warn: float | None = None
    crit: float | None = None

    def level(self, value: float | None, *, lower_is_worse: bool) -> Level:
        """``value``'s level; a figure that does not exist yet (no call today) is ok."""
        if value is None:
            return Level.OK

        def beyond(limit: float | None) -> bool:
            if limit is None:
                return False
            return value <= limit if lower_is_worse else value >= limit

        if beyond(self.crit):
            return Level.CRIT
        if beyond(self.warn):
            return Level.WARN
        return Level.OK


#: What a deployment gets without a ``thresholds:`` section.
DEFAULT_BANDS: Final[Mapping[str, Band]] = MappingProxyType(
    {
        "service_level": Band(0.8, 0.7),
        "longest_wait_s": Band(60.0, 120.0),
        "abandon_rate": Band(0.05, 0.10),
        "waiting": Band(10.0, 20.0),
    }
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BandConfig(_Model):
    warn: Annotated[float, Field(ge=0)] | None = None
    crit: Annotated[float, Field(ge=0)] | None = None

    def band(self) -> Band:
        return Band(self.warn, self.crit)


class MetricThresholds(_Model):
    """A band per metric; a metric not given falls through to the next place."""

    service_level: BandConfig | None = None
    longest_wait_s: BandConfig | None = None
    abandon_rate: BandConfig | None = None
    waiting: BandConfig | None = None

    @model_validator(mode="after")
    def _levels_in_order(self) -> MetricThresholds:
        for metric in METRICS:
            band: BandConfig | None = getattr(self, metric)
            if band is None:
                continue
            for level in (band.warn, band.crit):
                if level is not None and metric in _RATIOS and level > 1:
                    raise ValueError(f"{metric}: a share between 0 and 1 (0.8 is 80%)")
            if band.warn is None or band.crit is None:
                continue
            if metric in LOWER_IS_WORSE and band.crit > band.warn:
                raise ValueError(f"{metric}: crit ({band.crit:g}) must not be above warn")
            if metric not in LOWER_IS_WORSE and band.crit < band.warn:
                raise ValueError(f"{metric}: crit ({band.crit:g}) must not be below warn")
        return self

    def bands(self) -> dict[str, Band]:
        out: dict[str, Band] = {}
        for metric in METRICS:
            band: BandConfig | None = getattr(self, metric)
            if band is not None:
                out[metric] = band.band()
        return out


class ThresholdsConfig(MetricThresholds):
    """``thresholds:`` of ``queues.yaml`` (every queue) or of one queue."""

    channels: dict[ChannelName, MetricThresholds] = {}

    @model_validator(mode="after")
    def _not_all(self) -> ThresholdsConfig:
        if "all" in self.channels:
            raise ValueError("channels: 'all' names every channel together")
        return self


@dataclass(frozen=True, slots=True)
class _Layer:
    general: Mapping[str, Band]
    channels: Mapping[str, Mapping[str, Band]]

    @staticmethod
    def of(config: ThresholdsConfig | None) -> _Layer:
        if config is None:
            return _Layer({}, {})
        return _Layer(config.bands(), {ch: m.bands() for ch, m in config.channels.items()})


class Thresholds:
    """Every queue's and channel's bands, resolved once per (queue, channel)."""

    def __init__(
        self,
        every_queue: ThresholdsConfig | None = None,
        queues: Mapping[str, ThresholdsConfig | None] | None = None,
    ) -> None:
        self._file = _Layer.of(every_queue)
        self._queues = {name: _Layer.of(c) for name, c in (queues or {}).items()}
        self._resolved: dict[tuple[str, str], Mapping[str, Band]] = {}

    def bands(self, queue: str, channel: str) -> Mapping[str, Band]:
        """Each metric's band for ``channel`` in ``queue`` (a metric turned off: no levels)."""
        key = (queue, channel)
        found = self._resolved.get(key)
        if found is None:
            own = self._queues.get(queue, _Layer({}, {}))
            layers = (
                own.channels.get(channel, {}),
                self._file.channels.get(channel, {}),
                own.general,
                self._file.general,
                DEFAULT_BANDS,
            )
            found = MappingProxyType(
                {m: next(layer[m] for layer in layers if m in layer) for m in METRICS}
            )
            self._resolved[key] = found
        return found

    def level(self, queue: str, channel: str, metric: str, value: float | None) -> Level:
        band = self.bands(queue, channel)[metric]
        return band.level(value, lower_is_worse=metric in LOWER_IS_WORSE)
