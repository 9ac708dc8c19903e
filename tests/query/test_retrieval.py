"""Retrieval: score fusion as a pure function, and search on the seed corpus with the real model
and a real embedded Chroma (slow)."""

from pathlib import Path

import pytest

from rag.index.embedding import Embedder
from rag.index.store import Filters
from rag.query.retrieval import fuse

from ..conftest import SEEDS, make_chain


@pytest.mark.slow
def test_vatanka_paragraphs_are_in_the_top_five(seed_chain) -> None:
    top = seed_chain.retrieve("What did Alex Vatanka say?", k=5).evidence
    vatanka = [e for e in top if "Vatanka" in e.unit.text]
    assert len(vatanka) == 2
    assert top[0].unit.text.count("Vatanka") >= 1


@pytest.mark.slow
def test_locked_and_loaded_headlines_are_in_the_top_five(seed_chain) -> None:
    top = seed_chain.retrieve("What did Trump mean by locked and loaded?", k=5).evidence
    assert all(e.unit.kind == "headline" for e in top)
    assert all("locked and loaded" in e.unit.text.lower() for e in top)


@pytest.mark.slow
def test_boilerplate_never_outranks_content(seed_chain) -> None:
    top = seed_chain.retrieve("Sign up for the WorldView newsletter analysis", k=50).evidence
    boilerplate = [e.rank for e in top if e.unit.boilerplate]
    content = [e.rank for e in top if not e.unit.boilerplate]
    assert len(boilerplate) <= 1  # the sign-up line that opens and closes file 000, once
    assert content and (not boilerplate or max(content) < min(boilerplate))


@pytest.mark.slow
def test_filter_by_document(seed_chain) -> None:
    only = Filters(sources=("seeds/001_0479f5dab17c5578.txt",))
    top = seed_chain.retrieve("What did Alex Vatanka say?", filters=only).evidence
    assert top and all(e.unit.source == "seeds/001_0479f5dab17c5578.txt" for e in top)
    by_title = Filters(sources=(top[0].unit.title,))
    assert all(
        e.unit.title == top[0].unit.title
        for e in seed_chain.retrieve("Iran", filters=by_title).evidence
    )


@pytest.mark.slow
def test_filter_by_headline_date_range(seed_chain) -> None:
    window = Filters(date_from="2025-12-27", date_to="2025-12-29")
    top = seed_chain.retrieve("Netanyahu and Trump meeting", k=8, filters=window).evidence
    assert top
    assert all(
        e.unit.kind == "headline" and "2025-12-27" <= e.unit.date <= "2025-12-29" for e in top
    )


@pytest.mark.slow
def test_retrieval_finds_a_named_analyst(seed_chain) -> None:
    evidence = seed_chain.retrieve("Who is Samuel Charap?").evidence
    assert evidence and "Charap" in evidence[0].unit.text


@pytest.mark.slow
def test_what_this_process_ingests_is_found_at_once_without_reading_it_back(
    corpus: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    chain.ingest()
    assert chain.retrieve("zanzibarite tariffs").evidence[0].lexical == 0.0

    read: list[list[str]] = []
    real = chain.store.passages_of

    def spy(doc_ids: list[str]) -> list:
        read.append(list(doc_ids))
        return real(doc_ids)

    monkeypatch.setattr(chain.store, "passages_of", spy)
    monkeypatch.setattr(chain.store, "all_passages", lambda: pytest.fail("re-read everything"))
    (corpus / "new.txt").write_text("Zanzibarite tariffs\n\nZanzibarite tariffs rose by 4%.\n")
    chain.ingest()  # this process ingested: what it wrote joins its keyword corpus at once
    top = chain.retrieve("zanzibarite tariffs").evidence[0]
    assert "Zanzibarite" in top.unit.text and top.lexical == 1.0
    assert read == []  # from memory, not read back

    (corpus / "new.txt").unlink()
    chain.ingest()
    assert all("Zanzibarite" not in e.unit.text for e in chain.retrieve("zanzibarite").evidence)


@pytest.mark.slow
def test_a_unit_written_after_the_version_was_read_is_still_answered(
    corpus: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest in another process between this process's version read and its dense query:
    the new unit is among the dense hits but not in the keyword corpus yet. It is used, with the
    unit read from the store by its passage id, instead of failing the question."""
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    chain.ingest()
    stale = chain.retriever.corpus()
    monkeypatch.setattr(chain.retriever, "corpus", lambda: stale)
    (corpus / "late.txt").write_text("Late news\\n\\nQuokkabridge tariffs rose by 9%.\\n")
    chain.ingest()
    top = chain.retrieve("Quokkabridge tariffs").evidence
    assert any("Quokkabridge" in e.unit.text for e in top)


@pytest.mark.slow
def test_another_process_ingesting_is_picked_up_in_the_background(
    corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    """A replica (here a second chain on the same index) keeps answering from its previous
    keyword corpus while it reads the new version, then uses the new one."""
    writer = make_chain(tmp_path / "data", [corpus], embedder)
    writer.ingest()
    replica = make_chain(tmp_path / "data", [corpus], embedder, index_check_s=0)
    assert replica.retrieve("okapibourg").evidence[0].lexical == 0.0
    (corpus / "new.txt").write_text("Okapibourg\n\nOkapibourg opened a port in May.\n")
    writer.ingest()
    replica.retrieve("okapibourg")
    replica.retriever.wait_for_refresh(60)
    top = replica.retrieve("okapibourg").evidence[0]
    assert "Okapibourg" in top.unit.text and top.lexical == 1.0


def test_fuse_weights_normalised_bm25_against_clipped_cosine() -> None:
    fused = fuse({"a": 0.8, "b": -0.3, "c": 0.5}, {"b": 6.0, "d": 3.0}, dense_weight=0.5)
    assert set(fused) == {"a", "b", "c", "d"}
    assert fused["a"] == pytest.approx(0.4)  # dense only
    assert fused["b"] == pytest.approx(0.5)  # best BM25 -> 1.0; a negative cosine counts as 0
    assert fused["d"] == pytest.approx(0.25)  # half the best BM25, no dense hit
    assert fused["a"] > fused["c"]


def test_fuse_without_keyword_hits_is_dense_alone() -> None:
    assert fuse({"a": 0.6}, {}, dense_weight=0.7) == {"a": pytest.approx(0.42)}
    assert fuse({}, {"x": 2.0}, dense_weight=1.0) == {"x": 0.0}


@pytest.mark.parametrize(("check_s", "reads"), [(3600.0, 0), (0.0, 5)])
def test_the_index_version_is_read_at_most_every_index_check_s(
    tmp_path: Path, fake_embedder: Embedder, check_s: float, reads: int
) -> None:
    """Three Chroma calls a question were a fifth of a loaded server's time: a serving process
    re-reads the version only every ``index_check_s`` (its own ingests refresh it at once)."""
    chain = make_chain(tmp_path / "data", [SEEDS], fake_embedder, index_check_s=check_s)
    chain.ensure_index()
    chain.retrieve("Iran")
    calls: list[int] = []
    real = chain.store.version

    def counted() -> str:
        calls.append(1)
        return real()

    chain.store.version = counted  # type: ignore[method-assign]
    for _ in range(5):
        chain.retrieve("Iran")
    assert len(calls) == reads
    chain.retriever.absorb()
    assert len(calls) == reads + 1
