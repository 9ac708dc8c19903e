"""Hybrid retrieval: dense vectors from Chroma and BM25 keywords over the same passages, fused.

Dense retrieval alone misses questions about names and numbers ("What did Alex Vatanka say?");
BM25 finds them directly. The two are fused at the level of citable units (a paragraph's sentence
windows count as one unit) by a convex combination of cosine similarity and max-normalised BM25,
which keeps a unit that one signal ranks first from being buried under units both rank as
mediocre (reciprocal-rank fusion's failure mode on short queries with one rare name).
Boilerplate units (text repeated verbatim in a document) rank after all content.

    >>> retriever = HybridRetriever(store, embedder, settings)  # doctest: +SKIP
    >>> hits = retriever.search("What did Alex Vatanka say?").evidence  # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.chunking import Unit
from rag.config import Settings
from rag.embedding import Embedder
from rag.store import Filters, IndexStore, StoredPassage
from rag.text import keywords, normalize


def unit_keywords(unit: Unit, text: str) -> list[str]:
    """BM25 terms of (part of) a unit: its text, the outlet that published it, for headlines the
    date's words, and for a title the word "title" itself."""
    extra = []
    if unit.outlet and normalize(unit.outlet).lower() not in normalize(text).lower():
        extra.append(unit.outlet)
    if unit.kind == "headline" and unit.date:
        year, month, day = unit.date.split("-")
        extra.append(f"{_MONTHS[int(month) - 1]} {int(day)} {year}")
    if unit.kind == "title":
        extra.append("title headline")
    return keywords(" ".join([text, *extra]))


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


class BM25:
    """Okapi BM25 over keyword lists (k1=1.2, b=0.75)."""

    def __init__(self, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tfs = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg_len = (sum(self.lengths) / len(docs)) if docs else 1.0
        self.df: Counter[str] = Counter()
        for tf in self.tfs:
            self.df.update(tf.keys())
        self.n = len(docs)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: list[str]) -> list[float]:
        terms = Counter(query)
        out = []
        for tf, length in zip(self.tfs, self.lengths, strict=True):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
            for term, qtf in terms.items():
                f = tf.get(term, 0)
                if f:
                    score += qtf * self.idf(term) * f * (self.k1 + 1) / (f + norm)
            out.append(score)
        return out


@dataclass(frozen=True)
class Evidence:
    """A retrieved unit with its fused score and the signals behind it."""

    unit: Unit
    score: float
    dense: float
    lexical: float
    rank: int


@dataclass
class Retrieval:
    """What one search found, with the corpus statistics (``idf``) of the index it searched, so
    that the answerer weighs terms without another round trip to the store."""

    question: str
    query_vector: list[float]
    query_terms: list[str]
    evidence: list[Evidence]
    idf: Callable[[str], float]
    timings_ms: dict[str, float] = field(default_factory=dict)


class _Corpus:
    """The passages held in memory for BM25 and unit look-ups, rebuilt when the index changes."""

    def __init__(self, passages: list[StoredPassage], version: str) -> None:
        self.version = version
        self.passages = passages
        self.units: dict[str, Unit] = {p.unit.unit_id: p.unit for p in passages}
        self.bm25 = BM25([unit_keywords(p.unit, p.text) for p in passages])


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval with score fusion, as a llama-index retriever."""

    def __init__(self, store: IndexStore, embedder: Embedder, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self._corpus: _Corpus | None = None
        self._lock = threading.Lock()

    def corpus(self) -> _Corpus:
        version = self.store.version()
        with self._lock:
            if self._corpus is None or self._corpus.version != version:
                self._corpus = _Corpus(self.store.all_passages(), version)
            return self._corpus

    def search(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> Retrieval:
        """The ``k`` best units for ``question`` (default: ``settings.top_k``)."""
        import time

        k = k or self.settings.top_k
        corpus = self.corpus()
        t0 = time.perf_counter()
        vector = self.embedder.embed_query(question)
        t1 = time.perf_counter()
        dense_hits = self.store.query(vector, self.settings.candidates, filters)
        terms = keywords(question)
        bm25_scores = corpus.bm25.scores(terms) if terms else [0.0] * len(corpus.passages)
        t2 = time.perf_counter()

        dense_best: dict[str, float] = {}
        for passage, cosine in dense_hits:
            uid = passage.unit.unit_id
            dense_best[uid] = max(dense_best.get(uid, -1.0), cosine)

        lexical_best: dict[str, float] = defaultdict(float)
        for passage, score in zip(corpus.passages, bm25_scores, strict=True):
            if score > 0 and (not filters or filters.accepts(passage.unit)):
                uid = passage.unit.unit_id
                lexical_best[uid] = max(lexical_best[uid], score)
        lexical_top = sorted(lexical_best, key=lambda u: -lexical_best[u])
        lexical_top = lexical_top[: self.settings.candidates]
        top_lexical = max(lexical_best.values(), default=0.0) or 1.0

        missing = [u for u in lexical_top if u not in dense_best]
        if missing:
            dense_best.update(self.store.unit_similarities(vector, missing))

        weight = self.settings.dense_weight
        fused: dict[str, float] = {}
        for uid in set(dense_best) | set(lexical_top):
            lexical = lexical_best.get(uid, 0.0) / top_lexical
            fused[uid] = weight * max(dense_best.get(uid, 0.0), 0.0) + (1 - weight) * lexical

        def order(uid: str) -> tuple[bool, float, str]:
            return (corpus.units[uid].boilerplate, -fused[uid], uid)

        ordered = sorted(fused, key=order)[:k]
        evidence = [
            Evidence(
                unit=corpus.units[uid],
                score=fused[uid],
                dense=dense_best.get(uid, 0.0),
                lexical=lexical_best.get(uid, 0.0) / top_lexical,
                rank=i + 1,
            )
            for i, uid in enumerate(ordered)
        ]
        timings = {
            "embed": (t1 - t0) * 1000,
            "search": (t2 - t1) * 1000,
            "fuse": (time.perf_counter() - t2) * 1000,
        }
        return Retrieval(question, vector, terms, evidence, corpus.bm25.idf, timings)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.search(query_bundle.query_str)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=e.unit.unit_id,
                    text=e.unit.text,
                    metadata={
                        "title": e.unit.title,
                        "source": e.unit.source,
                        "locator": e.unit.locator,
                    },
                ),
                score=e.score,
            )
            for e in result.evidence
        ]
