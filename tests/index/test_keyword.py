"""BM25 per unit (rag.index.keyword), checked against the Okapi formula computed by hand."""

import math

import numpy as np
import pytest

from rag.index.chunking import Unit
from rag.index.keyword import K1, B, KeywordIndex


def _unit(uid: str, source: str = "a.txt", date: str | None = None) -> Unit:
    return Unit(uid, "d", source, "T", "paragraph", 1, 0, uid, date=date)


DOCS = [["iran", "russia", "oil"], ["iran", "drone"], ["drone", "drone", "strike"], ["weather"]]
UNITS = [_unit("u0"), _unit("u1", "b.txt"), _unit("u2", date="2026-01-06")]
UNIT_OF = [0, 1, 1, 2]  # u1 is stored as two passages (sentence windows)


def _okapi(term: str, doc: list[str]) -> float:
    n = len(DOCS)
    df = sum(term in d for d in DOCS)
    avg = sum(map(len, DOCS)) / n
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    f = doc.count(term)
    return idf * f / (f + K1 * (1 - B + B * len(doc) / avg))


def test_scores_are_okapi_bm25_and_a_unit_takes_its_best_passage() -> None:
    index = KeywordIndex(DOCS, UNITS, UNIT_OF)
    got = index.unit_scores(["drone", "iran"])
    by_passage = [_okapi("drone", d) + _okapi("iran", d) for d in DOCS]
    want = [by_passage[0], max(by_passage[1], by_passage[2]), by_passage[3]]
    assert got == pytest.approx(want, rel=1e-5)
    assert got[2] == 0.0


def test_a_repeated_question_term_counts_twice_and_unknown_terms_count_nothing() -> None:
    index = KeywordIndex(DOCS, UNITS, UNIT_OF)
    once = index.unit_scores(["oil"])
    assert index.unit_scores(["oil", "oil"]) == pytest.approx(2 * once)
    assert index.unit_scores(["oil", "kangaroo"]) == pytest.approx(once)
    assert not index.unit_scores(["kangaroo"]).any()
    assert not index.unit_scores([]).any()


def test_idf_is_lucene_idf_and_rarer_terms_weigh_more() -> None:
    index = KeywordIndex(DOCS, UNITS, UNIT_OF)
    assert index.idf("oil") == pytest.approx(math.log(1 + (4 - 1 + 0.5) / 1.5))
    assert index.idf("kangaroo") > index.idf("oil") > index.idf("iran")


def test_a_filter_zeroes_the_units_it_rejects_and_is_cached_by_key() -> None:
    index = KeywordIndex(DOCS, UNITS, UNIT_OF)
    calls: list[str] = []

    def only_b(unit: Unit) -> bool:
        calls.append(unit.unit_id)
        return unit.source == "b.txt"

    first = index.unit_scores(["iran"], only_b, key="b")
    again = index.unit_scores(["drone"], only_b, key="b")
    assert first[0] == 0.0 and first[1] > 0 and not again[[0, 2]].any()
    assert calls == ["u0", "u1", "u2"]


def test_an_empty_index_scores_nothing() -> None:
    index = KeywordIndex([], [], [])
    assert index.unit_scores(["iran"]).shape == (0,)
    assert index.idf("iran") == pytest.approx(math.log(1 + 0.5 / 0.5))


def test_scores_at_scale_are_one_vector() -> None:
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(500)]
    docs = [list(rng.choice(vocab, size=12)) for _ in range(5000)]
    units = [_unit(f"u{i}") for i in range(5000)]
    index = KeywordIndex(docs, units, range(5000))
    scores = index.unit_scores(["w1", "w2"])
    assert scores.shape == (5000,)
    holders = {i for i, d in enumerate(docs) if "w1" in d or "w2" in d}
    assert set(np.flatnonzero(scores)) == holders
