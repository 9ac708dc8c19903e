"""The fit's own measures on made-up examples (fast: no model, no index)."""

from __future__ import annotations

import random

from evals.fit import Example, gold_first, transfer
from evals.harness import GoldItem
from rag.query.features import FEATURES

_COVERAGE = FEATURES.index("coverage_sentence")


def _examples(seed: int, questions: int = 60) -> list[Example]:
    """Questions of 6 candidate sentences each; in answerable ones one sentence is the answer and
    has high coverage, and a third of the questions are unanswerable (every sentence low)."""
    rng = random.Random(seed)
    out = []
    for q in range(questions):
        answerable = q % 3 != 0
        item = GoldItem(f"q{seed}-{q}", "paragraph" if answerable else "unanswerable", "?",
                        [["x"]] if answerable else [], [])  # fmt: skip
        gold = rng.randrange(6) if answerable else -1
        rows, labels = [], []
        for i in range(6):
            row = [rng.random() * 0.1 for _ in FEATURES]
            row[_COVERAGE] = 0.8 + rng.random() * 0.2 if i == gold else rng.random() * 0.5
            rows.append(row)
            labels.append(int(i == gold))
        out.append(Example(item, item.question, [], rows, labels))
    return out


def test_gold_first_counts_answerable_questions_whose_top_sentence_is_gold() -> None:
    examples = _examples(0, 6)
    exact = [[float(v) for v in ex.labels] for ex in examples]
    assert gold_first(examples, exact) == 1.0
    reversed_ = [[1.0 - v for v in ps] for ps in exact]
    assert gold_first(examples, reversed_) == 0.0


def test_transfer_scores_a_model_fitted_on_one_corpus_on_the_other() -> None:
    figures = transfer(_examples(1), _examples(2), c=1.0, cq=1.0)
    assert set(figures) == {"sentence_log_loss", "gold_first", "question_log_loss",
                            "question_auc"}  # fmt: skip
    assert figures["gold_first"] > 0.9
    assert figures["question_auc"] > 0.9
    assert 0.0 < figures["sentence_log_loss"] < 0.3
