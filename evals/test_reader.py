"""The extractive answerer with the local model's reading (``RAG_READER=local``), on the whole
frozen test part and the second corpus, beside the extractive answerer alone. Skipped (with the
reason) without `make local-llm`.

The reader check was fitted on dev questions only (``evals/fit_reader.py``); thresholds are a
ratchet, as in test_quality.py, set just under what it achieves here. The readings are kept in
``evals/reader_scores_held_out.json`` (``evals/readings.py``): new candidates are read by the
model, kept ones are not, and a fixed sample of them is read again to prove they still hold.
"""

from __future__ import annotations

import pytest

from evals.harness import Scoreboard, check_threshold
from evals.readings import CachedReader

pytestmark = pytest.mark.slow

# Measured 2026-12-02 with the check fitted on dev (held-out dev: refusals 0.557 -> 0.695 at
# false refusals 0.033; leaving out a second candidate read below -1: precision 0.864 -> 0.877,
# facts 0.835 as before), each line one question under the measurement (the model's logits move
# in the last digits with the threads and what is in its cache, and a reading near the threshold
# can flip). The extractive answerer alone, same run, in brackets.
# Test part (84 questions, 16 unanswerable): facts 0.926 (0.912), precision 0.915 (0.905),
# refusals 0.688 = 11 of 16 (0.562), false refusals 0.044 = 3 of 68 (0.044), 30 words (28).
# Second corpus (142, 25 unanswerable): facts 0.846 (0.846), precision 0.850 (0.826), refusals
# 0.560 = 14 of 25 (0.600), false refusals 0.026 = 3 of 117 (0.051), 33 words (35). There the
# check answered more rather than refused more: one more unanswerable question answered, three
# more answerable ones answered. The README says so. Before the leave-out (same readings) the
# second corpus had facts 0.863 and precision 0.831: two answers lost the second sentence that
# held their fact (one the reader misread, one an institute's name that only happened to hold
# the asked country); the test part's facts were unchanged.
# 2026-12-03, the check refitted on dev after the question stage gained eight features
# (held-out dev: AUC 0.931 -> 0.933, refusals 0.695 -> 0.715 at false refusals 0.033, composed
# answers' precision 0.877 -> 0.875): test part facts 0.926 (0.912), precision 0.901 (0.891),
# refusals 0.750 = 12 of 16 (0.562), false refusals 0.029 = 2 of 68 (0.029), 29 words (28);
# second corpus facts 0.838 (0.846), precision 0.856 (0.826), refusals 0.640 = 16 of 25 (0.600),
# false refusals 0.043 = 5 of 117 (0.051), 34 words (35). There two more unanswerable questions
# are refused and two answerable ones are refused (c2-easter-count lost its fact; c2-wat-suspect
# was answered without it before). The refusal lines raised, the false-refusal line on the second
# corpus lowered by this measured trade, each one question under the measurement.
# 2026-12-03, a second prompt (rag.query.reader.PHRASE: answer with a phrase of the sentence or
# "not stated") read beside the first, refitted on dev (held-out AUC 0.933 -> 0.945, refusals
# 0.715 -> 0.752 at false refusals 0.033), and a second candidate the readings prefer by more
# than 2 put first (cross-validated on dev: facts 0.838 -> 0.850, precision 0.881 -> 0.891):
# test part facts 0.912 (0.912), precision 0.915 (0.891), refusals 0.875 = 14 of 16 (0.562),
# false refusals 0.044 = 3 of 68 (0.029), 30 words (28); second corpus facts 0.838 (0.846),
# precision 0.856 (0.826), refusals 0.720 = 18 of 25 (0.600), false refusals 0.051 = 6 of 117
# (0.051), 33 words (35). Two more unanswerable questions refused on each set, one more
# answerable one on each: the refusal lines raised and the false-refusal lines moved to one
# question over the measurement by this measured trade. (The second prompt alone, before the
# reordering: test facts 0.926, corpus2 0.829; the reordering cost the test part one fact and
# gave the second corpus one.)
# 2026-12-04, four candidates read instead of two (rag.query.reader.CANDIDATES; the check's
# inputs still the best of the first two, CHECKED), the best read one put first and any read one
# after the lead left out as before (cross-validated on dev: facts 0.850 -> 0.856, precision
# 0.891 -> 0.904, 33 -> 32 words; the check, its threshold and both margins as refitted are
# unchanged): test part facts 0.926 (0.912), precision 0.935 (0.891), refusals 0.875 = 14 of 16
# (0.562), false refusals 0.044 = 3 of 68 (0.029), 28 words (28); second corpus facts 0.863
# (0.846), precision 0.889 (0.826), refusals 0.720 = 18 of 25 (0.600), false refusals 0.051 =
# 6 of 117 (0.051), 32 words (35). Refusals cannot move (the check reads what it read); the fact
# and precision lines raised.
# 2026-12-04, the mean yes/no reading of the four read as a fourth input of the check, refitted
# on dev (held-out log loss 0.245 -> 0.233, AUC 0.945 -> 0.948, refusals 0.752 -> 0.778 at
# false refusals 0.033; margin refitted 2 -> 1; composed answers cross-validated facts 0.856 ->
# 0.865, precision 0.904 -> 0.901): test part facts 0.912 (0.912), precision 0.936 (0.891),
# refusals 0.938 = 15 of 16 (0.562), false refusals 0.059 = 4 of 68 (0.029), 29 words (28);
# second corpus facts 0.880 (0.846), precision 0.910 (0.826), refusals 0.760 = 19 of 25
# (0.600), false refusals 0.060 = 7 of 117 (0.051), 32 words (35). One more unanswerable
# question refused on each set and one more answerable one: the refusal, fact and precision
# lines raised; the false-refusal lines stay at 0.06, which both sets now just meet.
THRESHOLDS: dict[str, dict[str, tuple[str, float]]] = {
    "test": {
        "fact_recall": (">=", 0.91),
        "citation_precision": (">=", 0.92),
        # 2026-12-04, first measured (the first citation supports the answer): 0.953; 0.918 on
        # the second corpus. Rounded down.
        "lead_precision": (">=", 0.95),
        "refusal_accuracy": (">=", 0.87),
        "false_refusal_rate": ("<=", 0.06),
        "median_answer_words": ("<=", 60),
    },
    "corpus2": {
        # 2026-12-04, headings hand their rank to their section (see evals/test_quality.py):
        # facts 0.880 as before, precision 0.910 -> 0.912, lead precision 0.918 -> 0.927; the
        # test part did not move. The precision and lead lines raised.
        "fact_recall": (">=", 0.87),
        "citation_precision": (">=", 0.91),
        "lead_precision": (">=", 0.92),
        # 0.72 -> 0.58 with 26 more unanswerable questions (51; see evals/test_quality.py):
        # 19 of 25 refused as before, 11 of the 26 new ones: 0.588.
        "refusal_accuracy": (">=", 0.58),
        "false_refusal_rate": ("<=", 0.06),
        "median_answer_words": ("<=", 60),
    },
}


@pytest.fixture(scope="session")
def boards(ours: Scoreboard, ours_reader: Scoreboard, corpus2: Scoreboard,
           corpus2_reader: Scoreboard) -> dict[str, tuple[Scoreboard, Scoreboard]]:  # fmt: skip
    """For each held-out set: (the extractive answerer alone, with the reader)."""
    return {"test": (ours.part("test"), ours_reader), "corpus2": (corpus2, corpus2_reader)}


@pytest.mark.parametrize(
    ("part", "metric"), [(p, m) for p, lines in THRESHOLDS.items() for m in sorted(lines)]
)
def test_reader_threshold(
    boards: dict[str, tuple[Scoreboard, Scoreboard]], part: str, metric: str
) -> None:
    check_threshold(boards[part][1], metric, *THRESHOLDS[part][metric])


@pytest.mark.parametrize("part", ["test", "corpus2"])
def test_the_reader_answers_no_fewer_facts_and_cites_better(
    boards: dict[str, tuple[Scoreboard, Scoreboard]], part: str
) -> None:
    """What held on both sets nothing was fitted on (measured first, then written as a test):
    with the reader deciding, more of what is cited supports the answer, and at most one
    answerable question fewer is answered in full (none on 2026-12-02; one on the second corpus
    since the refit of 2026-12-03, a question the reader refused: the price of its refusals)."""
    alone_board, reading_board = boards[part]
    alone, reading = alone_board.metrics(), reading_board.metrics()
    cited, cited_alone = reading["citation_precision"], alone["citation_precision"]
    full_alone, full_reading = (sum(bool(s.facts_ok) for s in b.items) for b in boards[part])
    assert full_alone - full_reading <= 1, (alone, reading)
    assert cited is not None and cited_alone is not None and cited > cited_alone, (alone, reading)


#: Kept readings read again each run (about two seconds each).
RECHECK = 8
#: How far a reading may move between runs (a logit difference). Measured 2026-12-02: eight dev
#: pairs read again in another process and cache state than their kept readings moved by 0.039
#: on average and 0.116 at most (llama.cpp evaluates a prompt in other batches when a different
#: prefix is cached). A changed prompt moves them by whole units: all 908 dev pairs read with the
#: question after the sentence moved by 1.12 on average (median 1.00; 85 % by more than 0.3).
TOLERANCE = 0.3


def test_kept_readings_are_what_the_model_reads_now(
    boards: dict[str, tuple[Scoreboard, Scoreboard]], held_out_readings: CachedReader
) -> None:
    """The boards above are only as good as the kept readings: a sample of the pairs they used
    is read again by the model now and must agree."""
    pairs = held_out_readings.recheck(RECHECK)
    assert len(pairs) == RECHECK
    worst = max(abs(kept - now) for kept, now in pairs)
    assert worst <= TOLERANCE, pairs
