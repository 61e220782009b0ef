"""The steps an IVR node can be, as frozen models: one YAML key per step type.

A node is written ``name: {menu: {...}}`` (like jambonz verbs); ``_one_step`` turns that into
the tagged form ``{"type": "menu", ...}`` so pydantic picks the model by its tag. The tag is
then part of every error location (``nodes.main.menu.timeout_s``), which is exactly the key
path in the YAML file, so the config loader names the right line.

Each step lists the nodes it may go to (``targets``) and the prompts it plays (``prompts``),
each with its location inside the step, for ``ivr.flow.validation``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from ivr.flow.fields import (
    Attribute,
    Digits,
    FrozenModel,
    Key,
    Loc,
    NodeName,
    PromptList,
    PromptName,
    Regex,
    Seconds,
    Text,
    Tries,
    Weekday,
    Window,
)


def _option(value: object) -> object:
    if value is None:
        raise ValueError("the option has no target node")
    return {"goto": value} if isinstance(value, str) else value


class Option(FrozenModel):
    """A key's target, and the call attributes the choice sets (``language: ar``)."""

    goto: NodeName
    set: dict[Attribute, Text] = Field(default_factory=dict)


class MenuSpeech(FrozenModel):
    """What a caller may say instead of pressing a key."""

    #: Intent (from the classifier) -> node.
    intents: dict[str, NodeName] = Field(default_factory=dict)
    #: Per language: a phrase heard in the transcript -> node (also the recogniser's hints).
    phrases: dict[str, dict[str, NodeName]] = Field(default_factory=dict)
    #: Played once when speech fails and the menu goes on with keys only.
    fallback_prompt: PromptName | None = None
    #: A caller's voice stops the prompt (None: the flow's ``speech.barge_in``).
    barge_in: bool | None = None

    @model_validator(mode="after")
    def _something_to_say(self) -> MenuSpeech:
        if not self.intents and not self.phrases:
            raise ValueError("speech needs intents or phrases")
        return self


class _Step(FrozenModel):
    #: Whether the step waits for the caller (a loop through steps without one never ends).
    takes_input: ClassVar[bool] = False

    def targets(self) -> Iterator[tuple[Loc, str]]:
        """(location inside the step, node) for every node this step may go to."""
        for name in ("next", "max_tries_target", "fallback", "found", "default"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                yield (name,), value

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        for name, value in self:
            if name.endswith("prompt") and isinstance(value, str):
                yield (name,), value
            elif name.endswith("prompt") and isinstance(value, tuple):
                for index, item in enumerate(value):
                    yield (name, index), item


class PlayStep(_Step):
    type: Literal["play"]
    prompt: PromptList
    next: NodeName


class MenuStep(_Step):
    """Keys and/or speech -> node; ``max_tries`` invalid or silent answers -> max_tries_target
    (or the fallback queue when that is not set)."""

    takes_input: ClassVar[bool] = True
    type: Literal["menu"]
    prompt: PromptName
    options: dict[Key, Annotated[Option, BeforeValidator(_option)]] = Field(default_factory=dict)
    speech: MenuSpeech | None = None
    timeout_s: Seconds = 5.0
    max_tries: Tries = 3
    invalid_prompt: PromptName | None = None
    no_input_prompt: PromptName | None = None
    max_tries_target: NodeName | None = None

    @model_validator(mode="after")
    def _has_choices(self) -> MenuStep:
        if not self.options and self.speech is None:
            raise ValueError("a menu needs options (keys) or speech")
        return self

    def targets(self) -> Iterator[tuple[Loc, str]]:
        yield from super().targets()
        for key, option in self.options.items():
            yield ("options", key, "goto"), option.goto
        if self.speech is not None:
            for intent, node in self.speech.intents.items():
                yield ("speech", "intents", intent), node
            for language, phrases in self.speech.phrases.items():
                for phrase, node in phrases.items():
                    yield ("speech", "phrases", language, phrase), node

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        yield from super().prompts()
        if self.speech is not None and self.speech.fallback_prompt is not None:
            yield ("speech", "fallback_prompt"), self.speech.fallback_prompt


class SpokenDigits(FrozenModel):
    """Digits said instead of keyed ("four five six", "double seven"), read back to the
    caller and confirmed before they are kept."""

    #: Played before the digits are read back ("I heard").
    heard_prompt: PromptName
    #: Played after them: "If that is right, say yes or press 1; if not, say no or press 2."
    confirm_prompt: PromptName


def _spoken_prompts(speech: SpokenDigits | None) -> Iterator[tuple[Loc, str]]:
    if speech is not None:
        yield ("speech", "heard_prompt"), speech.heard_prompt
        yield ("speech", "confirm_prompt"), speech.confirm_prompt


class CollectStep(_Step):
    """Digits (an account number) into an attribute, checked by length, pattern and Luhn;
    keyed, or (``speech``, with a recogniser) said and read back."""

    takes_input: ClassVar[bool] = True
    type: Literal["collect"]
    prompt: PromptName
    attribute: Attribute = "account"
    min_digits: Digits = 1
    max_digits: Digits = 16
    pattern: Regex | None = None
    luhn: bool = False
    timeout_s: Seconds = 6.0
    max_tries: Tries = 3
    invalid_prompt: PromptName | None = None
    no_input_prompt: PromptName | None = None
    next: NodeName
    max_tries_target: NodeName | None = None
    speech: SpokenDigits | None = None

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        yield from super().prompts()
        yield from _spoken_prompts(self.speech)

    @model_validator(mode="after")
    def _lengths(self) -> CollectStep:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        return self


class ConfirmIntent(FrozenModel):
    """A confirmation turn ("Billing, is that right?") for an intent understood with a
    confidence under ``below``: yes (said, or key 1) goes on, no (or key 2) asks again."""

    below: Annotated[float, Field(gt=0, le=1)] = 0.7
    #: intent -> the prompt asking for it; intents without one are never confirmed.
    prompts: dict[str, PromptName] = Field(min_length=1)


class AskStep(_Step):
    """An open question: speech -> intent -> node. Speech that fails goes to ``fallback``
    (a key menu); an intent not listed goes to ``next``."""

    takes_input: ClassVar[bool] = True
    type: Literal["ask"]
    prompt: PromptName
    intents: dict[str, NodeName] = Field(default_factory=dict)
    next: NodeName
    fallback: NodeName
    max_tries: Tries = 2
    no_match_prompt: PromptName | None = None
    confirm: ConfirmIntent | None = None
    #: A caller's voice stops the question (None: the flow's ``speech.barge_in``; false for a
    #: question that must be heard to its end).
    barge_in: bool | None = None

    def targets(self) -> Iterator[tuple[Loc, str]]:
        yield from super().targets()
        for intent, node in self.intents.items():
            yield ("intents", intent), node

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        yield from super().prompts()
        if self.confirm is not None:
            for intent, prompt in self.confirm.prompts.items():
                yield ("confirm", "prompts", intent), prompt


class CatalogStep(_Step):
    """A recorded catalog message: a product's price, or the offers valid today."""

    type: Literal["catalog"]
    show: Literal["price", "offers"]
    #: The product (price): fixed here, or the value of a call attribute (a product id, or an
    #: intent a product lists).
    product: str | None = None
    product_attribute: Attribute | None = None
    max_offers: Annotated[int, Field(ge=1, le=20)] = 3
    #: Played when there is nothing to say (no product, no offer valid today).
    empty_prompt: PromptName | None = None
    next: NodeName

    @model_validator(mode="after")
    def _product(self) -> CatalogStep:
        given = (self.product is not None) + (self.product_attribute is not None)
        if self.show == "price" and given != 1:
            raise ValueError("show: price needs one of product or product_attribute")
        if self.show == "offers" and given:
            raise ValueError("show: offers takes no product")
        return self


class SetStep(_Step):
    type: Literal["set"]
    values: Annotated[dict[Attribute, Text], Field(min_length=1)]
    next: NodeName


class LookupStep(_Step):
    """Caller ID or a collected account -> the customer (tier, language, open issues...)."""

    type: Literal["lookup"]
    by: Literal["caller_id", "account"] = "caller_id"
    account_attribute: Attribute = "account"
    #: The customer's language becomes the call's (when the flow speaks it).
    use_language: bool = True
    found: NodeName | None = None
    next: NodeName


class Condition(FrozenModel):
    """Every given test must hold (an empty condition is refused: use ``default``)."""

    open: bool | None = None  # within business hours and not a holiday
    holiday: bool | None = None
    time: Window | None = None  # local time of day
    weekdays: tuple[Weekday, ...] = ()
    language: tuple[str, ...] = ()
    intent: tuple[str, ...] = ()
    #: attribute -> value or list of values it must equal
    attributes: dict[Attribute, Text | tuple[Text, ...]] = Field(default_factory=dict)
    #: attribute -> minimum number (``open_issues: 1``)
    at_least: dict[Attribute, float] = Field(default_factory=dict)
    present: tuple[Attribute, ...] = ()
    missing: tuple[Attribute, ...] = ()


class Case(Condition):
    goto: NodeName

    @model_validator(mode="after")
    def _tests_something(self) -> Case:
        if not any(getattr(self, name) not in (None, (), {}) for name in Condition.model_fields):
            raise ValueError("a case needs at least one test (use default for 'otherwise')")
        return self


class BranchStep(_Step):
    """The first case whose condition holds wins; else ``default``."""

    type: Literal["branch"]
    cases: Annotated[tuple[Case, ...], Field(min_length=1)]
    default: NodeName

    def targets(self) -> Iterator[tuple[Loc, str]]:
        yield from super().targets()
        for index, case in enumerate(self.cases):
            yield ("cases", index, "goto"), case.goto


class GotoStep(_Step):
    type: Literal["goto"]
    target: NodeName

    def targets(self) -> Iterator[tuple[Loc, str]]:
        yield ("target",), self.target


class QueueStep(_Step):
    """Hand the call, with its attributes, to the ACD; the flow ends here."""

    type: Literal["queue"]
    queue: str | None = None  # else the ``queue`` attribute, else the ACD's default
    prompt: PromptName | None = None


class CallbackStep(_Step):
    """Book a call back: confirm the caller's number (1) or key in another (2); with
    ``speech`` (and a recogniser), the confirmation may be said too (yes / no) and another
    number said as words, read back and confirmed like a collect step's digits."""

    takes_input: ClassVar[bool] = True
    type: Literal["callback"]
    confirm_prompt: PromptName  # "we will call you back on" ... then the number is said
    confirm_keys_prompt: PromptName | None = None  # "press 1 to confirm, 2 for another"
    enter_prompt: PromptName
    done_prompt: PromptName | None = None
    invalid_prompt: PromptName | None = None
    min_digits: Digits = 6
    max_digits: Digits = 15
    timeout_s: Seconds = 6.0
    max_tries: Tries = 3
    next: NodeName
    max_tries_target: NodeName | None = None
    speech: SpokenDigits | None = None

    def prompts(self) -> Iterator[tuple[Loc, str]]:
        yield from super().prompts()
        yield from _spoken_prompts(self.speech)


class VoicemailStep(_Step):
    """Record a message into ``directory`` (as Asterisk sees it), then hang up."""

    type: Literal["voicemail"]
    prompt: PromptName | None = None
    directory: Annotated[str, Field(min_length=1, pattern=r"^/")]
    max_s: Annotated[int, Field(ge=5, le=600)] = 120
    silence_s: Annotated[int, Field(ge=1, le=60)] | None = 5
    beep: bool = True
    goodbye_prompt: PromptName | None = None


class HangupStep(_Step):
    type: Literal["hangup"]
    prompt: PromptName | None = None


STEP_TYPES: Mapping[str, type[_Step]] = {
    "play": PlayStep,
    "menu": MenuStep,
    "collect": CollectStep,
    "ask": AskStep,
    "catalog": CatalogStep,
    "set": SetStep,
    "lookup": LookupStep,
    "branch": BranchStep,
    "goto": GotoStep,
    "queue": QueueStep,
    "callback": CallbackStep,
    "voicemail": VoicemailStep,
    "hangup": HangupStep,
}


def _one_step(value: object) -> object:
    """``{menu: {...}}`` -> ``{"type": "menu", ...}``; ``{goto: x}`` -> ``{"type": "goto",
    "target": x}``; a step without settings (``hangup:``) may be left empty."""
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        found = ", ".join(map(str, value)) if isinstance(value, dict) and value else "none"
        raise ValueError(f"a node is exactly one step ({', '.join(STEP_TYPES)}); found: {found}")
    ((kind, body),) = value.items()
    if kind not in STEP_TYPES:
        close = difflib.get_close_matches(str(kind), list(STEP_TYPES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (one of: {', '.join(STEP_TYPES)})"
        raise ValueError(f"unknown step {kind!r}{hint}")
    if body is None:
        body = {}
    if kind == "goto" and isinstance(body, str):
        body = {"target": body}
    if not isinstance(body, dict):
        raise ValueError(f"the {kind} step takes settings (key: value)")
    if "type" in body:
        raise ValueError(f"the {kind} step has no setting 'type'")
    return {**body, "type": kind}


Step = Annotated[
    PlayStep
    | MenuStep
    | CollectStep
    | AskStep
    | CatalogStep
    | SetStep
    | LookupStep
    | BranchStep
    | GotoStep
    | QueueStep
    | CallbackStep
    | VoicemailStep
    | HangupStep,
    Field(discriminator="type"),
    BeforeValidator(_one_step),
]

TERMINAL_STEPS = (QueueStep, VoicemailStep, HangupStep)
