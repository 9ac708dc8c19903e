"""The local generative answerer on a fixed subset of the frozen test part, beside LlamaIndex's
CitationQueryEngine driven by the same model. Skipped (with the reason) without `make local-llm`.

Thresholds are a ratchet, as in test_quality.py: set from what the system achieves on this subset
(every second test question, 42 in all). On it the generative answerer states fewer facts than
the extractive one and the verifier drops over a third of what it writes: the README says so.
"""

from __future__ import annotations

import pytest

from evals.harness import Scoreboard, check_threshold

pytestmark = pytest.mark.slow

THRESHOLDS = {
    # 2026-11-24: with the scorer fitted on the doubled dev corpus (test_quality.py) the model is
    # handed evidence for more questions: facts 0.734 -> 0.882, precision 0.734 -> 0.777, false
    # refusals 2 -> 0 of 34, but refusals 0.500 -> 0.375 (as the extractive answerer's, which
    # decides them) and drop share 0.350 -> 0.444. Those two lines were lowered by that trade.
    # 2026-12-01: with the near-miss and predicate features (test_quality.py) the extractive
    # answerer refuses more, and so does this one: refusals 0.375 -> 0.500, precision 0.777 ->
    # 0.810, drop share 0.444 -> 0.375, but facts 0.882 -> 0.853 and false refusals 0 -> 2 of 34.
    # The facts and false-refusal lines were lowered by that measured trade; the others raised.
    # Later on 2026-12-01, with two articles from The Conversation in dev (test_quality.py) the
    # refit picked a lower selection ratio (0.5 -> 0.3), so the model is handed more sentences:
    # facts 0.853 -> 0.882, false refusals 2 -> 1 of 34, refusals equal, but precision 0.810 ->
    # 0.785 and drop share 0.375 -> 0.412. Those two lines were lowered by that measured trade.
    # Session 3 of 2026-12-01: author metadata as a byline unit and the refit it needed
    # (test_quality.py; ratios 0.3/0.4 -> 0.3/0.3 by 0.0007 of held-out objective): facts
    # 0.882 -> 0.853 (one question of 34), precision 0.785 -> 0.778, drop share 0.412 -> 0.444,
    # refusals and false refusals equal. The three lines lowered to the measurement.
    # Session 4: headlines lead or list, and a colon or subheading brings what it introduces
    # (test_quality.py): precision 0.778 -> 0.798, facts, refusals and drop share equal; the
    # precision line raised.
    # Session 6: windows pooled and sentences read in their paragraph (test_quality.py): facts
    # 0.853 -> 0.824 (one question of 34), precision 0.798 -> 0.793, refusals, false refusals
    # and drop share equal. The facts line lowered to the measurement.
    # Session 7: finer kinds of answer (test_quality.py): precision 0.793 -> 0.8495, drop share
    # 0.444 -> 0.375, 28 -> 25 words, facts and refusals equal, false refusals 1 -> 3 of 34 (the
    # extractive answerer's three). The precision and drop-share lines raised.
    # 2026-12-03: the question stage's eight new features (test_quality.py) answer one more
    # question of the subset (rd-newsletter, with a headline that does not say): false refusals
    # 3 -> 2 of 34, but precision 0.8495 -> 0.823 and drop share 0.375 -> 0.412, facts (0.824),
    # refusals (0.500) and length (26.5 words) as before; the extractive answerer on the same
    # subset: facts 0.853, precision 0.854, 29 words. Two lines lowered, one raised.
    "fact_recall": (">=", 0.82),
    # 0.769 -> 0.742 when the scorer gained its count features and bounded threshold
    # (test_quality.py): the evidence handed to the model changed; the verifier dropped less
    # (0.400 -> 0.333) at the same fact recall (0.735). After the refit with the document
    # answers: 0.734, drop share 0.350, one false refusal fewer. Lowered by that measured trade.
    "citation_precision": (">=", 0.82),  # 0.823, rounded down
    "refusal_accuracy": (">=", 0.50),
    # The generative answerer refuses exactly when the extractive one does: 2 of the subset's 34
    # answerable questions since the document answers (test_quality.py), 3 before; 1 with pooled
    # sentences; 3 with the finer kinds of answer of session 7 and the higher threshold their
    # refit chose (test_quality.py: the same three test questions). Lowered by that trade.
    "false_refusal_rate": ("<=", 0.06),
    # Since why/how evidence lists the analysts' quoted words first (rag/query/answer.py), the model
    # states more facts (0.706 -> 0.735) and cites better (0.758 -> 0.769) but writes more that
    # the verifier drops (0.333 -> 0.400): this line was lowered by that measured trade.
    "verifier_drop_share": ("<=", 0.42),
}


@pytest.mark.parametrize("metric", sorted(THRESHOLDS))
def test_generative_threshold(ours_llm: Scoreboard, metric: str) -> None:
    check_threshold(ours_llm, metric, *THRESHOLDS[metric])


@pytest.mark.parametrize("metric", ["fact_recall", "citation_precision", "refusal_accuracy"])
def test_generative_beats_the_llamaindex_engine_on_the_same_model(
    ours_llm: Scoreboard, baseline_llm: Scoreboard, metric: str
) -> None:
    mine, theirs = ours_llm.metrics()[metric], baseline_llm.metrics()[metric]
    assert mine is not None and theirs is not None
    assert mine > theirs, f"{metric}: citerag {mine} vs baseline {theirs}"
