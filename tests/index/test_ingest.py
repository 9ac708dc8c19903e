"""Incremental ingest against a real embedded Chroma and the real embedding model."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.chain import RagChain
from rag.config import Settings
from rag.index.embedding import Embedder
from rag.index.store import IndexStore

from ..conftest import make_chain

pytestmark = pytest.mark.slow


def _ids_by_source(chain) -> dict[str, set[str]]:
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

    def failing(*args: object) -> list[list[float]]:
        calls["n"] += 1
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(embedder, "embed", failing)
        patched.setattr(embedder, "embed_spans", failing)
        with pytest.raises(KeyboardInterrupt):
            chain.ingest()
    assert calls["n"] == 1

    answer = chain.ask("Who is Alex Vatanka?")
    assert not answer.refused and "Middle East Institute" in answer.answer
    report = chain.ingest()
    assert report.summary() == "2 files: 1 changed, 1 unchanged"


def test_settings_change_builds_a_fresh_collection(tmp_path: Path, embedder: Embedder) -> None:
    from ..conftest import SEEDS

    a = make_chain(tmp_path / "data", [SEEDS], embedder)
    b = make_chain(tmp_path / "data", [SEEDS], embedder, max_passage_tokens=128)
    assert isinstance(a.store, IndexStore) and isinstance(b.store, IndexStore)
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


def _article(n: int) -> str:
    paragraphs = [
        f"Report {n}, part {i}: the council of town {n} approved budget line {n * 100 + i} "
        f"after {i + 2} weeks of talks. Officials said the vote was close."
        for i in range(40)
    ]
    return f"Town {n} budget news\n\n" + "\n\n".join(paragraphs) + "\n"


def test_sigkill_at_several_points_loses_nothing(corpus: Path, tmp_path: Path) -> None:
    """A real `rag ingest` process killed with SIGKILL three times at different points: after
    each kill the index answers as before, and the next run completes the work, every file's
    manifest row matching the passages stored for it (nothing missing, nothing twice)."""
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CORPUS": str(corpus)}
    rag = [sys.executable, "-m", "rag"]
    subprocess.run([*rag, "ingest", "--quiet"], env=env, check=True, capture_output=True)
    for n in range(60):
        (corpus / f"town-{n:02d}.txt").write_text(_article(n), encoding="utf-8")

    kills = 0
    for delay in (3.0, 5.0, 7.0):
        proc = subprocess.Popen([*rag, "ingest", "--quiet"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        asked = subprocess.run([*rag, "ask", "Who is Alex Vatanka?"], env=env,
                               capture_output=True, text=True)  # fmt: skip
        assert asked.returncode == 0 and "Middle East Institute" in asked.stdout, asked.stderr
    assert kills >= 2, "the ingest finished before it could be killed; give it more to do"

    done = subprocess.run([*rag, "ingest", "--quiet"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    chain = RagChain(Settings.load(data_dir=tmp_path / "data", corpus=[corpus]))
    records = chain.store.files()
    assert len(records) == 62
    for record in records.values():
        assert len(chain.store.passages_of([record.doc_id])) == record.passages, record.source
    assert "62 unchanged" in chain.ingest().summary()


def test_a_hostile_corpus_is_indexed_or_reported(tmp_path: Path, embedder: Embedder) -> None:
    """Every file is either indexed or reported with a reason; the run never crashes."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("A secret outside the corpus.", "utf-8")
    files = {
        "empty.txt": b"",
        "blank.txt": b" \n\t\n   \n",
        "binary.txt": b"\x00\x01\x02\x03binary\x00" * 50,
        "invalid-utf8.txt": b"Caf\xe9 \xff\xfe\xfd news \x80\x81 from Lyon.\n",
        "utf16.txt": "\ufeffWindows export about Tehran.\r\n".encode("utf-16-le"),
        "crlf.txt": b"CRLF title\r\n\r\nA paragraph about Baku.\r\n\r\nAnother about Yerevan.\r\n",
        "many-lines.txt": "".join(f"Line {i} ok.\n" for i in range(5000)).encode(),
        "one-paragraph.txt": (
            " ".join(f"Sentence {i} about ports." for i in range(40000))
        ).encode(),
        "name with spaces ünï.txt": b"Spaces and non-ASCII in the name.",
        "page.html": b"<html><body><script>alert(1)</script><p>Markup <b>story</b> here.</p>",
        "notes.md": b"---\ntitle: [unclosed\n---\n# Heading\n\nBody text.\n",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "escape.txt").symlink_to(outside)
    (folder / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(folder / "pipe.txt")

    chain = make_chain(tmp_path / "data", [folder], embedder)
    report = chain.ingest()
    seen = {Path(o.source).name: o for o in report.outcomes}
    for name in [*files, "escape.txt", "dangling.txt", "pipe.txt", "loop"]:
        assert name in seen, f"{name} was neither indexed nor reported"
        if seen[name].status == "failed":
            assert seen[name].reason, name
    assert seen["escape.txt"].status == "failed"
    assert {seen[n].status for n in ("empty.txt", "blank.txt", "binary.txt")} == {"failed"}
    for name in ("utf16.txt", "crlf.txt", "invalid-utf8.txt", "many-lines.txt",
                 "one-paragraph.txt", "name with spaces ünï.txt", "page.html"):  # fmt: skip
        assert seen[name].status == "added", (name, seen[name].reason)
    texts = " ".join(p.text for p in chain.store.all_passages())
    assert "secret outside" not in texts and "alert(1)" not in texts
    assert "Windows export about Tehran." in texts


def test_max_passage_tokens_shortens_passages(tmp_path: Path, embedder: Embedder) -> None:
    from ..conftest import SEEDS

    chain = make_chain(tmp_path / "short", [SEEDS], embedder, max_passage_tokens=32)
    chain.ingest()
    passages = chain.store.all_passages()
    assert max(embedder.count_tokens(p.text) for p in passages) <= 32
    assert len(passages) > 156  # the default (254) stores 156 for the seeds
