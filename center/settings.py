"""What a waiting caller hears and when they leave the line: ``waiting.yaml``.

The routing side of a queue (skills, priority, strategy) is ``queues.yaml``'s; this file is
the telephony side the live ACD adds: hold music, announcements, the callback key, the
maximum wait and where an overflowing or unservable call goes. ``defaults`` applies to every
queue; an entry under ``queues`` overrides only the keys it names.

Business hours are not here: the IVR flow checks them before it queues a call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from acd.build import AcdConfigIssue

__all__ = [
    "Announcements",
    "CallbackDialling",
    "Overflow",
    "Survey",
    "WaitingConfig",
    "WaitingPolicy",
    "WaitingPrompts",
    "check_consult_option",
    "check_waiting_config",
]

Seconds = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Digit = Annotated[str, Field(pattern=r"^[0-9*#]$")]
Prompt = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Overflow(_Model):
    """Where a call goes when it leaves the line without an agent."""

    #: queue: wait again in ``queue`` (priority keeps the original entry time);
    #: voicemail: record a message; callback: book a callback to the caller ID;
    #: fallback: Asterisk's own Queue() (the dialplan fallback); hangup: goodbye.
    action: Literal["queue", "voicemail", "callback", "fallback", "hangup"] = "fallback"
    queue: str | None = None
    #: Played first (e.g. "all our agents are busy; please leave a message").
    prompt: Prompt | None = None

    @model_validator(mode="after")
    def _queue_named(self) -> Overflow:
        if (self.action == "queue") != (self.queue is not None):
            raise ValueError("queue: give it with action 'queue', and only then")
        return self


class Announcements(_Model):
    #: Seconds after joining the queue of the first announcement (0: at once).
    first_after_s: Seconds = 30.0
    #: Seconds between announcements; null: only the first.
    every_s: Positive | None = 60.0
    position: bool = True
    expected_wait: bool = True


class WaitingPolicy(_Model):
    """One queue's waiting rules (``defaults`` merged with the queue's own keys)."""

    music_class: str = ""  # "": Asterisk's default class
    announce: Announcements = Announcements()
    #: The key that asks for a callback (keeps the caller's entry time); null: none.
    callback_digit: Digit | None = "1"
    #: Longest wait in this queue before ``on_max_wait``; null: no limit.
    max_wait_s: Positive | None = None
    on_max_wait: Overflow = Overflow()
    #: May a call join when no logged-in agent (paused counts) could ever serve it?
    join_empty: bool = False
    #: Does a waiting call leave when the last agent who could serve it logs out?
    leave_when_empty: bool = True
    on_empty: Overflow = Overflow()
    #: Talk time assumed for the expected-wait estimate until calls have been measured.
    assumed_talk_s: Positive = 180.0
    #: Wrap-up assumed when agents.yaml says wrap-up lasts until the agent is done.
    assumed_wrap_s: Seconds = 30.0


class WaitingPrompts(_Model):
    """Prompt names (Asterisk core sounds by default; resolved per language by the app)."""

    first_in_line: Prompt = "queue-youarenext"
    there_are: Prompt = "queue-thereare"
    calls_waiting: Prompt = "queue-callswaiting"
    hold_time: Prompt = "queue-holdtime"
    less_than: Prompt = "queue-less-than"
    minute: Prompt = "queue-minute"
    minutes: Prompt = "queue-minutes"
    #: "Press 1 to be called back"; record it: Asterisk has no such core sound.
    callback_offer: Prompt | None = None
    callback_booked: Prompt = "auth-thankyou"
    callback_impossible: Prompt = "unidentified-no-callback"
    #: After the agent hung up first (the caller is still there); null: hang up at once.
    after_call: Prompt | None = "vm-goodbye"
    goodbye: Prompt = "vm-goodbye"


class Survey(_Model):
    """The satisfaction survey: after the conversation, when the agent hung up first (the
    caller is still in the session), "rate this call from 1 to 5"; the key is stored as the
    interaction's ``csat``. Another key, no key or a hang-up records nothing."""

    enabled: bool = False
    #: What the caller hears while the key is awaited. Asterisk has no such core sound:
    #: record one (``hotline prompts import ... --name rate-call``) and name it here.
    prompt: Prompt | None = None
    #: How long to wait for the key after the prompt.
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    #: Played after a valid score (then ``prompts.after_call``); null: nothing.
    thanks: Prompt | None = "auth-thankyou"

    @model_validator(mode="after")
    def _prompt_named(self) -> Survey:
        if self.enabled and self.prompt is None:
            raise ValueError("prompt: an enabled survey needs the prompt that asks for 1-5")
        return self


class CallbackDialling(_Model):
    """How booked callbacks are dialled back (``center.callbacks``): the agent's phone is
    rung first by AMI Originate into ``context``, whose dialplan dials the customer."""

    #: The dialplan context the agent's answered leg runs (docker/asterisk/extensions.conf).
    context: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "hotline-callback"
    #: Times the customer is dialled before the request is given up as failed.
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    #: After the customer did not answer or was busy: try again this much later.
    retry_after_s: Positive = 300.0
    #: What the customer's phone shows, e.g. '"Hotline" <+441632960000>'; "": the trunk's.
    caller_id: Annotated[str, Field(max_length=80, pattern=r'^[A-Za-z0-9 +"<>._-]*$')] = ""
    #: How long the agent's phone rings before the offer counts as no answer (RONA).
    agent_ring_timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    #: How long the customer's phone rings (passed to the dialplan's Dial).
    customer_ring_timeout_s: Annotated[int, Field(ge=5, le=300)] = 30


class WaitingConfig(_Model):
    #: Log every configured agent in (available) at start: the demo and tests; agents
    #: otherwise log in through the API.
    login_all_agents_at_start: bool = False
    #: The queue for calls the IVR did not assign one; null: the first queue in queues.yaml.
    default_queue: str | None = None
    #: Dial options for the offer: "g" keeps the caller in the session when the agent
    #: hangs up first, so they hear ``prompts.after_call``.
    dial_options: Annotated[str, Field(max_length=40, pattern=r"^[A-Za-z0-9()^_]*$")] = "g"
    #: Agents may consult a colleague, then complete, cancel or conference (``center.consult``:
    #: an attended transfer of the agent's leg), which needs Dial option ``t``; null: on
    #: when ``dial_options`` has ``t``. ``true`` without ``t`` is refused by the config check.
    consult: bool | None = None
    #: Length of one WAIT FOR DIGIT slice while on hold. Asterisk runs one AGI command at a
    #: time, so this bounds how late a chosen agent's phone starts ringing; it also keeps
    #: the FastAGI idle timeout from stopping a long wait.
    poll_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    #: After a busy or unreachable offer whose agents.yaml pause reason is null, rest the
    #: agent this long (paused "rest after busy") so the call tries someone else; 0: off.
    failed_offer_rest_s: Seconds = 5.0
    #: Don't re-ring the agent who just failed this call for this long.
    retry_s: Seconds = 2.0
    voicemail_dir: str = "/var/spool/asterisk/hotline-voicemail"
    voicemail_max_s: Annotated[int, Field(ge=1, le=3600)] = 120
    prompts: WaitingPrompts = WaitingPrompts()
    survey: Survey = Survey()
    #: Dialling booked callbacks back.
    callbacks: CallbackDialling = CallbackDialling()
    defaults: WaitingPolicy = WaitingPolicy()
    queues: dict[str, WaitingPolicy] = {}

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        """A queue's entry overrides ``defaults`` key by key (nested tables too)."""
        if not isinstance(data, Mapping):
            return data
        defaults = data.get("defaults") or {}
        queues = data.get("queues") or {}
        if not isinstance(defaults, Mapping) or not isinstance(queues, Mapping):
            return data
        merged = {
            name: _merge(defaults, own) if isinstance(own, Mapping) else own
            for name, own in queues.items()
        }
        return {**data, "queues": merged}

    def policy(self, queue: str) -> WaitingPolicy:
        return self.queues.get(queue, self.defaults)

    @property
    def consult_enabled(self) -> bool:
        return self.consult if self.consult is not None else "t" in dial_option_letters(self)


def dial_option_letters(waiting: WaitingConfig) -> str:
    """The option letters of ``dial_options``, without their arguments (``M(x)`` -> ``M``)."""
    return re.sub(r"\([^)]*\)", "", waiting.dial_options)


def check_consult_option(waiting: WaitingConfig) -> list[tuple[tuple[str, ...], str]]:
    """``consult: true`` needs Dial option ``t`` (waiting.yaml's own check: located)."""
    if waiting.consult and "t" not in dial_option_letters(waiting):
        return [
            (
                ("consult",),
                f"consult transfer needs Dial option 't' (dial_options is "
                f"{waiting.dial_options!r}): add t to dial_options, or set consult: false",
            )
        ]
    return []


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        inner = out.get(key)
        if isinstance(inner, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(inner, value)
        else:
            out[key] = value
    return out


def check_waiting_config(
    waiting: WaitingConfig, queues: Mapping[str, object]
) -> list[AcdConfigIssue]:
    """Names that must exist in queues.yaml (errors) and overflow loops (a warning)."""
    issues: list[AcdConfigIssue] = []

    def error(path: str, message: str) -> None:
        issues.append(AcdConfigIssue("error", "waiting.yaml", path, message))

    if waiting.default_queue is not None and waiting.default_queue not in queues:
        error("default_queue", f"unknown queue {waiting.default_queue!r}")
    named = [("defaults", waiting.defaults)] + [
        (f"queues.{q}", p) for q, p in waiting.queues.items()
    ]
    for name in waiting.queues:
        if name not in queues:
            error(f"queues.{name}", "not a queue in queues.yaml")
    for path, policy in named:
        for field, overflow in (("on_max_wait", policy.on_max_wait), ("on_empty", policy.on_empty)):
            if overflow.queue is not None and overflow.queue not in queues:
                error(f"{path}.{field}.queue", f"unknown queue {overflow.queue!r}")
    for start in queues:
        seen = [start]
        target = waiting.policy(start).on_max_wait.queue
        while target is not None and target not in seen:
            seen.append(target)
            target = waiting.policy(target).on_max_wait.queue
        if target is not None and waiting.policy(start).max_wait_s is not None:
            issues.append(
                AcdConfigIssue(
                    "warning",
                    "waiting.yaml",
                    f"queues.{start}.on_max_wait",
                    "overflow goes round in a circle: " + " -> ".join([*seen, target]),
                )
            )
    return issues
