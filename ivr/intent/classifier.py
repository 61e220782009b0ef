"""Which intent a caller's words express, and how sure we are.

The model is lexical: TF-IDF over word 1-2-grams and character 1-4-grams (within word
boundaries) of the normalised text, and a multinomial logistic regression whose softmax
is the confidence. Character n-grams carry what a short, noisy, recognised utterance has:
stems ("cancel", "cancelled", "cancellation"), Arabic clitics ("بالفاتوره" ~ "الفاتوره"),
and recogniser misspellings. Out-of-scope phrases are one more class, so "hello" or
"wrong number" wins against every intent instead of being forced onto the nearest one;
a top probability below the threshold is "unknown" too. Chosen by measurement against a
keyword list and other settings: see bench/intent_bench.py.

Training takes a fraction of a second for a few hundred phrases, so it happens at load;
``classify`` is pure and thread-safe (the fitted model is never mutated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ivr.intent.config import OUT_OF_SCOPE, UNKNOWN, IntentsConfig
from ivr.intent.embeddings import EmbeddingModel, SentenceEncoder
from ivr.intent.entities import EntityExtractor, Phrases
from ivr.intent.model import DEFAULT_OPTIONS, LexicalModel, ModelOptions
from ivr.intent.text import language_key, normalise

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
        self._semantic: dict[str, EmbeddingModel] = {}
        if encoder is not None and self.intents:
            for language in options.embedding_languages:
                subset = [e for e in rows if language_key(e.language) == language_key(language)]
                if len({e.intent for e in subset}) >= 2:
                    texts, labels = [e.text.strip() for e in subset], [e.intent for e in subset]
                    model = EmbeddingModel(encoder, texts, labels, options.embedding_c)
                    self._semantic[language_key(language)] = model

    def classify(self, text: str, language: str) -> IntentMatch:
        """The best intent for ``text``, or ``UNKNOWN`` when unsure or out of scope."""
        text = text[:MAX_TEXT_CHARS]
        ranked = self.rank(text, language)
        entities = self._entities.extract(text)
        best = next(((i, p) for i, p in ranked if i != OUT_OF_SCOPE), None)
        if best is None:
            return self._unknown_match(0.0, entities)
        intent, probability = best
        if ranked[0][0] == OUT_OF_SCOPE or probability < self.threshold:
            return self._unknown_match(probability, entities)
        info = self._info.get(intent, self._unknown)
        return IntentMatch(intent, probability, info.call_type, info.complexity, True, entities)

    def rank(self, text: str, language: str) -> list[tuple[str, float]]:
        """Every label (intents and ``OUT_OF_SCOPE``) with its probability, best first."""
        text = text[:MAX_TEXT_CHARS]
        normalised = normalise(text)
        key = language_key(language)
        fitted = self._by_language.get(key, self._shared)
        if fitted is None or not normalised:
            return []
        scores = dict(zip(fitted.labels, map(float, fitted.probabilities(normalised)), strict=True))
        semantic = self._semantic.get(key)
        if semantic is not None:
            weight = self.options.embedding_weight
            second = dict(
                zip(semantic.labels, map(float, semantic.probabilities(text.strip())), strict=True)
            )
            scores = {
                label: (1 - weight) * scores.get(label, 0.0) + weight * second.get(label, 0.0)
                for label in scores.keys() | second.keys()
            }
        return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))

    def predict(self, texts: Sequence[str], languages: Sequence[str]) -> list[str]:
        """Labels for many texts: an intent, or ``OUT_OF_SCOPE`` where unknown (evaluation)."""
        results = []
        for text, language in zip(texts, languages, strict=True):
            match = self.classify(text, language)
            results.append(match.intent if match.known else OUT_OF_SCOPE)
        return results

    def _unknown_match(
        self, confidence: float, entities: tuple[tuple[str, str], ...] = ()
    ) -> IntentMatch:
        unknown = self._unknown
        return IntentMatch(
            UNKNOWN, confidence, unknown.call_type, unknown.complexity, False, entities
        )


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


def build_classifier(
    config: IntentsConfig,
    options: ModelOptions = DEFAULT_OPTIONS,
    *,
    encoder: SentenceEncoder | None = None,
) -> IntentClassifier:
    """Train the classifier for the intents file (an empty file: always unknown).

    With an ``encoder`` (``embeddings.load_encoder()``), the languages the file's
    ``embeddings`` section lists also get the sentence-embedding model; without one the
    classifier is lexical only, whatever the file says.
    """
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
