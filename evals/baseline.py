"""The anchor we compare against: LlamaIndex's ``CitationQueryEngine`` built as its docs show.

Same corpus files (read by its default readers: .txt, .md and .html as they are), same embedding
model, Chroma as the vector store, the default ``SentenceSplitter`` at chunk size 256 (so MiniLM
does not truncate), ``similarity_top_k=3``. ``SimpleDirectoryReader`` attaches file metadata, of
which LlamaIndex embeds ``file_path`` with the text by default. Here that path is relative to the
corpus folder's parent ("seeds/000.txt"): the absolute path made the baseline's ranking depend on
where the checkout lives (dev hit@1 0.605 in /work/main, 0.629 in CI's /tmp/ci, nothing else
changed).

Two variants:

- *retrieval-only* (always): the engine's citation sources are its output, and its answer is the
  text of its best source, cited ``[1]``. It never refuses: nothing in it decides answerability.
- *with the local LLM* (when ``make local-llm`` is installed): the engine's own citation prompt,
  answered by the same Qwen2.5-Coder-1.5B model our local backend uses, greedy. Its citations
  are the sources its answer refers to (``[n]``, ``[Source n]`` or ``Source n``); it counts as
  refusing when it says the sources do not give the answer.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from evals.harness import Cited, GoldItem, Response, System

NAME = "llamaindex-citation (retrieval-only)"
LLM_NAME = "llamaindex-citation + local LLM"
_REFUSING = re.compile(
    r"(not (provided|mentioned|stated|specified|available|given|included)|no information|"
    r"cannot (be )?(answer|determine)|can't (answer|determine)|do(es)? not (mention|provide|"
    r"contain|specify|say)|unable to|don't know|not possible to)",
    re.IGNORECASE,
)


def build_baseline(seed_dir: Path, data_dir: Path, embed_model: Any, llm: Any = None) -> System:
    """The retrieval-only variant, or with ``llm`` (a llama-index LLM) the full engine."""
    import chromadb
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.core.readers.file.base import default_file_metadata_func
    from llama_index.core.schema import QueryBundle
    from llama_index.vector_stores.chroma import ChromaVectorStore

    def metadata(path: str) -> dict[str, Any]:
        found = default_file_metadata_func(path)
        found["file_path"] = Path(os.path.relpath(path, seed_dir.parent)).as_posix()
        return found

    documents = SimpleDirectoryReader(
        input_dir=str(seed_dir), required_exts=[".txt", ".md", ".html"], file_metadata=metadata
    ).load_data()
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
    # Without an LLM the synthesiser is never called; MockLLM keeps llama-index from reaching
    # for its OpenAI default.
    engine = CitationQueryEngine.from_args(index, llm=llm or MockLLM(), similarity_top_k=3)
    ranker = index.as_retriever(similarity_top_k=10)

    def with_llm(item: GoldItem) -> Response:
        start = time.perf_counter()
        response = engine.query(item.question)
        seconds = time.perf_counter() - start
        text = str(response).strip()
        sources = [_strip_label(s.node.get_content()) for s in response.source_nodes]
        # The engine's prompt asks for [n]; the model also writes "[Source 3]" or "Source 2".
        refs = re.findall(r"\[(\d+)\]|[Ss]ource\s+(\d+)", text)
        cited = sorted({int(bracketed or named) for bracketed, named in refs})
        citations = [Cited(sources[n - 1], sources[n - 1]) for n in cited if 0 < n <= len(sources)]
        ranked = [n.node.get_content() for n in ranker.retrieve(item.question)]
        return Response(
            answer=text,
            refused=bool(_REFUSING.search(text)) or not text,
            citations=citations,
            ranked_units=ranked,
            seconds=seconds,
        )

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

    return with_llm if llm is not None else system


def generator_llm(generator: Any, max_tokens: int = 256) -> Any:
    """A llama-index LLM backed by one of our generators (so both systems use the same model)."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from pydantic import PrivateAttr

    class GeneratorLLM(CustomLLM):
        _generator: Any = PrivateAttr()

        def __init__(self) -> None:
            super().__init__()
            self._generator = generator

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=max_tokens, model_name="local")

        def complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponse:
            messages = [{"role": "user", "content": prompt}]
            return CompletionResponse(text="".join(self._generator.stream(messages, max_tokens)))

        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            text = ""
            for delta in self._generator.stream([{"role": "user", "content": prompt}], max_tokens):
                text += delta
                yield CompletionResponse(text=text, delta=delta)

    return GeneratorLLM()


def _strip_label(text: str) -> str:
    """Citation nodes read "Source N:\\n<text>"; the label is not part of the source."""
    head, _, rest = text.partition("\n")
    return rest if head.startswith("Source ") and head.endswith(":") else text
