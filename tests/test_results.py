"""The one event type of every answer stream, and the helper that drains a stream."""

from __future__ import annotations

import pytest

from rag.errors import RagError
from rag.results import Event, final


def test_final_returns_the_last_final_result() -> None:
    events = [Event("evidence", "quoted"), Event("token", "a"), Event("final", "", 42)]
    assert final(iter(events)) == 42


def test_a_stream_without_a_final_event_is_a_reported_bug_not_none() -> None:
    with pytest.raises(RagError, match="without a final answer"):
        final(iter([Event("token", "a")]))
    with pytest.raises(RagError):
        final(iter([]))


def test_answer_sentences_keep_their_markers() -> None:
    from rag.results import Answer

    answer = Answer("q", "First claim. [1] Second one [2] [3] Third. [1]", refused=False)
    assert answer.sentences == ["First claim. [1]", "Second one [2] [3]", "Third. [1]"]


def test_citation_of_a_unit_keeps_its_place_and_each_quote_once() -> None:
    from rag.index.chunking import Unit
    from rag.results import Citation

    unit = Unit("u1", "d1", "seeds/a.txt", "A title", "headline", 3, 3, "Iran protests spread",
                outlet="Reuters", date="2026-01-06")  # fmt: skip
    citation = Citation.of(unit, 2, 0.8, ["Iran protests spread", "Iran protests spread"])
    assert (citation.n, citation.locator, citation.outlet) == (2, unit.locator, "Reuters")
    assert citation.quotes == ("Iran protests spread",)
