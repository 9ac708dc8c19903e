"""Incremental indexing: only new or changed files are embedded; removed files leave the index.

A file whose content hash (text plus sidecar metadata) matches the manifest is skipped without
loading the model. A bad file (empty, binary, not UTF-8, unreadable) is reported with its path and
the reason, never embedded, and never stops the run.

    >>> report = ingest([Path("seeds")], store, embedder)  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    '2 files: 2 added'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from rag.errors import DocumentError
from rag.index.chunking import Passage, Unit, doc_id_for, split_passages, split_units
from rag.index.embedding import Embedder
from rag.index.loading import Document, content_hash, discover, load_document, source_name
from rag.index.store import FileRecord, FileWrite, Store

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, message)`` while passages are embedded."""

FileStatus = Literal["added", "changed", "unchanged", "removed", "failed"]
STATUSES: tuple[FileStatus, ...] = get_args(FileStatus)


@dataclass(frozen=True)
class FileOutcome:
    source: str
    status: FileStatus
    units: int = 0
    passages: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    outcomes: list[FileOutcome] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0

    def count(self, status: FileStatus) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def indexed_any(self) -> bool:
        return any(o.status in ("added", "changed", "unchanged") for o in self.outcomes)

    def summary(self) -> str:
        """E.g. ``3 files: 1 added, 1 unchanged, 1 failed``."""
        files = [o for o in self.outcomes if o.status != "removed"]
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        noun = "file" if len(files) == 1 else "files"
        return f"{len(files)} {noun}: " + (", ".join(parts) if parts else "nothing to do")


_Prepared = tuple[Document, FileStatus, list[Unit], list[Passage]]

# Passages embedded in one call: enough for the embedder's length-sorted batches to pad little
# (ONNX on 2 cores: 190 passages/s file by file, 276/s sorted across 600 paragraphs), small
# enough that progress moves every second or two and a kill loses little work.
EMBED_GROUP_PASSAGES = 512


def _groups(prepared: list[_Prepared], size: int) -> list[list[_Prepared]]:
    """Consecutive files whose passages add up to about ``size``; one file is never split, so each
    file's passages are written together, as the manifest promises."""
    groups: list[list[_Prepared]] = [[]]
    count = 0
    for item in prepared:
        if groups[-1] and count >= size:
            groups.append([])
            count = 0
        groups[-1].append(item)
        count += len(item[3])
    return [g for g in groups if g]


def embed_passages(
    passages: Sequence[Passage], embedder: Embedder, pooled_windows: bool = True
) -> list[list[float]]:
    """Vectors of ``passages``, in order. With ``pooled_windows`` a sentence window that lies in
    its unit's whole passage (``Passage.span``) is pooled from that passage's pass instead of
    being embedded again: one pass per paragraph instead of three times its length."""
    if not pooled_windows:
        return embedder.embed([p.text for p in passages])
    embedded = {p.passage_id: i for i, p in enumerate(passages) if p.span is None}
    windows: dict[int, list[tuple[int, tuple[int, int]]]] = {}
    for j, p in enumerate(passages):
        if p.span is not None and p.unit.unit_id in embedded:
            windows.setdefault(embedded[p.unit.unit_id], []).append((j, p.span))
    pooled = {j for pairs in windows.values() for j, _ in pairs}
    own = [i for i in range(len(passages)) if i not in pooled]
    spans = [[span for _, span in windows.get(i, [])] for i in own]
    vectors, parts = embedder.embed_spans([passages[i].text for i in own], spans)
    out: list[list[float]] = [[] for _ in passages]
    for i, vector, window_vectors in zip(own, vectors, parts, strict=True):
        out[i] = vector
        for (j, _), window_vector in zip(windows.get(i, []), window_vectors, strict=True):
            out[j] = window_vector
    return out


def ingest(
    paths: Sequence[Path],
    store: Store,
    embedder: Embedder,
    progress: Progress | None = None,
    sentence_window: int = 2,
    max_passage_tokens: int | None = None,
    pooled_windows: bool = True,
    written: Callable[[FileRecord, Sequence[Passage]], None] | None = None,
) -> IngestReport:
    """Bring the index in line with ``paths`` (files or folders).

    Files that were indexed from one of the given folders and no longer exist are removed.
    ``pooled_windows``: see ``embed_passages``. ``written`` is told of every file once its
    passages and manifest row are stored (``RagChain.ingest`` keeps their terms for BM25).
    """
    started = time.perf_counter()
    report = IngestReport()
    files, missing = discover(paths)
    report.outcomes += [FileOutcome(e.path, "failed", reason=e.reason) for e in missing]

    known = store.files()
    pending: list[tuple[Document, FileStatus]] = []
    for path in files:
        source = source_name(path)
        record = known.get(doc_id_for(source))
        try:
            if record and record.content_hash == content_hash(path, source):
                report.outcomes.append(FileOutcome(source, "unchanged", passages=record.passages))
                continue
            doc = load_document(path)
        except DocumentError as exc:
            report.outcomes.append(FileOutcome(exc.path, "failed", reason=exc.reason))
            continue
        pending.append((doc, "changed" if record else "added"))

    # RAG_MAX_PASSAGE_TOKENS may ask for shorter passages than the model reads, never longer.
    limit = min(max_passage_tokens or embedder.max_tokens, embedder.max_tokens)
    total = 0
    prepared: list[_Prepared] = []
    for doc, status in pending:
        units = split_units(doc)
        passages = split_passages(units, embedder.count_tokens, limit, sentence_window)
        prepared.append((doc, status, units, passages))
        total += len(passages)

    done = 0

    def embedded(group: list[_Prepared]) -> list[FileWrite]:
        flat = [p for _, _, _, passages in group for p in passages]
        embeddings = embed_passages(flat, embedder, pooled_windows)
        writes: list[FileWrite] = []
        offset = 0
        for doc, _, _, passages in group:
            vectors = embeddings[offset : offset + len(passages)]
            offset += len(passages)
            record = FileRecord(doc_id_for(doc.source), doc.source, doc.content_hash, len(passages))
            writes.append((record, passages, vectors))
        return writes

    def stored(group: list[_Prepared], writes: list[FileWrite]) -> None:
        nonlocal done
        for (doc, status, units, passages), (record, _, _) in zip(group, writes, strict=True):
            if written is not None:
                written(record, passages)
            report.embedded += len(passages)
            report.outcomes.append(FileOutcome(doc.source, status, len(units), len(passages)))
            done += len(passages)
            if progress:
                progress(done, total, doc.source)

    # Chroma writes one group while the next is embedded (ONNX Runtime and Chroma's Rust core
    # both release the GIL): the bench's 3,044 units went in at 133 units/s in turn and 138
    # overlapped, on 2 cores. One write in flight at most, in order; a group counts as done
    # (report, progress) only once its write has returned, and a failed write ends the ingest.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-write") as writer:
        in_flight: tuple[Future[None], list[_Prepared], list[FileWrite]] | None = None
        for group in _groups(prepared, EMBED_GROUP_PASSAGES):
            writes = embedded(group)
            if in_flight is not None:
                in_flight[0].result()
                stored(*in_flight[1:])
            in_flight = (writer.submit(store.write_files, writes), group, writes)
        if in_flight is not None:
            in_flight[0].result()
            stored(*in_flight[1:])

    seen = {o.source for o in report.outcomes}
    folders = [source_name(p) for p in paths if p.is_dir()]
    for record in known.values():  # what this ingest wrote is all in `seen`
        inside = any(record.source.startswith(f.rstrip("/") + "/") for f in folders)
        if inside and record.source not in seen and not Path(record.source).exists():
            store.remove_file(record.doc_id)
            report.outcomes.append(FileOutcome(record.source, "removed"))
    report.seconds = time.perf_counter() - started
    return report
