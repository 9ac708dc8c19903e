"""Checks every generated sentence against the evidence it cites, before anyone sees it.

A small local model invents numbers, cites the wrong paragraph and drops citations. So each
sentence of a generated answer is kept only if the unit it cites supports it:

- every number in the sentence appears in the cited text,
- every name (capitalised word not opening the sentence) appears in the cited text,
- most of its content words (stemmed) appear in the cited text.

A sentence with no citation, an out-of-range one, or a citation that does not support it is
*repaired* (re-cited to the evidence unit that does support it) or *dropped*, with the reason.

    >>> evidence = {1: "Alex Vatanka is an Iran expert at the Middle East Institute."}
    >>> result = verify("Vatanka works at the Middle East Institute [1].", evidence)
    >>> [s.text for s in result.kept], result.dropped
    (['Vatanka works at the Middle East Institute. [1]'], [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.text import STOPWORDS, keywords, normalize, numbers, split_sentences

MIN_TERM_SUPPORT = 0.6
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_NAME = re.compile(r"\b[A-Z][\w'\u2019.-]*")
_FILLER = {"according", "article", "articles", "source", "sources", "evidence", "text",
           "passage", "note", "notes", "also", "however"}  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    text: str
    cites: tuple[int, ...]
    repaired: bool = False


@dataclass(frozen=True)
class Dropped:
    text: str
    reason: str


@dataclass
class Verification:
    kept: list[Sentence] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.kept)


def _claims(sentence: str) -> tuple[set[str], set[str], set[str]]:
    """Numbers, names and content words a sentence asserts (markers removed)."""
    plain = _MARKER.sub("", sentence)
    names = set()
    for match in _NAME.finditer(plain):
        before = plain[: match.start()].rstrip()
        if not before or before.endswith((".", "!", "?", ":", '"', "\u201c")):
            continue  # the opening word of a sentence or quote is capitalised anyway
        word = match.group(0).rstrip(".'\u2019")
        if word.lower() not in STOPWORDS and len(word) > 1:
            names.add(normalize(word).lower())
    terms = {t for t in keywords(plain) if t not in _FILLER}
    return numbers(plain), names, terms


def supports(sentence: str, evidence: str) -> tuple[bool, str]:
    """Whether ``evidence`` states what ``sentence`` claims; the reason when it does not."""
    nums, names, terms = _claims(sentence)
    ev_norm = normalize(evidence).lower()
    ev_numbers = numbers(evidence)
    missing_numbers = sorted(n for n in nums if n not in ev_numbers)
    if missing_numbers:
        return False, f"number {', '.join(missing_numbers)} is not in the cited text"
    missing_names = sorted(n for n in names if n not in ev_norm)
    if missing_names:
        return False, f"name {', '.join(missing_names)} is not in the cited text"
    if terms:
        ev_terms = set(keywords(evidence))
        share = len(terms & ev_terms) / len(terms)
        if share < MIN_TERM_SUPPORT:
            return False, f"only {share:.0%} of its key terms are in the cited text"
    return True, ""


def verify(text: str, evidence: dict[int, str]) -> Verification:
    """Keep, re-cite or drop each sentence of ``text``; ``evidence`` maps marker to unit text."""
    result = Verification()
    for span in split_sentences(text.strip()):
        raw = span.text.strip()
        cites = tuple(int(n) for group in _MARKER.findall(raw) for n in re.split(r"\s*,\s*", group))
        body = _MARKER.sub("", raw).strip()
        if len(keywords(body)) == 0:
            continue  # a stray marker or an empty fragment
        valid = tuple(n for n in cites if n in evidence)
        supported = tuple(n for n in valid if supports(body, evidence[n])[0])
        if supported:
            result.kept.append(Sentence(_with_markers(body, supported), supported))
            continue
        reason = (
            "no citation" if not cites
            else f"cites [{', '.join(map(str, cites))}], which is not among the sources"
            if not valid
            else supports(body, evidence[valid[0]])[1]
        )  # fmt: skip
        repair = [n for n, ev in sorted(evidence.items()) if supports(body, ev)[0]]
        if repair:
            result.kept.append(Sentence(_with_markers(body, (repair[0],)), (repair[0],), True))
        else:
            result.dropped.append(Dropped(body, reason))
    return result


def _with_markers(body: str, cites: tuple[int, ...]) -> str:
    """ "Claim." + (1,) -> "Claim. [1]" (the same shape as extractive answers)."""
    markers = " ".join(f"[{n}]" for n in cites)
    if not re.search(r"[.!?][\"'\u201d\u2019)]*$", body):
        body += "."
    return f"{body} {markers}"
