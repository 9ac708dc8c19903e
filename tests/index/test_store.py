"""The index on a real `chroma run` server on 127.0.0.1, as well as embedded."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.app import cli
from rag.chain import RagChain
from rag.errors import QuestionError, StoreError
from rag.index.chunking import Passage
from rag.index.embedding import Embedder
from rag.index.keyword import unit_keywords
from rag.index.store import FileWrite, Filters

from ..conftest import SEEDS, free_port, make_chain, running


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    command = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    with running(
        command, lambda: httpx.get(heartbeat, timeout=1).status_code == 200, path / "chroma.log", 60
    ):
        yield port


@pytest.mark.slow
def test_ingest_and_ask_through_a_chroma_server(
    chroma_server: int, tmp_path: Path, embedder: Embedder
) -> None:
    chain = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=chroma_server
    )
    assert chain.ingest().summary() == "2 files: 2 added"
    answer = chain.ask("What did Alex Vatanka say?")
    assert not answer.refused and "Vatanka" in answer.answer
    again = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=chroma_server
    )
    assert again.ingest().summary() == "2 files: 2 unchanged"
    assert not (tmp_path / "chroma").exists()  # nothing was written to the embedded store


@pytest.mark.slow
def test_unreachable_server_names_the_setting(tmp_path: Path, embedder: Embedder) -> None:
    chain = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=free_port()
    )
    with pytest.raises(StoreError, match="RAG_CHROMA_HOST"):
        chain.ask("Who is Alex Vatanka?")


def _server(path: Path, port: int) -> contextlib.AbstractContextManager[object]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    command = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    ready = lambda: httpx.get(heartbeat, timeout=1).status_code == 200  # noqa: E731
    return running(command, ready, path.parent / f"chroma-{port}.log", 60)


@pytest.mark.slow
def test_server_restarted_or_stopped_mid_session(
    tmp_path: Path,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Restarted: the data persisted and the next question is answered. Stopped: a clear error
    naming HOST:PORT from the Python API and the CLI (no stack trace). Back: answers again, in the
    same session, with nothing restarted on our side."""
    port, path = free_port(), tmp_path / "server-data"
    chain = make_chain(tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=port)
    question = "What did Alex Vatanka say?"
    with _server(path, port):
        chain.ingest()
        before = chain.ask(question)
    assert not before.refused

    with _server(path, port):
        assert chain.ask(question).answer == before.answer

    with pytest.raises(StoreError, match=f"cannot reach Chroma at 127.0.0.1:{port}"):
        chain.ask(question)
    monkeypatch.setenv("RAG_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RAG_CHROMA_PORT", str(port))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path))
    assert cli.main(["ask", question]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach Chroma at 127.0.0.1:{port}" in err and "Traceback" not in err

    with _server(path, port):
        assert chain.ask(question).answer == before.answer
        assert cli.main(["ask", question]) == 0


@pytest.mark.slow
def test_a_damaged_embedded_index_says_to_rebuild_and_rebuild_recovers(tmp_path: Path) -> None:
    """A truncated Chroma database (a disk that filled up, a copy cut short): `rag ask` says what
    to do instead of printing a stack trace, and `rag ingest --rebuild` brings the index back."""
    env = {**os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CORPUS": str(SEEDS)}
    rag = [sys.executable, "-m", "rag"]
    assert subprocess.run([*rag, "ingest", "--quiet"], env=env, capture_output=True).returncode == 0
    database = tmp_path / "data" / "chroma" / "chroma.sqlite3"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 3])

    broken = subprocess.run(
        [*rag, "ask", "Who is Alex Vatanka?"], env=env, capture_output=True, text=True
    )
    assert broken.returncode == 2, broken.stderr
    assert "rag ingest --rebuild" in broken.stderr and "Traceback" not in broken.stderr

    rebuilt = subprocess.run(
        [*rag, "ingest", "--rebuild", "--quiet"], env=env, capture_output=True, text=True
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 added" in rebuilt.stdout
    answer = subprocess.run(
        [*rag, "ask", "Who is Alex Vatanka?"], env=env, capture_output=True, text=True
    )
    assert answer.returncode == 0 and "Vatanka" in answer.stdout


@pytest.mark.slow
def test_rebuild_never_deletes_a_folder_that_is_not_an_index(
    tmp_path: Path, embedder: Embedder
) -> None:
    keep = tmp_path / "chroma" / "notes.txt"
    keep.parent.mkdir()
    keep.write_text("mine")
    (tmp_path / "elsewhere").mkdir()
    chain = make_chain(tmp_path, [tmp_path / "elsewhere"], embedder)
    chain.ingest(rebuild=True)
    chain.ingest(rebuild=True)
    assert keep.read_text() == "mine"

    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "chroma").write_text("not a folder")
    with pytest.raises(StoreError, match="is in the way"):
        make_chain(blocked, [SEEDS], embedder).ingest(rebuild=True)
    assert (blocked / "chroma").read_text() == "not a folder"


@pytest.mark.slow
def test_a_file_with_more_passages_than_one_chroma_batch_is_stored(tmp_path: Path) -> None:
    """Embedded Chroma takes at most 5,461 records per call; a long file has more."""
    from rag.index.chunking import Passage, Unit
    from rag.index.store import FileRecord, IndexStore

    store = IndexStore("citerag_batches", data_dir=tmp_path)
    unit = Unit("u", "d", "long.txt", "Long", "paragraph", 1, 0, "text")
    passages = [Passage(f"u:{i}", unit, f"window {i}", i) for i in range(6000)]
    store.write_files([(FileRecord("d", "long.txt", "h1", 6000), passages, [[1.0, 0.0]] * 6000)])
    assert store.count() == 6000
    store.write_files([(FileRecord("d", "long.txt", "h2", 10), passages[:10], [[1.0, 0.0]] * 10)])
    assert store.count() == 10


@pytest.mark.slow
def test_server_stopped_under_load_fails_cleanly_and_recovers(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Four clients asking in a loop while the Chroma server is stopped and started again: while
    it is down every failure is a StoreError naming HOST:PORT (nothing else escapes, nobody
    hangs), and once it is back every client gets answers again without anything restarting."""
    import threading
    import time

    port, path = free_port(), tmp_path / "server-data"
    chain = make_chain(tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=port)
    questions = ["Who is Alex Vatanka?", "Who is Samuel Charap?", "What did Trump say?"]
    phase = {"name": "up"}
    seen: dict[str, list[str]] = {"up": [], "down": [], "back": []}
    stop = threading.Event()

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            try:
                chain.ask(questions[i % len(questions)])
                outcome = "ok"
            except StoreError as exc:
                outcome = "store-error" if f"127.0.0.1:{port}" in str(exc) else str(exc)
            except Exception as exc:  # noqa: BLE001 - anything else is the failure this test looks for
                outcome = f"{type(exc).__name__}: {exc}"
            seen[phase["name"]].append(outcome)  # the phase the call ended in
            i += 1

    with _server(path, port):
        chain.ingest()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(3)
        phase["name"] = "down"
    time.sleep(5)
    with _server(path, port):
        phase["name"] = "back"
        deadline = time.monotonic() + 60
        while seen["back"].count("ok") < 20 and time.monotonic() < deadline:
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert seen["up"] and set(seen["up"]) == {"ok"}
    assert "store-error" in seen["down"]
    assert set(seen["down"]) <= {"ok", "store-error"}, set(seen["down"])
    assert set(seen["back"]) <= {"ok", "store-error"} and seen["back"].count("ok") >= 20
    assert seen["back"][-5:] == ["ok"] * 5


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2026-01-02", None, ("2026-01-02", None)),
        ("January 6th, 2026", " ", ("2026-01-06", None)),
        (dt.date(2025, 12, 27), "2026-01-06", ("2025-12-27", "2026-01-06")),
        ("", None, (None, None)),
    ],
)
def test_filters_parse_reads_every_front_ends_dates(
    since: object, until: object, expected: tuple[str | None, str | None]
) -> None:
    filters = Filters.parse(["seeds/a.txt", " "], since, until)  # type: ignore[arg-type]
    assert (filters.date_from, filters.date_to) == expected
    assert filters.sources == ("seeds/a.txt",)


def test_filters_parse_names_the_field_the_user_typed_into() -> None:
    with pytest.raises(QuestionError, match="--since 'yesterday' is not a date"):
        Filters.parse((), "yesterday", None, names=("--since", "--until"))
    with pytest.raises(QuestionError, match="From date 2026-01-06 is after To date 2025-12-27"):
        Filters.parse((), "2026-01-06", "2025-12-27", names=("From date", "To date"))


@pytest.mark.parametrize(
    "filters",
    [
        Filters(sources=(str(SEEDS / "001_0479f5dab17c5578.txt"),)),
        Filters(date_from="2026-01-02"),
        Filters(date_to="2025-12-27"),
        Filters(date_from="2025-12-27", date_to="2026-01-02"),
        Filters(sources=(str(SEEDS / "001_0479f5dab17c5578.txt"),), date_from="2026-01-06"),
        Filters(sources=("no such file",)),
    ],
    ids=["source", "from", "to", "range", "source-and-date", "nothing"],
)
def test_the_store_filter_keeps_what_filters_accepts(
    fake_chain: RagChain, filters: Filters
) -> None:
    """Chroma's ``where`` and ``Filters.accepts`` are two spellings of one rule."""
    from rag.index.chunking import unit_of_passage

    store = fake_chain.store
    units = {p.unit.unit_id: p.unit for p in store.all_passages()}
    vector = fake_chain.embedder.embed_query("Iran")
    found = {unit_of_passage(pid) for pid, _ in store.nearest(vector, store.count(), filters)}
    assert found == {uid for uid, unit in units.items() if filters.accepts(unit)}


def test_titles_filter_too(fake_chain: RagChain) -> None:
    store = fake_chain.store
    title = next(p.unit.title for p in store.all_passages() if p.unit.title)
    vector = fake_chain.embedder.embed_query("Iran")
    hits = store.nearest(vector, 10, Filters(sources=(title,)))
    assert hits
    units = {p.unit.unit_id: p.unit for p in store.passages([pid for pid, _ in hits])}
    assert {u.title for u in units.values()} == {title}


def _chroma(data_dir: Path) -> Any:
    """Chroma's own client on ``data_dir``'s embedded index, beside the store under test."""
    import chromadb

    return chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
    )


def _old_collection(data_dir: Path, name: str) -> Any:
    """A collection made the way an older citerag made it: cosine space, Chroma's default
    ``ef_search``, no embedder."""
    return _chroma(data_dir).get_or_create_collection(
        name, metadata={"hnsw:space": "cosine"}, embedding_function=None
    )


def test_the_dense_search_explores_search_ef_neighbours_old_collections_included(
    tmp_path: Path,
) -> None:
    """A collection made before ``search_ef`` existed (Chroma's default, 100) is raised to it on
    open, so an upgraded install searches as exactly as a new one."""
    from rag.index.store import IndexStore

    _old_collection(tmp_path, "citerag_old")
    for name in ("citerag_old", "citerag_new"):
        store = IndexStore(name, data_dir=tmp_path, search_ef=320)
        store.warm_up()
        hnsw = _chroma(tmp_path).get_collection(name).configuration_json["hnsw"]
        assert hnsw["ef_search"] == 320 and hnsw["space"] == "cosine"


def _two_passages() -> tuple[FileWrite, list[Passage]]:
    from rag.index.chunking import Passage, Unit
    from rag.index.store import FileRecord

    text = "The council met. It approved the plan."
    unit = Unit("u1", "d1", "harbour.txt", "Harbour plans", "paragraph", 3, 2, text,
                outlet="Gazette", date="2026-05-04")  # fmt: skip
    whole = Passage("u1", unit, unit.text, 0)
    window = Passage("u1:w1", unit, "It approved the plan.", 1, span=(17, 38))
    record = FileRecord("d1", "harbour.txt", "h1", 2)
    return (record, [whole, window], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), [whole, window]


def test_passages_keep_their_unit_and_llamaindex_reads_the_collection(tmp_path: Path) -> None:
    """What ``write_files`` stores comes back whole (a window brings its unit's text, a whole
    paragraph is its own document), and LlamaIndex's ``ChromaVectorStore`` reads the same rows as
    nodes with their text and metadata, as an app built on LlamaIndex would."""
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from rag.index.store import IndexStore

    store = IndexStore("citerag_format", data_dir=tmp_path)
    write, passages = _two_passages()
    store.write_files([write])
    got = {p.passage_id: p for p in store.all_passages()}
    for passage in passages:
        assert got[passage.passage_id].text == passage.text
        assert got[passage.passage_id].unit == passage.unit
        assert got[passage.passage_id].keywords == unit_keywords(passage.unit, passage.text)

    found = store.vector_store.query(
        VectorStoreQuery(query_embedding=[0.0, 1.0, 0.0], similarity_top_k=1)
    )
    node = found.nodes[0]
    assert node.node_id == "u1:w1" and node.get_content() == "It approved the plan."
    assert node.metadata["title"] == "Harbour plans" and node.metadata["source"] == "harbour.txt"


def test_a_heading_unit_comes_back_a_heading(tmp_path: Path) -> None:
    """``Unit.heading`` is stored with the passage (the answerer reads it at question time)."""
    from dataclasses import replace

    from rag.index.chunking import Passage, Unit
    from rag.index.store import FileRecord, IndexStore

    unit = Unit("u9", "d9", "faq.md", "FAQ", "paragraph", 1, 1, "Why does it matter?", heading=True)
    plain = replace(unit, unit_id="u10", position=2, ordinal=2, text="Because.", heading=False)
    passages = [Passage(u.unit_id, u, u.text, 0) for u in (unit, plain)]
    store = IndexStore("citerag_heading", data_dir=tmp_path)
    store.write_files([(FileRecord("d9", "faq.md", "h9", 2), passages, [[1.0, 0.0], [0.0, 1.0]])])
    got = {p.unit.unit_id: p.unit for p in store.all_passages()}
    assert got == {"u9": unit, "u10": plain}


def test_an_index_written_before_the_metadata_was_packed_is_still_read(tmp_path: Path) -> None:
    """Rows written by the previous version (every field its own key, llama-index's node copy
    beside them) are read as before, so upgrading never forces a rebuild."""
    from rag.index.keyword import KEYWORDS_VERSION
    from rag.index.store import IndexStore

    _, passages = _two_passages()
    window = passages[1]
    unit = window.unit
    old: dict[str, Any] = {
        "unit_id": unit.unit_id, "doc_id": unit.doc_id, "source": unit.source,
        "title": unit.title, "kind": unit.kind, "ordinal": unit.ordinal,
        "position": unit.position, "outlet": unit.outlet, "date": unit.date,
        "date_int": 20260504, "boilerplate": False, "window": 1, "unit_text": unit.text,
        "keywords": "approv plan", "kw_version": KEYWORDS_VERSION,
        "_node_content": "{}", "_node_type": "TextNode", "doc_id_": "d1",
    }  # fmt: skip
    _old_collection(tmp_path, "citerag_old").add(
        ids=[window.passage_id], embeddings=[[0.0, 1.0, 0.0]],
        documents=[window.text], metadatas=[old],
    )  # fmt: skip
    (stored,) = IndexStore("citerag_old", data_dir=tmp_path).all_passages()
    assert stored.unit == unit and stored.text == window.text
    assert stored.keywords == ["approv", "plan"]


@pytest.mark.parametrize("packed", ["{not json", "[1, 2]"])
def test_a_row_whose_packed_metadata_is_damaged_says_to_rebuild(
    tmp_path: Path, packed: str
) -> None:
    """A row another program wrote, or a damaged one, is an error that says what to do, not a
    ``TypeError`` from deep inside the read."""
    from rag.index.store import IndexStore

    _old_collection(tmp_path, "citerag_bad").add(
        ids=["u1"], embeddings=[[0.0, 1.0, 0.0]], documents=["text"],
        metadatas=[{"doc_id": "d1", "source": "a.txt", "passage": packed}],
    )  # fmt: skip
    with pytest.raises(StoreError, match="rag ingest --rebuild"):
        IndexStore("citerag_bad", data_dir=tmp_path).all_passages()


def test_a_locked_index_says_it_is_busy_not_unwritable(tmp_path: Path) -> None:
    """SQLite's lock is another process at work (an ingest): the advice is to wait, not to check
    permissions or rebuild, which would mislead."""
    import sqlite3

    from rag.index.store import IndexStore

    store = IndexStore("citerag_x", data_dir=tmp_path)
    busy = store.failure(sqlite3.OperationalError("database is locked"))
    assert "busy" in busy and "rag ingest" in busy and "writable" not in busy
    assert str(tmp_path / "chroma") in busy
    other = store.failure(PermissionError("read-only file system"))
    assert "writable" in other and "busy" not in other


def test_an_old_collection_opens_while_another_process_holds_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Raising ``search_ef`` is the one write a reader makes on open; when SQLite is locked (an
    ingest writing), the question goes on with the collection's own setting, says so in the
    log, and the next open raises it."""
    import sqlite3

    from chromadb.api.models.Collection import Collection

    from rag.index.store import IndexStore

    _old_collection(tmp_path, "citerag_old")

    def locked(self: Collection, **_: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(Collection, "modify", locked)
        store = IndexStore("citerag_old", data_dir=tmp_path, search_ef=320)
        store.warm_up()
    assert store.files() == {}
    assert "busy" in caplog.text and "ef_search" in caplog.text
    hnsw = _chroma(tmp_path).get_collection("citerag_old").configuration_json["hnsw"]
    assert hnsw["ef_search"] < 320
    IndexStore("citerag_old", data_dir=tmp_path, search_ef=320).warm_up()
    hnsw = _chroma(tmp_path).get_collection("citerag_old").configuration_json["hnsw"]
    assert hnsw["ef_search"] == 320


def test_other_failures_to_raise_search_ef_are_not_swallowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chromadb.api.models.Collection import Collection

    from rag.index.store import IndexStore

    _old_collection(tmp_path, "citerag_old")

    def broken(self: Collection, **_: object) -> None:
        raise ValueError("disk I/O error")

    monkeypatch.setattr(Collection, "modify", broken)
    with pytest.raises(StoreError, match="disk I/O error"):
        IndexStore("citerag_old", data_dir=tmp_path, search_ef=320).warm_up()
