"""A language model reads the best candidate sentences before the answer is given.

The extractive scorer sees what a sentence shares with the question (meaning, terms, the kind of
fact asked), not whether it states the asked fact: "In what year was the Doris Day Animal
Foundation founded?" against a sentence that names her and two other years looks like an answer to
every feature it has. A reader does see that. No cross-encoder, NLI or extractive-QA model is
packaged on PyPI that tells an answer from a near miss (the one two-label cross-encoder found
scores both alike; evals/EXPERIMENTS.md, 2026-12-07), but the local generative model is. It is
asked two things about one sentence at a time (``PROMPTS``): does the sentence state the answer
(``STATES``: the difference of its next-token logits for "Yes" and "No"), and what is the
shortest phrase of it that answers, or "not stated" (``PHRASE``: minus the log-probability that
the reply begins "not"). Each is a score read from the first token of the reply, with no text
generated.

Measured on the 454 dev questions (the packaged Qwen2.5-Coder-1.5B-Instruct, each question's
two best sentences by held-out stage-1 probability): the better of the two ``STATES`` scores
alone separates answerable from unanswerable questions with AUC 0.902, ``PHRASE`` alone 0.849,
against 0.885 for the fitted question stage; all three combined (``ReaderCheck``,
cross-validated on dev) AUC 0.945 and held-out refusals 0.617 -> 0.752 at the same false refusal
rate (0.033; 0.715 and AUC 0.933 without ``PHRASE``; 2026-12-03), and with the mean ``STATES``
reading of the four read beside them AUC 0.948, refusals 0.778 (2026-12-04). The readings also
order the quote (``ReaderCheck.order``) among the ``CANDIDATES`` (four) read: one after the lead
read as not stating the answer is left out (``leave_out``), the one read best goes first where
the lead is read as not stating it (``promote``); cross-validated on dev with two read,
precision 0.865 -> 0.891 and facts 0.832 -> 0.850, with four 0.904 and 0.856, and with the mean
reading in the check 0.901 and 0.865. Eight readings cost about five seconds an answer on two
cores, so the check is opt-in (``RAG_READER=local``).

What else was tried beside each part (other prompts, other inputs of the check, other ways to
order the quote) and why it was not kept: evals/EXPERIMENTS.md, "A reader before the answer".

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
#: How many of the best candidates are read, for ``ReaderCheck.order`` to choose among: the
#: dev answers, cross-validated (``evals.fit_reader``; 2026-12-04), for 2 / 3 / 4 read: facts
#: 0.850 / 0.856 / 0.856, precision 0.891 / 0.895 / 0.904, 33 / 33 / 32 words. Each more costs
#: two readings, about a second on two cores (eight seed questions: median 2.8 s for 2, 4.9 s for
#: 4; 2026-12-04).
CANDIDATES = 4
#: How many of them the check's inputs are the best of: each more read is one more chance for
#: an unanswerable question's best reading to look like an answer (dev, held out: AUC 0.902 for
#: the better ``STATES`` reading of two against 0.892 for the first alone; the whole check
#: 0.945 with the best of 2, 0.943 with the best of 3 or of 4).
CHECKED = 2

T = TypeVar("T")


@dataclass(frozen=True)
class Prompt:
    """One question put to the reader about one sentence, and how the first token of the reply
    it would give becomes a score: higher is more likely that the sentence states the answer.
    The scores were fitted with these words; changing one needs ``make fit-reader``."""

    name: str
    system: str
    #: The user turn, ``str.format``-ed with ``question`` and ``sentence``.
    user: str
    #: The reply's first word for "it does not state it".
    no: str
    #: The reply's first word for "it does": the score is logit(yes) - logit(no). ``None`` for
    #: a prompt whose positive reply is a phrase, not one word: the score is -log P(no).
    yes: str | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """The words whose first tokens' log-probabilities the score is made of."""
        return (self.no,) if self.yes is None else (self.yes, self.no)

    def messages(self, question: str, sentence: str) -> list[dict[str, str]]:
        """The chat the reader is asked; the instruction comes first so that a model's cache of
        it is kept from one candidate to the next."""
        user = self.user.format(question=question, sentence=sentence)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def score(self, logprobs: list[float]) -> float:
        """The score from the log-probabilities of ``options``' first tokens.

        >>> STATES.score([-0.5, -2.0]), PHRASE.score([-0.25])
        (1.5, 0.25)
        """
        return logprobs[0] - logprobs[1] if self.yes is not None else -logprobs[0]


#: Asked whether the sentence states the answer: Yes or No.
STATES = Prompt(
    name="states",
    system=(
        "You check whether a sentence from a news article answers a question. Answer Yes only "
        "if the sentence itself states the specific fact the question asks for; a sentence that "
        "mentions the subject but not the asked fact is No."
    ),
    user="Question: {question}\nSentence: {sentence}\nDoes the sentence state the answer? "
    "Yes or No.",
    yes="Yes",
    no="No",
)
#: Asked to answer from the sentence, or to say it is not stated: a model that must find the
#: phrase notices some missing facts that a yes/no judgment passes (dev, 2026-12-03: a third
#: input of the check beside the question stage and ``STATES``, held-out AUC 0.933 -> 0.945).
PHRASE = Prompt(
    name="phrase",
    system=(
        "You answer a question from one sentence of a news article. Reply with the shortest "
        "phrase, copied word for word from the sentence, that answers the question. If the "
        "sentence does not state the answer, reply exactly: not stated"
    ),
    user="Sentence: {sentence}\nQuestion: {question}",
    no="not",
)
#: What every candidate is asked, in order; ``ReaderCheck`` reads the best score of each.
PROMPTS = (STATES, PHRASE)
#: What ``ReaderCheck`` reads, in order: the question stage's logit, each prompt's best reading
#: of the ``CHECKED`` first candidates, and the mean ``STATES`` reading of all read. The mean says
#: how much of the evidence is on the asked fact, where the best can be one near miss read as an
#: answer (dev, held out, 2026-12-04: log loss 0.245 -> 0.233, AUC 0.945 -> 0.948, refusals
#: 0.752 -> 0.778 at the same false refusals; the mean of the ``PHRASE`` readings added nothing).
FEATURES = ("question_logit", *(f"{p.name}_best" for p in PROMPTS), f"{STATES.name}_mean")


def reading_inputs(readings: list[list[float]]) -> list[float]:
    """``ReaderCheck``'s inputs after the question stage's, from one question's readings (one
    list per prompt of ``PROMPTS``, as ``read`` gives); the fit and the answerer both go through
    here.

    >>> reading_inputs([[1.0, 3.0, -4.0, -4.0], [0.5, 0.0, 9.0, 9.0]])
    [3.0, 0.5, -1.0]
    """
    return [*(max(r[:CHECKED]) for r in readings), sum(readings[0]) / len(readings[0])]


def question_logit(probability: float) -> float:
    """The question stage's probability as ``ReaderCheck``'s first input (clipped, so that a
    certain 0 or 1 stays finite); the fit and the answerer both go through here."""
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def leave_out(ranked: list[T], scores: list[float], below: float | None) -> list[T]:
    """``ranked`` less the read candidates after the lead (``scores`` are the ``STATES``
    readings of its first ones) read below ``below`` and below the lead: the reader said they
    do not state the answer. The lead stays: whether to answer at all is
    ``ReaderCheck.probability``'s to say.

    >>> leave_out(["a", "b", "c"], [0.5, -2.0], -1.0)
    ['a', 'c']
    >>> leave_out(["a", "b", "c"], [-3.0, -2.0], -1.0)
    ['a', 'b', 'c']
    """
    if below is None or not scores:
        return list(ranked)
    bar = min(below, scores[0])
    return [c for i, c in enumerate(ranked) if i == 0 or i >= len(scores) or scores[i] >= bar]


def promote(ranked: list[T], readings: list[list[float]], weights: list[float],
            above: float | None) -> tuple[list[T], list[list[float]]]:  # fmt: skip
    """``ranked`` with the read candidate whose readings (one list per prompt), weighed as
    ``weights`` weigh them, are best put first when they exceed the lead's by more than
    ``above``; and the readings in the new order. The reader read them all and found that one
    the one that states the answer; the others keep their order.

    >>> promote(["a", "b", "c"], [[-2.0, 1.0], [0.0, 0.5]], [1.0, 1.0], 1.0)
    (['b', 'a', 'c'], [[1.0, -2.0], [0.5, 0.0]])
    >>> promote(["a", "b", "c"], [[-2.0, 1.0], [0.0, 0.5]], [1.0, 1.0], 5.0)[0]
    ['a', 'b', 'c']
    >>> promote(["a", "b", "c", "d"], [[-2.0, 1.0, 3.0]], [1.0], 1.0)
    (['c', 'a', 'b', 'd'], [[3.0, -2.0, 1.0]])
    """
    n_read = min((len(ranked), *(len(r) for r in readings))) if readings else 0
    if above is None or n_read < 2:
        return list(ranked), readings

    def weighed(i: int) -> float:
        return sum(w * r[i] for w, r in zip(weights, readings, strict=True))

    best = max(range(1, n_read), key=weighed)
    if weighed(best) - weighed(0) <= above:
        return list(ranked), readings
    order = [best, *(i for i in range(len(ranked)) if i != best)]
    return [ranked[i] for i in order], [[r[i] for i in order if i < len(r)] for r in readings]


class Reader(Protocol):
    """Scores whether a sentence states the answer to a question, as ``prompt`` asks it: higher
    is more likely."""

    def warm_up(self) -> None: ...

    def score(self, prompt: Prompt, question: str, sentence: str) -> float: ...


def read(reader: Reader, question: str, sentences: list[str]) -> list[list[float]]:
    """Every sentence read with every prompt: one list of scores per prompt of ``PROMPTS``, in
    the order of ``sentences``. One prompt at a time, so its instruction stays cached."""
    return [[reader.score(p, question, s) for s in sentences] for p in PROMPTS]


class LocalReader:
    """The local llama.cpp model (``rag.query.llm.LocalGenerator``) as a reader: each prompt's
    score from the log-probabilities of the first token of its reply, nothing generated.

    Each prompt after the first is read in a context of its own (``LocalGenerator.sibling``), so
    every prompt's instruction stays cached from one question to the next instead of being read
    again each time the prompts take turns: over eight seed questions (2026-12-04) the median
    answer's readings took 6.0 s in one context and 4.9 s in two, for four candidates."""

    def __init__(self, generator: Any) -> None:
        self.generators = {
            p.name: generator if i == 0 else generator.sibling() for i, p in enumerate(PROMPTS)
        }

    def warm_up(self) -> None:
        for generator in self.generators.values():
            generator.warm_up()

    def score(self, prompt: Prompt, question: str, sentence: str) -> float:
        generator = self.generators[prompt.name]
        logprobs = generator.logprobs(prompt.messages(question, sentence), prompt.options)
        return float(prompt.score(logprobs))


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ReaderCheck:
    """P(the sources answer the question) from the question stage's probability (as a logit) and
    the readings (``reading_inputs``: each prompt's best of the ``CHECKED`` best sentences, the
    mean ``STATES`` reading of all read), with its own refusal threshold; fitted by
    ``make fit-reader`` on dev questions only (``evals.fit_reader``)."""

    model: Linear
    threshold: float
    #: A read candidate after the lead whose reading is below this (and below the lead's) is
    #: not quoted: the reader said it does not state the answer. ``None`` quotes as unread.
    leave_out_below: float | None = None
    #: The read candidate whose readings, weighed as the check weighs them (a difference of the
    #: check's logit), are best goes first when they exceed the lead's by more than this.
    #: ``None`` keeps the order.
    promote_above: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def probability(self, question_probability: float, readings: list[list[float]]) -> float:
        """``readings``: one list of the candidates' scores per prompt, as ``read`` gives."""
        row = [question_logit(question_probability), *reading_inputs(readings)]
        return self.model.probabilities([row])[0]

    def order(self, ranked: list[T], readings: list[list[float]]) -> list[T]:
        """The candidates as the reader leaves them: a read one it finds states the answer
        where the lead does not goes first (``promote``), then a read one after the lead that
        it finds does not is left out (``leave_out``, by the ``STATES`` readings)."""
        best = slice(1, 1 + len(PROMPTS))
        weights = [
            c / s for c, s in zip(self.model.coef[best], self.model.scale[best], strict=True)
        ]
        ranked, readings = promote(ranked, readings, weights, self.promote_above)
        return leave_out(ranked, readings[0], self.leave_out_below)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "threshold": self.threshold,
            "leave_out_below": self.leave_out_below,
            "promote_above": self.promote_above,
            "provenance": self.provenance,
        }

    def save(self, path: Path = DEFAULT_PATH) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> ReaderCheck:
        check = load_fitted(path, "the reader check", "fit-reader", lambda data: cls(
            model=Linear.from_dict(data["model"]),
            threshold=float(data["threshold"]),
            leave_out_below=_optional(data.get("leave_out_below")),
            promote_above=_optional(data.get("promote_above")),
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
    "CHECKED",
    "PHRASE",
    "PROMPTS",
    "STATES",
    "LocalReader",
    "Prompt",
    "Reader",
    "ReaderCheck",
    "leave_out",
    "promote",
    "question_logit",
    "read",
    "reading_inputs",
]
