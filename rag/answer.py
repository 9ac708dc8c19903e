"""Answerers turn retrieved evidence into a cited answer, or refuse.

The default ``ExtractiveAnswerer`` never writes a word of its own: it scores the *sentences* of the
retrieved units against the question (meaning, via the embedding model, and the question's key
terms, weighted by rarity), and answers with the best one to four of them, each quoted and cited.
Whether the articles answer the question at all is decided from that evidence: too little of the
question's substance found in any sentence, or no sentence of the kind the question asks for (a
number for "how many", a date for "when"), and the answer is a refusal with no citations.

Any other answerer (a generative one) implements the same ``Answerer`` protocol.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from rag.chunking import Unit
from rag.config import Settings
from rag.embedding import Embedder
from rag.results import REFUSAL, Citation
from rag.retrieval import Evidence, Retrieval, unit_keywords
from rag.text import STOPWORDS, keywords, split_sentences

_NUMBER_WORDS = (
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"thirty|forty|fifty|hundreds?|thousands?|millions?|dozens?|several|first|"
    r"second|third|half)\b"
)
_TIME_WORDS = (
    r"\b(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"week|month|year|years|summer|winter|spring|autumn|fall|today|yesterday|"
    r"ago|later|since|after|before|during|until|decades?|century|era)\b"
)


class Answerer(Protocol):
    """Turns a question and its retrieved evidence into a ``Composed`` answer."""

    name: str

    def compose(self, question: str, retrieval: Retrieval) -> Composed: ...


@dataclass
class Composed:
    """An answerer's output: the text with [n] markers, and for generated answers what the
    verifier dropped."""

    text: str
    refused: bool
    citations: list[Citation]
    support: float
    dropped: list[str] = field(default_factory=list)
    generated: bool = False


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    evidence: Evidence
    start: int
    end: int
    text: str
    index: int
    dense: float
    coverage: float
    own_coverage: float
    score: float


def answer_type(question: str) -> str | None:
    """The kind of fact a question asks for, when its wording says so."""
    q = question.lower()
    if re.search(r"\bhow (many|much|old|long|far)\b|\bwhat (number|percentage|share)\b", q):
        return "number"
    if re.search(
        r"^\s*when\b|\bwhat (year|date|day|month)\b|\bwhich (year|date|day|month)\b|"
        r"\bon what date\b",
        q,
    ):
        return "time"
    if re.search(
        r"^\s*(who|whom|whose)\b|\bwhich (outlet|newspaper|publication|analyst|expert|"
        r"official|person|organi[sz]ation|country|countries)\b",
        q,
    ):
        return "entity"
    return None


def has_type(text: str, kind: str | None, question: str) -> bool:
    """Whether ``text`` contains something of the asked-for kind (beyond the question's words)."""
    if kind is None:
        return True
    low = text.lower()
    if kind == "number":
        return bool(re.search(r"\d", text) or re.search(_NUMBER_WORDS, low))
    if kind == "time":
        return bool(re.search(r"\d", text) or re.search(_TIME_WORDS, low))
    asked = {w.lower() for w in re.findall(r"[A-Z][\w'.-]+", question)}
    names = re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'.-]+", text)
    return any(n.lower().rstrip(".'s") not in asked for n in names)


def question_names(question: str) -> list[str]:
    """Capitalised words after the first one ("France", "Vatanka"): what the question is about."""
    words = re.findall(r"[A-Za-z][\w'.-]*", question)[1:]
    return [w for w in words if w[0].isupper() and w.lower() not in STOPWORDS]


def is_explanatory(question: str) -> bool:
    """ "Why ...?" and "How did ...?" want reasons; "How many/long/much ...?" want a fact."""
    q = question.lower()
    if re.match(r"\s*how (many|much|long|old|far|often|big|large)\b", q):
        return False
    return bool(re.match(r"\s*(why|how|in what way|what (reasons?|explains?|makes?))\b", q))


_DANGLING = re.compile(
    r"^(he|she|they|it|this|that|these|those|indeed|but|and|so|still|yet|"
    r"his|her|their|its|both|such|the two)\b",
    re.IGNORECASE,
)


class ExtractiveAnswerer:
    """Answers by quoting the best-supported sentences of the evidence; cannot invent facts."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: Settings, idf: IdfLookup) -> None:
        self.embedder = embedder
        self.settings = settings
        self.idf = idf
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- scoring ------------------------------------------------------------------------------

    def _embed_sentences(self, texts: list[str]) -> list[list[float]]:
        """Sentence vectors, each computed once (the chat serves several people at a time)."""
        with self._cache_lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        fresh = dict(zip(missing, self.embedder.embed(missing), strict=True))
        with self._cache_lock:
            self._cache.update(fresh)
            while len(self._cache) > 5000:
                self._cache.popitem(last=False)
        return [known.get(t) or fresh[t] for t in texts]

    def _coverage(self, terms: set[str], text_terms: set[str]) -> float:
        """Rarity-weighted share of the question's terms found in ``text_terms``."""
        total = sum(self.idf(t) for t in terms)
        if not total:
            return 0.0
        return sum(self.idf(t) for t in terms if _matches(t, text_terms)) / total

    def candidates(self, question: str, retrieval: Retrieval) -> list[Candidate]:
        """Every sentence of the evidence, scored against the question."""
        terms = set(retrieval.query_terms) or set(keywords(question))
        rows: list[tuple[Evidence, int, int, str, int, float, float]] = []
        for ev in retrieval.evidence:
            unit_cov = self._coverage(terms, set(unit_keywords(ev.unit, ev.unit.text)))
            spans = (
                [(0, len(ev.unit.text), ev.unit.text)]
                if ev.unit.kind != "paragraph"
                else [(s.start, s.end, s.text) for s in split_sentences(ev.unit.text)]
            )
            own = [set(unit_keywords(ev.unit, text)) for _, _, text in spans]
            for index, (start, end, text) in enumerate(spans):
                near = own[index].union(*own[max(0, index - 1) : index + 2])
                own_cov = self._coverage(terms, own[index])
                coverage = 0.5 * own_cov + 0.25 * self._coverage(terms, near) + 0.25 * unit_cov
                rows.append((ev, start, end, text, index, coverage, own_cov))
        vectors = self._embed_sentences([r[3] for r in rows])
        query = retrieval.query_vector
        # "Why"/"how" questions are answered by reasons, which rarely repeat the question's words:
        # lean on meaning more than on shared terms for them.
        w_dense, w_cov = (0.6, 0.25) if is_explanatory(question) else (0.45, 0.4)
        out = []
        for row, vector in zip(rows, vectors, strict=True):
            ev, start, end, text, index, coverage, own_cov = row
            dense = sum(a * b for a, b in zip(query, vector, strict=True))
            score = w_dense * dense + w_cov * coverage + 0.15 * ev.dense
            if ev.unit.boilerplate:
                score *= 0.5
            out.append(
                Candidate(ev.unit, ev, start, end, text, index, dense, coverage, own_cov, score)
            )
        return sorted(out, key=lambda c: -c.score)

    def supported(self, candidate: Candidate, names: set[str]) -> bool:
        """Whether a sentence is evidence enough to answer: enough of the question's substance
        (rarity-weighted) is in it or right around it, it is about the same thing, and when the
        question names someone or something, its paragraph names at least one of them."""
        similarity = candidate.dense
        if candidate.coverage < self.settings.min_coverage:
            return False
        if names and not names & set(unit_keywords(candidate.unit, candidate.unit.text)):
            return False
        return similarity >= self.settings.min_similarity or candidate.coverage >= 0.6

    # -- composing ----------------------------------------------------------------------------

    def compose(self, question: str, retrieval: Retrieval,
                ranked: list[Candidate] | None = None) -> Composed:  # fmt: skip
        """The quoted answer; ``ranked`` passes in ``candidates()`` already computed."""
        if ranked is None:
            ranked = self.candidates(question, retrieval)
        kind = answer_type(question)
        names = set(keywords(" ".join(question_names(question))))
        ranked = [c for c in ranked if c.unit.kind == "headline" or not c.text.endswith("?")]
        typed = [c for c in ranked if has_type(c.text, kind, question) and self.supported(c, names)]
        if not typed:
            best_coverage = max((c.coverage for c in ranked), default=0.0)
            return Composed(REFUSAL, True, [], best_coverage)
        best = typed[0]
        explanatory = is_explanatory(question)
        chosen = [best]
        limit = self.settings.max_answer_sentences if explanatory else 2
        margin = 0.12 if explanatory else 0.06
        # Supporting sentences of a why/how answer need not repeat the question's words; they
        # only have to be close in meaning to it. Answerability was decided by ``best`` alone.
        pool = [c for c in ranked if c is not best] if explanatory else typed[1:]
        for cand in pool:
            if len(chosen) >= limit:
                break
            if cand.score < best.score - margin or any(_same(cand, c) for c in chosen):
                continue
            chosen.append(cand)
        if explanatory:
            chosen = self._spread(chosen, pool, best, 2 * margin)
        terms = set(retrieval.query_terms)
        return self._render([self._span(c, terms) for c in chosen], best.coverage)

    def _spread(
        self, chosen: list[Candidate], typed: list[Candidate], best: Candidate, margin: float
    ) -> list[Candidate]:
        """For why/how questions, make sure every document that speaks to it is heard."""
        sources = {c.unit.source for c in chosen}
        for cand in typed:
            if cand.unit.source in sources or cand.unit.kind == "headline":
                continue
            if cand.score >= best.score - margin:
                if len(chosen) >= self.settings.max_answer_sentences:
                    chosen = chosen[:-1]
                chosen.append(cand)
                sources.add(cand.unit.source)
        return chosen

    @staticmethod
    def _span(cand: Candidate, question_terms: set[str]) -> tuple[Candidate, int, int]:
        """The stretch of the unit to quote for a chosen sentence.

        A sentence that leans on the one before ("Indeed, he said...") brings it along; a sentence
        that holds most of the question, or little else, brings the next one (which usually
        answers it); and a short qualifier that follows ("But it's highly unlikely.") is never
        cut off.
        """
        if cand.unit.kind != "paragraph":
            return cand, cand.start, cand.end
        spans = split_sentences(cand.unit.text)
        start, end = cand.start, cand.end
        if cand.index > 0 and _DANGLING.match(cand.text):
            start = spans[cand.index - 1].start
        if cand.index + 1 < len(spans):
            following = spans[cand.index + 1]
            novel = [t for t in keywords(cand.text) if t not in question_terms]
            restates = len(novel) < 4 or cand.own_coverage >= 0.7
            qualifies = bool(_QUALIFIER.match(following.text)) and len(following.text.split()) <= 12
            if restates or qualifies:
                end = following.end
        # Never cut a quotation in half: extend to the sentence that closes it.
        index = next(i for i, sp in enumerate(spans) if sp.end >= end)
        while _open_quote(cand.unit.text[start:end]) and index + 1 < len(spans):
            index += 1
            end = spans[index].end
        return cand, start, end

    def _render(self, chosen: list[tuple[Candidate, int, int]], support: float) -> Composed:
        merged: list[tuple[Candidate, int, int]] = []
        for cand, start, end in chosen:
            text = cand.unit.text
            twin = next(
                (
                    i
                    for i, (c, s, e) in enumerate(merged)
                    if c.unit.unit_id == cand.unit.unit_id
                    and not text[min(e, end) : max(s, start)].strip()  # overlapping or adjacent
                ),
                None,
            )
            if twin is None:
                merged.append((cand, start, end))
            else:
                c, s, e = merged[twin]
                merged[twin] = (c, min(s, start), max(e, end))
        numbers: dict[str, int] = {}
        citations: dict[str, Citation] = {}
        sentences = []
        for cand, start, end in merged:
            unit = cand.unit
            n = numbers.setdefault(unit.unit_id, len(numbers) + 1)
            quote = unit.text[start:end]
            if unit.kind == "headline":
                when = unit.locator.split("(", 1)[-1].rstrip(")") if unit.date else ""
                by = ", ".join(x for x in (unit.outlet, when) if x)
                sentences.append(
                    f"Headline: \u201c{unit.text}\u201d ({by}). [{n}]"
                    if by
                    else f"Headline: \u201c{unit.text}\u201d. [{n}]"
                )
            else:
                sentences.append(f"{quote} [{n}]")
            previous = citations.get(unit.unit_id)
            citations[unit.unit_id] = Citation(
                n=n,
                unit_id=unit.unit_id,
                title=unit.title,
                source=unit.source,
                locator=unit.locator,
                text=unit.text,
                score=max(cand.score, previous.score if previous else 0.0),
                kind=unit.kind,
                outlet=unit.outlet,
                date=unit.date,
                quotes=(previous.quotes if previous else ()) + (quote,),
            )
        return Composed(
            " ".join(sentences), False, sorted(citations.values(), key=lambda c: c.n), support
        )


def _open_quote(text: str) -> bool:
    straight = text.count('"')
    return straight % 2 == 1 or text.count("\u201c") > text.count("\u201d")


def _matches(term: str, text_terms: set[str]) -> bool:
    """Exact stem match, or the same word family the stemmer left apart ("rival" and "rivalri",
    "russia" and "russian"): one stem extends the other by at most three letters."""
    if term in text_terms:
        return True
    if len(term) < 5:
        return False
    return any(
        len(other) >= 5 and abs(len(other) - len(term)) <= 3
        and (other.startswith(term) or term.startswith(other))
        for other in text_terms
    )  # fmt: skip


def _same(a: Candidate, b: Candidate) -> bool:
    if a.unit.unit_id != b.unit.unit_id:
        return False
    return (
        abs(a.index - b.index) <= 1
        and (bool(_DANGLING.match(a.text)) or bool(_DANGLING.match(b.text)))
        or a.index == b.index
    )


_QUALIFIER = re.compile(r"^(but|however|yet|still|though|although)\b", re.IGNORECASE)


class IdfLookup(Protocol):
    def __call__(self, term: str) -> float: ...


__all__ = ["Answerer", "Composed", "ExtractiveAnswerer", "answer_type"]
