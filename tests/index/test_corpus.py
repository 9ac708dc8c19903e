"""The keyword corpus and its copy on disk: used when it matches the index, ignored where it does
not, never an authority over what the index holds. In-memory store and hashing embedder."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from rag.chain import RagChain
from rag.config import Settings
from rag.index.chunking import Unit
from rag.index.corpus import LIST_ITEMS, DocTerms, KeywordCorpus, Snapshot
from rag.index.embedding import Embedder
from rag.index.store import StoredPassage
from rag.text import introduces

from ..conftest import SEEDS
from ..fakes import MemoryStore


class CountingStore(MemoryStore):
    """Records which documents were read back from the store, and how."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str | tuple[str, ...]] = []

    def all_passages(self) -> list[StoredPassage]:
        self.reads.append("all")
        return super().all_passages()

    def passages_of(self, doc_ids: Sequence[str]) -> list[StoredPassage]:
        self.reads.append(tuple(sorted(doc_ids)))
        return super().passages_of(doc_ids)


def chain_on(store: MemoryStore, data: Path, corpus: Path, embedder: Embedder) -> RagChain:
    return RagChain(Settings.load(data_dir=data, corpus=[corpus]), embedder, store)


@pytest.fixture
def indexed(tmp_path: Path, fake_embedder: Embedder) -> tuple[CountingStore, Path, Path]:
    """An index with no saved copy of its keyword corpus (one built by another replica, whose
    ``RAG_DATA_DIR`` is its own, or whose copy was deleted)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    store = CountingStore()
    chain_on(store, tmp_path / "builder", corpus, fake_embedder).ingest()
    store.reads.clear()
    return store, tmp_path / "data", corpus


def test_the_process_that_ingests_keeps_what_it_wrote_and_saves_it(
    tmp_path: Path, fake_embedder: Embedder
) -> None:
    """The files an ingest writes join the keyword corpus from memory: neither that process's
    first question nor the next process reads the index back from the store."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    store = CountingStore()
    writer = chain_on(store, tmp_path / "data", corpus, fake_embedder)
    writer.ingest()
    answer = asked(writer, QUESTION)
    assert store.reads == []
    assert saved_docs(snapshot_of(writer)) == loaded(writer).docs
    assert loaded(chain_on(store, tmp_path / "data", corpus, fake_embedder)).docs == (
        loaded(writer).docs
    )
    assert asked(chain_on(store, tmp_path / "data", corpus, fake_embedder), QUESTION) == answer
    assert store.reads == []

    (corpus / "new.txt").write_text("Zanzibarite\n\nZanzibarite tariffs rose by 4%.\n", "utf-8")
    writer.ingest()
    assert "Zanzibarite" in writer.ask("Which tariffs rose by 4%?").answer
    assert store.reads == []


def test_a_process_with_a_saved_copy_adds_a_file_without_reading_the_copy(
    tmp_path: Path, fake_embedder: Embedder
) -> None:
    """``rag ingest FILE`` into an existing index neither reads the saved copy nor keeps the
    file's terms; its first question reads the copy and only the new document from the store."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    store = CountingStore()
    builder = chain_on(store, tmp_path / "data", corpus, fake_embedder)
    builder.ingest()
    builder.retriever.wait_for_save()
    adder = chain_on(store, tmp_path / "data", corpus, fake_embedder)
    assert not adder.retriever.absorbs()
    (corpus / "new.txt").write_text("Zanzibarite\n\nZanzibarite tariffs rose by 4%.\n", "utf-8")
    adder.ingest()
    assert store.reads == []
    assert "Zanzibarite" in asked(adder, "Which tariffs rose by 4%?")
    (new_doc,) = {p.unit.doc_id for p in store.all_passages() if p.unit.source.endswith("new.txt")}
    assert store.reads[:-1] == [(new_doc,)]


def loaded(chain: RagChain) -> KeywordCorpus:
    """The chain's keyword corpus, once its copy is saved (that happens in the background)."""
    corpus = chain.retriever.corpus()
    chain.retriever.wait_for_save()
    return corpus


def asked(chain: RagChain, question: str) -> str:
    answer = chain.ask(question).answer
    chain.retriever.wait_for_save()
    return answer


def snapshot_of(chain: RagChain) -> Snapshot:
    snapshot = chain.retriever.snapshot
    assert snapshot is not None
    return snapshot


def saved_docs(snapshot: Snapshot) -> dict[str, DocTerms]:
    saved = snapshot.read()
    assert saved is not None
    return saved.docs


QUESTION = "What did Alex Vatanka say?"


def test_the_first_load_reads_the_store_and_saves_a_copy_the_next_process_uses(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    store, data, corpus = indexed
    first = chain_on(store, data, corpus, fake_embedder)
    answer = asked(first, QUESTION)
    assert store.reads == ["all"]
    snapshot = snapshot_of(first)
    assert snapshot.path.is_file() and snapshot.path.parent == data / "keywords"
    assert snapshot.matrix_dir.is_dir()

    store.reads.clear()
    second = chain_on(store, data, corpus, fake_embedder)
    assert asked(second, QUESTION) == answer
    assert store.reads == []  # everything came from the copy
    assert second.retriever.corpus().units == loaded(first).units


def test_a_document_changed_since_the_copy_is_read_again_and_a_removed_one_is_gone(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    store, data, corpus = indexed
    (corpus / "kept.txt").write_text("Kept\n\nNothing changes here.\n", encoding="utf-8")
    chain_on(store, data, corpus, fake_embedder).ingest()
    loaded(chain_on(store, data, corpus, fake_embedder))
    standard, worldview = sorted(corpus.glob("*.txt"))[1], sorted(corpus.glob("*.txt"))[0]
    standard.write_text(
        standard.read_text(encoding="utf-8") + "\nQuokkabridge tariffs rose by 9%.\n",
        encoding="utf-8",
    )
    worldview.unlink()
    # Another replica ingests: its copy is its own, the one under `data` is now stale.
    chain_on(store, data.parent / "other-replica", corpus, fake_embedder).ingest()

    store.reads.clear()
    replica = chain_on(store, data, corpus, fake_embedder)
    units = loaded(replica).units
    changed = next(r.doc_id for r in store.files().values() if r.source.endswith(standard.name))
    assert store.reads == [(changed,)]
    assert any("Quokkabridge" in u.text for u in units.values())
    assert len({u.doc_id for u in units.values()}) == 2  # the changed and the kept one
    assert "Quokkabridge" in replica.ask("Which tariffs rose by 9%?").answer
    # ... and the copy now matches the index again: the next process reads nothing.
    store.reads.clear()
    loaded(chain_on(store, data, corpus, fake_embedder))
    assert store.reads == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated (a crash, a full disk)
        lambda text: text.replace('"keywords_version":', '"keywords_version":99,"old":'),
        lambda text: json.dumps({**json.loads(text), "unit_fields": ["unit_id", "text"]}),
        lambda text: text.replace('"units":[[', '"units":[["x"],[', 1),
        lambda text: "[]",
    ],
    ids=["truncated", "other-tokeniser", "other-unit-fields", "bad-unit", "not-an-object"],
)
def test_a_damaged_or_foreign_copy_is_ignored_and_rewritten(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    damage: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, data, corpus = indexed
    first = chain_on(store, data, corpus, fake_embedder)
    expected = asked(first, QUESTION)
    path = snapshot_of(first).path
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]

    store.reads.clear()
    with caplog.at_level(logging.WARNING, logger="rag.index.corpus"):
        again = chain_on(store, data, corpus, fake_embedder)
        assert asked(again, QUESTION) == expected
    assert store.reads == ["all"]
    assert saved_docs(snapshot_of(again))  # rewritten whole


def test_an_unwritable_copy_is_only_a_warning(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, data, corpus = indexed
    data.mkdir(parents=True, exist_ok=True)
    (data / "keywords").write_text("a file where the folder should be", encoding="utf-8")
    chain = chain_on(store, data, corpus, fake_embedder)
    with caplog.at_level(logging.WARNING, logger="rag.index.corpus"):
        assert asked(chain, QUESTION)
    assert "could not save the keyword corpus" in caplog.text


def test_the_copy_round_trips_every_unit_field(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    store, data, corpus = indexed
    chain = chain_on(store, data, corpus, fake_embedder)
    held = loaded(chain)
    saved = saved_docs(snapshot_of(chain))
    assert saved == held.docs
    rebuilt = KeywordCorpus(held.version, saved)
    assert rebuilt.units == held.units and rebuilt.passage_ids == held.passage_ids
    kinds = {u.kind for u in rebuilt.units.values()}
    assert kinds == {"title", "paragraph", "headline"}
    assert any(u.outlet and u.date for u in rebuilt.units.values())


def test_a_saved_document_whose_passage_count_differs_from_the_index_is_read_again(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    """The copy of an index that was missing passages (a damaged one, since rebuilt) is not
    trusted for the document the manifest now counts differently."""
    store, data, corpus = indexed
    chain = chain_on(store, data, corpus, fake_embedder)
    docs = loaded(chain).docs
    short = sorted(docs)[0]
    docs[short].rows.pop()
    snapshot_of(chain).write(KeywordCorpus("old", docs))

    store.reads.clear()
    again = loaded(chain_on(store, data, corpus, fake_embedder))
    assert store.reads == [(short,)]
    assert len(again.docs[short].rows) == store.files()[short].passages


def test_a_rebuild_forgets_the_saved_copy(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, data, corpus = indexed
    chain = chain_on(store, data, corpus, fake_embedder)
    loaded(chain)
    snapshot = snapshot_of(chain)
    assert snapshot.path.is_file() and snapshot.matrix_dir.is_dir()
    forgotten: list[bool] = []
    real_delete = snapshot.delete

    def delete() -> None:
        real_delete()
        forgotten.append(not snapshot.path.exists() and not snapshot.matrix_dir.exists())

    monkeypatch.setattr(snapshot, "delete", delete)
    store.reads.clear()
    chain.ingest(rebuild=True)
    assert forgotten == [True]
    # The copy written after the rebuild is what the rebuild wrote, never read back.
    chain.retriever.wait_for_save()
    assert store.reads == [] and saved_docs(snapshot) == loaded(chain).docs
    assert asked(chain, QUESTION)


class CountingBuilds:
    """Counts the BM25 matrices built (not loaded) while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import bm25s

        self.builds = 0
        original = bm25s.BM25.index

        def index(bm25: Any, *args: Any, **kwargs: Any) -> Any:
            self.builds += 1
            return original(bm25, *args, **kwargs)

        monkeypatch.setattr(bm25s.BM25, "index", index)


def test_a_restart_uses_the_saved_matrix_and_scores_as_a_fresh_build(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, data, corpus = indexed
    built = loaded(chain_on(store, data, corpus, fake_embedder))
    counter = CountingBuilds(monkeypatch)
    restarted = loaded(chain_on(store, data, corpus, fake_embedder))
    assert counter.builds == 0
    fresh = KeywordCorpus("v", dict(restarted.docs))  # the same documents, built now
    assert counter.builds == 1
    terms = ["vatanka", "russia", "alli", "tillerson", "protest", "iran"]
    for term in terms:
        assert restarted.keywords.idf(term) == pytest.approx(built.keywords.idf(term))
        by_unit = dict(zip(restarted.unit_ids, restarted.keywords.unit_scores([term]), strict=True))
        again = dict(zip(fresh.unit_ids, fresh.keywords.unit_scores([term]), strict=True))
        assert by_unit == pytest.approx(again)


def test_a_matrix_from_another_write_is_not_used(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documents file and the matrix are written one after the other; an interrupted or
    concurrent write can leave them from different versions, which the token tells apart."""
    store, data, corpus = indexed
    first = chain_on(store, data, corpus, fake_embedder)
    loaded(first)
    snapshot = snapshot_of(first)
    (snapshot.matrix_dir / "citerag-token.txt").write_text("another write", encoding="utf-8")
    counter = CountingBuilds(monkeypatch)
    loaded(chain_on(store, data, corpus, fake_embedder))
    assert counter.builds == 1 and store.reads == ["all"]  # documents from the copy, matrix built
    saved = snapshot.read()
    assert saved is not None and snapshot.matrix(saved.token) is not None  # and saved again
    loaded(chain_on(store, data, corpus, fake_embedder))
    assert counter.builds == 1


def test_a_damaged_matrix_is_rebuilt(
    indexed: tuple[CountingStore, Path, Path],
    fake_embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, data, corpus = indexed
    first = chain_on(store, data, corpus, fake_embedder)
    expected = asked(first, QUESTION)
    for array in snapshot_of(first).matrix_dir.glob("*.npy"):
        array.write_bytes(b"not numpy")
    counter = CountingBuilds(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="rag.index.corpus"):
        assert asked(chain_on(store, data, corpus, fake_embedder), QUESTION) == expected
    assert counter.builds == 1
    assert "ignoring the saved BM25 matrix" in caplog.text


def test_preceding_is_the_paragraph_before_in_the_same_document(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    store, data, corpus = indexed
    held = loaded(chain_on(store, data, corpus, fake_embedder))
    for doc in held.docs.values():
        paragraphs = sorted(
            (u for u in doc.units.values() if u.kind == "paragraph" and not u.boilerplate),
            key=lambda u: u.position,
        )
        assert held.preceding(paragraphs[0].unit_id) is None
        for before, unit in zip(paragraphs, paragraphs[1:], strict=False):
            assert held.preceding(unit.unit_id) == before
    headlines = [u for u in held.units.values() if u.kind != "paragraph"]
    assert headlines and all(held.preceding(u.unit_id) is None for u in headlines)


def _paragraphs(*texts: str) -> DocTerms:
    units = {
        f"u{i}": Unit(f"u{i}", "d", "a.md", "T", "paragraph", i, i, text)
        for i, text in enumerate(texts)
    }
    return DocTerms("h", units, [])


def test_a_paragraph_ending_in_a_colon_introduces_its_list_or_the_next_paragraph() -> None:
    doc = _paragraphs(
        "There are several kinds:",
        "- timing",
        "- power",
        "Then the article goes on.",
        "The court ruled:",
        "A host may be ordered to remove the post.",
        "A subheading",
        "The section under it.",
        "By Jane Doe",
        "The end.",
        "And after that:",
    )
    assert doc.following == {"u0": ("u1", "u2"), "u4": ("u5",), "u6": ("u7",)}
    many = _paragraphs("Links:", *(f"- link {i}" for i in range(LIST_ITEMS + 3)))
    assert many.following["u0"] == tuple(f"u{i}" for i in range(1, LIST_ITEMS + 1))


def test_a_heading_its_file_marks_introduces_its_section_whatever_its_punctuation() -> None:
    """A question ("Why does it matter?") ends like a sentence; marked as a heading
    (``Unit.heading``), it introduces the paragraph after it, as a subheading without punctuation
    does."""
    doc = _paragraphs("Opening.", "Why does it matter?", "Because it does.")
    assert doc.following == {}
    marked = {**doc.units, "u1": replace(doc.units["u1"], heading=True)}
    assert DocTerms("h", marked, []).following == {"u1": ("u2",)}


def test_following_reads_the_units_of_the_loaded_corpus(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    """The seeds hold no subheading, and their one paragraph ending in a colon ("See the article
    here:") is followed only by headlines: nothing there introduces a paragraph."""
    store, data, corpus = indexed
    held = loaded(chain_on(store, data, corpus, fake_embedder))
    paragraphs = [u for u in held.units.values() if u.kind == "paragraph"]
    assert [u.text for u in paragraphs if introduces(u.text)] == ["See the article here:"]
    assert all(held.following(u.unit_id) == () for u in held.units.values())


def test_an_ingest_that_wrote_nothing_reads_nothing_back(
    indexed: tuple[CountingStore, Path, Path], fake_embedder: Embedder
) -> None:
    """With no saved copy and nothing loaded, an ingest of an unchanged corpus leaves the keyword
    corpus for the first question (at 100k units, building it is half a minute)."""
    store, data, corpus = indexed
    chain = chain_on(store, data, corpus, fake_embedder)
    report = chain.ingest()
    assert report.embedded == 0
    assert store.reads == []
    assert not snapshot_of(chain).path.exists()
