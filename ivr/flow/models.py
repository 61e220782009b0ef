"""``ivr.yaml``: the IVR flow and what it needs (languages, prompts, hours, speech).

The flow is a set of named nodes, each one step (``ivr.flow.nodes``), starting at ``entry``.
Cross-references (targets, prompt files, intents, loops without input) are checked by
``ivr.flow.validation.check_flow``, registered with the file so that every problem is
reported with its line.

Relative paths: what the file names for hotline to read with its config (the prompts
directory, the catalog, Asterisk's sounds directory, the intents file) are relative to the
directory of ``ivr.yaml`` itself (``anchor_config_paths``), so a config directory works from
wherever the service starts; where the service keeps its working files (``speech.
recordings_dir``, shared with Asterisk) is relative to the directory the service runs in
(like the SQLite database path in hotline.yaml). Defaults and ``--set`` values are used as
given.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, model_validator

from ivr.flow.fields import WEEKDAYS, FrozenModel, NodeName, PromptName, Window
from ivr.flow.nodes import PlayStep, QueueStep, Step

__all__ = [
    "CONFIG_RELATIVE_PATHS",
    "BusinessHours",
    "Holiday",
    "IvrSettings",
    "PromptSettings",
    "SpeechTurnSettings",
    "anchor_config_paths",
]

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")
_DAYS = re.compile(r"(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?")


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language code such as 'en', 'ar' or 'pt_BR'")
    return value


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone such as 'Europe/London'") from None
    return value


def _days(value: str) -> str:
    if not _DAYS.fullmatch(value):
        raise ValueError(f"{value!r} is not a day (mon..sun) or a range such as 'sun-thu'")
    return value


def expand_days(spec: str) -> tuple[int, ...]:
    """``'sun-thu'`` -> (6, 0, 1, 2, 3) (Monday is 0; ranges wrap around the week)."""
    first, _, last = spec.partition("-")
    start = WEEKDAYS.index(first)
    end = WEEKDAYS.index(last) if last else start
    return tuple((start + i) % 7 for i in range((end - start) % 7 + 1))


Language = Annotated[str, AfterValidator(_language)]
DaySpec = Annotated[str, AfterValidator(_days)]


class Holiday(FrozenModel):
    date: dt.date  # YYYY-MM-DD, in the business hours' time zone
    name: str = ""


class BusinessHours(FrozenModel):
    """When the hotline is open, in ``timezone``. No hours at all means always open.

    Days are ``mon``..``sun`` or ranges (``sun-thu``); a window ending before it starts runs
    past midnight (``22:00-06:00``). Holidays close the whole day.
    """

    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    hours: dict[DaySpec, tuple[Window, ...]] = Field(default_factory=dict)
    holidays: tuple[Holiday, ...] = ()

    @model_validator(mode="after")
    def _each_day_once(self) -> BusinessHours:
        seen: dict[int, str] = {}
        for spec in self.hours:
            for day in expand_days(spec):
                if day in seen:
                    raise ValueError(f"{WEEKDAYS[day]} is in both {seen[day]!r} and {spec!r}")
                seen[day] = spec
        return self


class PromptSettings(FrozenModel):
    #: Where hotline keeps the prompts: ``<directory>/<language>/<name>.wav``.
    directory: Path = Path("prompts")
    #: The same directory as Asterisk sees it (absolute, or relative to Asterisk's sounds
    #: directory): hotline plays ``<asterisk_dir>/<language>/<name>``.
    asterisk_dir: Annotated[str, Field(min_length=1)] = "/var/lib/asterisk/sounds/hotline"
    #: Asterisk's own prompts, played by name in the channel's language (CHANNEL(language)).
    core: tuple[PromptName, ...] = ("hello-world", "beep")
    #: Asterisk's sounds directory, to check core prompts (skipped where it does not exist).
    core_sounds_dir: Path | None = Path("/usr/share/asterisk/sounds")
    #: The price/offer catalog (products, offers, their recorded messages).
    catalog: Path | None = None


class SpeechTurnSettings(FrozenModel):
    """How a spoken answer is recorded (``RECORD FILE``) and what ends it."""

    #: Where Asterisk writes the turn's audio and hotline reads it (the same path on both
    #: sides: one host or a shared volume). Files are deleted after recognition.
    recordings_dir: Path = Path("var/recordings")
    max_s: Annotated[float, Field(gt=0, le=60)] = 10.0
    #: Silence that ends an answer with ``endpoint: silence``, and the time a caller has
    #: to start answering with either.
    silence_s: Annotated[int, Field(ge=1, le=10)] = 2
    #: What ends an answer. ``silence``: RECORD FILE's own silence detection, in whole
    #: seconds of ``silence_s``, for which Asterisk reads the caller at 8 kHz. ``talk``:
    #: Asterisk's TALK_DETECT hears the caller stop for ``end_silence_ms`` and hotline ends
    #: the recording over AMI (telephony.talk_detection): sooner, and recorded at 16 kHz
    #: (``wav16``), so a wideband caller (G.722, Opus) keeps the upper band the recognisers
    #: need (bench/spoken_bench.py --rate 16000). Without AMI, ``silence``.
    endpoint: Literal["silence", "talk"] = "silence"
    end_silence_ms: Annotated[int, Field(ge=300, le=5000)] = 800
    beep: bool = True
    #: Callers may answer over the question: their voice stops the prompt and the recording
    #: starts at once (Asterisk's TALK_DETECT, heard over AMI). A key always stops it.
    barge_in: bool = True
    #: How loud a frame must be to count as the caller talking (Asterisk's DSP energy, as
    #: dsp.conf's ``silencethreshold``): raise it on lines where noise cuts prompts short.
    barge_in_energy: Annotated[int, Field(ge=1, le=32767)] = 256


def _default_nodes() -> dict[str, Step]:
    return {
        "welcome": PlayStep(type="play", prompt=("hello-world",), next="agents"),
        "agents": QueueStep(type="queue"),
    }


class IvrSettings(FrozenModel):
    """``ivr.yaml``. Without the file: greet with Asterisk's hello-world and queue the call."""

    #: The call's language until a menu choice or the customer's profile picks another.
    language: Language = "en"
    #: Every language the flow speaks: each prompt must exist in each (default: language).
    languages: tuple[Language, ...] = ()
    entry: NodeName = "welcome"
    nodes: Annotated[dict[NodeName, Step], Field(min_length=1)] = Field(
        default_factory=_default_nodes
    )
    business_hours: BusinessHours = BusinessHours()
    prompts: PromptSettings = PromptSettings()
    speech: SpeechTurnSettings = SpeechTurnSettings()
    #: The intents the classifier knows (names are checked against it when it exists).
    intents_file: Path | None = Path("config/intents.yaml")
    #: Steps one call may take before it is sent to the fallback (a runaway-loop guard).
    max_steps: Annotated[int, Field(ge=10, le=10_000)] = 200

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: object) -> object:
        """``prompts:`` with every child commented out is YAML null: all defaults."""
        if not isinstance(data, dict):
            return data
        sections = ("business_hours", "prompts", "speech")
        return {k: {} if v is None and k in sections else v for k, v in data.items()}

    @model_validator(mode="after")
    def _language_spoken(self) -> IvrSettings:
        if self.languages and self.language not in self.languages:
            raise ValueError(f"language {self.language!r} is not one of languages")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages lists a language twice")
        return self

    @property
    def all_languages(self) -> tuple[str, ...]:
        return self.languages or (self.language,)


#: Keys of ``ivr.yaml`` naming files read with the config: relative to the file's directory.
CONFIG_RELATIVE_PATHS: Final[tuple[tuple[str, ...], ...]] = (
    ("prompts", "directory"),
    ("prompts", "catalog"),
    ("prompts", "core_sounds_dir"),
    ("intents_file",),
)


def anchor_config_paths(data: MutableMapping[str, object], directory: Path) -> None:
    """Rewrites, in ``ivr.yaml``'s raw data, each relative path of ``CONFIG_RELATIVE_PATHS``
    written in the file as the same path under ``directory`` (the file's own directory).

    Anything that is not a non-empty relative path string is left to validation."""
    for keys in CONFIG_RELATIVE_PATHS:
        node: MutableMapping[str, object] = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, MutableMapping):
                break
            node = child
        else:
            value = node.get(keys[-1])
            if isinstance(value, str) and value and not Path(value).is_absolute():
                node[keys[-1]] = os.path.normpath(directory / value)
