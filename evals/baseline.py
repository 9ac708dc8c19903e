"""The anchor we compare against: LlamaIndex's ``CitationQueryEngine`` built as its docs show.

Same seed files, same embedding model, Chroma as the vector store, the default
``SentenceSplitter`` at chunk size 256 (so MiniLM does not truncate), ``similarity_top_k=3``.
``SimpleDirectoryReader`` attaches file metadata, which LlamaIndex embeds with the text by default.

No local LLM backend is installed yet, so this is the *retrieval-only* variant: the engine's
citation sources are its output, and its answer is the text of its best source, cited ``[1]``.
It never refuses, because nothing in it decides answerability.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from evals.harness import Cited, GoldItem, Response, System

NAME = "llamaindex-citation (retrieval-only)"


def build_baseline(seed_dir: Path, data_dir: Path, embed_model: Any) -> System:
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.core.schema import QueryBundle
    from llama_index.vector_stores.chroma import ChromaVectorStore

    documents = SimpleDirectoryReader(input_dir=str(seed_dir), required_exts=[".txt"]).load_data()
    client = chromadb.PersistentClient(
        path=str(data_dir), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("baseline", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(collection))
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=storage,
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=256)],
    )
    # The synthesiser is never called in the retrieval-only variant; MockLLM keeps llama-index
    # from reaching for its OpenAI default.
    engine = CitationQueryEngine.from_args(index, llm=MockLLM(), similarity_top_k=3)
    ranker = index.as_retriever(similarity_top_k=10)

    def system(item: GoldItem) -> Response:
        # The baseline has no notion of a conversation: it sees the follow-up question as is.
        start = time.perf_counter()
        sources = engine.retrieve(QueryBundle(item.question))
        seconds = time.perf_counter() - start
        texts = [_strip_label(s.node.get_content()) for s in sources]
        answer = f"{texts[0]} [1]" if texts else ""
        ranked = [n.node.get_content() for n in ranker.retrieve(item.question)]
        return Response(
            answer=answer,
            refused=not texts,
            citations=[Cited(t, t) for t in texts[:1]],
            ranked_units=ranked,
            seconds=seconds,
        )

    return system


def _strip_label(text: str) -> str:
    """Citation nodes read "Source N:\\n<text>"; the label is not part of the source."""
    head, _, rest = text.partition("\n")
    return rest if head.startswith("Source ") and head.endswith(":") else text
