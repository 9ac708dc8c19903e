"""The index: passages and their embeddings in Chroma, plus a manifest of indexed files.

Chroma runs embedded (``PersistentClient`` under ``data_dir``) by default, or as a ``chroma run``
server when ``RAG_CHROMA_HOST`` is set. The collection name carries a hash of the embedding model
and the splitting settings, so changing either builds a fresh collection instead of mixing
vectors of different models.

How Chroma is reached: passages are written to the collection directly, each with its text, its
vector and compact metadata (``passage_metadata``), and read from it directly, asking for ids and
distances only (the units are already in memory, ``rag/query/retrieval.py``: a seed-corpus query
took 7.7 ms through llama-index's query, which fetches every hit's metadata and text, and 1.0 ms
so). LlamaIndex apps read the same collection through ``IndexStore.vector_store`` (its
``ChromaVectorStore`` builds a ``TextNode`` from a row's text and metadata), as the bench's
LlamaIndex retriever does; writing llama-index's own node format, which repeats every field in a
JSON copy, made Chroma's share of an ingest a third larger.

The manifest (a second, tiny collection) records each file's content hash and is written only
after that file's passages are in place: an interrupted ingest leaves the previous index usable
and the file is simply redone next time.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, get_args

from rag.errors import QuestionError, StoreError
from rag.index.chunking import Passage, Unit, UnitKind, parse_date
from rag.index.keyword import KEYWORDS_VERSION, passage_keywords, unit_keywords

log = logging.getLogger(__name__)


def _locked(exc: Exception) -> bool:
    """SQLite's lock: another process (an ingest) is writing the embedded index."""
    return "database is locked" in str(exc)


@dataclass(frozen=True)
class FileRecord:
    doc_id: str
    source: str
    content_hash: str
    passages: int


FileWrite = tuple[FileRecord, Sequence[Passage], Sequence[list[float]]]
"""One file to write: its manifest row, its passages and their embeddings, in the same order."""


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some documents (by source path or title) and/or a headline date range
    (ISO dates, inclusive; a date range keeps only dated units, i.e. headlines)."""

    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def __bool__(self) -> bool:
        return bool(self.sources or self.date_from or self.date_to)

    @classmethod
    def parse(
        cls,
        sources: Iterable[str] = (),
        date_from: str | dt.date | None = None,
        date_to: str | dt.date | None = None,
        *,
        names: tuple[str, str] = ("date_from", "date_to"),
    ) -> Filters:
        """The one reading of filters for every front end (CLI flags, chat fields, API body):
        a date is ISO (2026-01-06) or written the way the headlines write it ("January 6th,
        2026"); blank means no bound. ``names`` are what the front end calls the two dates, so
        that a ``QuestionError`` names the field the user typed into."""

        def iso(value: str | dt.date | None, name: str) -> str | None:
            if isinstance(value, dt.date):
                return value.isoformat()
            text = (value or "").strip()
            if not text:
                return None
            try:
                return dt.date.fromisoformat(text).isoformat()
            except ValueError:
                parsed = parse_date(text)
                if parsed:
                    return parsed
            raise QuestionError(
                f"{name} {text!r} is not a date; use YYYY-MM-DD (or e.g. January 6th, 2026)"
            )

        start, end = iso(date_from, names[0]), iso(date_to, names[1])
        if start and end and start > end:
            raise QuestionError(f"{names[0]} {start} is after {names[1]} {end}; swap them")
        return cls(tuple(s for s in sources if s.strip()), start, end)

    def accepts(self, unit: Unit) -> bool:
        if self.sources and unit.source not in self.sources and unit.title not in self.sources:
            return False
        if self.date_from or self.date_to:
            if not unit.date:
                return False
            if self.date_from and unit.date < self.date_from:
                return False
            if self.date_to and unit.date > self.date_to:
                return False
        return True


def _date_int(iso: str | None) -> int:
    return int(iso.replace("-", "")) if iso else 0


#: The metadata keys Chroma filters on (``_where``, ``_ids_of``). Everything else about a passage
#: and its unit travels as one JSON string under ``"passage"``: Chroma stores a row per metadata
#: key, and adding the bench's 7,049 passages of 3,044 units took 4.6 s with these five keys
#: against 5.4 s with the fifteen fields as keys and 6.3 s in llama-index's node format (which
#: copies them all again into ``_node_content``), measured on 2 cores.
FILTERED_KEYS = ("doc_id", "source", "title", "date_int")


def passage_metadata(passage: Passage) -> dict[str, Any]:
    """What is stored beside a passage's text and vector. The unit's text is left out when it is
    the passage's own (a whole paragraph or headline): it is the document Chroma already keeps."""
    unit = passage.unit
    packed: dict[str, Any] = {
        "unit_id": unit.unit_id,
        "kind": unit.kind,
        "ordinal": unit.ordinal,
        "position": unit.position,
        "outlet": unit.outlet or "",
        "date": unit.date or "",
        "boilerplate": unit.boilerplate,
        "heading": unit.heading,
        "window": passage.window,
        "keywords": " ".join(passage_keywords(passage)),
        "kw_version": KEYWORDS_VERSION,
    }
    if unit.text != passage.text:
        packed["unit_text"] = unit.text
    return {
        "doc_id": unit.doc_id,
        "source": unit.source,
        "title": unit.title,
        "date_int": _date_int(unit.date),
        "passage": json.dumps(packed, ensure_ascii=False),
    }


def _unpacked(meta: dict[str, Any], text: str) -> dict[str, Any]:
    """``passage_metadata`` as one flat dict again. A row written before the fields were packed
    (one key each, ``unit_text`` always present) is read as it is, so an existing index keeps
    working and is rewritten file by file as its files change."""
    if "passage" not in meta:
        return meta
    try:
        flat = json.loads(str(meta["passage"]))
    except ValueError:
        flat = None
    if not isinstance(flat, dict):
        raise StoreError(
            "the index holds a passage whose metadata is not a JSON object (damaged, or written "
            "by another program?); run `rag ingest --rebuild`"
        )
    flat.update({key: meta[key] for key in FILTERED_KEYS if key in meta})
    flat.setdefault("unit_text", text)
    return flat


def _unit_kind(value: Any) -> UnitKind:
    if value not in get_args(UnitKind):
        raise StoreError(
            f"the index holds a unit of unknown kind {value!r} (written by another version?); "
            "run `rag ingest --rebuild`"
        )
    kind: UnitKind = value
    return kind


def unit_from_metadata(meta: dict[str, Any]) -> Unit:
    """The unit of a passage from its (unpacked) metadata."""
    return Unit(
        unit_id=str(meta["unit_id"]),
        doc_id=str(meta["doc_id"]),
        source=str(meta["source"]),
        title=str(meta["title"]),
        kind=_unit_kind(meta["kind"]),
        ordinal=int(meta["ordinal"]),
        position=int(meta["position"]),
        text=str(meta["unit_text"]),
        outlet=str(meta["outlet"]) or None,
        date=str(meta["date"]) or None,
        boilerplate=bool(meta["boilerplate"]),
        heading=bool(meta.get("heading", False)),
    )


@dataclass(frozen=True)
class StoredPassage:
    passage_id: str
    text: str
    unit: Unit
    keywords: list[str] = field(default_factory=list)


def _keywords(meta: dict[str, Any], text: str, unit: Unit) -> list[str]:
    """The BM25 terms stored with the passage at ingest (tokenising 250k passages again when a
    server starts took ~16 s), or computed now for an index written before they were stored or
    by another version of the tokeniser."""
    if meta.get("kw_version") == KEYWORDS_VERSION:
        return str(meta.get("keywords", "")).split()
    return unit_keywords(unit, text)


class Store(Protocol):
    """What citerag needs of an index: files in, passages and nearest neighbours out.

    ``IndexStore`` (Chroma) is the one users run; ``tests/fakes.py`` has an in-memory one, so the
    chain, retrieval and ingest can be tested without Chroma and any other backend knows what to
    implement. Vectors are unit length; similarities are cosines."""

    def warm_up(self) -> None: ...

    def reset(self) -> None:
        """Drop everything (``rag ingest --rebuild``)."""

    def files(self) -> dict[str, FileRecord]:
        """The manifest: every indexed file by doc id."""

    def write_files(self, files: Sequence[FileWrite]) -> None:
        """Replace each file's passages, then the files' manifest rows (see ``FileWrite``)."""

    def remove_file(self, doc_id: str) -> None: ...

    def count(self) -> int:
        """Passages stored."""

    def version(self) -> str:
        """Changes whenever any file is added, changed or removed."""

    def all_passages(self) -> list[StoredPassage]: ...

    def passages_of(self, doc_ids: Sequence[str]) -> list[StoredPassage]: ...

    def passages(self, ids: Sequence[str]) -> list[StoredPassage]: ...

    def unit_similarities(
        self, embedding: list[float], passages: dict[str, list[str]]
    ) -> dict[str, float]:
        """Best cosine to ``embedding`` of each unit's passages (unit id -> passage ids)."""

    def nearest(
        self, embedding: list[float], k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Passage ids and cosines of the ``k`` nearest passages that ``filters`` accept."""


# Rows per metadata read (see IndexStore._fetch).
_PAGE = 2000

# The manifest row whose token changes with every write (see IndexStore._bump).
_VERSION_ID = "__version__"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reported(
    method: Callable[Concatenate[IndexStore, _P], _R],
) -> Callable[Concatenate[IndexStore, _P], _R]:
    """Chroma failures (a server that went away, a damaged index) become a ``StoreError`` that
    says where the index is and what to do, instead of chromadb's or httpx's stack trace. The
    next call tries again, so the service recovers by itself when the server is back."""

    @functools.wraps(method)
    def wrapper(store: IndexStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(store, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb and its HTTP client raise many types
            raise StoreError(store.failure(exc)) from exc

    return wrapper


class IndexStore:
    """Chroma collections for one index fingerprint; opened lazily on first use."""

    def __init__(
        self,
        name: str,
        *,
        data_dir: Path,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        search_ef: int = 100,
    ) -> None:
        """``name`` is the collection's (``RagChain`` joins ``RAG_COLLECTION_PREFIX`` and the
        index fingerprint); the embedded index lives in ``data_dir/chroma`` unless
        ``chroma_host`` names a ``chroma run`` server (``RAG_DATA_DIR``, ``RAG_CHROMA_HOST``,
        ``RAG_CHROMA_PORT``).

        ``search_ef``: how many neighbours the HNSW search explores (Chroma's ``ef_search``; 100,
        the default here, is Chroma's own). At 100 the 50 candidates of one dev question in 202
        differed from the exact nearest 50, and which one depended on how that build's graph came
        out, so the same corpus indexed twice answered differently; at 400 (``RagChain`` passes
        eight times the candidates) all 482 dev and seed questions got the exact nearest 50, and
        four builds of the dev corpus the same 50. Set on new collections and raised on existing
        ones (it may change after creation)."""
        self.name = name
        self.search_ef = search_ef
        self.data_dir = data_dir
        self.chroma_host = chroma_host
        self.chroma_port = chroma_port
        self._client: Any = None
        self._vectors: Any = None
        self._files: Any = None
        self._vector_store: Any = None

    # -- connection -----------------------------------------------------------------------

    def warm_up(self) -> None:
        if self._client is not None:
            return
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        try:
            if self.chroma_host:
                client = chromadb.HttpClient(
                    host=self.chroma_host,
                    port=self.chroma_port,
                    settings=chroma_settings,
                )
                client.heartbeat()
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=str(self.data_dir / "chroma"), settings=chroma_settings
                )
            vectors = client.get_or_create_collection(
                self.name,
                metadata={"hnsw:space": "cosine", "hnsw:search_ef": self.search_ef},
                embedding_function=None,
            )
            hnsw = (vectors.configuration_json or {}).get("hnsw") or {}
            if hnsw.get("ef_search", 0) < self.search_ef:
                self._raise_search_ef(vectors, hnsw.get("ef_search"))
            files = client.get_or_create_collection(f"{self.name}_files", embedding_function=None)
        except Exception as exc:  # noqa: BLE001 - chromadb raises many unrelated types
            raise StoreError(self.failure(exc)) from exc
        self._client, self._vectors, self._files = client, vectors, files

    def _raise_search_ef(self, vectors: Any, current: int | None) -> None:
        """Upgrade an old collection to ``search_ef``: the one write a process that only reads
        makes on open. When another process holds the database (an ingest writing it), this
        process searches with the collection's own setting for now and the next open raises it:
        a question must not fail because an ingest is running."""
        try:
            vectors.modify(configuration={"hnsw": {"ef_search": self.search_ef}})
        except Exception as exc:  # noqa: BLE001 - chromadb raises many unrelated types
            if not _locked(exc):
                raise
            log.warning(
                "the index in %s is busy (another process is writing it); searching with "
                "ef_search %s instead of %s until it is opened again",
                self.data_dir / "chroma", current, self.search_ef,
            )  # fmt: skip

    def failure(self, exc: Exception) -> str:
        """What went wrong with the index and what to do about it. SQLite's "database is locked"
        is another process writing, not a folder that cannot be written (seen once in a test
        opening three clients on one folder under full load), so it gets its own advice."""
        if self.chroma_host:
            return (
                f"cannot reach Chroma at {self.chroma_host}:{self.chroma_port} "
                f"({type(exc).__name__}: {exc}); is `chroma run` up? (RAG_CHROMA_HOST, "
                "RAG_CHROMA_PORT)"
            )
        if _locked(exc):
            return (
                f"the index in {self.data_dir / 'chroma'} is busy: another process holds its "
                f"database ({type(exc).__name__}: {exc}), most often a `rag ingest` writing it; "
                "try again when it has finished (nothing was changed)"
            )
        return (
            f"cannot use the index in {self.data_dir / 'chroma'} ({type(exc).__name__}: "
            f"{exc}); check that RAG_DATA_DIR is writable, or run `rag ingest --rebuild` to build "
            "it again if it is damaged"
        )

    def reset(self) -> None:
        """Drop this index (``rag ingest --rebuild``): its two collections, or, when the embedded
        store is too damaged to open, the whole ``chroma`` folder, which holds nothing but indexes
        built from the corpus. A folder that does not look like Chroma's is never deleted."""
        self._client = None
        try:
            self.warm_up()
            for name in (self.name, f"{self.name}_files"):
                if name in {c.name for c in self._client.list_collections()}:
                    self._client.delete_collection(name)
            self._client = self._vectors = self._files = self._vector_store = None
            return
        except Exception:  # noqa: BLE001 - any failure means the store cannot be opened
            self._client = self._vectors = self._files = self._vector_store = None
            if self.chroma_host:
                raise
        folder = self.data_dir / "chroma"
        if folder.exists() and not (folder / "chroma.sqlite3").is_file():
            raise StoreError(
                f"{folder} is in the way and does not look like a Chroma index; move it aside or "
                "set RAG_DATA_DIR to another folder"
            )
        import shutil

        try:
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        except Exception:  # noqa: BLE001 - a cache that is not there needs no clearing
            pass
        shutil.rmtree(folder, ignore_errors=True)

    @property
    def vector_store(self) -> Any:
        """The llama-index ``ChromaVectorStore`` over the passage collection, made on first use:
        importing it is 1.3 s that answering never needs (cProfile of ``warm_up``)."""
        self.warm_up()
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self._vectors)
        return self._vector_store

    # -- files --------------------------------------------------------------------------------

    @_reported
    def files(self) -> dict[str, FileRecord]:
        self.warm_up()
        got = self._files.get(include=["metadatas"])
        return {
            doc_id: FileRecord(doc_id, str(m["source"]), str(m["content_hash"]), int(m["passages"]))
            for doc_id, m in zip(got["ids"], got["metadatas"], strict=True)
            if doc_id != _VERSION_ID
        }

    @_reported
    def write_files(self, files: Sequence[FileWrite]) -> None:
        """Put several files' passages in place (adding new ones, dropping stale ones), then their
        manifest rows, then one new version token. Batched because Chroma's per-call cost is
        large: adding 7,000 passages took 5.1 s in calls of 50 and 3.5 s in calls of 500. A
        writer killed midway leaves these files without a manifest row that matches, so the next
        ingest writes them again (and drops what this one left)."""
        if not files:
            return
        self.warm_up()
        existing = set(self._ids_of([record.doc_id for record, _, _ in files]))
        new = [
            (p, e)
            for _, passages, embeddings in files
            for p, e in zip(passages, embeddings, strict=True)
            if p.passage_id not in existing
        ]
        # Chroma refuses batches over its limit (5,461 embedded), which a long file exceeds.
        step = int(self._client.get_max_batch_size())
        for start in range(0, len(new), step):
            batch = new[start : start + step]
            self._vectors.add(
                ids=[p.passage_id for p, _ in batch],
                embeddings=[e for _, e in batch],
                documents=[p.text for p, _ in batch],
                metadatas=[passage_metadata(p) for p, _ in batch],
            )
        kept = {p.passage_id for _, passages, _ in files for p in passages}
        stale = sorted(existing - kept)
        for start in range(0, len(stale), step):
            self._vectors.delete(ids=stale[start : start + step])
        records = [record for record, _, _ in files]
        self._files.upsert(
            ids=[r.doc_id for r in records],
            embeddings=[[0.0]] * len(records),
            metadatas=[
                {"source": r.source, "content_hash": r.content_hash, "passages": r.passages}
                for r in records
            ],
        )
        self._bump()

    @_reported
    def remove_file(self, doc_id: str) -> None:
        self.warm_up()
        self._vectors.delete(where={"doc_id": doc_id})
        self._files.delete(ids=[doc_id])
        self._bump()

    def _bump(self) -> None:
        """A new version token: every process serving this index rebuilds its in-memory keyword
        index on its next question (one small read per question, however large the index)."""
        self._files.upsert(
            ids=[_VERSION_ID], embeddings=[[0.0]], metadatas=[{"token": uuid.uuid4().hex}]
        )

    # -- reading ------------------------------------------------------------------------------

    @_reported
    def count(self) -> int:
        self.warm_up()
        return int(self._vectors.count())

    @_reported
    def version(self) -> str:
        """Changes whenever any file is added, changed or removed (for caches built on top)."""
        self.warm_up()
        got = self._files.get(ids=[_VERSION_ID], include=["metadatas"])
        if got["ids"]:
            # The counts catch a writer killed between its passages and its token.
            token = got["metadatas"][0]["token"]
            return f"{token}:{self._vectors.count()}:{self._files.count()}"
        rows = sorted((r.doc_id, r.content_hash) for r in self.files().values())
        return hashlib.sha1(repr(rows).encode()).hexdigest()

    @_reported
    def all_passages(self) -> list[StoredPassage]:
        self.warm_up()
        ids = self._vectors.get(include=[])["ids"]
        return self._fetch(ids)

    @_reported
    def passages_of(self, doc_ids: Sequence[str]) -> list[StoredPassage]:
        """The stored passages of some documents."""
        self.warm_up()
        return self._fetch(self._ids_of(doc_ids))

    def _ids_of(self, doc_ids: Sequence[str]) -> list[str]:
        """The ids of the passages of some documents, 200 documents per ``$in`` filter."""
        ids: list[str] = []
        for start in range(0, len(doc_ids), 200):
            where = {"doc_id": {"$in": list(doc_ids[start : start + 200])}}
            ids += self._vectors.get(where=where, include=[])["ids"]
        return ids

    def _fetch(self, ids: list[str]) -> list[StoredPassage]:
        """Passages by id, a page at a time: fetching the metadata of 23k passages in one call
        took chromadb 900 MiB, in pages of 2,000 about 200 MiB, in the same time."""
        out: list[StoredPassage] = []
        for start in range(0, len(ids), _PAGE):
            page = ids[start : start + _PAGE]
            out += self._passages(self._vectors.get(ids=page, include=["metadatas", "documents"]))
        return out

    @staticmethod
    def _passages(got: Any) -> list[StoredPassage]:
        out = []
        for pid, doc, stored in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            meta = _unpacked(stored, doc or "")
            unit = unit_from_metadata(meta)
            out.append(StoredPassage(pid, doc or "", unit, _keywords(meta, doc or "", unit)))
        return out

    @_reported
    def unit_similarities(
        self, embedding: list[float], passages: dict[str, list[str]]
    ) -> dict[str, float]:
        """Best cosine similarity to ``embedding`` of each unit's stored passages (``passages``
        maps unit id to passage ids): one look-up by primary key, not a metadata filter."""
        import numpy as np

        self.warm_up()
        unit_of = {pid: uid for uid, pids in passages.items() for pid in pids}
        if not unit_of:
            return {}
        got = self._vectors.get(ids=list(unit_of), include=["embeddings"])
        if not len(got["ids"]):
            return {}
        cosines = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(
            embedding, dtype=np.float32
        )
        best: dict[str, float] = {}
        for pid, cosine in zip(got["ids"], cosines.tolist(), strict=True):
            uid = unit_of[pid]
            best[uid] = max(best.get(uid, -1.0), float(cosine))
        return best

    @_reported
    def nearest(
        self, embedding: list[float], k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the ``k`` passages nearest ``embedding``, best first."""
        self.warm_up()
        got = self._vectors.query(
            query_embeddings=[embedding],
            n_results=k,
            where=_where(filters) if filters else None,
            include=["distances"],
        )
        ids, distances = got["ids"][0], (got["distances"] or [[]])[0]
        return [(pid, 1.0 - float(d)) for pid, d in zip(ids, distances, strict=True)]

    @_reported
    def passages(self, ids: Sequence[str]) -> list[StoredPassage]:
        """Passages by id, with their units."""
        self.warm_up()
        return self._fetch(list(ids))


def _where(filters: Filters) -> dict[str, Any] | None:
    """``filters`` in Chroma's ``where`` language: the store-side twin of ``Filters.accepts``
    (tests/index/test_store.py checks that the two keep the same units)."""
    parts: list[dict[str, Any]] = []
    if filters.sources:
        sources = list(filters.sources)
        parts.append({"$or": [{"source": {"$in": sources}}, {"title": {"$in": sources}}]})
    if filters.date_from:
        parts.append({"date_int": {"$gte": _date_int(filters.date_from)}})
    if filters.date_to:
        parts.append({"date_int": {"$lte": _date_int(filters.date_to)}})
        if not filters.date_from:
            parts.append({"date_int": {"$gt": 0}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}
