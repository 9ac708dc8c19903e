"""The ``Store`` protocol, checked the same way on both implementations: Chroma (embedded, what
users run) and the in-memory one of ``tests/fakes.py``; and a chain on either gives the same
answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.chain import RagChain
from rag.config import Settings
from rag.index.chunking import Passage, doc_id_for, split_passages, split_units
from rag.index.embedding import Embedder
from rag.index.loading import load_document
from rag.index.store import FileRecord, Filters, IndexStore, Store

from ..conftest import SEEDS
from ..fakes import MemoryStore


@pytest.fixture(params=["chroma", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "chroma":
        yield IndexStore("citerag_contract", data_dir=tmp_path)
    else:
        yield MemoryStore()


def _file(
    folder: Path, name: str, text: str, embedder: Embedder
) -> tuple[FileRecord, list[Passage]]:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    doc = load_document(path)
    passages = split_passages(split_units(doc), embedder.count_tokens, embedder.max_tokens)
    return FileRecord(doc_id_for(doc.source), doc.source, doc.content_hash, len(passages)), passages


def _write(store: Store, record: FileRecord, passages: list[Passage], embedder: Embedder) -> None:
    store.write_files([(record, passages, embedder.embed([p.text for p in passages]))])


def test_a_file_in_and_out(store: Store, tmp_path: Path, fake_embedder: Embedder) -> None:
    store.warm_up()
    assert store.count() == 0 and store.files() == {}
    assert store.nearest(fake_embedder.embed_query("tariffs"), 5) == []
    empty = store.version()
    record, passages = _file(
        tmp_path, "a.txt", "Tariffs\n\nQuokkabridge raised tariffs.\n\nOkapibourg opened a port.\n",
        fake_embedder,
    )  # fmt: skip
    _write(store, record, passages, fake_embedder)
    assert store.count() == len(passages) and set(store.files()) == {record.doc_id}
    assert store.version() != empty
    stored = {p.passage_id: p for p in store.all_passages()}
    assert set(stored) == {p.passage_id for p in passages}
    assert all(stored[p.passage_id].unit == p.unit for p in passages)
    assert all(stored[p.passage_id].keywords for p in passages)
    assert {p.passage_id for p in store.passages_of([record.doc_id])} == set(stored)

    target = next(p for p in passages if "Okapibourg" in p.text)
    hits = store.nearest(fake_embedder.embed_query(target.text), 2)
    assert hits[0][0] == target.passage_id and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [p.passage_id for p in store.passages([target.passage_id, "missing"])] == [
        target.passage_id
    ]
    best = store.unit_similarities(
        fake_embedder.embed_query(target.text), {target.unit.unit_id: [target.passage_id]}
    )
    assert best[target.unit.unit_id] == pytest.approx(1.0, abs=1e-5)

    written = store.version()
    store.remove_file(record.doc_id)
    assert store.count() == 0 and store.files() == {} and store.version() != written


def test_rewriting_a_file_drops_its_stale_passages(
    store: Store, tmp_path: Path, fake_embedder: Embedder
) -> None:
    record, passages = _file(tmp_path, "a.txt", "T\n\nOne fact.\n\nTwo facts.\n", fake_embedder)
    _write(store, record, passages, fake_embedder)
    record, shorter = _file(tmp_path, "a.txt", "T\n\nOne fact.\n", fake_embedder)
    _write(store, record, shorter, fake_embedder)
    assert {p.passage_id for p in store.all_passages()} == {p.passage_id for p in shorter}


def test_filters_and_reset(store: Store, tmp_path: Path, fake_embedder: Embedder) -> None:
    sources = []
    for name in ("a.txt", "b.txt"):
        record, passages = _file(tmp_path, name, f"{name}\n\nPorts and tariffs.\n", fake_embedder)
        _write(store, record, passages, fake_embedder)
        sources.append(record.source)
    query = fake_embedder.embed_query("ports and tariffs")
    only_b = store.nearest(query, 10, Filters(sources=(sources[1],)))
    assert only_b
    assert {p.unit.source for p in store.passages([i for i, _ in only_b])} == {sources[1]}
    assert len(store.nearest(query, 10)) == store.count()
    store.reset()
    store.warm_up()
    assert store.count() == 0 and store.files() == {}


def test_a_chain_on_the_memory_store_answers_as_on_chroma(
    tmp_path: Path, fake_embedder: Embedder, fake_chain: RagChain
) -> None:
    settings = Settings.load(data_dir=tmp_path, corpus=[SEEDS])
    chain = RagChain(settings, fake_embedder, store=MemoryStore())
    report = chain.ingest()
    assert report.indexed_any and chain.store.count() == fake_chain.store.count()
    for question in ("Who is Alex Vatanka?", "What is the boiling point of mercury?"):
        mine, theirs = chain.ask(question), fake_chain.ask(question)
        assert mine.answer == theirs.answer
        assert [c.unit_id for c in mine.citations] == [c.unit_id for c in theirs.citations]
