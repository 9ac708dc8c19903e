"""Fluent answers from a language model that cannot outrun their citations.

The extractive answerer still decides whether the articles answer the question at all (a small
model asked "is this answerable?" does no better than chance, and invents figures when it
tries). Only when they do is the model asked to write, from a short numbered list of the evidence
(prompt reading dominates latency on a CPU). Every sentence it writes then goes through
``rag.query.verify``: kept, re-cited to the source that supports it, or dropped. If nothing
survives, the extractive answer is returned. The quoted evidence is streamed first, so readers
have useful text within about a second while the model writes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from rag.index.chunking import Unit
from rag.query.answer import Candidate, Composed, ExtractiveAnswerer
from rag.query.injection import statements
from rag.query.llm import Generator
from rag.query.retrieval import Retrieval
from rag.query.verify import Sentence, verify
from rag.results import Citation, Event, final
from rag.text import keywords, split_sentences

SYSTEM = (
    "You answer questions about news articles using only the numbered sources given. "
    "Write one to three short sentences. End every sentence with the number of the source "
    "that states it, like [1]. Never add names, numbers or facts that are not in the sources."
)
MAX_SOURCES = 3
SENTENCES_PER_SOURCE = 2


class GenerativeAnswerer:
    """Wraps a ``Generator`` with evidence selection before and verification after."""

    def __init__(self, extractive: ExtractiveAnswerer, generator: Generator,
                 max_tokens: int = 160) -> None:  # fmt: skip
        self.extractive = extractive
        self.generator = generator
        self.max_tokens = max_tokens
        self.name = generator.name

    def compose(self, question: str, retrieval: Retrieval) -> Composed:
        return final(self.stream(question, retrieval))

    def stream(self, question: str, retrieval: Retrieval) -> Iterator[Event[Composed]]:
        ranked = self.extractive.candidates(question, retrieval)
        quoted = self.extractive.compose(question, retrieval, ranked)
        yield Event("evidence", quoted.text, quoted)
        if quoted.refused:
            yield Event("final", quoted.text, quoted)
            return
        sources = self._sources(retrieval, quoted, ranked)
        prompt = self._prompt(question, sources)
        pieces = []
        for piece in self.generator.stream(prompt, self.max_tokens):
            pieces.append(piece)
            yield Event("token", piece)
        generated = "".join(pieces)
        checked = verify(generated, {n: statements(unit.text) for n, unit in sources.items()})
        dropped = [f"{d.text} ({d.reason})" for d in checked.dropped]
        if not checked.kept:
            yield Event("final", quoted.text, _replace(quoted, dropped=dropped, generated=False))
            return
        yield Event("final", "", self._composed(checked.kept, sources, dropped, quoted.support))

    # -- prompt -------------------------------------------------------------------------------

    def _sources(self, retrieval: Retrieval, quoted: Composed, ranked: list[Candidate]
                 ) -> dict[int, Unit]:  # fmt: skip
        """The cited units first, then the next best-supported ones, numbered from 1."""
        units: list[Unit] = []
        by_id = {e.unit.unit_id: e.unit for e in retrieval.evidence}
        for citation in quoted.citations:
            if citation.unit_id in by_id and statements(by_id[citation.unit_id].text):
                units.append(by_id[citation.unit_id])
        for cand in ranked:
            if len(units) >= MAX_SOURCES:
                break
            fresh = cand.unit.unit_id not in {u.unit_id for u in units}
            if fresh and cand.coverage >= 0.3 and statements(cand.unit.text):
                units.append(cand.unit)
        return {n: unit for n, unit in enumerate(units[:MAX_SOURCES], 1)}

    def _prompt(self, question: str, sources: dict[int, Unit]) -> list[dict[str, str]]:
        terms = set(keywords(question))
        lines = []
        for n, unit in sources.items():
            lines.append(f"[{n}] {_excerpt(unit, terms)}")
        user = "Sources:\n" + "\n".join(lines) + f"\n\nQuestion: {question}\nAnswer:"
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    # -- result -------------------------------------------------------------------------------

    def _composed(self, kept: list[Sentence], sources: dict[int, Unit], dropped: list[str],
                  support: float) -> Composed:  # fmt: skip
        numbering: dict[int, int] = {}
        quotes: dict[int, list[str]] = {}
        sentences = []
        for sentence in kept:
            body = re.sub(r"\s*(\[\d+\]\s*)+$", "", sentence.text)
            for n in sentence.cites:
                numbering.setdefault(n, len(numbering) + 1)
                quotes.setdefault(n, []).append(_closest_sentence(sources[n], body))
            markers = " ".join(f"[{numbering[n]}]" for n in sentence.cites)
            sentences.append(f"{body} {markers}")
        citations = []
        for n, marker in sorted(numbering.items(), key=lambda kv: kv[1]):
            unit = sources[n]
            citations.append(Citation.of(unit, marker, support, quotes[n]))
        return Composed(" ".join(sentences), False, citations, support, dropped=dropped,
                        generated=True)  # fmt: skip


def _excerpt(unit: Unit, terms: set[str]) -> str:
    """A unit's most relevant sentences (all of a short unit), in reading order, without any that
    give orders to a model (``rag.query.injection``)."""
    text = statements(unit.text)
    if unit.kind != "paragraph":
        by = ", ".join(x for x in (unit.outlet, unit.date) if x)
        return f"{text} ({by})" if by else text
    spans = split_sentences(text)
    if len(spans) <= SENTENCES_PER_SOURCE:
        return text
    ranked = sorted(range(len(spans)), key=lambda i: -len(terms & set(keywords(spans[i].text))))
    keep = sorted(ranked[:SENTENCES_PER_SOURCE])
    return " ".join(spans[i].text for i in keep)


def _closest_sentence(unit: Unit, claim: str) -> str:
    """The sentence of ``unit`` sharing the most key terms with ``claim`` (for highlighting)."""
    if unit.kind != "paragraph":
        return unit.text
    terms = set(keywords(claim))
    spans = split_sentences(unit.text) or []
    if not spans:
        return unit.text
    return max(spans, key=lambda s: len(terms & set(keywords(s.text)))).text


def _replace(composed: Composed, dropped: list[str], generated: bool) -> Composed:
    return dataclasses.replace(composed, dropped=dropped, generated=generated)
