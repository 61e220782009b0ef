"""Call recording policy (``hotline.yaml`` ``recording:``), decided without I/O: is this call
recorded, what is the caller told first, which key opts out, how long is it kept.

```yaml
recording:
  mode: record                 # off | record: the default for every queue and intent
  directory: /var/spool/asterisk/hotline-call-recordings   # as Asterisk writes it
  format: wav
  retention_days: 90           # then the daily purge deletes file and reference
  consent:
    prompt: recording-consent  # "this call may be recorded; press 9 if you do not agree"
    opt_out_key: "9"           # pressed during the announcement (or wait_s after): not recorded
    wait_s: 2
  queues:  {billing: {retention_days: 30}}                  # a queue's own rules
  intents: {complaint: {mode: record}, card_payment: {mode: off}}   # an intent's, first
```

A rule is looked up field by field: the call's **intent** rule, then its **queue** rule, then
the defaults; so ``intents: {card_payment: {mode: off}}`` keeps card payments out of every
queue's recordings. Only inbound calls that reach the ACD through the gateway are recorded
(a callback's customer leg is not: they were never asked for consent).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from acd.build import AcdConfigIssue

__all__ = [
    "RECORDING_FILE",
    "ConsentSettings",
    "RecordingDecision",
    "RecordingRule",
    "RecordingSettings",
    "check_recording_config",
    "decide",
    "expires_at",
    "opted_out",
]

RECORDING_FILE: Final = "hotline.yaml"


def _yaml_off(value: object) -> object:
    """YAML reads a bare ``off`` as false (and ``on``/``yes`` as true)."""
    if isinstance(value, bool):
        return "record" if value else "off"
    return value


Mode = Annotated[Literal["off", "record"], BeforeValidator(_yaml_off)]
#: What MixMonitor can be given as a file name: no argument or substitution syntax.
_SAFE_DIRECTORY = re.compile(r"^/[A-Za-z0-9_./+-]*$")
_PROMPT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
Days = Annotated[float, Field(gt=0, le=36500)]


def _directory(value: Path) -> Path:
    text = str(value)
    if not value.is_absolute():
        raise ValueError("an absolute path (where Asterisk writes the recordings)")
    if not _SAFE_DIRECTORY.fullmatch(text) or ".." in value.parts:
        raise ValueError(
            "letters, digits and _./+- only, no '..' (it is part of MixMonitor's argument)"
        )
    return value


def _prompt(value: str) -> str:
    if not _PROMPT.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a prompt name (prompts/<language>/<name>.wav)")
    return value


Prompt = Annotated[str, AfterValidator(_prompt)]
Digit = Annotated[str, Field(pattern=r"^[0-9*#]$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConsentSettings(_Frozen):
    """The announcement a caller hears before being queued, and the key that opts out."""

    #: ``prompts/<language>/<name>.wav``; null: no announcement (then no opt-out either).
    prompt: Prompt | None = "recording-consent"
    #: Pressed during the announcement or within ``wait_s`` after it: the call is not
    #: recorded, and the history says so. null: no way to opt out.
    opt_out_key: Digit | None = "9"
    wait_s: Annotated[float, Field(ge=0, le=10)] = 2.0

    @model_validator(mode="after")
    def _key_needs_a_prompt(self) -> ConsentSettings:
        if self.opt_out_key is not None and self.prompt is None:
            raise ValueError("opt_out_key needs the prompt it is pressed during (consent.prompt)")
        return self


class RecordingRule(_Frozen):
    """A queue's or an intent's own rules; what it leaves out comes from the next level."""

    mode: Mode | None = None
    consent: ConsentSettings | None = None
    retention_days: Days | None = None


class RecordingSettings(_Frozen):
    mode: Mode = "off"
    #: Where Asterisk's MixMonitor writes, as Asterisk sees it; hotline reads (to play),
    #: and deletes (retention, erasure) the same path: a shared directory or volume.
    directory: Annotated[Path, AfterValidator(_directory)] = Path(
        "/var/spool/asterisk/hotline-call-recordings"
    )
    format: Literal["wav"] = "wav"
    retention_days: Days = 90.0
    consent: ConsentSettings = ConsentSettings()
    queues: dict[str, RecordingRule] = {}
    intents: dict[str, RecordingRule] = {}


@dataclass(frozen=True, slots=True)
class RecordingDecision:
    """What the policy says of one call, and which rule said it (for the log)."""

    record: bool
    prompt: str | None
    opt_out_key: str | None
    wait_s: float
    retention_days: float
    rule: str

    @property
    def asks_consent(self) -> bool:
        return self.record and self.prompt is not None


def decide(
    settings: RecordingSettings,
    *,
    queue: str | None,
    intent: str | None,
    direction: str = "in",
) -> RecordingDecision:
    """The call's recording rules: the intent's, then the queue's, then the defaults."""
    rules = [
        (f"intent {intent}", settings.intents.get(intent) if intent else None),
        (f"queue {queue}", settings.queues.get(queue) if queue else None),
    ]
    mode: str = settings.mode
    consent, days, rule = settings.consent, settings.retention_days, "defaults"
    for name, found in reversed(rules):  # the queue's, then the intent's on top
        if found is None:
            continue
        if found.mode is not None:
            mode, rule = found.mode, name
        consent = found.consent or consent
        days = found.retention_days or days
    if direction != "in":
        mode, rule = "off", "outbound call"
    return RecordingDecision(
        record=mode == "record",
        prompt=consent.prompt,
        opt_out_key=consent.opt_out_key,
        wait_s=consent.wait_s,
        retention_days=days,
        rule=rule,
    )


def opted_out(decision: RecordingDecision, pressed: str) -> bool:
    """Did the caller press the opt-out key (any other key changes nothing)?"""
    return decision.opt_out_key is not None and pressed == decision.opt_out_key


def expires_at(started: dt.datetime, retention_days: float) -> dt.datetime:
    """When the retention period of a recording started at ``started`` ends."""
    return started + dt.timedelta(days=retention_days)


def check_recording_config(
    settings: RecordingSettings, queues: Mapping[str, object], intents: Iterable[str]
) -> list[AcdConfigIssue]:
    """Queue and intent names that must exist in queues.yaml and intents.yaml."""
    known_intents = set(intents)
    issues = [
        AcdConfigIssue(
            "error", RECORDING_FILE, f"recording.queues.{name}", "not a queue in queues.yaml"
        )
        for name in settings.queues
        if name not in queues
    ]
    issues += [
        AcdConfigIssue(
            "error", RECORDING_FILE, f"recording.intents.{name}", "not an intent in intents.yaml"
        )
        for name in settings.intents
        if name not in known_intents
    ]
    rules: list[tuple[str, RecordingSettings | RecordingRule]] = [("recording", settings)]
    unannounced = [
        where
        for where, rule in [*rules, *_named_rules(settings)]
        if rule.mode == "record" and rule.consent is not None and rule.consent.prompt is None
    ]
    issues += [
        AcdConfigIssue(
            "warning",
            RECORDING_FILE,
            f"{where}.consent.prompt",
            "calls are recorded without telling the caller (many jurisdictions require it)",
        )
        for where in unannounced
    ]
    return issues


def _named_rules(settings: RecordingSettings) -> list[tuple[str, RecordingRule]]:
    return [(f"recording.queues.{q}", r) for q, r in settings.queues.items()] + [
        (f"recording.intents.{i}", r) for i, r in settings.intents.items()
    ]
