"""Deterministic stand-ins for the heavy parts, so that behaviour tests run in seconds.

- ``HashingEmbedder``: an ``Embedder`` with no model. Each word's stem (and each pair of
  neighbouring stems) is hashed into one of 384 signed buckets; the vector is normalised. Texts
  sharing words are close, others are not, and the same text always gets the same vector: enough
  for the logic of retrieval, answering and refusal, nothing like MiniLM's quality. Its model id
  differs from every real model's, so its index never mixes with a real one.
- ``MemoryStore``: a ``Store`` in dictionaries and one numpy matrix, with no Chroma at all: the
  second implementation of ``rag.index.store.Store``, which keeps that protocol honest
  (``tests/index/test_store_contract.py`` runs the same checks on both).
- ``FakeGenerator``: a ``Generator`` that replies with a fixed text in small pieces and records
  the prompts it was given.

Most fast tests still use real embedded Chroma (``fake_chain``): it starts in a second and it is
what users run. The tests that need the real model, Chroma server, browser or LLM are ``slow``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.index.embedding import Embedder
from rag.index.keyword import unit_keywords
from rag.index.store import FileRecord, FileWrite, Filters, StoredPassage
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


class RecordingEmbedder(HashingEmbedder):
    """The hashing embedder, recording the texts it embeds alone (``alone``) and the texts whose
    spans it pools (``passes``). With a ``mark``, a pooled span's vector is that of
    ``mark + span text``, so a test can tell a pooled vector from one read alone."""

    def __init__(self, mark: str = "") -> None:
        super().__init__()
        self.mark = mark
        self.alone: list[str] = []
        self.passes: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.alone += texts
        return super().embed(texts)

    def embed_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[list[list[float]], list[list[list[float]]]]:
        self.passes += texts
        whole = [self._vector(t) for t in texts]
        pooled = [
            [self._vector(self.mark + t[a:b]) for a, b in own]
            for t, own in zip(texts, spans, strict=True)
        ]
        return whole, pooled


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


class MemoryStore:
    """A ``Store`` held in memory (see the module docstring); exact nearest neighbours."""

    def __init__(self) -> None:
        self.reset()

    def warm_up(self) -> None:
        """Nothing to open."""

    def reset(self) -> None:
        self._passages: dict[str, StoredPassage] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._files: dict[str, FileRecord] = {}
        self._token = uuid.uuid4().hex

    def files(self) -> dict[str, FileRecord]:
        return dict(self._files)

    def write_files(self, files: Sequence[FileWrite]) -> None:
        for record, passages, embeddings in files:
            stale = {pid for pid, p in self._passages.items() if p.unit.doc_id == record.doc_id}
            for passage, vector in zip(passages, embeddings, strict=True):
                stale.discard(passage.passage_id)
                terms = unit_keywords(passage.unit, passage.text)
                self._passages[passage.passage_id] = StoredPassage(
                    passage.passage_id, passage.text, passage.unit, terms
                )
                self._vectors[passage.passage_id] = np.asarray(vector, dtype=np.float32)
            for pid in stale:
                del self._passages[pid], self._vectors[pid]
            self._files[record.doc_id] = record
        self._token = uuid.uuid4().hex

    def remove_file(self, doc_id: str) -> None:
        for pid in [pid for pid, p in self._passages.items() if p.unit.doc_id == doc_id]:
            del self._passages[pid], self._vectors[pid]
        self._files.pop(doc_id, None)
        self._token = uuid.uuid4().hex

    def count(self) -> int:
        return len(self._passages)

    def version(self) -> str:
        return self._token

    def all_passages(self) -> list[StoredPassage]:
        return list(self._passages.values())

    def passages_of(self, doc_ids: Sequence[str]) -> list[StoredPassage]:
        wanted = set(doc_ids)
        return [p for p in self._passages.values() if p.unit.doc_id in wanted]

    def passages(self, ids: Sequence[str]) -> list[StoredPassage]:
        return [self._passages[pid] for pid in ids if pid in self._passages]

    def unit_similarities(
        self, embedding: list[float], passages: dict[str, list[str]]
    ) -> dict[str, float]:
        query = np.asarray(embedding, dtype=np.float32)
        best: dict[str, float] = {}
        for uid, pids in passages.items():
            cosines = [float(self._vectors[pid] @ query) for pid in pids if pid in self._vectors]
            if cosines:
                best[uid] = max(cosines)
        return best

    def nearest(
        self, embedding: list[float], k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        ids = [
            pid for pid, p in self._passages.items() if filters is None or filters.accepts(p.unit)
        ]
        if not ids:
            return []
        cosines = np.stack([self._vectors[pid] for pid in ids]) @ np.asarray(
            embedding, dtype=np.float32
        )
        order = sorted(range(len(ids)), key=lambda i: (-float(cosines[i]), ids[i]))[:k]
        return [(ids[i], float(cosines[i])) for i in order]
