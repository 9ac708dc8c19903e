"""The fitted scorer file: shipped, readable, consistent with the features, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.query.features import FEATURES, QUESTION_FEATURES, RANKING_FEATURES
from rag.query.scorer import DEFAULT_PATH, Scorer


def test_shipped_scorer_matches_the_features_and_says_where_it_came_from() -> None:
    scorer = Scorer.load()
    assert scorer.sentence.features == RANKING_FEATURES
    assert set(RANKING_FEATURES) < set(FEATURES)
    assert scorer.question.features == QUESTION_FEATURES
    assert 0.0 < scorer.threshold < 1.0 and 0.0 < scorer.ratio <= 1.0
    provenance = scorer.provenance
    assert provenance["fitted_by"] == "python -m evals.fit"
    assert "test part and evals/corpus2 never read" in provenance["fitted_on"]
    assert provenance["dev_questions"] > 100


def test_sentence_probability_rises_with_coverage() -> None:
    scorer = Scorer.load()
    stage = scorer.sentence
    base = [0.0] * len(FEATURES)
    for name, mean in zip(stage.features, stage.mean, strict=True):
        base[FEATURES.index(name)] = mean
    more = list(base)
    at = FEATURES.index("coverage_sentence")
    more[at] += 3 * stage.scale[RANKING_FEATURES.index("coverage_sentence")]
    low, high = scorer.sentence_probabilities([base, more])
    assert 0.0 < low < high < 1.0
    # Stage 1 does not read what only the question stage reads.
    other = list(base)
    other[FEATURES.index("unmatched")] = 1.0
    assert scorer.sentence_probabilities([other]) == [low]


def test_question_stage_answers_strong_evidence_and_refuses_weak() -> None:
    scorer = Scorer.load()
    strong = dict(best=0.9, margin=0.5, best_coverage_unit=1.0, best_missing_rare=0.0,
                  best_type_miss=0.0, best_type_miss_own=0.0, best_names_missing=0.0,
                  best_dense_sentence=0.7,
                  best_dense_unit=0.7, best_lexical_unit=1.0, max_coverage_unit=1.0,
                  max_dense_sentence=0.7, best_coverage_sentence=1.0,
                  best_count_miss=0.0, best_unmatched=0.0, top_sum=2.0, second=0.6,
                  third=0.4, type_met_near_top=1.0, question_list=0.0,
                  question_explanatory=0.0, question_document=0.0,
                  question_typed=1.0)  # fmt: skip
    weak = dict(best=0.05, margin=0.0, best_coverage_unit=0.2, best_missing_rare=0.8,
                best_type_miss=1.0, best_type_miss_own=1.0, best_names_missing=1.0,
                best_dense_sentence=0.1,
                best_dense_unit=0.1, best_lexical_unit=0.1, max_coverage_unit=0.2,
                max_dense_sentence=0.15, best_coverage_sentence=0.1,
                best_count_miss=1.0, best_unmatched=0.2, top_sum=0.1, second=0.03,
                third=0.02, type_met_near_top=0.0, question_list=0.0,
                question_explanatory=0.0, question_document=0.0,
                question_typed=1.0)  # fmt: skip
    rows = [[row[name] for name in QUESTION_FEATURES] for row in (strong, weak)]
    yes, no = scorer.question.probabilities(rows)
    assert yes >= scorer.threshold > no


def test_stale_or_broken_scorer_says_how_to_refit(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PATH.read_text())
    data["sentence"]["features"] = data["sentence"]["features"][:-1]
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="make fit"):
        Scorer.load(stale)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ModelError, match="make fit"):
        Scorer.load(broken)
