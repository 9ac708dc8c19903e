"""The keyword corpus: every unit and every passage's BM25 terms, held in memory per document, and
its copy on disk beside the index.

Retrieval needs the units (to cite them) and the passages' terms (for BM25) of the whole index in
memory. Reading them from Chroma and building the BM25 matrix is what made a server's first
question slow on a large archive (every passage's metadata and text, a page at a time), so a copy
is kept in ``data_dir/keywords``: per index, a JSON file of the documents and bm25s's saved matrix.
The copy is a cache, never an authority: on load, a document's entry is used only when its content
hash and passage count equal those in the index's manifest now; every other document is read from
the store again, and the matrix is used only when every document matched. A file that cannot be
read, or was written by another version of the tokeniser, is ignored as a whole. It can therefore be
stale or deleted without harm, and each replica of a deployment keeps its own (``RAG_DATA_DIR`` is
per replica, Chroma may be shared).

JSON and numpy arrays rather than pickle: the files sit in a data folder, and loading them must not
run code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from itertools import takewhile
from pathlib import Path
from typing import Any

from rag.index.chunking import Unit
from rag.index.keyword import KEYWORDS_VERSION, KeywordIndex
from rag.index.store import Store, StoredPassage
from rag.text import LIST_MARKER

log = logging.getLogger(__name__)

#: The layout of the file; a file of another layout is ignored and rewritten.
SNAPSHOT_FORMAT = 2
_UNIT_FIELDS = tuple(f.name for f in fields(Unit))
#: The most list items a paragraph ending in a colon brings into an answer. Set by hand, not
#: fitted (no dev question asks for a list introduced this way): a longer list is cut there, so
#: that a list of links or a table of contents cannot fill an answer.
LIST_ITEMS = 8


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

    @cached_property
    def paragraphs(self) -> list[Unit]:
        """The document's paragraphs in reading order, without boilerplate."""
        return sorted(
            (u for u in self.units.values() if u.kind == "paragraph" and not u.boilerplate),
            key=lambda u: u.position,
        )

    @cached_property
    def preceding(self) -> dict[str, str]:
        """Each paragraph's id -> the id of the paragraph before it. Kept with the document, so a
        new version of the index works it out only for the documents it re-read."""
        paragraphs = self.paragraphs
        return {
            unit.unit_id: before.unit_id
            for before, unit in zip(paragraphs, paragraphs[1:], strict=False)
        }

    @cached_property
    def following(self) -> dict[str, tuple[str, ...]]:
        """Each paragraph that ends with a colon, and each subheading (``Unit.introduces``) ->
        the ids of what it introduces: the list items right after it (``LIST_MARKER``), up to
        ``LIST_ITEMS``, or else the next paragraph."""
        paragraphs = self.paragraphs
        out: dict[str, tuple[str, ...]] = {}
        for i, unit in enumerate(paragraphs[:-1]):
            if not unit.introduces():
                continue
            after = paragraphs[i + 1 : i + 1 + LIST_ITEMS]
            items = list(takewhile(lambda u: bool(LIST_MARKER.match(u.text)), after))
            out[unit.unit_id] = tuple(u.unit_id for u in items or after[:1])
        return out


class KeywordCorpus:
    """The units held in memory for BM25 and unit look-ups, for one version of the index.

    Kept per document, so that a new version re-reads only the documents whose content hash
    changed: at 10k units re-reading everything after adding one file took 3.2 s."""

    def __init__(self, version: str, docs: dict[str, DocTerms], matrix: Any = None) -> None:
        """``matrix``: a BM25 matrix built from exactly ``docs`` in this order (a snapshot's)."""
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
        self.keywords = KeywordIndex(terms, list(self.units.values()), unit_of, matrix)
        #: Differs from the snapshot it was loaded with: whoever holds it should save it.
        self.unsaved = False

    def preceding(self, unit_id: str) -> Unit | None:
        """The paragraph just before a paragraph in its document (``None`` for the first, for
        headlines and titles): what a paragraph that says "he" or "the agency" leans on."""
        unit = self.units.get(unit_id)
        doc = self.docs.get(unit.doc_id) if unit else None
        before = doc.preceding.get(unit_id) if doc else None
        return self.units.get(before) if before else None

    def following(self, unit_id: str) -> tuple[Unit, ...]:
        """What a paragraph ending with a colon, or a subheading, introduces
        (``DocTerms.following``); empty for every other unit."""
        unit = self.units.get(unit_id)
        doc = self.docs.get(unit.doc_id) if unit else None
        ids = doc.following.get(unit_id, ()) if doc else ()
        return tuple(self.units[i] for i in ids if i in self.units)

    @classmethod
    def load(
        cls,
        store: Store,
        version: str,
        previous: KeywordCorpus | None,
        snapshot: Snapshot | None = None,
        written: Mapping[str, DocTerms] | None = None,
    ) -> KeywordCorpus:
        """The corpus of the index at ``version``: documents whose content hash and passage count
        are those of the index's manifest come from ``written`` (what this process just ingested),
        ``previous`` (or, when there is none, from the ``snapshot``), the rest from the store.
        When the snapshot matches the index entirely (and nothing was written), its BM25 matrix
        is used as well; when anything differed, the corpus is marked ``unsaved`` (writing it is
        the caller's, after it is in use: at 100k units it takes seconds)."""
        records = store.files()
        saved = snapshot.read() if snapshot is not None and previous is None else None
        known = previous.docs if previous else saved.docs if saved else {}
        if written:
            known = {**known, **written}
        kept = {
            doc_id: doc
            for doc_id, doc in known.items()
            if doc_id in records
            and records[doc_id].content_hash == doc.content_hash
            and records[doc_id].passages == len(doc.rows)
        }
        if saved and not written and len(kept) == len(known) == len(records):
            matrix = snapshot.matrix(saved.token) if snapshot else None
            corpus = cls(version, kept, matrix)  # the snapshot's order: its matrix's columns
            corpus.unsaved = matrix is None
            return corpus
        stale = [doc_id for doc_id in records if doc_id not in kept]
        fresh: dict[str, list[StoredPassage]] = {doc_id: [] for doc_id in stale}
        if stale:
            passages = store.all_passages() if not kept else store.passages_of(stale)
            for p in passages:
                if p.unit.doc_id in fresh:
                    fresh[p.unit.doc_id].append(p)
            del passages
        docs = {
            doc_id: kept.get(doc_id) or DocTerms.of(records[doc_id].content_hash, fresh.pop(doc_id))
            for doc_id in records
        }
        corpus = cls(version, docs)
        corpus.unsaved = snapshot is not None and bool(stale or written or len(known) != len(kept))
        return corpus


@dataclass(frozen=True)
class Saved:
    """What a snapshot file held: the documents in the order their matrix was built from, and
    the token that pairs the file with that matrix."""

    docs: dict[str, DocTerms]
    token: str


class Snapshot:
    """The keyword corpus on disk: ``<index>.json`` (the documents) and ``<index>.bm25/`` (bm25s's
    matrix built from them, in the file's order). A random token written into both pairs them:
    a matrix whose token differs from the file's, from an older or interrupted write, is never
    used. Failures to read are warnings (the store is read instead), failures to write too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.matrix_dir = path.with_suffix(".bm25")

    def read(self) -> Saved | None:
        """The documents saved in the file; ``None`` when it is missing, damaged or of another
        format or tokeniser version (every document is then read from the store)."""
        import orjson

        try:
            data: Any = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("ignoring the keyword corpus copy %s (%s)", self.path, exc)
            return None
        try:
            if (
                data.get("format") != SNAPSHOT_FORMAT
                or data.get("keywords_version") != KEYWORDS_VERSION
                or tuple(data.get("unit_fields", ())) != _UNIT_FIELDS
            ):
                return None
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
            return Saved(docs, str(data["token"]))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring the keyword corpus copy %s (%s)", self.path, exc)
            return None

    def matrix(self, token: str) -> Any:
        """The saved BM25 matrix if it was written with ``token``, else ``None``."""
        stamp = self.matrix_dir / _TOKEN_FILE
        try:
            if stamp.read_text(encoding="utf-8") != token:
                return None
            matrix = KeywordIndex.load_matrix(self.matrix_dir)
            # Still the same folder after loading: another process did not swap in its own
            # matrix midway (tokens are random, so a replaced folder never comes back).
            return matrix if stamp.read_text(encoding="utf-8") == token else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the saved BM25 matrix %s (%s)", self.matrix_dir, exc)
            return None

    def write(self, corpus: KeywordCorpus) -> None:
        """Write both parts, each atomically (written aside, then renamed into place)."""
        import orjson

        token = uuid.uuid4().hex
        data = {
            "format": SNAPSHOT_FORMAT,
            "keywords_version": KEYWORDS_VERSION,
            "unit_fields": _UNIT_FIELDS,
            "token": token,
            "docs": {
                doc_id: {
                    "hash": doc.content_hash,
                    "units": [[getattr(u, f) for f in _UNIT_FIELDS] for u in doc.units.values()],
                    "rows": [[pid, uid, " ".join(terms)] for pid, uid, terms in doc.rows],
                }
                for doc_id, doc in corpus.docs.items()
            },
        }
        aside = f".{os.getpid()}.{token[:8]}.tmp"
        tmp = self.path.with_name(f".{self.path.name}{aside}")
        tmp_dir = self.matrix_dir.with_name(f".{self.matrix_dir.name}{aside}")
        old_dir = self.matrix_dir.with_name(f".{self.matrix_dir.name}{aside}.old")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if corpus.keywords.n:
                corpus.keywords.save_matrix(tmp_dir)
                (tmp_dir / _TOKEN_FILE).write_text(token, encoding="utf-8")
                if self.matrix_dir.exists():
                    os.replace(self.matrix_dir, old_dir)
                os.replace(tmp_dir, self.matrix_dir)
            tmp.write_bytes(orjson.dumps(data))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not save the keyword corpus to %s (%s)", self.path, exc)
        finally:
            for leftover in (tmp_dir, old_dir):
                shutil.rmtree(leftover, ignore_errors=True)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def delete(self) -> None:
        """Forget both parts (``rag ingest --rebuild``)."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        shutil.rmtree(self.matrix_dir, ignore_errors=True)


_TOKEN_FILE = "citerag-token.txt"
