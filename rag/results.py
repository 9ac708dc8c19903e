"""What a question returns: an ``Answer`` whose ``[n]`` markers resolve to ``Citation`` objects.

``Answer.to_dict()`` is the JSON contract of ``rag ask --json`` and of ``POST /api/ask``.

    >>> answer = chain.ask("Who is Alex Vatanka?")  # doctest: +SKIP
    >>> answer.citations[0].locator  # doctest: +SKIP
    'paragraph 11'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from rag.errors import RagError
from rag.index.chunking import Unit

_AFTER_MARKERS = re.compile(r"(?<=\])\s+(?!\[)")

REFUSAL = "The articles don't cover this question: nothing in them answers it."
#: The answer to "who wrote the piece?" when the piece the question describes names no author.
NO_AUTHOR = (
    "The articles don't say who wrote it: the piece this question is about has no byline or "
    "author line."
)
#: The answer to a question with no word to look for ("What happened?" with nothing before it).
NOTHING_ASKED = (
    "The question names nothing to look for; ask about a person, place, event or claim in the "
    "articles."
)


@dataclass(frozen=True)
class Citation:
    """The unit behind marker ``[n]``; ``text`` is the unit's original text, ``quote`` the part
    of it the answer relies on (for highlighting)."""

    n: int
    unit_id: str
    title: str
    source: str
    locator: str
    text: str
    score: float
    kind: str = "paragraph"
    outlet: str | None = None
    date: str | None = None
    quotes: tuple[str, ...] = ()

    @classmethod
    def of(cls, unit: Unit, n: int, score: float, quotes: Iterable[str] = ()) -> Citation:
        """Marker ``[n]``'s citation of ``unit``: every answerer builds its citations here."""
        return cls(
            n=n, unit_id=unit.unit_id, title=unit.title, source=unit.source,
            locator=unit.locator, text=unit.text, score=score, kind=unit.kind,
            outlet=unit.outlet, date=unit.date, quotes=tuple(dict.fromkeys(quotes)),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "unit_id": self.unit_id,
            "title": self.title,
            "source": self.source,
            "locator": self.locator,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass
class Answer:
    """An answer whose every sentence ends with ``[n]`` markers, or a refusal with no citations."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""
    answerer: str = "extractive"
    dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``rag ask --json``, ``POST /api/ask``); see ``details()`` for more."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }

    def details(self) -> dict[str, Any]:
        """Extras beyond the contract: the standalone question, the answerer, and the generated
        sentences the verifier dropped (with reasons)."""
        return {
            "standalone_question": self.standalone_question,
            "answerer": self.answerer,
            "dropped": list(self.dropped),
        }

    @property
    def sentences(self) -> list[str]:
        """The answer's sentences, each with the ``[n]`` markers that end it (a refusal is one)."""
        return [s for s in _AFTER_MARKERS.split(self.answer) if s]

    def citation(self, n: int) -> Citation:
        return next(c for c in self.citations if c.n == n)


T = TypeVar("T")
EventKind = Literal["evidence", "token", "final"]


@dataclass(frozen=True)
class Event(Generic[T]):
    """One step of a streamed answer, the same for every answerer and for ``RagChain.stream``:
    ``evidence`` (the quoted answer, at once, before a generated one) and ``token`` (generated
    text as it comes) carry ``text``; the last, ``final``, carries the ``result`` (an ``Answer``
    from the chain, an answerer's ``Composed`` from an answerer)."""

    kind: EventKind
    text: str = ""
    result: T | None = None


def final(events: Iterable[Event[T]]) -> T:
    """Drain a stream to its ``final`` event's result."""
    result: T | None = None
    for event in events:
        if event.kind == "final":
            result = event.result
    if result is None:
        raise RagError("the answer stream ended without a final answer; please report this bug")
    return result
