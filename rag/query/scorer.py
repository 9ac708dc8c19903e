"""The fitted answer scorer, in two stages fitted by ``python -m evals.fit`` on dev questions only.

1. ``sentence``: P(this sentence answers the question) from its ``features.RANKING_FEATURES``.
2. ``question``: P(the sources answer the question at all) from ``features.QUESTION_FEATURES``,
   which summarise stage 1 over all candidates (the best probability, its margin, what the best
   candidate lacks). It was fitted on stage-1 probabilities of questions held out of stage 1's
   fit, so it learned from the probabilities it will see on new questions.

Both are standardised L2 logistic regressions, cross-validated by question; their weights, the
refusal ``threshold`` and the selection ``ratio`` ship as ``scorer.json`` beside this file with
the provenance of every number. Inference is a dot product in numpy: answering needs neither
scikit-learn nor a fit at run time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import ModelError
from rag.query.features import FEATURES, QUESTION_FEATURES, RANKING_FEATURES

DEFAULT_PATH = Path(__file__).with_name("scorer.json")
#: Where stage 1's inputs sit in a row of ``FEATURES``.
RANKING_COLUMNS: tuple[int, ...] = tuple(FEATURES.index(name) for name in RANKING_FEATURES)


T = TypeVar("T")


def load_fitted(path: Path, what: str, target: str, build: Callable[[dict[str, Any]], T]) -> T:
    """``build`` over the JSON of a fitted file (``what``: "the answer scorer"); a missing or
    broken file is a ``ModelError`` that says to refit it with ``make TARGET``."""
    try:
        return build(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"cannot read {what} {path} ({exc}); refit it with `make {target}`"
        ) from None


@dataclass(frozen=True)
class Linear:
    """A standardised logistic regression over named features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probabilities(self, rows: list[list[float]]) -> list[float]:
        import numpy as np

        if not rows:
            return []
        x = (np.asarray(rows, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = x @ np.asarray(self.coef) + self.intercept
        return [1.0 / (1.0 + math.exp(-float(v))) for v in z]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Linear:
        return cls(
            features=tuple(data["features"]),
            mean=tuple(map(float, data["mean"])),
            scale=tuple(map(float, data["scale"])),
            coef=tuple(map(float, data["coef"])),
            intercept=float(data["intercept"]),
        )


@dataclass(frozen=True)
class Scorer:
    """Both stages plus the two decisions fitted with them.

    ``threshold``: the lowest stage-2 probability at which the question counts as answered (below
    it, a refusal). ``ratio``: other sentences join the best one when their stage-1 probability
    is at least this share of the best one's; ``ratio_wide`` is the same for why/how and list
    questions, whose answers take several sentences.
    """

    sentence: Linear
    question: Linear
    threshold: float
    ratio: float
    ratio_wide: float
    provenance: dict[str, Any] = field(default_factory=dict)

    def sentence_probabilities(self, rows: list[list[float]]) -> list[float]:
        """Stage 1 over rows of ``FEATURES`` (it reads the ``RANKING_FEATURES`` among them)."""
        return self.sentence.probabilities([[row[i] for i in RANKING_COLUMNS] for row in rows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentence": self.sentence.to_dict(),
            "question": self.question.to_dict(),
            "threshold": self.threshold,
            "ratio": self.ratio,
            "ratio_wide": self.ratio_wide,
            "provenance": self.provenance,
        }

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Scorer:
        """Read a fitted scorer; a missing, foreign or stale file says how to refit it."""
        scorer = load_fitted(path, "the answer scorer", "fit", lambda data: cls(
            sentence=Linear.from_dict(data["sentence"]),
            question=Linear.from_dict(data["question"]),
            threshold=float(data["threshold"]),
            ratio=float(data["ratio"]),
            ratio_wide=float(data["ratio_wide"]),
            provenance=dict(data.get("provenance", {})),
        ))  # fmt: skip
        if (
            scorer.sentence.features != RANKING_FEATURES
            or scorer.question.features != QUESTION_FEATURES
        ):
            raise ModelError(
                f"the answer scorer {path} was fitted on other features than this version "
                "computes; refit it with `make fit`"
            )
        return scorer
