"""``hotline.yaml``'s ``reports:``: the daily report by e-mail.

``daily``: at ``time`` (HH:MM) in ``timezone`` (an IANA name; default the machine's) the
previous day's report (by queue: every queue, or those of ``queues``) goes to
``recipients`` through ``email.relay``, From ``email.from_address``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

__all__ = ["DailyReportSettings", "ReportsSettings", "zone"]

_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>@,;]+\.[^\s<>@,;]+")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _clock_time(value: str) -> str:
    if not _TIME.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day HH:MM")
    return value


def _timezone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"{value!r} is not a time zone (Europe/Paris, Asia/Riyadh...)"
            ) from error
    return value


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    for address in value:
        if not _ADDRESS.fullmatch(address):
            raise ValueError(f"{address!r} is not an e-mail address")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: object) -> object:
        return {} if data is None else data


class DailyReportSettings(_Section):
    enabled: bool = False
    time: Annotated[str, AfterValidator(_clock_time)] = "07:00"
    timezone: Annotated[str | None, AfterValidator(_timezone)] = None
    recipients: Annotated[tuple[str, ...], AfterValidator(_addresses)] = ()
    #: the queues the report lists (all of them when empty); the centre's row is always there
    queues: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _someone(self) -> DailyReportSettings:
        if self.enabled and not self.recipients:
            raise ValueError("the daily report is enabled but has no recipients")
        return self

    @property
    def at(self) -> dt.time:
        hour, minute = self.time.split(":")
        return dt.time(int(hour), int(minute))


def zone(settings: DailyReportSettings) -> dt.tzinfo | None:
    """The report's time zone (None: the machine's)."""
    return None if settings.timezone is None else ZoneInfo(settings.timezone)


class ReportsSettings(_Section):
    daily: DailyReportSettings = DailyReportSettings()
