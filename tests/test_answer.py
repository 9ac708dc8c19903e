"""The answer contract: every sentence cites a unit that contains it; refusals cite nothing."""

import re

import pytest

from rag.results import Answer

pytestmark = pytest.mark.slow

EXAMPLE = "Why do analysts doubt a Russia-Iran split?"


def assert_grounded(answer: Answer) -> None:
    """Each [n] resolves, each cited quote is verbatim in its unit, and every sentence cites."""
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}
    for citation in answer.citations:
        assert citation.quotes
        for quote in citation.quotes:
            assert quote in citation.text or citation.kind == "headline"
    for piece in re.split(r"(?<=\])\s+", answer.answer.strip()):
        assert re.search(r"\[\d+\]$", piece), piece


def test_example_question_cites_both_documents(seed_chain) -> None:  # type: ignore[no-untyped-def]
    answer = seed_chain.ask(EXAMPLE)
    assert not answer.refused
    assert_grounded(answer)
    assert len({c.source for c in answer.citations}) == 2
    assert 1 <= len(answer.citations) <= 4
    assert set(answer.timings_ms) == {"retrieve", "answer", "total"}


@pytest.mark.parametrize(
    "question", ["What is the population of Tehran?", "Who won the 2024 Super Bowl?"]
)
def test_out_of_corpus_questions_are_refused(seed_chain, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_chain.ask(question)
    assert answer.refused
    assert answer.citations == []
    assert "don't cover" in answer.answer


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is Alex Vatanka?", "Middle East Institute"),
        ("How many people were killed in Iran's protests according to The Jerusalem Post?", "29"),
        ("Which naval base should the United States not concede to Putin?", "Tartus"),
    ],
)
def test_factoid_answers_quote_the_fact(seed_chain, question: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = seed_chain.ask(question)
    assert not answer.refused
    assert expected in answer.answer
    assert_grounded(answer)


def test_headline_answers_name_outlet_and_date(seed_chain) -> None:  # type: ignore[no-untyped-def]
    answer = seed_chain.ask("How many satellites did Iran say it launched into space from Russia?")
    assert "Bloomberg.com" in answer.answer and "Dec 29, 2025" in answer.answer
    assert answer.citations[0].locator.startswith("headline ")


def test_follow_up_uses_history(seed_chain) -> None:  # type: ignore[no-untyped-def]
    first = seed_chain.ask("Who is Alex Vatanka?")
    history = [
        {"role": "user", "content": "Who is Alex Vatanka?"},
        {"role": "assistant", "content": first.answer},
    ]
    answer = seed_chain.ask("Where does he work?", history=history)
    assert answer.standalone_question == "Where does Alex Vatanka work?"
    assert "Middle East Institute" in answer.answer


def test_to_dict_schema(seed_chain) -> None:  # type: ignore[no-untyped-def]
    data = seed_chain.ask("Who is Lee Smith?").to_dict()
    assert set(data) == {"question", "answer", "refused", "citations", "timings_ms"}
    assert set(data["citations"][0]) == {
        "n",
        "unit_id",
        "title",
        "source",
        "locator",
        "text",
        "score",
    }
