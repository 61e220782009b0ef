"""``config/intents.yaml``: what callers ask for, as typed, frozen models.

Each intent names the call type it implies (the ACD's priority and queue choice key on
it), a complexity hint, and example phrases per language that the classifier learns from
at load. ``out_of_scope`` phrases teach it what is *not* a request (greetings, wrong
numbers, chatter) so those come back "unknown" instead of the nearest intent.

Cross-field problems a model cannot state are ``check_intents``'s: an intent with no
examples, a phrase listed twice, a call type outside ``CALL_TYPES``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ivr.intent.text import normalise

__all__ = [
    "CALL_TYPES",
    "DEFAULT_THRESHOLD",
    "OUT_OF_SCOPE",
    "UNKNOWN",
    "EmbeddingsDef",
    "IntentDef",
    "IntentsConfig",
    "UnknownDef",
    "check_intents",
]

#: The closed set of call types. The first five are the names the ACD's priority.yaml
#: gives points to; the others are what a sales-and-service centre also routes on.
CALL_TYPES = (
    "cancellation",
    "technical_fault",
    "complaint",
    "how_to",
    "price_question",
    "billing",
    "sales",
    "orders",
    "account",
    "general",
)
#: Measured on the shipped intents with the default model, TF-IDF + USE embeddings
#: (bench/intent_bench.py): held-out English 0.93, Arabic 0.96 and 0.86 (two files), most
#: out-of-scope phrases refused; 0.4 loses Arabic (0.91, 0.82), 0.2 lets chatter through.
DEFAULT_THRESHOLD = 0.3
#: Share of the sentence-embedding model in the combined probabilities (measured).
DEFAULT_EMBEDDING_WEIGHT = 0.6
#: The intent name of a result below the threshold; reserved.
UNKNOWN = "unknown"
#: The label of out-of-scope rows in evaluation files; reserved.
OUT_OF_SCOPE = "oos"

IntentName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
EntityValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Complexity = Annotated[int, Field(ge=1, le=5)]
Examples = dict[Language, tuple[Phrase, ...]]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntentDef(_Model):
    call_type: str
    #: 1 = self-service or a one-line answer; 5 = needs a senior problem solver.
    complexity: Complexity = 2
    description: str = ""
    #: Phrases per language code ("en", "ar"): what callers say when they want this.
    examples: Examples = {}


class UnknownDef(_Model):
    """What the ACD is told when the caller's words matched no intent."""

    call_type: str = "general"
    complexity: Complexity = 2


class EmbeddingsDef(_Model):
    """Sentence embeddings combined with the lexical model (ivr/intent/embeddings.py)."""

    #: "use": USE multilingual v3 (every language, Arabic included; installed with
    #: hotline); "minilm": all-MiniLM-L6-v2 (English; the ``embeddings`` extra); "off".
    #: A missing encoder package leaves the lexical model alone, with a warning.
    model: Literal["use", "minilm", "off"] = "use"
    #: Languages to use them for; empty: every language.
    languages: tuple[Language, ...] = ()
    #: Share of the embedding model in the combined (weighted geometric mean) probabilities.
    weight: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_EMBEDDING_WEIGHT


class IntentsConfig(_Model):
    #: Below this confidence (0..1) the answer is "unknown": the flow re-asks or offers keys.
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = DEFAULT_THRESHOLD
    #: The languages the IVR asks open questions in; every intent needs examples in each.
    languages: tuple[Language, ...] = ("en",)
    unknown: UnknownDef = UnknownDef()
    intents: dict[IntentName, IntentDef] = {}
    out_of_scope: Examples = {}
    embeddings: EmbeddingsDef = EmbeddingsDef()
    #: entity -> value -> phrases per language: ``product: {fibre-500: {en: [fibre 500]}}``.
    #: Values found in the caller's words come back with the intent (a catalog product id).
    entities: dict[IntentName, dict[EntityValue, Examples]] = {}


Loc = tuple[str | int, ...]


def check_intents(config: IntentsConfig) -> Iterator[tuple[Loc, str]]:
    """Problems across fields, each with the key path of the value to fix."""
    for name in (UNKNOWN, OUT_OF_SCOPE):
        if name in config.intents:
            yield ("intents", name), f"{name!r} is reserved; choose another intent name"
    yield from _check_call_type(("unknown", "call_type"), config.unknown.call_type)
    declared = set(config.languages)
    for name, intent in config.intents.items():
        where: Loc = ("intents", name)
        yield from _check_call_type((*where, "call_type"), intent.call_type)
        if not any(intent.examples.values()):
            yield (*where, "examples"), "no example phrases: the classifier could never choose it"
            continue
        for language in config.languages:
            if not intent.examples.get(language):
                message = f"no {language!r} examples: callers speaking {language} never get it"
                yield (*where, "examples"), message
    for where, examples in _example_sets(config):
        for language in examples:
            if language not in declared:
                message = f"language {language!r} is not in languages: {list(config.languages)}"
                yield (*where, language), message
    if len(config.intents) == 1 and not any(config.out_of_scope.values()):
        message = "one intent and no out_of_scope phrases: nothing to tell it apart from"
        yield ("intents",), message
    if config.embeddings.model == "minilm" and not config.embeddings.languages:
        message = "minilm understands English only: list its languages, e.g. [en]"
        yield ("embeddings", "languages"), message
    for index, language in enumerate(config.embeddings.languages):
        if language not in declared:
            message = f"language {language!r} is not in languages: {list(config.languages)}"
            yield ("embeddings", "languages", index), message
    yield from _check_entities(config)
    yield from _check_duplicates(config)


def _check_call_type(loc: Loc, call_type: str) -> Iterator[tuple[Loc, str]]:
    if call_type not in CALL_TYPES:
        close = difflib.get_close_matches(call_type, CALL_TYPES, n=1)
        hint = (
            f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(CALL_TYPES)}"
        )
        yield loc, f"unknown call type {call_type!r} ({hint})"


def _check_entities(config: IntentsConfig) -> Iterator[tuple[Loc, str]]:
    declared = set(config.languages)
    for entity, values in config.entities.items():
        owner: dict[str, str] = {}
        for value, phrases in values.items():
            where: Loc = ("entities", entity, value)
            if not any(phrases.values()):
                yield where, "no phrases: this value could never be found"
            for language, texts in phrases.items():
                if language not in declared:
                    message = f"language {language!r} is not in languages: {list(config.languages)}"
                    yield (*where, language), message
                for index, text in enumerate(texts):
                    key = normalise(text)
                    if not key:
                        yield (*where, language, index), "no words left after normalisation"
                    elif owner.setdefault(key, value) != value:
                        message = f"{text!r} also names {owner[key]!r}: which one is meant?"
                        yield (*where, language, index), message


def _example_sets(config: IntentsConfig) -> Iterator[tuple[Loc, Mapping[str, tuple[str, ...]]]]:
    for name, intent in config.intents.items():
        yield ("intents", name, "examples"), intent.examples
    yield ("out_of_scope",), config.out_of_scope


def _check_duplicates(config: IntentsConfig) -> Iterator[tuple[Loc, str]]:
    """The same phrase (after normalisation) twice teaches contradictions or nothing."""
    seen: dict[tuple[str, str], Loc] = {}
    for where, examples in _example_sets(config):
        for language, phrases in examples.items():
            for index, phrase in enumerate(phrases):
                key = (language, normalise(phrase))
                loc: Loc = (*where, language, index)
                first = seen.get(key)
                if first is None:
                    seen[key] = loc
                    continue
                place = ".".join(str(part) for part in first)
                yield loc, f"{phrase!r} is already an example at {place}"
