"""Hybrid retrieval: dense vectors from Chroma and BM25 keywords over the same passages, fused.

Dense retrieval alone misses questions about names and numbers ("What did Alex Vatanka say?");
BM25 finds them directly. The two are fused at the level of citable units (a paragraph's sentence
windows count as one unit) by a convex combination of cosine similarity and max-normalised BM25,
which keeps a unit that one signal ranks first from being buried under units both rank as
mediocre (reciprocal-rank fusion's failure mode on short queries with one rare name).
Boilerplate units (text repeated verbatim in a document) rank after all content.

    >>> retriever = HybridRetriever(store, embedder, top_k=8, candidates=50, dense_weight=0.5,
    ...                             index_check_s=1.0)  # doctest: +SKIP
    >>> hits = retriever.search("What did Alex Vatanka say?").evidence  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.index.chunking import Unit, unit_of_passage
from rag.index.corpus import DocTerms, KeywordCorpus, Snapshot
from rag.index.embedding import Embedder
from rag.index.store import Filters, Store
from rag.text import asks_about_document, keywords


@dataclass(frozen=True)
class Evidence:
    """A retrieved unit with its fused score and the signals behind it."""

    unit: Unit
    score: float
    dense: float
    lexical: float
    rank: int
    #: The paragraph before it in its document, whose names and terms it may lean on.
    preceding: Unit | None = None
    #: What it introduces when it ends with a colon or is a subheading: the list items or the
    #: paragraph after it.
    following: tuple[Unit, ...] = ()


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
    #: Vectors of other forms of the question, embedded in the same batch as it (``also``).
    also: dict[str, list[float]] = field(default_factory=dict)


def fuse(
    dense: Mapping[str, float], lexical: Mapping[str, float], dense_weight: float
) -> dict[str, float]:
    """Each unit's fused score: ``dense_weight`` x its best cosine (negative counts as 0) plus the
    rest x its BM25 divided by the best BM25 of the question, so both lie in [0, 1] whatever
    the corpus; a unit found by one side only gets 0 from the other."""
    top = max(lexical.values(), default=0.0) or 1.0
    return {
        uid: dense_weight * max(dense.get(uid, 0.0), 0.0)
        + (1 - dense_weight) * lexical.get(uid, 0.0) / top
        for uid in set(dense) | set(lexical)
    }


#: How many of the evidence's documents (in rank order) a question about a document may be
#: about. Set by hand, not fitted (dev has four such questions): enough for the document a
#: question describes when it is not the top one, few enough not to crowd the evidence.
DOCUMENTS_DESCRIBED = 2


class HybridRetriever:
    """Dense + BM25 retrieval with score fusion (``RagChain.as_retriever`` offers it to
    LlamaIndex apps)."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        top_k: int,
        candidates: int,
        dense_weight: float,
        index_check_s: float,
        snapshot: Path | None = None,
        also: Callable[[str], list[str]] | None = None,
    ) -> None:
        """The numbers are ``Settings``' (``RAG_TOP_K``, ``RAG_CANDIDATES``,
        ``RAG_DENSE_WEIGHT``, ``RAG_INDEX_CHECK_S``); ``RagChain`` passes them. ``snapshot`` is
        where the keyword corpus is saved between runs (``rag.index.corpus``); none: not saved.
        ``also`` gives other forms of a question that the answerer will embed anyway (the
        question without its names): embedded in one batch with the question, a second text
        costs about a quarter of a second call (3.9 against 2 x 3.2 ms on 2 cores)."""
        self.store = store
        self.embedder = embedder
        self.top_k = top_k
        self.candidates = candidates
        self.dense_weight = dense_weight
        self.index_check_s = index_check_s
        self.snapshot = Snapshot(snapshot) if snapshot is not None else None
        self.also = also
        self._corpus: KeywordCorpus | None = None
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None
        self._saving: threading.Thread | None = None
        self._save_lock = threading.Lock()
        self._version: tuple[str, float] | None = None

    def _current_version(self) -> str:
        """The index version, read from the store at most every ``index_check_s`` seconds."""
        now = time.monotonic()
        read = self._version
        if read is None or now - read[1] >= self.index_check_s:
            read = self._version = (self.store.version(), now)
        return read[0]

    def corpus(self) -> KeywordCorpus:
        """The keyword corpus for the index as it is now, or, while a newer version is being read
        in the background, the previous one: at 100k units rebuilding took 4.8 s, and questions
        should not queue behind it (dense hits already see the new units; ``search`` copes)."""
        version = self._current_version()
        with self._lock:
            current = self._corpus
            if current is None:
                return self._use(KeywordCorpus.load(self.store, version, None, self.snapshot))
            if current.version != version and self._refreshing is None:
                self._refreshing = threading.Thread(
                    target=self._refresh, args=(version, current), name="rag-keywords", daemon=True
                )
                self._refreshing.start()
            return current

    def absorbs(self) -> bool:
        """Whether ``absorb`` would use the terms of what an ingest writes now: a corpus is loaded,
        or no copy is saved to load one from later. The ingest collects them only then."""
        with self._lock:
            return self._absorbs()

    def _absorbs(self) -> bool:
        return self._corpus is not None or self.snapshot is None or not self.snapshot.path.exists()

    def absorb(self, written: Mapping[str, DocTerms] | None = None) -> None:
        """After this process ingested: the documents it just wrote (``written``; with none given,
        whatever changed in the store) join the keyword corpus, and the corpus is saved, so that
        what it added is found at once.

        With no corpus loaded yet, it is loaded now only when something was written and no copy
        is saved (a first ingest, or a copy deleted): then neither this process's first question
        nor the next process reads the whole index back from Chroma (at 100k units, 27.3 s of the
        first question after an ingest in ``make bench``, 9.2 s from the saved copy). Where a copy
        exists it is left for the first question: reading it to add one file would cost the
        ingest more than it saves (a 100k copy reads in 9 s, a file is added in 1 s). An ingest
        that wrote nothing into a process with nothing loaded leaves everything as it was."""
        with self._lock:
            self._version = None
            if not self._absorbs() or (self._corpus is None and not written):
                return  # nothing loaded to bring up to date, nothing written to build one from
            version = self._current_version()
            if self._corpus is not None and not written and version == self._corpus.version:
                return
            self._use(
                KeywordCorpus.load(self.store, version, self._corpus, self.snapshot, written or {})
            )

    def forget(self) -> None:
        """Drop the keyword corpus and its saved copy (``rag ingest --rebuild``): a rebuilt index
        is read afresh, never matched against what was kept of the one it replaces."""
        with self._lock:
            self._corpus = None
            self._version = None
        if self.snapshot is not None:
            with self._save_lock:  # a save under way finishes first, then is deleted
                self.snapshot.delete()

    def wait_for_refresh(self, timeout: float | None = None) -> None:
        """Wait for a background refresh, if one is running (for tests and benchmarks)."""
        thread = self._refreshing
        if thread is not None:
            thread.join(timeout)

    def wait_for_save(self, timeout: float | None = None) -> None:
        """Wait until the keyword corpus in use is saved, if a save is running."""
        self.wait_for_refresh(timeout)
        thread = self._saving
        if thread is not None:
            thread.join(timeout)

    def _use(self, corpus: KeywordCorpus) -> KeywordCorpus:
        """Put ``corpus`` in service (the caller holds ``_lock``), then save it in the background
        if it differs from the snapshot: a non-daemon thread, so that a short-lived process
        (``rag ask``) finishes the file instead of leaving half of one."""
        self._corpus = corpus
        if corpus.unsaved and self.snapshot is not None:
            corpus.unsaved = False
            self._saving = threading.Thread(
                target=self._save, args=(corpus,), name="rag-keywords-save"
            )
            self._saving.start()
        return corpus

    def _save(self, corpus: KeywordCorpus) -> None:
        with self._save_lock:
            if self._corpus is corpus and self.snapshot is not None:  # else a newer one saves
                self.snapshot.write(corpus)

    def _refresh(self, version: str, previous: KeywordCorpus) -> None:
        try:
            fresh = KeywordCorpus.load(self.store, version, previous, self.snapshot)
            with self._lock:
                if self._corpus is previous:
                    self._use(fresh)
        except RagError:
            pass  # the store is unreachable: keep answering from what we have, retry next time
        finally:
            self._refreshing = None

    @staticmethod
    def _about_documents(ordered: list[str], corpus: KeywordCorpus) -> list[str]:
        """For a question about a document ("who wrote the piece on ..."), the units that
        describe the documents the evidence comes from (title, byline, republication credit):
        they rarely share words or meaning with the question, so search alone misses them."""
        docs = list(dict.fromkeys(corpus.units[u].doc_id for u in ordered if u in corpus.units))
        out = []
        for doc_id in docs[:DOCUMENTS_DESCRIBED]:
            doc = corpus.docs.get(doc_id)
            for uid, unit in doc.units.items() if doc else ():
                if uid not in ordered and unit.describes_document:
                    out.append(uid)
        return out

    def search(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> Retrieval:
        """The ``k`` best units for ``question`` (default: ``top_k``)."""

        k = k or self.top_k
        corpus = self.corpus()
        t0 = time.perf_counter()
        extra = (
            [t for t in dict.fromkeys(self.also(question)) if t != question] if self.also else []
        )
        if extra:
            vectors = self.embedder.embed([question, *extra])
            vector, also = vectors[0], dict(zip(extra, vectors[1:], strict=True))
        else:
            vector, also = self.embedder.embed_query(question), {}
        t1 = time.perf_counter()
        dense_hits = self.store.nearest(vector, self.candidates, filters)
        terms = keywords(question)
        accepts = filters.accepts if filters else None
        unit_scores = corpus.keywords.unit_scores(terms, accepts, key=filters)
        t2 = time.perf_counter()

        dense_best: dict[str, float] = {}
        for passage_id, cosine in dense_hits:
            uid = unit_of_passage(passage_id)
            dense_best[uid] = max(dense_best.get(uid, -1.0), cosine)
        # A unit an ingest wrote after this process read the index version is in the dense hits
        # but not yet in the keyword corpus: it is read from the store.
        unknown = [pid for pid, _ in dense_hits if unit_of_passage(pid) not in corpus.units]
        arrived = {p.unit.unit_id: p.unit for p in self.store.passages(unknown)} if unknown else {}
        for uid in {unit_of_passage(pid) for pid in unknown} - arrived.keys():
            del dense_best[uid]  # removed since the search: nothing left to cite

        def unit(uid: str) -> Unit:
            return corpus.units.get(uid) or arrived[uid]

        wanted = min(self.candidates, len(unit_scores))
        top = np.argpartition(-unit_scores, wanted - 1)[:wanted] if wanted else np.array([], int)
        lexical_best = {
            corpus.unit_ids[i]: float(unit_scores[i]) for i in top if unit_scores[i] > 0
        }
        lexical_top = sorted(lexical_best, key=lambda u: (-lexical_best[u], u))
        top_lexical = max(lexical_best.values(), default=0.0) or 1.0

        missing = [u for u in lexical_top if u not in dense_best]
        if missing:
            by_unit = {uid: corpus.passage_ids[uid] for uid in missing}
            dense_best.update(self.store.unit_similarities(vector, by_unit))

        weight = self.dense_weight
        fused = fuse(dense_best, lexical_best, weight)

        def order(uid: str) -> tuple[bool, float, str]:
            return (unit(uid).boilerplate, -fused[uid], uid)

        ordered = sorted(fused, key=order)[:k]
        if asks_about_document(question):
            about = self._about_documents(ordered, corpus)
            if about:
                ids = {uid: corpus.passage_ids[uid] for uid in about if uid not in dense_best}
                dense_best.update(self.store.unit_similarities(vector, ids) if ids else {})
                unscored = {uid: dense_best.get(uid, 0.0) for uid in about if uid not in fused}
                fused.update(fuse(unscored, {}, weight))
                ordered += about
        evidence = [
            Evidence(
                unit=unit(uid),
                score=fused[uid],
                dense=dense_best.get(uid, 0.0),
                lexical=lexical_best.get(uid, 0.0) / top_lexical,
                rank=i + 1,
                preceding=corpus.preceding(uid),
                following=corpus.following(uid),
            )
            for i, uid in enumerate(ordered)
        ]
        timings = {
            "embed": (t1 - t0) * 1000,
            "search": (t2 - t1) * 1000,
            "fuse": (time.perf_counter() - t2) * 1000,
        }
        return Retrieval(question, vector, terms, evidence, corpus.keywords.idf, timings, also)
