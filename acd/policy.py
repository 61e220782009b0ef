"""The ACD's config files as typed, frozen models, and the runtime objects built from them.

One model per file, for the loader to register (``hotline/config.py``):
``PriorityConfig`` (priority.yaml), ``SkillsConfig`` (skills.yaml), ``QueuesConfig``
(queues.yaml), ``AgentsConfig`` (agents.yaml). Cross-file checks (a skill no agent has, a
queue nobody can serve, aging too weak to prevent starvation) are ``check_acd_config``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from acd.agents import AgentPolicy
from acd.capacity import Capacity
from acd.contacts import VOICE, VOICE_SEAT
from acd.desk_rules import PLACEHOLDERS, CannedResponse, DeskRules, PauseRule, placeholders_in
from acd.kpi import ALL_CHANNELS, AbandonTreatment, SlPolicy
from acd.priority import Aging, PriorityWeights, SlRisk, Urgency
from acd.queue import QueuePolicy
from acd.skills import Condition, QueueSkills, RelaxStep, SkillRule
from acd.strategy import Strategy
from acd.thresholds import Thresholds, ThresholdsConfig

__all__ = [
    "AgentConfig",
    "AgentPolicyConfig",
    "AgentsConfig",
    "AgingConfig",
    "CannedText",
    "ConditionConfig",
    "DispositionCode",
    "LanguageConfig",
    "PauseReasonConfig",
    "PreferredAgentConfig",
    "PriorityConfig",
    "QueueConfig",
    "QueuesConfig",
    "RelaxConfig",
    "RepeatConfig",
    "RuleConfig",
    "ServiceLevelConfig",
    "SkillDef",
    "SkillsConfig",
    "SlRiskConfig",
]

Level = Annotated[int, Field(ge=0, le=100)]
#: A channel's name: voice, callback, chat, email, voicemail, whatsapp, sms...
ChannelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
#: A service-level target: seconds above 0 (an e-mail's are hours).
TargetSeconds = Annotated[float, Field(gt=0)]
MinLevel = Annotated[int, Field(ge=1, le=100)]
Seconds = Annotated[float, Field(ge=0)]
#: A wrap-up disposition code: "resolved_first_contact", "sale", "escalated"...
DispositionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
#: A pause reason as the agent picks it: "break", "lunch", "training"...
PauseReasonName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9 _.-]{0,63}$")]
CannedKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
CannedText = Annotated[str, Field(min_length=1, max_length=2000)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# priority.yaml ---------------------------------------------------------------------------
class RepeatConfig(_Model):
    #: A contact on any channel this many days before makes the call a repeat contact.
    within_days: Seconds = 7.0
    points: float = 0.0


class PriorityConfig(_Model):
    call_types: dict[str, float] = {}
    intents: dict[str, str] = {}
    default_call_type: str | None = None
    tiers: dict[str, float] = {}
    complexity_points: float = 0.0
    max_complexity: Annotated[int, Field(ge=0, le=100)] = 5
    repeat: RepeatConfig = RepeatConfig()
    chronic_tags: dict[str, float] = {}
    chronic_cap: float | None = None

    @model_validator(mode="after")
    def _known_call_types(self) -> PriorityConfig:
        for intent, call_type in self.intents.items():
            if call_type not in self.call_types:
                raise ValueError(f"intents.{intent}: unknown call type {call_type!r}")
        if self.default_call_type is not None and self.default_call_type not in self.call_types:
            raise ValueError(f"default_call_type: unknown call type {self.default_call_type!r}")
        return self

    def weights(self) -> PriorityWeights:
        return PriorityWeights(
            call_type_points=dict(self.call_types),
            intent_call_types=dict(self.intents),
            default_call_type=self.default_call_type,
            tier_points=dict(self.tiers),
            complexity_points=self.complexity_points,
            max_complexity=self.max_complexity,
            repeat_within_days=self.repeat.within_days,
            repeat_points=self.repeat.points,
            chronic_tag_points=dict(self.chronic_tags),
            chronic_cap=self.chronic_cap,
        )


# skills.yaml -----------------------------------------------------------------------------
class SkillDef(_Model):
    description: str = ""
    max_level: MinLevel = 5


class SkillsConfig(_Model):
    #: Skill names, or shell patterns for families ("lang.*").
    skills: dict[str, SkillDef] = {}

    def definition(self, skill: str) -> SkillDef | None:
        if skill in self.skills:
            return self.skills[skill]
        return next((d for p, d in self.skills.items() if fnmatchcase(skill, p)), None)


# queues.yaml -----------------------------------------------------------------------------
class AgingConfig(_Model):
    points_per_minute: Annotated[float, Field(ge=0)] = 0.0
    #: The most aging can add; to prevent starvation it must exceed the priority spread.
    max_points: Annotated[float, Field(ge=0)] | None = None


class SlRiskConfig(_Model):
    lead_s: Seconds = 5.0
    points: float = 0.0
    after_target: Literal["keep", "drop"] = "drop"


class LanguageConfig(_Model):
    skill_prefix: str = "lang."
    min_level: MinLevel = 1


class PreferredAgentConfig(_Model):
    window_s: Seconds = 0.0


class ConditionConfig(_Model):
    intents: list[str] | None = None
    tiers: list[str] | None = None
    languages: list[str] | None = None
    tags_any: list[str] | None = None
    repeat: bool | None = None
    min_complexity: int | None = None

    def condition(self) -> Condition:
        def opt(values: list[str] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(values)

        return Condition(
            opt(self.intents),
            opt(self.tiers),
            opt(self.languages),
            opt(self.tags_any),
            self.repeat,
            self.min_complexity,
        )


class RuleConfig(_Model):
    name: str
    when: ConditionConfig
    required: dict[str, MinLevel] = {}
    preferred: dict[str, float] = {}


class RelaxConfig(_Model):
    after_s: Annotated[float, Field(gt=0)]
    #: skill (or shell pattern) -> highest level still required (0 drops it)
    levels: dict[str, Level] = {}
    #: keep only the requirements matching these patterns
    keep_only: list[str] | None = None
    label: str = ""


def _channel_targets(targets: dict[str, float], where: str) -> None:
    """A channel's service-level target is not the voice target (``sl_target_s``)."""
    if VOICE in targets:
        raise ValueError(f"{where}: voice's target is the queue's sl_target_s")
    if ALL_CHANNELS in targets:
        raise ValueError(f"{where}: {ALL_CHANNELS!r} names every channel together")


class QueueConfig(_Model):
    #: The service-level target of calls (and of every channel without its own below).
    sl_target_s: TargetSeconds = 20.0
    #: This queue's own target for a channel (chat, email...), before service_level's.
    channel_targets_s: dict[ChannelName, TargetSeconds] = {}
    strategy: Strategy = Strategy.LONGEST_IDLE
    aging: AgingConfig = AgingConfig()
    sl_risk: SlRiskConfig = SlRiskConfig()
    required: dict[str, MinLevel] = {}
    preferred: dict[str, float] = {}
    language: LanguageConfig | None = None
    preferred_agent: PreferredAgentConfig = PreferredAgentConfig()
    rules: list[RuleConfig] = []
    relax: list[RelaxConfig] = []
    #: This queue's own thresholds on its live figures (``acd.thresholds``), before the
    #: file's.
    thresholds: ThresholdsConfig | None = None
    #: This queue's wrap-up disposition codes (null: agents.yaml's ``dispositions``).
    dispositions: list[DispositionCode] | None = None

    @model_validator(mode="after")
    def _steps_in_order(self) -> QueueConfig:
        times = [step.after_s for step in self.relax]
        if times != sorted(set(times)):
            raise ValueError("relax: after_s must be strictly increasing")
        _channel_targets(self.channel_targets_s, "channel_targets_s")
        return self

    def policy(
        self, name: str, channel_targets_s: Mapping[str, float] | None = None
    ) -> QueuePolicy:
        """The queue's routing policy. Its service-level risk counts to each channel's own
        target: this queue's ``channel_targets_s``, else ``channel_targets_s`` given here
        (``service_level``'s, for every queue), else ``sl_target_s`` (the KPIs' targets)."""
        risk = self.sl_risk
        aging = Aging(self.aging.points_per_minute / 60.0, self.aging.max_points)
        voice = SlRisk(self.sl_target_s, risk.lead_s, risk.points, risk.after_target == "keep")
        targets = {**(channel_targets_s or {}), **self.channel_targets_s}
        channels = {
            channel: Urgency(aging, voice.for_target(target))
            for channel, target in sorted(targets.items())
            if target != self.sl_target_s
        }
        return QueuePolicy(
            name,
            self.strategy,
            Urgency(aging, voice),
            self.preferred_agent.window_s,
            MappingProxyType(channels),
        )

    def skills(self, name: str) -> QueueSkills:
        return QueueSkills(
            name=name,
            required=tuple(sorted(self.required.items())),
            preferred=tuple(sorted(self.preferred.items())),
            language_prefix=None if self.language is None else self.language.skill_prefix,
            language_min_level=1 if self.language is None else self.language.min_level,
            rules=tuple(
                SkillRule(
                    r.name,
                    r.when.condition(),
                    tuple(sorted(r.required.items())),
                    tuple(sorted(r.preferred.items())),
                )
                for r in self.rules
            ),
            steps=tuple(
                RelaxStep(
                    s.after_s,
                    tuple(sorted(s.levels.items())),
                    None if s.keep_only is None else tuple(s.keep_only),
                    s.label,
                )
                for s in self.relax
            ),
        )


class ServiceLevelConfig(_Model):
    short_abandon_s: Seconds = 5.0
    abandons: AbandonTreatment = AbandonTreatment.AGAINST
    #: A channel's target in every queue (an e-mail's is hours where a call's is seconds);
    #: a queue's own ``channel_targets_s`` comes first, its ``sl_target_s`` after.
    channel_targets_s: dict[ChannelName, TargetSeconds] = {}

    @model_validator(mode="after")
    def _not_voice(self) -> ServiceLevelConfig:
        _channel_targets(self.channel_targets_s, "channel_targets_s")
        return self


class ConversationsConfig(_Model):
    """Where chats, e-mails and messaging conversations wait: the queue their first
    message's call type (from its intent) names, else the default."""

    #: null: the first queue of the file
    default_queue: str | None = None
    #: call type -> queue
    queues: dict[str, str] = {}


class QueuesConfig(_Model):
    service_level: ServiceLevelConfig = ServiceLevelConfig()
    queues: dict[str, QueueConfig] = {}
    conversations: ConversationsConfig = ConversationsConfig()
    #: When the supervisor's page and the wallboard colour a queue's figures and raise an
    #: alert (``acd.thresholds``): every queue's, per channel, before built-in defaults.
    thresholds: ThresholdsConfig = ThresholdsConfig()

    @model_validator(mode="after")
    def _conversations_go_to_queues(self) -> QueuesConfig:
        named = dict(self.conversations.queues)
        if self.conversations.default_queue is not None:
            named["default_queue"] = self.conversations.default_queue
        unknown = sorted(f"{k}: {q!r}" for k, q in named.items() if q not in self.queues)
        if unknown and self.queues:
            raise ValueError(f"conversations name queues that are not here ({', '.join(unknown)})")
        return self

    @property
    def conversation_queue(self) -> str | None:
        """The default queue of conversations (None: there are no queues)."""
        return self.conversations.default_queue or next(iter(self.queues), None)

    def threshold_table(self) -> Thresholds:
        """The thresholds of every queue and channel, resolved as ``acd.thresholds`` says."""
        return Thresholds(self.thresholds, {n: q.thresholds for n, q in self.queues.items()})

    def sl_policy(self) -> SlPolicy:
        targets = {name: q.sl_target_s for name, q in self.queues.items()}
        return SlPolicy(
            target_s=next(iter(targets.values()), 20.0),
            short_abandon_s=self.service_level.short_abandon_s,
            abandons=self.service_level.abandons,
            queue_targets=targets,
            channel_targets=dict(self.service_level.channel_targets_s),
            queue_channel_targets={
                (name, channel): target
                for name, q in self.queues.items()
                for channel, target in q.channel_targets_s.items()
            },
        )


# agents.yaml -----------------------------------------------------------------------------
class AgentPolicyConfig(_Model):
    #: Seconds of wrap-up after each call; null: until the agent says done.
    wrap_up_s: Seconds | None = 10.0
    #: How long the caller's session rings an agent before it is a ring-no-answer.
    ring_timeout_s: Annotated[float, Field(gt=0)] = 15.0
    rona_pause_reason: str | None = "no answer"
    busy_pause_reason: str | None = None
    unavailable_pause_reason: str | None = "unreachable"
    #: How long an agent has to accept a chat or e-mail offered to them.
    reservation_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    #: Wrap-up after a chat or e-mail; null: until the agent says done.
    task_wrap_up_s: Seconds | None = 0.0
    #: An agent whose agent page is closed (every tab) and not back within this long is
    #: paused "disconnected" and their chats and e-mails go to others; null: never.
    desk_reconnect_grace_s: Annotated[float, Field(ge=0, le=3600)] | None = 30.0

    def agent_policy(self) -> AgentPolicy:
        return AgentPolicy(
            self.wrap_up_s,
            self.rona_pause_reason,
            self.busy_pause_reason,
            self.unavailable_pause_reason,
            self.reservation_timeout_s,
            self.task_wrap_up_s,
            self.desk_reconnect_grace_s,
        )


#: A digital channel's name: chat, email, voicemail, whatsapp, sms...
DigitalChannel = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Concurrency = Annotated[int, Field(ge=0, le=100)]


class CapacityConfig(_Model):
    """What an agent holds at once beside their phone (``acd.capacity``)."""

    #: digital channel -> tasks at once; a channel not listed is never offered
    digital: dict[DigitalChannel, Concurrency] = {}
    #: digital tasks at once across channels; null: the sum of ``digital``
    total: Concurrency | None = None
    #: may a chat or e-mail be offered while the phone rings, talks or wraps up?
    during_voice: bool = False
    #: an agent holding more digital tasks than this is not offered calls
    voice_with: Concurrency = 0

    @model_validator(mode="after")
    def _not_the_voice_seat(self) -> CapacityConfig:
        seat = sorted(set(self.digital) & VOICE_SEAT)
        if seat:
            raise ValueError(f"{', '.join(seat)}: the phone takes one call at a time, not listed")
        if ALL_CHANNELS in self.digital:
            raise ValueError(f"{ALL_CHANNELS!r} names every channel together in the KPIs")
        return self

    def capacity(self) -> Capacity:
        total = sum(self.digital.values()) if self.total is None else self.total
        return Capacity(dict(self.digital), total, self.during_voice, self.voice_with)


class AgentConfig(_Model):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    endpoint: str = ""
    skills: dict[str, Level] = {}
    #: this agent's own capacity (else the file's ``capacity``)
    capacity: CapacityConfig | None = None


class PauseReasonConfig(_Model):
    #: one pause should last at most this long (longer is flagged); null: no limit
    max_s: Annotated[float, Field(gt=0, le=86400)] | None = None
    #: how many times an agent may take it a day (the next is refused); null: no limit
    per_day: Annotated[int, Field(ge=1, le=100)] | None = None


#: Pause reasons the system gives itself (an offer not answered, a lost desktop): an agent
#: does not pick them.
_SYSTEM_PAUSES = frozenset({"declined", "disconnected"})


class AgentsConfig(_Model):
    policy: AgentPolicyConfig = AgentPolicyConfig()
    #: every agent's capacity unless they have their own
    capacity: CapacityConfig = CapacityConfig()
    agents: list[AgentConfig] = []
    #: what an agent may pause for, with its limits; empty: any reason, as free text
    pause_reasons: dict[PauseReasonName, PauseReasonConfig] = {}
    #: wrap-up disposition codes (a queue's own first); empty: free text
    dispositions: list[DispositionCode] = []
    #: chat replies an agent inserts: key -> language -> text with {customer_name},
    #: {agent_name}, {queue}
    canned_responses: dict[CannedKey, dict[LanguageCode, CannedText]] = {}

    @field_validator("pause_reasons")
    @classmethod
    def _not_the_systems(
        cls, reasons: dict[str, PauseReasonConfig], info: ValidationInfo
    ) -> dict[str, PauseReasonConfig]:
        policy = info.data.get("policy") or AgentPolicyConfig()
        system = _SYSTEM_PAUSES | {
            r
            for r in (
                policy.rona_pause_reason,
                policy.busy_pause_reason,
                policy.unavailable_pause_reason,
            )
            if r is not None
        }
        taken = sorted(set(reasons) & system)
        if taken:
            raise ValueError(f"{', '.join(taken)}: the system's own pause reason")
        return reasons

    @field_validator("dispositions")
    @classmethod
    def _codes_once(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("a code appears twice")
        return codes

    @field_validator("canned_responses")
    @classmethod
    def _known_placeholders(cls, responses: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for key, texts in responses.items():
            if not texts:
                raise ValueError(f"{key}: no text in any language")
            for lang, text in texts.items():
                try:
                    names = placeholders_in(text)
                except ValueError as error:
                    raise ValueError(f"{key}.{lang}: {error}") from None
                unknown = sorted(n for n in names if n not in PLACEHOLDERS)
                if unknown:
                    known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
                    raise ValueError(
                        f"{key}.{lang}: unknown placeholder {{{unknown[0]}}} (known: {known})"
                    )
        return responses

    def desk_rules(self, queues: QueuesConfig | None = None) -> DeskRules:
        """The desktop's rules: these pause reasons, codes and replies, and ``queues``' own
        disposition codes."""
        return DeskRules(
            pause_reasons=MappingProxyType(
                {r: PauseRule(c.max_s, c.per_day) for r, c in self.pause_reasons.items()}
            ),
            dispositions=tuple(self.dispositions),
            queue_dispositions=MappingProxyType(
                {
                    name: tuple(q.dispositions)
                    for name, q in (queues.queues.items() if queues is not None else ())
                    if q.dispositions is not None
                }
            ),
            canned=tuple(
                CannedResponse(key, MappingProxyType(dict(texts)))
                for key, texts in self.canned_responses.items()
            ),
        )

    @model_validator(mode="after")
    def _unique_ids(self) -> AgentsConfig:
        seen: set[str] = set()
        for agent in self.agents:
            if agent.id in seen:
                raise ValueError(f"agent id {agent.id!r} appears twice")
            seen.add(agent.id)
        return self
