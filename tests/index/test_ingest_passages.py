"""How ingest turns passages into vectors (``rag.index.ingest.embed_passages``), on the fake
embedder: pooled sentence windows cost no pass of their own and land beside their passage."""

from __future__ import annotations

from rag.index.chunking import Passage, split_passages, split_units
from rag.index.ingest import embed_passages
from rag.index.loading import Document

from ..fakes import HashingEmbedder, RecordingEmbedder

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
