"""Incremental ingest against a real embedded Chroma and the real embedding model."""

from pathlib import Path

import pytest

from rag.embedding import Embedder

from .conftest import make_chain

pytestmark = pytest.mark.slow


def _ids_by_source(chain) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    out: dict[str, set[str]] = {}
    for p in chain.store.all_passages():
        out.setdefault(Path(p.unit.source).name, set()).add(p.passage_id)
    return out


def test_second_run_embeds_nothing(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    first = chain.ingest()
    assert first.summary() == "2 files: 2 added"
    assert first.embedded == chain.store.count() > 100
    second = chain.ingest()
    assert second.summary() == "2 files: 2 unchanged"
    assert second.embedded == 0


def test_modified_file_replaces_only_its_units(
    corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    chain.ingest()
    before = _ids_by_source(chain)
    target = corpus / "000_0584513ccffa5459.txt"
    text = target.read_text(encoding="utf-8")
    text = text.replace("Alex Vatanka, an Iran expert", "Alex Vatanka, a veteran Iran expert")
    text += "\nA brand new closing paragraph about Caspian Sea shipping routes.\n"
    target.write_text(text, encoding="utf-8")

    report = chain.ingest()
    assert report.summary() == "2 files: 1 changed, 1 unchanged"
    after = _ids_by_source(chain)
    assert after["001_0479f5dab17c5578.txt"] == before["001_0479f5dab17c5578.txt"]
    changed_old, changed_new = before[target.name], after[target.name]
    assert changed_old != changed_new
    # Only the edited paragraph (and its sentence windows) and the new one were re-embedded.
    assert len(changed_new - changed_old) <= 6
    assert report.embedded == len(changed_new)
    texts = [p.unit.text for p in chain.store.all_passages()]
    assert any("veteran Iran expert" in t for t in texts)
    assert not any("Vatanka, an Iran expert" in t for t in texts)
    answer = chain.ask("What about Caspian Sea shipping routes?")
    assert not answer.refused
    assert "Caspian" in answer.answer


def test_deleted_file_units_are_removed(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    chain.ingest()
    (corpus / "001_0479f5dab17c5578.txt").unlink()
    report = chain.ingest()
    assert [o.status for o in report.outcomes if o.source.endswith("001_0479f5dab17c5578.txt")] == [
        "removed"
    ]
    assert set(_ids_by_source(chain)) == {"000_0584513ccffa5459.txt"}
    assert len(chain.store.files()) == 1


def test_bad_inputs_are_reported_skipped_and_lose_nothing(
    corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 society news from Paris.".encode("latin-1"))
    (corpus / "noise.txt").write_bytes(bytes(range(128, 256)) * 4)
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    report = chain.ingest([corpus, tmp_path / "nowhere.txt"])
    failures = {Path(o.source).name: o.reason for o in report.failures}
    assert set(failures) == {"empty.txt", "binary.txt", "noise.txt", "nowhere.txt"}
    assert "empty" in failures["empty.txt"]
    assert "binary" in failures["binary.txt"]
    assert "UTF-8" in failures["noise.txt"] and "re-save it as UTF-8" in failures["noise.txt"]
    assert "no such file" in failures["nowhere.txt"]
    assert report.summary() == "7 files: 3 added, 4 failed"
    assert set(_ids_by_source(chain)) == {
        "000_0584513ccffa5459.txt",
        "001_0479f5dab17c5578.txt",
        "latin1.txt",
    }
    texts = [p.unit.text for p in chain.store.all_passages()]
    assert "Caf\u00e9 society news from Paris." in texts  # a legacy encoding is read, not refused

    # A good file that later turns bad keeps its indexed units: nothing is lost.
    (corpus / "000_0584513ccffa5459.txt").write_bytes(b"\xff\xfe broken")
    again = chain.ingest()
    assert "000_0584513ccffa5459.txt" in {Path(o.source).name for o in again.failures}
    assert "000_0584513ccffa5459.txt" in _ids_by_source(chain)


def test_interrupted_ingest_leaves_previous_index_usable(
    corpus: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    chain.ingest()
    target = corpus / "001_0479f5dab17c5578.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA late addition.\n", "utf-8")

    calls = {"n": 0}
    real_embed = embedder.embed

    def failing(texts: list[str]) -> list[list[float]]:
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(embedder, "embed", failing)
    with pytest.raises(KeyboardInterrupt):
        chain.ingest()
    monkeypatch.setattr(embedder, "embed", real_embed)
    assert calls["n"] == 1

    answer = chain.ask("Who is Alex Vatanka?")
    assert not answer.refused and "Middle East Institute" in answer.answer
    report = chain.ingest()
    assert report.summary() == "2 files: 1 changed, 1 unchanged"


def test_settings_change_builds_a_fresh_collection(tmp_path: Path, embedder: Embedder) -> None:
    from .conftest import SEEDS

    a = make_chain(tmp_path / "data", [SEEDS], embedder)
    b = make_chain(tmp_path / "data", [SEEDS], embedder, max_passage_tokens=128)
    assert a.store.name != b.store.name
    a.ingest()
    assert b.store.count() == 0
    b.ingest()
    assert b.store.count() > 0


def test_a_link_out_of_the_corpus_is_never_indexed_or_quoted(
    corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$zebraquokka:19000:0:99999:7:::\n", "utf-8")
    (corpus / "shadow.txt").symlink_to(secret)
    chain = make_chain(tmp_path / "data", [corpus], embedder)
    report = chain.ingest()
    assert any(
        "shadow.txt" in f.source and "outside the corpus folder" in f.reason
        for f in report.failures
    )
    assert not any("zebraquokka" in p.text for p in chain.store.all_passages())
    answer = chain.ask("root zebraquokka")
    assert "zebraquokka" not in answer.answer
