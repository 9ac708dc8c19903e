"""The generative answerer's contract, on the fakes (a fixed-reply generator for llama.cpp, the
hashing embedder for MiniLM): fast. The real backends are exercised in test_llm.py, the real
answerer's quality in evals/test_generative.py."""

from __future__ import annotations

from rag.query.generative import GenerativeAnswerer

from ..fakes import FakeGenerator


def _answerer(fake_chain, reply: str) -> tuple[GenerativeAnswerer, FakeGenerator]:
    extractive = fake_chain.extractive
    fake = FakeGenerator(reply)
    return GenerativeAnswerer(extractive, fake), fake


def test_streams_evidence_first_then_tokens_then_verified_answer(fake_chain) -> None:
    answerer, fake = _answerer(
        fake_chain, "Alex Vatanka is an Iran expert at the Middle East Institute [1]."
    )
    retrieval = fake_chain.retrieve("Who is Alex Vatanka?")
    events = list(answerer.stream("Who is Alex Vatanka?", retrieval))
    kinds = [e.kind for e in events]
    assert kinds[0] == "evidence" and "Vatanka" in events[0].text
    assert kinds[-1] == "final" and set(kinds[1:-1]) == {"token"}
    final = events[-1].result
    assert final is not None and final.generated
    assert final.text == "Alex Vatanka is an Iran expert at the Middle East Institute. [1]"
    assert final.citations[0].locator == "paragraph 11"
    prompt = fake.prompts[0][1]["content"]
    assert "[1]" in prompt and "Question: Who is Alex Vatanka?" in prompt
    assert len(prompt) < 3000  # a small prompt: prompt reading dominates CPU latency


def test_invented_claims_are_dropped_and_recorded(fake_chain) -> None:
    answerer, _ = _answerer(
        fake_chain,
        "Alex Vatanka is an Iran expert at the Middle East Institute [1]. "
        "He has advised 14 governments [1].",
    )
    composed = answerer.compose("Who is Alex Vatanka?", fake_chain.retrieve("Who is Alex Vatanka?"))
    assert "14" not in composed.text
    assert len(composed.dropped) == 1 and "number 14" in composed.dropped[0]


def test_nothing_verified_falls_back_to_the_quoted_answer(fake_chain) -> None:
    answerer, _ = _answerer(fake_chain, "He was born in 1970 in Tabriz [1].")
    question = "Who is Alex Vatanka?"
    composed = answerer.compose(question, fake_chain.retrieve(question))
    extractive = fake_chain.extractive.compose(question, fake_chain.retrieve(question))
    assert composed.text == extractive.text and not composed.generated
    assert composed.dropped


def test_unanswerable_questions_never_reach_the_model(fake_chain) -> None:
    answerer, fake = _answerer(fake_chain, "Tehran has 9 million people [1].")
    question = "What is the population of Tehran?"
    composed = answerer.compose(question, fake_chain.retrieve(question))
    assert composed.refused and composed.citations == []
    assert fake.prompts == []


def test_chain_stream_and_ask_with_a_fake_backend(fake_chain) -> None:
    answerer, _ = _answerer(fake_chain, "Lee Smith is a senior editor at The Weekly Standard [1].")
    fake_chain._answerers["fake"] = answerer
    events = list(fake_chain.stream("Who is Lee Smith?", answerer="fake"))
    assert events[0].kind == "evidence" and events[-1].kind == "final"
    answer = events[-1].result
    assert answer.answerer == "fake" and answer.answer.endswith("[1]")
    assert set(answer.to_dict()) == {"question", "answer", "refused", "citations", "timings_ms"}
    assert answer.details()["dropped"] == []
