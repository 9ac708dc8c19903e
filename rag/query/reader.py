"""A language model reads the best candidate sentences before the answer is given.

The extractive scorer sees what a sentence shares with the question (meaning, terms, the kind of
fact asked), not whether it states the asked fact: "In what year was the Doris Day Animal
Foundation founded?" against a sentence that names her and two other years looks like an answer
to every feature it has. A reader does see that. No cross-encoder, NLI or extractive-QA model is
packaged on PyPI, but the local generative model is: asked "does this sentence state the answer?"
about one sentence at a time, the difference of its next-token logits for "Yes" and "No" is a
score, read once per candidate, with no text generated.

Measured on the 454 dev questions (2026-12-02, the packaged Qwen2.5-Coder-1.5B-Instruct, each
question's two best sentences by held-out stage-1 probability): the better of the two scores
alone separates answerable from unanswerable questions with AUC 0.902, against 0.885 for the
fitted question stage; combined with it (``ReaderCheck``, cross-validated on dev) AUC 0.933 and
held-out refusals 0.617 -> 0.715 at the same false refusal rate (0.033; refit 2026-12-03 after
the question stage gained eight features); a second candidate read as not stating the answer is
left out of the quote (``leave_out``: held-out precision 0.861 -> 0.875, facts as before). It
costs three to four seconds an answer on two cores, so it is opt-in (``RAG_READER=local``).

    >>> check = ReaderCheck.load()
    >>> 0.0 < check.threshold < 1.0
    True
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rag.errors import ModelError
from rag.query.scorer import Linear, load_fitted

DEFAULT_PATH = Path(__file__).with_name("reader.json")
#: The instruction the scores were fitted with; changing a word of it needs ``make fit-reader``.
SYSTEM = (
    "You check whether a sentence from a news article answers a question. Answer Yes only if "
    "the sentence itself states the specific fact the question asks for; a sentence that "
    "mentions the subject but not the asked fact is No."
)
#: How many of the best candidates are read; the better score counts (dev: AUC 0.902 for the
#: better of two against 0.892 for the best one alone; each more costs about a second).
CANDIDATES = 2
#: What ``ReaderCheck`` reads, in order.
FEATURES = ("question_logit", "reader_best")

T = TypeVar("T")


def question_logit(probability: float) -> float:
    """The question stage's probability as ``ReaderCheck``'s first input (clipped, so that a
    certain 0 or 1 stays finite); the fit and the answerer both go through here."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def leave_out(ranked: list[T], scores: list[float], below: float | None) -> list[T]:
    """``ranked`` less the read candidates after the lead (``scores`` are the readings of its
    first ones) read below ``below`` and below the lead: the reader said they do not state the
    answer. The lead stays: whether to answer at all is ``ReaderCheck.probability``'s to say.

    >>> leave_out(["a", "b", "c"], [0.5, -2.0], -1.0)
    ['a', 'c']
    >>> leave_out(["a", "b", "c"], [-3.0, -2.0], -1.0)
    ['a', 'b', 'c']
    """
    if below is None or not scores:
        return list(ranked)
    bar = min(below, scores[0])
    return [c for i, c in enumerate(ranked) if i == 0 or i >= len(scores) or scores[i] >= bar]


class Reader(Protocol):
    """Scores whether a sentence states the answer to a question: higher is more likely."""

    def warm_up(self) -> None: ...

    def score(self, question: str, sentence: str) -> float: ...


def messages(question: str, sentence: str) -> list[dict[str, str]]:
    """The chat a reader is asked; the instruction comes first so a model's cache of it is kept
    from one candidate to the next."""
    user = (
        f"Question: {question}\nSentence: {sentence}\n"
        "Does the sentence state the answer? Yes or No."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


class LocalReader:
    """The local llama.cpp model (``rag.query.llm.LocalGenerator``) as a reader: the logit of
    "Yes" minus that of "No" as the next token of its reply."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def warm_up(self) -> None:
        self.generator.warm_up()

    def score(self, question: str, sentence: str) -> float:
        return float(self.generator.prefer(messages(question, sentence), ("Yes", "No")))


@dataclass(frozen=True)
class ReaderCheck:
    """P(the sources answer the question) from the question stage's probability (as a logit) and
    the best reader score of the ``CANDIDATES`` best sentences, with its own refusal threshold;
    fitted by ``make fit-reader`` on dev questions only (``evals.fit_reader``)."""

    model: Linear
    threshold: float
    #: A read candidate after the lead whose reading is below this (and below the lead's) is
    #: not quoted: the reader said it does not state the answer. ``None`` quotes as unread.
    leave_out_below: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def probability(self, question_probability: float, scores: list[float]) -> float:
        row = [question_logit(question_probability), max(scores)]
        return self.model.probabilities([row])[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "threshold": self.threshold,
            "leave_out_below": self.leave_out_below,
            "provenance": self.provenance,
        }

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> ReaderCheck:
        check = load_fitted(path, "the reader check", "fit-reader", lambda data: cls(
            model=Linear.from_dict(data["model"]),
            threshold=float(data["threshold"]),
            leave_out_below=(None if data.get("leave_out_below") is None
                             else float(data["leave_out_below"])),
            provenance=dict(data.get("provenance", {})),
        ))  # fmt: skip
        if check.model.features != FEATURES:
            raise ModelError(
                f"the reader check {path} was fitted on other inputs than this version gives "
                "it; refit it with `make fit-reader`"
            )
        return check


__all__ = [
    "CANDIDATES",
    "LocalReader",
    "Reader",
    "ReaderCheck",
    "SYSTEM",
    "leave_out",
    "messages",
    "question_logit",
]
