"""Deterministic stand-ins for the heavy parts, so that behaviour tests run in seconds.

- ``HashingEmbedder``: an ``Embedder`` with no model. Each word's stem (and each pair of
  neighbouring stems) is hashed into one of 384 signed buckets; the vector is normalised. Texts
  sharing words are close, others are not, and the same text always gets the same vector: enough
  for the logic of retrieval, answering and refusal, nothing like MiniLM's quality. Its model id
  differs from every real model's, so its index never mixes with a real one.
- ``FakeGenerator``: a ``Generator`` that replies with a fixed text in small pieces and records
  the prompts it was given.

Chroma stays real (embedded, in a temporary folder): it is fast to start and it is what users run.
The tests that need the real model, Chroma server, browser or LLM are marked ``slow``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rag.index.embedding import Embedder
from rag.text import keywords

DIMENSIONS = 384
_PIECES = re.compile(r"\w+|[^\w\s]")


class HashingEmbedder(Embedder):
    """A deterministic bag-of-stems embedder (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(Path("hashing-embedder"), batch_size=64)

    @property
    def model_id(self) -> str:
        return f"hashing-{DIMENSIONS}-v1"

    def _loaded(self) -> bool:
        return True

    def _load(self) -> None:
        """Nothing to load."""

    @property
    def max_tokens(self) -> int:
        return 256

    def count_tokens(self, text: str) -> int:
        return len(_PIECES.findall(text))

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    @staticmethod
    def _vector(text: str) -> list[float]:
        stems = keywords(text)
        features = stems + [f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False)]
        vector = np.zeros(DIMENSIONS, dtype=np.float64)
        for feature in features or [text.strip().lower() or "(empty)"]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % DIMENSIONS
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector)) or 1.0
        return [float(v) for v in vector / norm]


class FakeGenerator:
    """Replies with a fixed text, in small pieces, and records the prompt it was given."""

    name = "fake"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        self.prompts.append(messages)
        for i in range(0, len(self.reply), 7):
            yield self.reply[i : i + 7]
