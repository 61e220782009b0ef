"""The lexical model: TF-IDF word and character n-grams, multinomial logistic regression.

scikit-learn fits it; inference is re-done here with the fitted vocabularies, IDF weights
and coefficients, because sklearn's per-call validation costs milliseconds for one short
phrase and ``classify`` runs on the event loop. The result is the same softmax (a test
compares the two).

scikit-learn and SciPy (about 100 MB resident) are imported when a model is first fitted:
a service whose intents file is empty never loads them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_OPTIONS", "LexicalModel", "ModelOptions"]

Vector = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """Model settings; the defaults are the measured best (bench/intent_bench.py)."""

    word_ngrams: tuple[int, int] = (1, 2)
    #: Character n-gram range within word boundaries; (0, 0) turns them off.
    char_ngrams: tuple[int, int] = (1, 4)
    #: Inverse regularisation strength of the logistic regression.
    c: float = 100.0
    #: One model per language (plus a shared one for other languages) instead of one.
    per_language: bool = False
    #: Languages that get the sentence-embedding model (when there is an encoder); empty:
    #: every language.
    embedding_languages: tuple[str, ...] = ()
    #: Share of the embedding model in the combined probabilities (a weighted geometric
    #: mean: both models must agree for a confident answer).
    embedding_weight: float = 0.6
    #: Inverse regularisation strength of the embedding model's logistic regression.
    embedding_c: float = 10.0


DEFAULT_OPTIONS = ModelOptions()


@dataclass(frozen=True, slots=True)
class _Features:
    """One fitted vectorizer, reduced to what inference needs."""

    analyse: Callable[[str], list[str]]
    vocabulary: Mapping[str, int]
    idf: Vector
    offset: int  # where its columns start in the stacked feature matrix


class LexicalModel:
    """Fitted on normalised texts; ``probabilities`` gives the softmax over ``labels``."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str], options: ModelOptions) -> None:
        from scipy import sparse  # type: ignore[import-untyped]
        from sklearn.feature_extraction.text import (  # type: ignore[import-untyped]
            TfidfVectorizer,
        )
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        vectorizers = [
            TfidfVectorizer(
                analyzer="word",
                ngram_range=options.word_ngrams,
                token_pattern=r"(?u)\b\w+\b",
                sublinear_tf=True,
            )
        ]
        if options.char_ngrams[1] > 0:
            vectorizers.append(
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=options.char_ngrams, sublinear_tf=True
                )
            )
        # lbfgs: the same optimum as newton-cg in a few seconds on a public benchmark's
        # 10,000 phrases and 77 intents (newton-cg: minutes).
        regression = LogisticRegression(C=options.c, solver="lbfgs", max_iter=1000)
        # BLAS threads only add contention (10x slower on a busy machine).
        # Limited to BLAS so the speech decoders' OpenMP pools are left alone.
        with threadpool_limits(limits=1, user_api="blas"):
            matrices = [v.fit_transform(texts) for v in vectorizers]
            regression.fit(sparse.hstack(matrices).tocsr(), list(labels))
        self.labels: tuple[str, ...] = tuple(str(label) for label in regression.classes_)
        coefficients = np.asarray(regression.coef_, dtype=np.float64)
        intercepts = np.asarray(regression.intercept_, dtype=np.float64)
        if len(self.labels) == 2:  # sklearn keeps one row for two classes: logit of the second
            coefficients = np.vstack([np.zeros_like(coefficients), coefficients])
            intercepts = np.concatenate([[0.0], intercepts])
        # Column-major by feature: one feature's weights for every label are one row.
        self._weights: Vector = np.ascontiguousarray(coefficients.T)
        self._intercepts: Vector = intercepts
        features, offset = [], 0
        for vectorizer in vectorizers:
            vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
            idf = np.asarray(vectorizer.idf_, dtype=np.float64)
            features.append(_Features(vectorizer.build_analyzer(), vocabulary, idf, offset))
            offset += len(vocabulary)
        self._features = tuple(features)
        self._sklearn = (vectorizers, regression)

    def probabilities(self, text: str) -> Vector:
        """Softmax over ``labels`` for one normalised text."""
        logits = self._intercepts.copy()
        for features in self._features:
            counts = Counter(
                index
                for term in features.analyse(text)
                if (index := features.vocabulary.get(term)) is not None
            )
            if not counts:
                continue
            columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64)
            weights = tf * features.idf[columns]
            weights /= np.linalg.norm(weights)
            logits += weights @ self._weights[columns + features.offset]
        logits -= logits.max()
        exp = np.exp(logits)
        result: Vector = exp / exp.sum()
        return result

    def sklearn_probabilities(self, texts: Sequence[str]) -> Vector:
        """The same through scikit-learn: the reference ``probabilities`` is tested against."""
        from scipy import sparse

        vectorizers, regression = self._sklearn
        matrix = sparse.hstack([v.transform(texts) for v in vectorizers]).tocsr()
        result: Vector = regression.predict_proba(matrix)
        return result
