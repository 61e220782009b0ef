"""Which intent a caller's words express, and how sure we are.

Two models vote. The lexical one: TF-IDF over word 1-2-grams and character 1-4-grams
(within word boundaries) of the normalised text, and a multinomial logistic regression.
Character n-grams carry what a short, noisy, recognised utterance has: stems ("cancel",
"cancelled", "cancellation"), Arabic clitics ("بالفاتوره" ~ "الفاتوره"), and recogniser
misspellings. The semantic one (embeddings.py): a logistic regression over sentence
vectors, for phrasings that share no word with the examples. Their probabilities are
combined by a weighted geometric mean; without an encoder the lexical model answers alone.
Out-of-scope phrases are one more class, so "hello" or "wrong number" wins against every
intent instead of being forced onto the nearest one; a top probability below the
threshold is "unknown" too. Chosen by measurement: see bench/intent_bench.py.

Training takes about a second for a few hundred phrases, so it happens at load;
``classify`` is pure and thread-safe (the fitted models are never mutated).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ivr.intent.config import OUT_OF_SCOPE, UNKNOWN, IntentsConfig
from ivr.intent.embeddings import EmbeddingModel, SentenceEncoder, default_encoder
from ivr.intent.entities import EntityExtractor, Phrases
from ivr.intent.model import DEFAULT_OPTIONS, LexicalModel, ModelOptions
from ivr.intent.text import fold, language_key, normalise

__all__ = [
    "Example",
    "IntentClassifier",
    "IntentInfo",
    "IntentMatch",
    "ModelOptions",
    "TrainingError",
    "build_classifier",
    "examples_of",
]


#: Far longer than ten seconds of speech; bounds the work one call can cause on the loop.
MAX_TEXT_CHARS = 1000


class TrainingError(ValueError):
    """The examples cannot make a classifier (fewer than two distinct labels)."""


@dataclass(frozen=True, slots=True)
class IntentMatch:
    """The classifier's answer; ``known`` is False below the threshold or out of scope."""

    intent: str
    #: Probability of the best in-scope intent, 0..1 (also when the answer is unknown).
    confidence: float
    call_type: str
    complexity: int
    known: bool
    #: (entity, value) pairs found in the words, e.g. (("product", "fibre-500"),); also
    #: when the intent is unknown.
    entities: tuple[tuple[str, str], ...] = ()

    def entity(self, name: str) -> str | None:
        """The value found for entity ``name``, if any."""
        return next((value for entity, value in self.entities if entity == name), None)


@dataclass(frozen=True, slots=True)
class Example:
    """One training phrase; ``intent`` may be ``OUT_OF_SCOPE``."""

    text: str
    intent: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class IntentInfo:
    """What an intent tells the ACD."""

    call_type: str
    complexity: int


class IntentClassifier:
    """Trained once from examples; ``classify`` maps text to an ``IntentMatch``."""

    def __init__(
        self,
        examples: Iterable[Example],
        *,
        threshold: float,
        info: Mapping[str, IntentInfo] | None = None,
        unknown: IntentInfo = IntentInfo("general", 2),
        options: ModelOptions = DEFAULT_OPTIONS,
        encoder: SentenceEncoder | None = None,
        entities: Phrases | None = None,
    ) -> None:
        rows = [e for e in examples if normalise(e.text)]
        self._entities = EntityExtractor(entities or {})
        self.threshold = threshold
        self.options = options
        self._info = dict(info or {})
        self._unknown = unknown
        self.intents: tuple[str, ...] = tuple(sorted({e.intent for e in rows} - {OUT_OF_SCOPE}))
        self._shared = _fit(rows, options) if self.intents else None
        self._by_language: dict[str, LexicalModel] = {}
        if options.per_language and self.intents:
            for language in sorted({language_key(e.language) for e in rows} - {""}):
                subset = [e for e in rows if language_key(e.language) == language]
                if len({e.intent for e in subset} - {OUT_OF_SCOPE}) >= 2:
                    self._by_language[language] = _fit(subset, options)
        self._embedded = frozenset(language_key(k) for k in options.embedding_languages)
        self._semantic: EmbeddingModel | None = None
        if encoder is not None and self.intents:
            subset = [e for e in rows if self._embeds(e.language)]
            if len({e.intent for e in subset}) >= 2:
                texts, labels = [_encodable(e.text) for e in subset], [e.intent for e in subset]
                self._semantic = EmbeddingModel(encoder, texts, labels, options.embedding_c)

    @property
    def embeddings(self) -> bool:
        """Whether a sentence-embedding model takes part (else lexical only)."""
        return self._semantic is not None

    def classify(self, text: str, language: str) -> IntentMatch:
        """The best intent for ``text``, or ``UNKNOWN`` when unsure or out of scope."""
        text = text[:MAX_TEXT_CHARS]
        return self._decide(self.rank(text, language), self._entities.extract(text))

    def classify_many(self, texts: Sequence[str], languages: Sequence[str]) -> list[IntentMatch]:
        """``classify`` for many texts, the sentence embeddings computed as one batch."""
        texts = [text[:MAX_TEXT_CHARS] for text in texts]
        return [
            self._decide(ranked, self._entities.extract(text))
            for text, ranked in zip(texts, self.rank_many(texts, languages), strict=True)
        ]

    def classify_readings(self, readings: Sequence[str], language: str) -> tuple[int, IntentMatch]:
        """What several readings of one answer mean together (the recogniser's n best, its
        reading with and without the vocabulary prompt, another recogniser's), and which
        reading said it: each label scores what the reading surest of it gives it, so a
        word heard in one reading counts though another garbled it. Measured on 474 spoken
        turns (Whisper's readings with and without its prompt) against the first reading
        alone: accuracy 0.700 -> 0.726, wrong intents unchanged (0.134).

        The reading returned (its words are the call's transcript, its entities the
        call's) is the first that itself understands the intent chosen, as its best label:
        readings come first-recogniser first, and one that agrees keeps its words ("my
        fibre internet ..." beside another's "my timer internet ..." a hair surer of the
        same fault). Else the one that carried the intent; the first when none is known.
        """
        texts = [text[:MAX_TEXT_CHARS] for text in readings]
        if not texts:
            raise ValueError("no reading to classify")
        pooled: dict[str, float] = {}
        carrier: dict[str, int] = {}
        rankings = self.rank_many(texts, [language] * len(texts))
        for index, ranked in enumerate(rankings):
            for label, probability in ranked:
                if probability > pooled.get(label, -1.0):
                    pooled[label], carrier[label] = probability, index
        ranked = sorted(pooled.items(), key=lambda pair: (-pair[1], pair[0]))
        match = self._decide(ranked, ())
        index = 0
        if match.known:
            agreeing = (i for i, own in enumerate(rankings) if own and own[0][0] == match.intent)
            index = next(agreeing, carrier[match.intent])
        return index, replace(match, entities=self._entities.extract(texts[index]))

    def rank(self, text: str, language: str) -> list[tuple[str, float]]:
        """Every label (intents and ``OUT_OF_SCOPE``) with its probability, best first."""
        return self.rank_many([text], [language])[0]

    def rank_many(
        self, texts: Sequence[str], languages: Sequence[str]
    ) -> list[list[tuple[str, float]]]:
        """``rank`` for many texts."""
        if len(texts) != len(languages):
            raise ValueError("texts and languages differ in length")
        texts = [text[:MAX_TEXT_CHARS] for text in texts]
        normalised = [normalise(text) for text in texts]
        semantic = self._semantic
        embed = [
            i
            for i, language in enumerate(languages)
            if semantic is not None and normalised[i] and self._embeds(language)
        ]
        second: dict[int, dict[str, float]] = {}
        if semantic is not None and embed:
            for start in range(0, len(embed), _BATCH):
                chunk = embed[start : start + _BATCH]
                rows = semantic.probabilities_of([_encodable(texts[i]) for i in chunk])
                for i, row in zip(chunk, rows, strict=True):
                    second[i] = dict(zip(semantic.labels, map(float, row), strict=True))
        results: list[list[tuple[str, float]]] = []
        for i, language in enumerate(languages):
            fitted = self._by_language.get(language_key(language), self._shared)
            if fitted is None or not normalised[i]:
                results.append([])
                continue
            probabilities = map(float, fitted.probabilities(normalised[i]))
            scores = dict(zip(fitted.labels, probabilities, strict=True))
            if i in second:
                scores = _combine(scores, second[i], self.options.embedding_weight)
            results.append(sorted(scores.items(), key=lambda pair: (-pair[1], pair[0])))
        return results

    def predict(self, texts: Sequence[str], languages: Sequence[str]) -> list[str]:
        """Labels for many texts: an intent, or ``OUT_OF_SCOPE`` where unknown (evaluation)."""
        return [
            match.intent if match.known else OUT_OF_SCOPE
            for match in self.classify_many(texts, languages)
        ]

    def _embeds(self, language: str) -> bool:
        return not self._embedded or language_key(language) in self._embedded

    def _decide(
        self, ranked: Sequence[tuple[str, float]], entities: tuple[tuple[str, str], ...]
    ) -> IntentMatch:
        best = next(((i, p) for i, p in ranked if i != OUT_OF_SCOPE), None)
        if best is None:
            return self._unknown_match(0.0, entities)
        intent, probability = best
        if ranked[0][0] == OUT_OF_SCOPE or probability < self.threshold:
            return self._unknown_match(probability, entities)
        info = self._info.get(intent, self._unknown)
        return IntentMatch(intent, probability, info.call_type, info.complexity, True, entities)

    def _unknown_match(
        self, confidence: float, entities: tuple[tuple[str, str], ...] = ()
    ) -> IntentMatch:
        unknown = self._unknown
        return IntentMatch(
            UNKNOWN, confidence, unknown.call_type, unknown.complexity, False, entities
        )


#: Phrases encoded at once by ``rank_many`` (bounds the memory of one batch).
_BATCH = 256
#: Floor of a probability before its logarithm: a label one model never saw.
_FLOOR = 1e-9


def _encodable(text: str) -> str:
    """What the encoder reads: Arabic spelling variants made one (as the lexical model
    sees them), case and English words as said."""
    return " ".join(fold(text, lower=False).split())


def _combine(
    first: Mapping[str, float], second: Mapping[str, float], weight: float
) -> dict[str, float]:
    """The weighted geometric mean of two distributions, renormalised: a label both models
    find likely stays likely, one they disagree on drops (sharper than the average)."""
    labels = sorted(first.keys() | second.keys())
    logs = np.array(
        [
            (1 - weight) * math.log(max(first.get(label, 0.0), _FLOOR))
            + weight * math.log(max(second.get(label, 0.0), _FLOOR))
            for label in labels
        ]
    )
    exp = np.exp(logs - logs.max())
    return dict(zip(labels, map(float, exp / exp.sum()), strict=True))


def _fit(rows: Sequence[Example], options: ModelOptions) -> LexicalModel:
    labels = sorted({e.intent for e in rows})
    if len(labels) < 2:
        raise TrainingError(f"need at least two distinct labels to train, got {labels}")
    return LexicalModel([normalise(e.text) for e in rows], [e.intent for e in rows], options)


def examples_of(config: IntentsConfig) -> list[Example]:
    """The config's phrases as training examples (out-of-scope ones included)."""
    examples = [
        Example(phrase, name, language)
        for name, intent in config.intents.items()
        for language, phrases in intent.examples.items()
        for phrase in phrases
    ]
    examples.extend(
        Example(phrase, OUT_OF_SCOPE, language)
        for language, phrases in config.out_of_scope.items()
        for phrase in phrases
    )
    return examples


class _Configured:
    """``build_classifier``'s default: the encoder the intents file names."""


CONFIGURED = _Configured()


def build_classifier(
    config: IntentsConfig,
    options: ModelOptions = DEFAULT_OPTIONS,
    *,
    encoder: SentenceEncoder | _Configured | None = CONFIGURED,
) -> IntentClassifier:
    """Train the classifier for the intents file (an empty file: always unknown).

    By default the file's ``embeddings.model`` is loaded once per process
    (``embeddings.default_encoder``) and the languages of ``embeddings.languages`` (all
    when empty) get the sentence-embedding model; when its package is missing, or with
    ``encoder=None``, the classifier is lexical only. An explicit ``encoder`` is used
    as given (tests, benchmarks).
    """
    if isinstance(encoder, _Configured):
        model = config.embeddings.model
        encoder = None if model == "off" else default_encoder(model)
    options = replace(
        options,
        embedding_languages=config.embeddings.languages,
        embedding_weight=config.embeddings.weight,
    )
    info = {
        name: IntentInfo(intent.call_type, intent.complexity)
        for name, intent in config.intents.items()
    }
    unknown = IntentInfo(config.unknown.call_type, config.unknown.complexity)
    return IntentClassifier(
        examples_of(config),
        threshold=config.threshold,
        info=info,
        unknown=unknown,
        options=options,
        encoder=encoder,
        entities=config.entities,
    )
