"""citerag inside a LlamaIndex app: the retriever and the query engine used the way LlamaIndex's
own documentation uses them (``index.as_query_engine().query(...)``, ``RetrieverQueryEngine``):
once on the real model and index (slow), the rest on the fakes."""

from __future__ import annotations

import asyncio
import re

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from rag.chain import RagChain
from rag.index.store import Filters


@pytest.mark.slow
def test_query_engine_answers_with_source_nodes_in_citation_order(seed_chain: RagChain) -> None:
    query_engine = seed_chain.as_query_engine()
    assert isinstance(query_engine, BaseQueryEngine)
    response = query_engine.query("Who is Alex Vatanka?")
    assert "Middle East Institute" in str(response)
    assert response.metadata is not None and response.metadata["refused"] is False
    assert response.source_nodes, "a cited answer has its sources"
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", str(response))]
    assert sorted(set(markers)) == list(range(1, len(response.source_nodes) + 1))
    first = response.source_nodes[0]
    assert first.node.metadata["n"] == 1 and first.node.metadata["locator"] == "paragraph 11"
    assert any("Vatanka" in q for q in first.node.metadata["quotes"])
    assert first.node.node_id == response.metadata["citations"][0]["unit_id"]


def test_query_engine_refusal_is_a_response_without_sources(fake_chain: RagChain) -> None:
    response = fake_chain.as_query_engine().query("What is the boiling point of mercury?")
    assert response.metadata is not None and response.metadata["refused"] is True
    assert response.source_nodes == []


def test_async_query_gives_the_same_answer(fake_chain: RagChain) -> None:
    engine = fake_chain.as_query_engine()
    sync = engine.query("Who is Samuel Charap?")
    concurrent = asyncio.run(engine.aquery("Who is Samuel Charap?"))
    assert str(concurrent) == str(sync)


def test_retriever_returns_citable_units_with_their_metadata(fake_chain: RagChain) -> None:
    retriever = fake_chain.as_retriever(similarity_top_k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("Who is Samuel Charap?")
    assert len(nodes) == 3 and "Charap" in nodes[0].node.get_content()
    meta = nodes[0].node.metadata
    assert {"title", "source", "locator", "kind", "doc_id"} <= set(meta)
    assert meta["source"].endswith(".txt") and nodes[0].score is not None
    dated = fake_chain.as_retriever(filters=Filters(date_from="2026-01-01"))
    headlines = dated.retrieve("Iran protests")
    assert headlines and all(n.node.metadata["date"] >= "2026-01-01" for n in headlines)


def test_retriever_plugs_into_a_llamaindex_query_engine(fake_chain: RagChain) -> None:
    """An app keeps its own synthesiser (here LlamaIndex's MockLLM, offline) and uses citerag
    only for retrieval."""
    engine = RetrieverQueryEngine.from_args(fake_chain.as_retriever(similarity_top_k=2),
                                            llm=MockLLM())  # fmt: skip
    response = engine.query("Who is Samuel Charap?")
    assert len(response.source_nodes) == 2
    assert "Charap" in response.source_nodes[0].node.get_content()
