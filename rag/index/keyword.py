"""Keyword (BM25) scores over the stored passages, per unit, without a Python loop over the corpus.

``bm25s`` keeps the BM25 weights as a sparse term × passage matrix, so a question costs one
vectorised sum per question term, however large the index. Its ``lucene`` variant is the Okapi
BM25 the product always used (k1 = 1.2, b = 0.75, idf = ln(1 + (N − df + 0.5)/(df + 0.5))); its
term weights lack Okapi's constant (k1 + 1) factor, which the fusion's max-normalisation cancels.
Per-unit scores are the best of a unit's passages (a long paragraph is stored as sentence windows),
taken with ``numpy.maximum.at``; filters become a 0/1 mask over passages, computed once per filter.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.index.chunking import Passage, Unit
from rag.text import MONTHS, keywords, normalize


def unit_keywords(unit: Unit, text: str) -> list[str]:
    """BM25 terms of (part of) a unit: its text, the outlet that published it, for headlines the
    date's words, and for a title the word "title" itself."""
    extra = []
    if unit.outlet and normalize(unit.outlet).lower() not in normalize(text).lower():
        extra.append(unit.outlet)
    if unit.kind == "headline" and unit.date:
        year, month, day = unit.date.split("-")
        extra.append(f"{MONTHS[int(month) - 1]} {int(day)} {year}")
    if unit.kind == "title":
        extra.append("title headline")
    return keywords(" ".join([text, *extra]))


@functools.lru_cache(maxsize=16384)
def passage_keywords(passage: Passage) -> tuple[str, ...]:
    """``unit_keywords`` of a passage, kept for a while: ingest needs them twice, stored with the
    passage (``rag.index.store``) and for the keyword corpus of the process that ingested
    (``RagChain.ingest``), and stemming was 4 % of an ingest (cProfile, 3,044 units)."""
    return tuple(unit_keywords(passage.unit, passage.text))


# Stored with every passage at ingest (rag.index.store); change it whenever ``unit_keywords`` or the
# stemmer changes, so stored terms from an older version are recomputed instead of trusted.
KEYWORDS_VERSION = 1

# BM25's free parameters: the textbook values (Robertson & Zaragoza 2009), never tuned here.
K1 = 1.2
B = 0.75


class KeywordIndex:
    """BM25 over ``docs`` (keyword lists, one per passage), scored per unit.

    ``unit_of[i]`` is the index in ``units`` of passage ``i``'s unit."""

    def __init__(
        self,
        docs: Sequence[list[str]],
        units: Sequence[Unit],
        unit_of: Sequence[int],
        matrix: Any = None,
    ):
        """``matrix``: a ``bm25s.BM25`` already built from exactly ``docs``, in this order
        (``load_matrix``); without one, it is built here."""
        import bm25s

        self.units = list(units)
        self.unit_of = np.asarray(unit_of, dtype=np.int64)
        self.n = len(docs)
        self._bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
        self._df: dict[str, int] = {}
        if docs:
            if matrix is not None and matrix.scores.get("num_docs") == len(docs):
                self._bm25 = matrix
            else:
                self._bm25.index(list(docs), show_progress=False)
            indptr = np.asarray(self._bm25.scores["indptr"])
            counts = np.diff(indptr)
            vocab = self._bm25.vocab_dict
            self._df = {t: int(counts[i]) for t, i in vocab.items() if t and i < len(counts)}
        self._masks: OrderedDict[object, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def save_matrix(self, folder: Path) -> None:
        """Write the BM25 matrix with bm25s's own format (numpy arrays, no pickle)."""
        self._bm25.save(str(folder), show_progress=False)

    @staticmethod
    def load_matrix(folder: Path) -> Any:
        """A matrix ``save_matrix`` wrote, memory-mapped; raises ``OSError``/``ValueError``
        when it is missing or damaged."""
        import bm25s

        return bm25s.BM25.load(str(folder), mmap=True)

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def unit_scores(
        self,
        terms: list[str],
        accepts: Callable[[Unit], bool] | None = None,
        key: object = None,
    ) -> np.ndarray:
        """BM25 score of each unit (the best of its passages); units ``accepts`` rejects score 0.
        ``key`` identifies ``accepts`` for the mask cache (e.g. the ``Filters`` object)."""
        best = np.zeros(len(self.units), dtype=np.float32)
        known = [t for t in terms if t in self._df]
        if not known or not self.n:
            return best
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        np.maximum.at(best, self.unit_of, scores)
        if accepts is not None:
            best *= self._mask(accepts, key)
        return best

    def _mask(self, accepts: Callable[[Unit], bool], key: object) -> np.ndarray:
        with self._lock:
            mask = self._masks.get(key) if key is not None else None
            if mask is None:
                mask = np.fromiter((accepts(u) for u in self.units), np.float32, len(self.units))
                if key is not None:
                    self._masks[key] = mask
                    while len(self._masks) > 32:
                        self._masks.popitem(last=False)
            return mask
