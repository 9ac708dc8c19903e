"""How ingest turns passages into vectors (``rag.index.ingest.embed_passages``), on the fake
embedder: pooled sentence windows cost no pass of their own and land beside their passage; and
how a failed write ends an ingest."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.errors import StoreError
from rag.index import ingest as ingest_module
from rag.index.chunking import Passage, split_passages, split_units
from rag.index.ingest import embed_passages, ingest
from rag.index.loading import Document
from rag.index.store import FileWrite

from ..fakes import HashingEmbedder, MemoryStore, RecordingEmbedder

TEXT = (
    "Harbour plans\n\n"
    "The council met on Monday. It approved the harbour plan. Work starts in May. "
    "The mayor called it overdue.\n\n"
    "Short paragraph.\n\n"
    "Residents asked about noise. The council promised limits. Fishermen were not consulted.\n"
)


def _passages() -> list[Passage]:
    units = split_units(Document("harbour.txt", TEXT, "Harbour plans"))
    return split_passages(units, lambda t: len(t.split()), max_tokens=254)


def test_pooled_windows_ride_on_their_paragraphs_pass_and_keep_their_place() -> None:
    passages = _passages()
    windows = [p for p in passages if p.span is not None]
    assert len(windows) == 5
    embedder = RecordingEmbedder()
    vectors = embed_passages(passages, embedder, pooled_windows=True)
    assert embedder.passes == [p.text for p in passages if p.span is None]
    assert embedder.alone == []
    # The fake pools a span by embedding the span's text, which is the window's own text.
    direct = HashingEmbedder()
    for passage, vector in zip(passages, vectors, strict=True):
        assert vector == direct.embed([passage.text])[0]


def test_encoded_windows_are_embedded_as_texts() -> None:
    passages = _passages()
    embedder = RecordingEmbedder()
    vectors = embed_passages(passages, embedder, pooled_windows=False)
    assert embedder.alone == [p.text for p in passages]
    assert embedder.passes == []
    assert len(vectors) == len(passages)


def test_a_failed_write_stops_ingest_and_keeps_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups are embedded while the previous one is written (``ingest``'s writer thread): a
    write that fails is raised by ``ingest`` as it is, the groups written before it stay in the
    manifest, nothing after it is reported as written, and the next ingest does the rest."""
    for i in range(4):
        (tmp_path / f"{i}.txt").write_text(TEXT.replace("harbour", f"harbour {i}"), "utf-8")
    monkeypatch.setattr(ingest_module, "EMBED_GROUP_PASSAGES", 1)  # one file per group
    store = MemoryStore()
    real_write = store.write_files
    calls: list[list[str]] = []

    def write(files: Sequence[FileWrite]) -> None:
        calls.append([record.source for record, _, _ in files])
        if len(calls) == 2:
            raise StoreError("the disk is full")
        real_write(files)

    monkeypatch.setattr(store, "write_files", write)
    seen: list[str] = []
    with pytest.raises(StoreError, match="the disk is full"):
        ingest([tmp_path], store, HashingEmbedder(), progress=lambda d, t, s: seen.append(s))
    assert len(calls) == 2
    assert seen == calls[0]
    assert {r.source for r in store.files().values()} == set(calls[0])

    monkeypatch.setattr(store, "write_files", real_write)
    report = ingest([tmp_path], store, HashingEmbedder())
    assert report.summary() == "4 files: 3 added, 1 unchanged"
