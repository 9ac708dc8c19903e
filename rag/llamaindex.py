"""citerag as LlamaIndex components, for applications built on LlamaIndex.

``RagChain.as_retriever()`` is a ``BaseRetriever``: hybrid retrieval over citable units, each a
``NodeWithScore`` whose node id is the unit id and whose metadata says where the unit is (title,
source file, locator, kind, outlet, date). It plugs in wherever LlamaIndex takes a retriever
(``RetrieverQueryEngine``, routers, fusion retrievers).

``RagChain.as_query_engine()`` is a ``BaseQueryEngine`` whose ``Response`` is citerag's answer:
the text with its ``[n]`` markers, ``source_nodes`` in citation order (``source_nodes[n - 1]`` is
marker ``[n]``, its metadata carrying the quoted sentences), and ``metadata`` with the refusal
flag and the citations as JSON. A refusal is a ``Response`` too, with no source nodes: an app
tells it apart by ``response.metadata["refused"]``, not by parsing the text.

    >>> engine = chain.as_query_engine()  # doctest: +SKIP
    >>> response = engine.query("Who is Alex Vatanka?")  # doctest: +SKIP
    >>> response.source_nodes[0].node.metadata["locator"]  # doctest: +SKIP
    'paragraph 11'

Why adapters rather than making the chain's parts LlamaIndex classes: the parts keep their typed
``search``/``ask`` signatures (filters, history, answerer names), and LlamaIndex's callback and
instrumentation machinery stays out of the question path unless an app asks for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from rag.index.chunking import Unit
from rag.index.embedding import Embedder
from rag.results import Answer, Citation

if TYPE_CHECKING:
    from rag.chain import RagChain
    from rag.index.store import Filters


def unit_node(unit: Unit, score: float) -> NodeWithScore:
    """A citable unit as LlamaIndex sees a retrieved chunk."""
    metadata: dict[str, Any] = {
        "title": unit.title,
        "source": unit.source,
        "locator": unit.locator,
        "kind": unit.kind,
        "doc_id": unit.doc_id,
    }
    metadata.update({k: v for k, v in (("outlet", unit.outlet), ("date", unit.date)) if v})
    return NodeWithScore(node=TextNode(id_=unit.unit_id, text=unit.text, metadata=metadata),
                         score=score)  # fmt: skip


def citation_node(citation: Citation) -> NodeWithScore:
    """Marker ``[n]``'s unit, with the sentences the answer quotes from it."""
    metadata: dict[str, Any] = {
        "n": citation.n,
        "title": citation.title,
        "source": citation.source,
        "locator": citation.locator,
        "kind": citation.kind,
        "quotes": list(citation.quotes),
    }
    metadata.update({k: v for k, v in (("outlet", citation.outlet), ("date", citation.date)) if v})
    node = TextNode(id_=citation.unit_id, text=citation.text, metadata=metadata)
    return NodeWithScore(node=node, score=citation.score)


def answer_response(answer: Answer) -> Response:
    return Response(
        response=answer.answer,
        source_nodes=[citation_node(c) for c in sorted(answer.citations, key=lambda c: c.n)],
        metadata={
            "refused": answer.refused,
            "answerer": answer.answerer,
            "citations": [c.to_dict() for c in answer.citations],
        },
    )


class CitedRetriever(BaseRetriever):
    """citerag's hybrid retrieval as a LlamaIndex retriever (see the module docstring)."""

    def __init__(
        self, chain: RagChain, similarity_top_k: int | None = None, filters: Filters | None = None
    ) -> None:
        super().__init__()
        self._chain = chain
        self._k = similarity_top_k
        self._filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self._chain.retrieve(query_bundle.query_str, k=self._k, filters=self._filters)
        return [unit_node(e.unit, e.score) for e in retrieval.evidence]


class CitedQueryEngine(BaseQueryEngine):
    """citerag's cited answers as a LlamaIndex query engine (see the module docstring)."""

    def __init__(
        self,
        chain: RagChain,
        answerer: str | None = None,
        similarity_top_k: int | None = None,
        filters: Filters | None = None,
    ) -> None:
        super().__init__(callback_manager=None)
        self._chain = chain
        self._answerer = answerer
        self._k = similarity_top_k
        self._filters = filters

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self._chain.ask(
            query_bundle.query_str, k=self._k, filters=self._filters, answerer=self._answerer
        )
        return answer_response(answer)

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}


class LlamaIndexEmbedding(BaseEmbedding):
    """llama-index view of an ``Embedder``, so llama-index components share the loaded model."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(
            model_name=embedder.model_id, embed_batch_size=embedder.batch_size, **kwargs
        )
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "CiteragSentenceTransformer"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


__all__ = [
    "CitedQueryEngine",
    "CitedRetriever",
    "LlamaIndexEmbedding",
    "answer_response",
    "unit_node",
]
