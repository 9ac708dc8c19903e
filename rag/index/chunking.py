"""Split a ``Document`` into citable units, and units into passages that fit the embedding model.

A *unit* is what a citation points to: a paragraph, a headline of a headline list, or the title.
A *passage* is what gets embedded: normally the whole unit, but a unit longer than the model's
window is cut into sentence windows, each still citing the same unit, so nothing is silently
truncated by the encoder.

Paragraphs are separated by blank lines; a document with no blank line at all (one paragraph per
line) is split on single newlines. Lines of the form ``- Headline - Outlet - January 6th, 2026
[January 6th, 2026]`` become headline units with their outlet and ISO date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from rag.index.loading import Document
from rag.text import (
    LIST_MARKER,
    MONTHS,
    credits_document,
    has_words,
    introduces,
    is_heading,
    normalize,
    split_sentences,
)

UnitKind = Literal["paragraph", "headline", "title"]


@dataclass(frozen=True)
class Unit:
    """One citable piece of a document, with everything a citation needs to show."""

    unit_id: str
    doc_id: str
    source: str
    title: str
    kind: UnitKind
    ordinal: int
    position: int
    text: str
    outlet: str | None = None
    date: str | None = None
    boilerplate: bool = False
    #: A paragraph its file marks as a heading (``Document.headings``); ``is_heading`` and
    #: ``introduces`` also count a line with no closing punctuation as one.
    heading: bool = False

    @property
    def norm_text(self) -> str:
        return normalize(self.text)

    def is_heading(self, text: str | None = None) -> bool:
        """The unit, or ``text`` (one of its sentences), is a heading line: marked so by its file,
        or a line with no closing punctuation (``rag.text.is_heading``)."""
        return self.heading or is_heading(self.text if text is None else text)

    def introduces(self, text: str | None = None) -> bool:
        """The unit, or ``text`` (one of its sentences), announces what follows: a line ending
        with a colon or a heading (``rag.text.introduces``), or a heading its file marks."""
        return self.heading or introduces(self.text if text is None else text)

    @cached_property
    def describes_document(self) -> bool:
        """The title, or a paragraph that says who wrote the document or where it first ran:
        what answers a question about the document ("who wrote it?") rather than its subject."""
        if self.kind == "title":
            return True
        return self.kind == "paragraph" and any(
            credits_document(s.text) for s in split_sentences(self.text)
        )

    @property
    def locator(self) -> str:
        """Human-readable position: "paragraph 11", "headline 5 (Jan 6, 2026)", "title"."""
        if self.kind == "title":
            return "title"
        if self.kind == "headline" and self.date:
            return f"headline {self.ordinal} ({self._shown_date()})"
        return f"{self.kind} {self.ordinal}"

    @property
    def published(self) -> str:
        """Where and when the unit ran, as an answer shows it beside a quoted headline or title
        ("The Washington Post, Dec 29, 2025"); empty when neither is known."""
        return ", ".join(x for x in (self.outlet, self._shown_date()) if x)

    @property
    def attribution(self) -> str:
        """What a headline is read with (``published``); empty for other units, whose outlet
        is in the citation."""
        return self.published if self.kind == "headline" else ""

    def _shown_date(self) -> str:
        """The date as citations show it ("Jan 6, 2026"); empty when there is none."""
        if not self.date:
            return ""
        day = dt.date.fromisoformat(self.date)
        return f"{day:%b} {day.day}, {day.year}"


@dataclass(frozen=True)
class Passage:
    """The text embedded for (part of) a unit; ``window`` counts sentence windows from 0.

    ``span`` is where a sentence window lies in its unit's whole passage (the one whose id is the
    unit's), so that its vector can be pooled from that passage's pass (``embed_passages``);
    None for the whole passage, and for windows of a unit too long to have one."""

    passage_id: str
    unit: Unit
    text: str
    window: int = 0
    span: tuple[int, int] | None = None


def doc_id_for(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def _unit_id(doc_id: str, kind: str, text: str) -> str:
    key = f"{doc_id}\x00{kind}\x00{normalize(text)}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def unit_of_passage(passage_id: str) -> str:
    """The unit a passage cites: its id up to the first colon (``split_passages`` names a
    unit's windows ``<unit>:<n>`` and ``<unit>:s<n>``; unit ids are hex)."""
    return passage_id.partition(":")[0]


# --- headlines -------------------------------------------------------------------------------

_MONTHS = "|".join(MONTHS)
_DATE = re.compile(rf"({_MONTHS})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", re.IGNORECASE)
_HEADLINE = re.compile(
    rf"^\s*[-*\u2022]\s+(?P<body>.+?)\s+-\s+(?P<date>(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?"
    rf"\s+\d{{4}})\s*(?:\[[^\]]*\])?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Headline:
    text: str
    outlet: str | None
    date: str


def parse_date(text: str) -> str | None:
    """ "January 6th, 2026" -> "2026-01-06" (None when there is no such date)."""
    match = _DATE.search(text)
    if not match:
        return None
    month = [m.lower() for m in MONTHS].index(match.group(1).lower()) + 1
    try:
        return dt.date(int(match.group(3)), month, int(match.group(2))).isoformat()
    except ValueError:
        return None


def parse_headline(line: str) -> Headline | None:
    """Parse a headline-list line; None when ``line`` is not one.

    The outlet is the last " - " field; an empty field falls back to a "| Outlet" suffix of the
    headline, and an acronym field joins the name it abbreviates ("National Council of
    Resistance of Iran - NCRI").

    >>> parse_headline("- Iran protests - AP News - January 6th, 2026 [January 6th, 2026]")
    Headline(text='Iran protests', outlet='AP News', date='2026-01-06')
    """
    match = _HEADLINE.match(line)
    if not match:
        return None
    date = parse_date(match.group("date"))
    if date is None:
        return None
    body = match.group("body").strip()
    outlet: str | None
    if body.endswith(" -") or body == "-":
        text, outlet = body[:-1].rstrip(), None
    elif " - " in body:
        text, outlet = (part.strip() for part in body.rsplit(" - ", 1))
        if " - " in text and _is_acronym_of(outlet, text.rsplit(" - ", 1)[1]):
            text, name = (part.strip() for part in text.rsplit(" - ", 1))
            outlet = f"{name} - {outlet}"
    else:
        text, outlet = body, None
    if outlet is None and " | " in text:
        text, outlet = (part.strip() for part in text.rsplit(" | ", 1))
    return Headline(text=text, outlet=outlet or None, date=date)


def _is_acronym_of(acronym: str, name: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2,8}", acronym):
        return False
    initials = "".join(w[0] for w in name.split() if w[:1].isupper())
    return initials == acronym


# --- paragraphs ------------------------------------------------------------------------------


def _blocks(text: str) -> list[str]:
    """Paragraph texts in order; headline and list lines always stand alone."""
    text = text.strip()
    if re.search(r"\n[ \t\u00a0]*\n", text):
        raw_blocks = re.split(r"\n[ \t\u00a0]*\n", text)
        blocks: list[str] = []
        for block in raw_blocks:
            lines = [ln for ln in block.split("\n") if ln.strip()]
            buffer: list[str] = []
            for line in lines:
                if parse_headline(line) or LIST_MARKER.match(line):
                    if buffer:
                        blocks.append(" ".join(buffer))
                        buffer = []
                    blocks.append(line.strip())
                else:
                    buffer.append(line.strip())
            if buffer:
                blocks.append(" ".join(buffer))
        return blocks
    return [line.strip() for line in text.split("\n") if line.strip()]


def split_units(doc: Document) -> list[Unit]:
    """All citable units of ``doc`` in reading order.

    Text that repeats verbatim (after normalisation) within a document, such as a newsletter
    sign-up line at the top and bottom, yields one unit flagged ``boilerplate``.
    """
    doc_id = doc_id_for(doc.source)
    blocks = [part for block in _blocks(doc.text) for part in _parts(block) if has_words(part)]
    units: list[Unit] = []
    seen: dict[str, int] = {}
    counts: dict[UnitKind, int] = {"paragraph": 0, "headline": 0, "title": 0}
    repeated = _repeated(blocks)

    for position, block in enumerate(blocks):
        key = _dedupe_key(block)
        if key in seen:
            continue
        kind: UnitKind
        headline = parse_headline(block)
        if position == 0 and doc.title_in_text:
            kind, text, outlet, date = "title", block, doc.outlet, doc.date
        elif headline:
            kind, text, outlet, date = "headline", headline.text, headline.outlet, headline.date
        else:
            kind, text, outlet, date = "paragraph", block, doc.outlet, doc.date
        counts[kind] += 1
        seen[key] = len(units)
        units.append(
            Unit(
                unit_id=_unit_id(doc_id, kind, block),
                doc_id=doc_id,
                source=doc.source,
                title=doc.title,
                kind=kind,
                ordinal=counts[kind],
                position=position,
                text=text,
                outlet=outlet,
                date=date,
                boilerplate=kind != "title" and key in repeated,
                heading=kind == "paragraph" and normalize(block) in doc.headings,
            )
        )
    return units


def _dedupe_key(block: str) -> str:
    return normalize(block).lower().rstrip(".")


def _repeated(blocks: list[str]) -> set[str]:
    counts = Counter(_dedupe_key(b) for b in blocks)
    return {k for k, n in counts.items() if n > 1}


# A unit is something a reader can be shown as a citation. The longest paragraph in the seeds,
# evals/corpus2 and evals/devcorpus is ~1,500 characters (284 word pieces); a "paragraph" beyond
# 5,000 characters is a text without breaks (a dump, a transcript), cut here at sentence
# boundaries into parts that are units of their own. Storing a 10 MB paragraph whole in every
# passage's metadata made Chroma spend 51 s adding 1,037 passages for a 1 MB one.
MAX_UNIT_CHARS = 5000


def _parts(block: str) -> list[str]:
    """``block`` cut at sentence ends into pieces of at most ``MAX_UNIT_CHARS`` (a longer
    sentence is cut between words); short blocks come back whole."""
    if len(block) <= MAX_UNIT_CHARS:
        return [block]
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in (s.text for s in split_sentences(block)):
        pieces: list[str] = [sentence]
        piece: list[str]
        if len(sentence) > MAX_UNIT_CHARS:
            pieces, piece, piece_size = [], [], 0
            for word in sentence.split():
                if piece and piece_size + len(word) > MAX_UNIT_CHARS:
                    pieces.append(" ".join(piece))
                    piece, piece_size = [], 0
                piece.append(word)
                piece_size += len(word) + 1
            pieces.append(" ".join(piece))
        for piece_text in pieces:
            if current and size + 1 + len(piece_text) > MAX_UNIT_CHARS:
                parts.append(" ".join(current))
                current, size = [], 0
            current.append(piece_text)
            size += len(piece_text) + 1
    if current:
        parts.append(" ".join(current))
    return parts


# --- passages --------------------------------------------------------------------------------


# Sentence windows are for paragraphs as people write them. A unit longer than two model windows
# (~500 word pieces) is a part cut from a text without breaks (see MAX_UNIT_CHARS): its
# overlapping token windows already cover every sentence, and sentence windows on top tripled the
# embedding work exactly where it explodes (a 10 MB one-paragraph file: ~100k extra passages).
# The longest unit of the seeds, evals/corpus2 and evals/devcorpus has 284, so answers there
# are unchanged.
SENTENCE_WINDOWS_UP_TO = 2


def split_passages(
    units: list[Unit],
    count_tokens: Callable[[str], int],
    max_tokens: int,
    sentence_window: int = 2,
) -> list[Passage]:
    """What to embed for each unit: the whole unit (or, if it would not fit the model, token-
    limited sentence windows), plus every run of ``sentence_window`` consecutive sentences of a
    longer paragraph, so that one precise sentence is not diluted by the rest of its paragraph."""
    passages: list[Passage] = []
    for unit in units:
        text = unit.norm_text
        if unit.kind == "headline" and unit.outlet:
            text = normalize(f"{unit.text} - {unit.outlet}")
        tokens = count_tokens(text)
        if tokens <= max_tokens:
            passages.append(Passage(unit.unit_id, unit, text))
        else:
            for window, chunk in enumerate(_windows(text, count_tokens, max_tokens)):
                passages.append(Passage(f"{unit.unit_id}:{window}", unit, chunk, window))
        if unit.kind != "paragraph" or sentence_window < 1:
            continue
        if tokens > SENTENCE_WINDOWS_UP_TO * max_tokens:
            continue
        sentences = split_sentences(text)
        if len(sentences) <= sentence_window:
            continue
        for i in range(len(sentences) - sentence_window + 1):
            run = sentences[i : i + sentence_window]
            chunk = " ".join(s.text for s in run)
            span = (run[0].start, run[-1].end) if tokens <= max_tokens else None
            if span or count_tokens(chunk) <= max_tokens:
                passages.append(Passage(f"{unit.unit_id}:s{i}", unit, chunk, i, span))
    return passages


def _windows(text: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    """Token-limited windows of whole sentences (an over-long sentence is cut between words),
    each sharing its last sentence with the next when that still fits.

    Linear in the text: every distinct word is counted once and a sentence's count is the sum of
    its words' counts, which is exact for WordPiece (it splits on whitespace before it splits
    words into pieces). Re-counting the growing text instead made a 10 MB paragraph take over
    ten minutes (issue 8).
    """
    cache: dict[str, int] = {}

    def counted(words: list[str]) -> list[int]:
        out = []
        for word in words:
            if word not in cache:
                cache[word] = count_tokens(word)
            out.append(cache[word])
        return out

    windows: list[str] = []
    current: list[str] = []
    current_tokens = 0
    last_tokens = 0
    for sentence in (s.text for s in split_sentences(text)):
        words = sentence.split()
        counts = counted(words)
        size = sum(counts)
        start = 0
        while size > max_tokens:
            cut = _fitting_prefix(counts, start, max_tokens)
            if current:
                windows.append(" ".join(current))
                current, current_tokens = [], 0
            windows.append(" ".join(words[start:cut]))
            size -= sum(counts[start:cut])
            start = cut
        sentence = " ".join(words[start:]) if start else sentence
        if current and current_tokens + size > max_tokens:
            windows.append(" ".join(current))
            if last_tokens + size <= max_tokens:
                current, current_tokens = current[-1:], last_tokens
            else:
                current, current_tokens = [], 0
        current.append(sentence)
        current_tokens += size
        last_tokens = size
    if current:
        windows.append(" ".join(current))
    return windows


def _fitting_prefix(counts: list[int], start: int, max_tokens: int) -> int:
    """The end of the longest run of words from ``start`` that fits in ``max_tokens`` (at least
    one word, so that cutting always advances)."""
    total = 0
    for end in range(start, len(counts)):
        total += counts[end]
        if total > max_tokens:
            return max(end, start + 1)
    return len(counts)
