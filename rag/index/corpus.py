"""The keyword corpus: every unit and every passage's BM25 terms, held in memory per document, and
its copy on disk beside the index.

Retrieval needs the units (to cite them) and the passages' terms (for BM25) of the whole index in
memory. Reading them from Chroma is what made a server's first question slow on a large archive
(every passage's metadata and text, a page at a time), so a copy is kept in ``data_dir/keywords``,
one JSON file per index. The copy is a cache, never an authority: on load, a document's entry is
used only when its content hash equals the one the index's manifest holds now; every other
document is read from the store again, and a file that cannot be read, or was written by another
version of the tokeniser, is ignored as a whole. It can therefore be stale or deleted without
harm, and each replica of a deployment keeps its own (``RAG_DATA_DIR`` is per replica, Chroma may
be shared).

JSON rather than pickle: the file sits in a data folder, and loading it must not run code.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rag.index.chunking import Unit
from rag.index.keyword import KEYWORDS_VERSION, KeywordIndex
from rag.index.store import Store, StoredPassage

log = logging.getLogger(__name__)

#: The layout of the file; a file of another layout is ignored and rewritten.
SNAPSHOT_FORMAT = 1
_UNIT_FIELDS = tuple(f.name for f in fields(Unit))


@dataclass(frozen=True)
class DocTerms:
    """What the keyword side keeps of one document: its units once, and per passage only its id,
    its unit and its BM25 terms (holding whole passages cost 400 MiB at 10k units)."""

    content_hash: str
    units: dict[str, Unit]
    rows: list[tuple[str, str, list[str]]]

    @classmethod
    def of(cls, content_hash: str, passages: list[StoredPassage]) -> DocTerms:
        units: dict[str, Unit] = {}
        for p in passages:
            units.setdefault(p.unit.unit_id, p.unit)
        return cls(
            content_hash, units, [(p.passage_id, p.unit.unit_id, p.keywords) for p in passages]
        )


class KeywordCorpus:
    """The units held in memory for BM25 and unit look-ups, for one version of the index.

    Kept per document, so that a new version re-reads only the documents whose content hash
    changed: at 10k units re-reading everything after adding one file took 3.2 s."""

    def __init__(self, version: str, docs: dict[str, DocTerms]) -> None:
        self.version = version
        self.docs = docs
        self.units: dict[str, Unit] = {}
        self.passage_ids: dict[str, list[str]] = {}
        index_of: dict[str, int] = {}
        unit_of = []
        terms = []
        for doc in docs.values():
            for passage_id, uid, passage_terms in doc.rows:
                if uid not in index_of:
                    index_of[uid] = len(index_of)
                    self.units[uid] = doc.units[uid]
                unit_of.append(index_of[uid])
                terms.append(passage_terms)
                self.passage_ids.setdefault(uid, []).append(passage_id)
        self.unit_ids = list(index_of)
        self.keywords = KeywordIndex(terms, list(self.units.values()), unit_of)

    @classmethod
    def load(
        cls,
        store: Store,
        version: str,
        previous: KeywordCorpus | None,
        snapshot: Path | None = None,
    ) -> KeywordCorpus:
        """The corpus of the index at ``version``: documents whose content hash and passage count
        are those of the index's manifest come from ``previous`` (or, when there is none, from the
        ``snapshot`` file), the rest from the store. When anything was read from the store, the
        snapshot is rewritten."""
        records = store.files()
        manifest = {doc_id: r.content_hash for doc_id, r in records.items()}
        known = previous.docs if previous else read_snapshot(snapshot) if snapshot else {}
        kept = {
            doc_id: doc
            for doc_id, doc in known.items()
            if doc_id in records
            and records[doc_id].content_hash == doc.content_hash
            and records[doc_id].passages == len(doc.rows)
        }
        stale = [doc_id for doc_id in manifest if doc_id not in kept]
        fresh: dict[str, list[StoredPassage]] = {doc_id: [] for doc_id in stale}
        if stale:
            passages = store.all_passages() if not kept else store.passages_of(stale)
            for p in passages:
                if p.unit.doc_id in fresh:
                    fresh[p.unit.doc_id].append(p)
            del passages
        docs = {
            doc_id: kept.get(doc_id) or DocTerms.of(manifest[doc_id], fresh.pop(doc_id))
            for doc_id in manifest
        }
        if snapshot is not None and (stale or len(known) != len(kept)):
            write_snapshot(snapshot, docs)
        return cls(version, docs)


def write_snapshot(path: Path, docs: dict[str, DocTerms]) -> None:
    """Write the corpus to ``path`` atomically (a temporary file renamed over it), so a reader or
    a crash never sees half a file. A failure is logged, not raised: the copy is only a cache."""
    import orjson

    data = {
        "format": SNAPSHOT_FORMAT,
        "keywords_version": KEYWORDS_VERSION,
        "unit_fields": _UNIT_FIELDS,
        "docs": {
            doc_id: {
                "hash": doc.content_hash,
                "units": [[getattr(u, f) for f in _UNIT_FIELDS] for u in doc.units.values()],
                "rows": [[pid, uid, " ".join(terms)] for pid, uid, terms in doc.rows],
            }
            for doc_id, doc in docs.items()
        },
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not save the keyword corpus to %s (%s)", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def read_snapshot(path: Path) -> dict[str, DocTerms]:
    """The documents saved in ``path``; empty when it is missing, damaged or of another format
    or tokeniser version (every document is then read from the store)."""
    import orjson

    try:
        data: Any = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        log.warning("ignoring the keyword corpus copy %s (%s)", path, exc)
        return {}
    try:
        if (
            data.get("format") != SNAPSHOT_FORMAT
            or data.get("keywords_version") != KEYWORDS_VERSION
            or tuple(data.get("unit_fields", ())) != _UNIT_FIELDS
        ):
            return {}
        docs = {}
        for doc_id, doc in data["docs"].items():
            units = {}
            for values in doc["units"]:
                unit = Unit(**dict(zip(_UNIT_FIELDS, values, strict=True)))
                units[unit.unit_id] = unit
            rows = [(pid, uid, terms.split()) for pid, uid, terms in doc["rows"]]
            if any(uid not in units for _, uid, _ in rows):
                raise ValueError(f"a passage of {doc_id} belongs to no saved unit")
            docs[str(doc_id)] = DocTerms(str(doc["hash"]), units, rows)
        return docs
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring the keyword corpus copy %s (%s)", path, exc)
        return {}
