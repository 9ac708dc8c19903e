"""Answerers turn retrieved evidence into a cited answer, or refuse.

The default ``ExtractiveAnswerer`` never writes a word of its own. Every sentence of the retrieved
units becomes a candidate with a vector of features (``rag.query.features``: meaning,
rarity-weighted term coverage with word families, the kind of fact asked for, names, position, the
unit's retrieval scores ...), and the fitted ``Scorer`` turns that into the probability that the
sentence answers the question. Whether the articles answer the question at all is a second fitted
probability, over what the candidates add up to, against a threshold fitted on dev questions for at
most 5 % false refusals; the answer quotes the best sentence and the others close to it, each cited.

Any other answerer (a generative one) implements the same ``Answerer`` protocol.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from rag.index.chunking import Unit
from rag.index.embedding import Embedder
from rag.index.keyword import unit_keywords
from rag.query.features import (
    FEATURES,
    Sentence,
    ablations,
    absent_terms,
    dangling,
    extract,
    is_explanatory,
    is_list_question,
    question_row,
    question_terms,
    same_family,
    sentences_of,
    unmatched,
    without_names,
)
from rag.query.reader import CANDIDATES, Reader, ReaderCheck, read
from rag.query.retrieval import Evidence, Retrieval
from rag.query.scorer import Scorer
from rag.results import NO_AUTHOR, REFUSAL, Citation, Event
from rag.text import (
    BARE_BYLINE,
    BYLINE,
    CREDIT,
    asks_about_authorship,
    asks_about_document,
    asks_about_piece,
    asks_where_it_ran,
    asks_who,
    credits_document,
    item_start,
    keywords,
    split_sentences,
)


class Answerer(Protocol):
    """Turns a question and its retrieved evidence into a ``Composed`` answer, at once
    (``compose``) or as events ending with it (``stream``)."""

    name: str

    def compose(self, question: str, retrieval: Retrieval) -> Composed: ...

    def stream(self, question: str, retrieval: Retrieval) -> Iterator[Event[Composed]]: ...


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
    """A scored sentence: ``score`` is the scorer's probability that it answers the question;
    ``coverage`` the share of the question's substance found in and around it."""

    sentence: Sentence
    score: float
    features: tuple[float, ...]

    @property
    def coverage(self) -> float:
        return self.features[_COVERAGE_NEAR]

    @property
    def unit(self) -> Unit:
        return self.sentence.unit

    @property
    def evidence(self) -> Evidence:
        return self.sentence.evidence

    @property
    def start(self) -> int:
        return self.sentence.start

    @property
    def end(self) -> int:
        return self.sentence.end

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def index(self) -> int:
        return self.sentence.index


#: Words that say a question is about a document rather than what the document is about.
_DOCUMENT_WORDS = frozenset(
    keywords(
        "who wrote written write author authors writer writers article piece story report column "
        "essay op-ed published publish originally first republished ran appeared outlet "
        "magazine newspaper"
    )
)
#: Share of a question's subject words that must occur in a document for an authorship question
#: to be taken as about it. Set by hand, not fitted: dev holds no authorship question. Half lets
#: through a question with one word the text does not use ("where does the author of the piece on
#: X teach?": X yes, teach no) and stops a question about a subject the corpus does not cover.
TOPIC_SHARE = 0.5

_COVERAGE_NEAR = FEATURES.index("coverage_near")
_COVERAGE_SENTENCE = FEATURES.index("coverage_sentence")
_ATTRIBUTED = FEATURES.index("attributed")
_FRAGMENT = FEATURES.index("fragment")
_UNMATCHED = FEATURES.index("unmatched")


class ExtractiveAnswerer:
    """Answers by quoting the sentences the scorer rates likely to answer; cannot invent facts."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_answer_sentences: int,
        threshold: float | None = None,
        scorer: Scorer | None = None,
        reader: Reader | None = None,
        reader_check: ReaderCheck | None = None,
    ) -> None:
        """``max_answer_sentences`` is ``RAG_MAX_ANSWER_SENTENCES`` (for why/how and list
        questions); ``threshold`` overrides the fitted one (``RAG_ANSWER_THRESHOLD``). With a
        ``reader`` (``RAG_READER=local``) the best candidates are read before an answer is given
        and the fitted ``reader_check`` (default ``rag/query/reader.json``) decides refusals in
        place of the question stage's threshold."""
        self.embedder = embedder
        self.max_answer_sentences = max_answer_sentences
        self._threshold = threshold
        self._scorer = scorer
        self.reader = reader
        self._reader_check = reader_check
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = Scorer.load()
        return self._scorer

    @property
    def threshold(self) -> float:
        return self.scorer.threshold if self._threshold is None else self._threshold

    # -- scoring ------------------------------------------------------------------------------

    def _embed_sentences(self, texts: list[str]) -> list[list[float]]:
        """Vectors of texts read alone, each computed once (the chat serves several people at a
        time)."""
        known = self._cached(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        fresh = dict(zip(missing, self.embedder.embed(missing), strict=True)) if missing else {}
        self._remember(fresh)
        return [known.get(t) or fresh[t] for t in texts]

    def _sentence_vectors(self, sentences: list[Sentence]) -> list[list[float]]:
        """Each candidate sentence's vector. A sentence of a paragraph that the model reads in
        one pass is read in its paragraph: its vector is pooled from the paragraph's pass
        (``Embedder.embed_spans``), so a quote saying "the agency" is read with the sentence
        before it that names the agency. Chosen on dev (``evals.fit``, 5-fold CV repeated,
        refitted each way), against every sentence embedded alone: held-out objective 1.6747 ->
        1.6826, question-stage AUC 0.8621 -> 0.8675; averaging the two vectors gave 1.6811.
        Headlines, titles, one-sentence paragraphs and the sentences of a unit longer than one
        pass are embedded alone, each computed once either way."""
        keys = {
            i: f"\0{s.unit.unit_id}:{s.start}:{s.end}"
            for i, s in enumerate(sentences)
            if s.unit.kind == "paragraph" and s.count > 1
        }
        known = self._cached(list(keys.values()))
        todo: dict[str, list[int]] = {}
        for i, key in keys.items():
            if key not in known:
                todo.setdefault(sentences[i].unit.text, []).append(i)
        fits = [t for t in todo if self.embedder.count_tokens(t) <= self.embedder.max_tokens]
        fresh: dict[str, list[float]] = {}
        if fits:
            spans = [[(sentences[i].start, sentences[i].end) for i in todo[t]] for t in fits]
            _, pooled = self.embedder.embed_spans(fits, spans)
            for text, parts in zip(fits, pooled, strict=True):
                fresh.update(zip((keys[i] for i in todo[text]), parts, strict=True))
        self._remember(fresh)
        in_context = {**known, **fresh}
        alone = [i for i in range(len(sentences)) if keys.get(i) not in in_context]
        read_alone = self._embed_sentences([sentences[i].text for i in alone])
        by_index = dict(zip(alone, read_alone, strict=True))
        return [
            by_index[i] if i in by_index else in_context[keys[i]] for i in range(len(sentences))
        ]

    def _cached(self, keys: list[str]) -> dict[str, list[float]]:
        with self._cache_lock:
            return {k: self._cache[k] for k in keys if k in self._cache}

    def _remember(self, vectors: dict[str, list[float]]) -> None:
        with self._cache_lock:
            self._cache.update(vectors)
            while len(self._cache) > 5000:
                self._cache.popitem(last=False)

    def featurize(
        self, question: str, retrieval: Retrieval, *, every: bool = True
    ) -> tuple[list[Sentence], list[list[float]]]:
        """Every sentence of the evidence with its feature row (what ``evals.fit`` learns from).
        ``every=False`` leaves ``unmatched`` at 0.0, which saves an embedding per question term
        (``candidates`` computes it for the one candidate that is read)."""
        sentences = sentences_of(retrieval.evidence)
        if not sentences:
            return [], []
        terms = question_terms(question, retrieval.query_terms)
        variants = ablations(question, terms) if every else {}
        predicate = without_names(question)
        extra = [predicate] if predicate != question and predicate not in retrieval.also else []
        vectors = self._sentence_vectors(sentences)
        vectors += self._embed_sentences(list(variants.values()) + extra)
        n = len(sentences)
        ablated = dict(zip(variants, vectors[n : n + len(variants)], strict=True))
        predicate_vector = vectors[-1] if extra else retrieval.also.get(predicate)
        rows = extract(
            question, retrieval.query_terms, retrieval.query_vector, sentences, vectors[:n],
            retrieval.idf, ablated if every else None, predicate_vector,
        )  # fmt: skip
        return sentences, rows

    def candidates(self, question: str, retrieval: Retrieval) -> list[Candidate]:
        """Every sentence of the evidence, most likely answer first. Stage 1 does not read
        ``unmatched``; the question stage reads it of the first candidate only, so only that one
        pays for it (one embedding per question term its unit lacks, usually none or one)."""
        sentences, rows = self.featurize(question, retrieval, every=False)
        ranked = self.rank(sentences, rows, self.scorer.sentence_probabilities(rows))
        if ranked:
            best = ranked[0]
            terms = question_terms(question, retrieval.query_terms)
            variants = ablations(question, absent_terms(terms, best.evidence))
            if variants:
                vector = self._sentence_vectors([best.sentence])[0]
                ablated = self._embed_sentences(list(variants.values()))
                features = list(best.features)
                features[_UNMATCHED] = unmatched(vector, retrieval.query_vector, ablated)
                ranked[0] = replace(best, features=tuple(features))
        return ranked

    @staticmethod
    def rank(sentences: list[Sentence], rows: list[list[float]], probs: list[float]
             ) -> list[Candidate]:  # fmt: skip
        out = [
            Candidate(s, p, tuple(row)) for s, row, p in zip(sentences, rows, probs, strict=True)
        ]
        return sorted(out, key=lambda c: (-c.score, c.evidence.rank, c.index))

    # -- composing ----------------------------------------------------------------------------

    def compose(self, question: str, retrieval: Retrieval,
                ranked: list[Candidate] | None = None) -> Composed:  # fmt: skip
        """The quoted answer; ``ranked`` passes in ``candidates()`` already computed."""
        if ranked is None:
            ranked = self.candidates(question, retrieval)
        answerable, threshold = self.answerable(ranked), self.threshold
        if self.reader is not None and ranked:
            answerable, ranked = self.read(question, ranked, answerable)
            threshold = self.reader_check.threshold
        return self.select(
            question, ranked, answerable, threshold, self.scorer.ratio, self.scorer.ratio_wide
        )

    @property
    def reader_check(self) -> ReaderCheck:
        if self._reader_check is None:
            self._reader_check = ReaderCheck.load()
        return self._reader_check

    def read(self, question: str, ranked: list[Candidate], answerable: float
             ) -> tuple[float, list[Candidate]]:  # fmt: skip
        """The probability that the sources answer, once the reader has read the
        ``reader.CANDIDATES`` best sentences (``rag.query.reader``), and the candidates in the
        order its readings leave them (``ReaderCheck.order``)."""
        assert self.reader is not None
        readings = read(self.reader, question, [c.text for c in ranked[:CANDIDATES]])
        check = self.reader_check
        return check.probability(answerable, readings), check.order(ranked, readings)

    def stream(self, question: str, retrieval: Retrieval) -> Iterator[Event[Composed]]:
        """The quoted answer is ready at once: one ``final`` event."""
        composed = self.compose(question, retrieval)
        yield Event("final", composed.text, composed)

    def answerable(self, ranked: list[Candidate]) -> float:
        """The probability that the evidence answers the question at all."""
        row = question_row([list(c.features) for c in ranked], [c.score for c in ranked])
        return self.scorer.question.probabilities([row])[0]

    def select(self, question: str, ranked: list[Candidate], answerable: float,
               threshold: float, ratio: float, ratio_wide: float) -> Composed:  # fmt: skip
        """Refuse when ``answerable`` is below ``threshold``; otherwise quote the best sentence
        and those scoring at least ``ratio`` of it (``ratio_wide`` for why/how and lists, which
        take up to ``max_answer_sentences``, one sentence per unit for lists so that every source
        is heard; other questions take two). A why/how answer keeps its best sentence first and
        puts the others that carry someone's words (a quotation, "said X") before the narration
        around them: the reasons the sources give, in the analysts' own words.

        Why the lead stays: sorting every chosen sentence by attribution let a quoted premise
        lead ("'If there's a wedge ..., we're willing to explore that,' said a senior
        administration official" for "Why do analysts doubt a Russia-Iran split?"). Held-out dev
        answers to why/how questions (2026-12-04, 57 quoted alone, 55 with the reader) whose
        first sentence cites a supporting unit: 0.719 -> 0.737 and 0.727 -> 0.782; every lead
        that changed (one question quoted alone, three with the reader) gained; nothing else
        moved.

        A subheading, caption, dateline or author box line (a line with no closing punctuation
        that is not a list item) is not quoted unless the question is about a document: it
        states nothing, and when it ranked first it led the answer (a dev question, "Which
        university were most of the researchers from?", got another article's author box line,
        "Roger J. Kreuz, University of Memphis"). A subheading still points to its section: the
        paragraph it heads takes its rank (``_headed``). Held-out dev (2026-12-04): 14 of the
        1,362 three best candidates have no closing punctuation; quoting alone one answer more is
        right and led by a supporting unit (facts 0.8293 -> 0.8323, precision 0.8546 -> 0.8577),
        none is worse, and with the reader no answer changes. Leaving every such line out scored
        the same on dev, but answered "What do critics say about the plan?" with the plan's
        parts instead of the section headed "Critics" (``tests/query/test_answer.py``)."""
        unsaid, credit = self._credit(question, ranked)
        if credit is not None:
            return self._render([(credit, credit.start, credit.end)], answerable)
        if unsaid is not None:
            # The piece the question is about does not say (who wrote it, where or when it ran):
            # the nearest sentence with "wrote" or "published" in it would answer another question.
            return Composed(unsaid, True, [], answerable)
        if not ranked or answerable < threshold:
            return Composed(REFUSAL, True, [], answerable)
        if not asks_about_document(question):
            ranked = _headed(ranked)
        best = ranked[0]
        listing = is_list_question(question)
        wide = listing or is_explanatory(question)
        limit = self.max_answer_sentences if wide else 2
        floor = (ratio_wide if wide else ratio) * best.score
        chosen = [best]
        for cand in ranked[1:]:
            if len(chosen) >= limit or cand.score < floor:
                break
            if any(_same(cand, c) for c in chosen) or _announces(cand):
                continue
            # A headline is another outlet's claim in a list of them: it answers as the lead or
            # as an item of a list, and as a supporting sentence it was off the point (held-out
            # dev, ratios as fitted before: precision 0.8401 -> 0.8427, facts 0.8389 as before).
            if cand.unit.kind == "headline" and not listing:
                continue
            if listing and any(c.unit.unit_id == cand.unit.unit_id for c in chosen):
                continue
            chosen.append(cand)
        if is_explanatory(question):
            chosen[1:] = sorted(chosen[1:], key=lambda c: -c.features[_ATTRIBUTED])
        terms = set(keywords(question))
        lead, *rest = [self._span(c, terms) for c in chosen]
        return self._render([*_with_sequel(lead), *rest], answerable)

    @staticmethod
    def _credit(question: str, ranked: list[Candidate]) -> tuple[str | None, Candidate | None]:
        """For "who wrote ...?" and "where did ... first run?": the byline or credit line of the
        document the question describes (for "which outlet published the ... piece?" and "when
        was it published?", else its title, shown with the outlet and date of its metadata),
        which rarely shares a word with the question, so that the scorer cannot find it (the
        issue: a question about a document is answered from its metadata and the unit that
        states it).

        The document is the one retrieval ranked first for the question's subject; it counts as
        described only when at least ``TOPIC_SHARE`` of the question's subject words occur in
        its retrieved units (otherwise the usual scorer and refusal decide). Returns the refusal
        to give when a piece was described whose byline, credit or metadata had to answer and
        none does, else None; and the unit that answers, if one does. "Who wrote the piece?"
        about a piece with no byline (a republication credit names an outlet, not a writer) is
        so refused rather than answered with the nearest sentence that says "wrote" (the seeds'
        Washington Post analysis names no author, and "Who wrote the Washington Post piece?"
        was answered with an analyst who "wrote" elsewhere).
        """
        piece = asks_about_piece(question)
        if not (piece or asks_about_authorship(question)):
            return None, None
        content = sorted((c for c in ranked if not c.unit.describes_document),
                         key=lambda c: c.evidence.rank)  # fmt: skip
        if not content:
            return None, None
        doc_id = content[0].unit.doc_id
        topic = [t for t in keywords(question) if t not in _DOCUMENT_WORDS]
        units = {c.unit.unit_id: c.unit for c in ranked if c.unit.doc_id == doc_id}
        found = set().union(*(unit_keywords(u, u.text) for u in units.values()))
        if sum(same_family(t, found) for t in topic) < TOPIC_SHARE * len(topic):
            return None, None
        # A bare "By NAME" says who, and nothing else about the author ("where does the author
        # teach?" needs a bio line; "where did the author order her animals from?", the text).
        who = asks_who(question)
        credits = [
            c for c in ranked
            if c.unit.doc_id == doc_id and c.unit.kind == "paragraph" and credits_document(c.text)
            and (who or not BARE_BYLINE.match(c.text))
        ]  # fmt: skip
        if piece == "author" and who:
            credits = [c for c in credits if BYLINE.match(c.text)]
        elif piece in ("outlet", "date"):
            # Where or when a piece ran: a credit line says where it first ran; otherwise the
            # document's own metadata, quoted with its title. With neither it is refused: asked
            # "Which outlet published the WorldView analysis?" (no title line to quote), the
            # scorer had answered with a sentence that names the Wall Street Journal.
            lines = [c for c in credits if CREDIT.search(c.text)] if piece == "outlet" else []
            title = next(
                (c for c in ranked if c.unit.doc_id == doc_id and c.unit.kind == "title"
                 and (c.unit.outlet if piece == "outlet" else c.unit.date)),
                None,
            )  # fmt: skip
            ran = min(lines, key=lambda c: (c.evidence.rank, c.index)) if lines else title
            return (REFUSAL if ran is None else None), ran
        if not credits:
            return (NO_AUTHOR if piece == "author" and who else None), None
        # A byline answers "who wrote it?", a republication credit "where did it first run?".
        wants = CREDIT.search if asks_where_it_ran(question) else BYLINE.match
        return None, min(credits, key=lambda c: (not wants(c.text), c.evidence.rank, c.index))

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
        if cand.index > 0 and dangling(cand.text):
            start = spans[cand.index - 1].start
        if cand.index + 1 < len(spans):
            following = spans[cand.index + 1]
            novel = [t for t in keywords(cand.text) if t not in question_terms]
            restates = len(novel) < 4 or cand.features[_COVERAGE_SENTENCE] >= 0.7
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
            if unit.kind in ("headline", "title"):
                label, by = unit.kind.capitalize(), unit.published
                sentences.append(
                    f"{label}: \u201c{unit.text}\u201d ({by}). [{n}]"
                    if by
                    else f"{label}: \u201c{unit.text}\u201d. [{n}]"
                )
            else:
                sentences.append(f"{quote} [{n}]")
            previous = citations.get(unit.unit_id)
            citations[unit.unit_id] = Citation.of(
                unit,
                n,
                max(cand.score, previous.score if previous else 0.0),
                (previous.quotes if previous else ()) + (quote,),
            )
        return Composed(
            " ".join(sentences), False, sorted(citations.values(), key=lambda c: c.n), support
        )


def _announces(cand: Candidate) -> bool:
    """The sentence ends its paragraph with a colon, or is a subheading: it announces what comes
    next (a list, a statement, a section) and says nothing by itself."""
    return (
        cand.unit.kind == "paragraph"
        and cand.index == cand.sentence.count - 1
        and cand.unit.introduces(cand.text)
    )


def _with_sequel(span: tuple[Candidate, int, int]) -> Iterator[tuple[Candidate, int, int]]:
    """The answer's lead sentence, followed by what it introduces when it ``_announces`` (the
    list items or the paragraph after it, each cited as itself): "There are several common types
    of side channels:" or a subheading answers nothing by itself. Other sentences that announce
    are left out of an answer rather than completed (on dev, completing them cited paragraphs no
    question asked for: held-out citation precision 0.8401 -> 0.8389). With subheadings too,
    the held-out dev objective went 1.6784 -> 1.6790 (facts 0.8383 -> 0.8389); since a heading
    hands its rank to the paragraph it heads (``_headed``), a subheading leads only in answers
    to questions about a document, or where nothing but headings was found."""
    yield span
    cand, _, end = span
    if cand.unit.text[end:].strip() or not _announces(cand):
        return
    for unit in cand.evidence.following:
        whole = _introduced(cand, unit)
        yield whole, whole.start, whole.end


def _introduced(cand: Candidate, unit: Unit) -> Candidate:
    """``unit``, which ``cand`` introduces, as a candidate of its own: quoted whole (after its
    list marker) and cited as itself, with ``cand``'s evidence and score."""
    begin = item_start(unit.text)
    sentence = Sentence(unit, cand.evidence, begin, len(unit.text), unit.text[begin:], 0, 1)
    return Candidate(sentence, cand.score, cand.features)


def _open_quote(text: str) -> bool:
    straight = text.count('"')
    return straight % 2 == 1 or text.count("\u201c") > text.count("\u201d")


def _heading(cand: Candidate) -> bool:
    """A line that states nothing (``features``' ``fragment``, ``rag.text.is_heading``) and is
    not an item of a list (whose marker the sentence's text leaves out)."""
    return bool(cand.features[_FRAGMENT]) and not item_start(cand.unit.text)


def _headed(ranked: list[Candidate]) -> list[Candidate]:
    """``ranked`` with each heading replaced by the paragraph it heads, at the heading's rank,
    when that paragraph states something (not another heading, nor a list item); other headings
    left out. A subheading that matches the question points to its section ("Critics" for "What
    do critics say about the plan?"), but quoted, it says nothing itself."""
    out: list[Candidate] = []
    for cand in ranked:
        if not _heading(cand):
            out.append(cand)
            continue
        section = cand.evidence.following[:1]
        if not section or item_start(section[0].text) or section[0].is_heading():
            continue
        inside = next((c for c in ranked if c.unit.unit_id == section[0].unit_id), None)
        out.append(_introduced(cand, section[0]) if inside is None
                   else replace(inside, score=cand.score))  # fmt: skip
    return out or ranked


def _same(a: Candidate, b: Candidate) -> bool:
    if a.unit.unit_id != b.unit.unit_id:
        return False
    return (
        abs(a.index - b.index) <= 1 and (dangling(a.text) or dangling(b.text)) or a.index == b.index
    )


_QUALIFIER = re.compile(r"^(but|however|yet|still|though|although)\b", re.IGNORECASE)


__all__ = ["Answerer", "Candidate", "Composed", "ExtractiveAnswerer"]
