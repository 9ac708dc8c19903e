"""RagChain's behaviour on the fakes (hashing embedder, real embedded Chroma): fast.

Quality is not measured here (``evals/`` does that with the real model); these tests pin what
the chain promises whatever the model: answers carry markers that resolve, refusals carry no
sources, streams end with the answer ``ask`` returns, follow-ups and filters are honoured, bad
questions are refused with a message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.chain import RagChain
from rag.errors import QuestionError
from rag.index.chunking import Unit, UnitKind
from rag.index.embedding import Embedder
from rag.index.loading import Document
from rag.index.store import Filters
from rag.query.features import FEATURES
from rag.results import NO_AUTHOR, NOTHING_ASKED, REFUSAL

from .conftest import make_chain

MARKER = re.compile(r"\[(\d+)\]")


def test_answer_cites_the_unit_that_states_it(fake_chain: RagChain) -> None:
    answer = fake_chain.ask("Who is Alex Vatanka?")
    assert not answer.refused and "Middle East Institute" in answer.answer
    numbers = {int(n) for n in MARKER.findall(answer.answer)}
    assert numbers == {c.n for c in answer.citations}
    cited = answer.citation(min(numbers))
    assert cited.locator == "paragraph 11" and cited.source.endswith(".txt")
    for citation in answer.citations:
        assert citation.quotes and all(q in answer.answer for q in citation.quotes)


def test_question_with_no_support_is_refused_without_sources(
    fake_chain: RagChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fitted scorer reads MiniLM's similarities; the hashing embedder's are lower across the
    # board, so whether its probability for nonsense clears the fitted threshold says nothing.
    # This checks the chain's logic at a set threshold (RAG_ANSWER_THRESHOLD); the real model's
    # refusals are tested in tests/query/test_answer.py.
    monkeypatch.setattr(fake_chain.extractive, "_threshold", 0.6)
    answer = fake_chain.ask("Qwzx blorf snarfle quibbitz?")
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []


def test_a_question_with_nothing_to_look_for_is_refused_unless_the_conversation_says(
    fake_chain: RagChain,
) -> None:
    for question in ("What happened?", "the of and", "Why?"):
        answer = fake_chain.ask(question)
        assert answer.refused and answer.answer == NOTHING_ASKED and answer.citations == []
    history = [{"role": "user", "content": "Why did Qassem Suleimani visit Moscow?"}]
    follow = fake_chain.ask("Why?", history=history)
    assert follow.answer != NOTHING_ASKED and "Suleimani" in follow.standalone_question


def test_stream_ends_with_the_answer_ask_gives(fake_chain: RagChain) -> None:
    events = list(fake_chain.stream("Who is Samuel Charap?"))
    assert [e.kind for e in events] == ["final"]
    streamed = events[-1].result
    asked = fake_chain.ask("Who is Samuel Charap?")
    assert streamed is not None and streamed.answer == asked.answer
    assert set(asked.timings_ms) == {"retrieve", "answer", "total"}


def test_follow_up_is_read_with_the_conversation(fake_chain: RagChain) -> None:
    first = fake_chain.ask("Who is Alex Vatanka?")
    history = [
        {"role": "user", "content": "Who is Alex Vatanka?"},
        {"role": "assistant", "content": first.answer},
    ]
    follow = fake_chain.ask("Where does he work?", history=history)
    assert "Vatanka" in follow.standalone_question
    # Whether the hashing embedder's vectors clear the refusal threshold says nothing about the
    # conversation; that the rewritten question finds his unit does (the real model's answer is
    # tests/query/test_answer.py::test_follow_up_uses_history).
    found = fake_chain.retrieve(follow.standalone_question).evidence[0].unit.text
    assert "Middle East Institute" in found


def test_date_filter_keeps_only_headlines_in_range(fake_chain: RagChain) -> None:
    retrieval = fake_chain.retrieve("Iran protests", filters=Filters(date_from="2026-01-02"))
    assert retrieval.evidence
    assert all(e.unit.kind == "headline" and (e.unit.date or "") >= "2026-01-02"
               for e in retrieval.evidence)  # fmt: skip


@pytest.mark.parametrize("question", ["", "   ", "x" * 5000])
def test_bad_questions_are_refused_with_a_message(fake_chain: RagChain, question: str) -> None:
    with pytest.raises(QuestionError):
        fake_chain.ask(question)


def _chain_over(tmp_path: Path, embedder: Embedder, files: dict[str, str]) -> RagChain:
    """A chain with ``files`` (name -> text) ingested from one folder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, "utf-8")
    chain = make_chain(tmp_path / "data", [docs], embedder)
    chain.ingest()
    return chain


def test_authorship_is_answered_from_the_described_documents_byline(
    tmp_path: Path, fake_embedder: Embedder
) -> None:
    """The byline shares no word with "who wrote ...?": retrieval brings the described
    document's byline and credit lines, and the answer quotes the byline; a question about a
    subject no document covers is still refused."""
    chain = _chain_over(tmp_path, fake_embedder, {
        "tariffs.txt": "Zanzibar raises clove tariffs\n\nThe island raised clove export tariffs "
        "by a third on Monday, traders said.\n\nExporters warned that buyers in India would "
        "turn elsewhere.\n\nAmina Juma is a senior reporter at the Coastal Ledger.\n",
        "rail.txt": "A new railway for the north\n\nThe northern railway opened its first 40 "
        "kilometres of track this week.\n\nThis article is republished from The Northern "
        "Review.\n",
    })  # fmt: skip
    answer = chain.ask("Who wrote the piece about the Zanzibar clove tariffs?")
    assert answer.answer == "Amina Juma is a senior reporter at the Coastal Ledger. [1]"
    assert answer.citations[0].source.endswith("tariffs.txt")
    credit = chain.ask("Where was the article about the northern railway originally published?")
    assert "The Northern Review" in credit.answer and not credit.refused
    assert chain.ask("Who wrote the article about the Mars rover landing?").refused
    # The railway piece names the outlet it first ran in, not its writer: nothing says who wrote
    # it, and the answer says so instead of quoting the credit or a sentence with "wrote".
    unsigned = chain.ask("Who wrote the article about the northern railway?")
    assert unsigned.refused and unsigned.answer == NO_AUTHOR and not unsigned.citations


def test_a_byline_from_metadata_answers_who_wrote_it_and_nothing_else(
    tmp_path: Path, fake_embedder: Embedder
) -> None:
    """An author known only from metadata is quoted for "who wrote ...?"; a question about
    where a piece first ran gets the republication credit even when the author's note ranks
    higher; a question about what the author did is never answered with a bare name."""
    chain = _chain_over(tmp_path, fake_embedder, {
        "quake.txt": "Quake shakes the northern coast\n\nA strong earthquake shook the northern "
        "coast on Friday, and the harbour wall cracked.\n\nThe author moved to the harbour town "
        "in 2004 and has covered its fishing fleet since.\n\nThis article is republished from "
        "The Harbour Times.\n",
        "quake.meta.toml": 'author = "Lena Park"\n',
        "flood.txt": "The river floods the valley\n\nThe river rose two metres overnight and "
        "flooded the valley farms.\n\nOmar Diaz is a staff writer at the Valley Courier.\n\n"
        "This article is republished from The Valley Post.\n",
    })  # fmt: skip
    who = chain.ask("Who wrote the article about the earthquake on the northern coast?")
    assert who.answer == "By Lena Park [1]"
    where = chain.ask("Where did Omar Diaz's piece on the river flood first appear?")
    assert where.answer == "This article is republished from The Valley Post. [1]"
    moved = chain.ask("In what year did the author of the earthquake article move to the town?")
    assert "By Lena Park" not in moved.answer


def test_where_and_when_a_piece_ran_come_from_its_credit_or_its_metadata(
    tmp_path: Path, fake_embedder: Embedder
) -> None:
    """ "Which outlet published the ... article?" and "When was it published?" are answered from
    a credit line, else from the outlet and date the metadata gives, quoted with the title the
    citation points to; a piece that says neither is refused, not answered from its text."""
    chain = _chain_over(tmp_path, fake_embedder, {
        "harbour.txt": "Harbour expansion approved\n\nThe city council approved a 40 million "
        "euro harbour expansion on Tuesday.\n\nWork will start in spring.\n",
        "harbour.meta.toml": 'title = "Harbour expansion approved"\noutlet = "Bergen Daily"\n'
        'date = "2025-03-14"\n',
        "rail.txt": "A new railway for the north\n\nThe northern railway opened its first 40 "
        "kilometres of track this week.\n\nThis article is republished from The Northern "
        "Review.\n",
        "rain.txt": "Rain records broken\n\nRainfall in March reached 120 mm in Bergen, a "
        "record the Bergen Daily published.\n",
    })  # fmt: skip
    shown = "Title: \u201cHarbour expansion approved\u201d (Bergen Daily, Mar 14, 2025). [1]"
    for question in (
        "Which outlet published the harbour expansion article?",
        "When was the harbour expansion article published?",
    ):
        answer = chain.ask(question)
        assert answer.answer == shown, question
        assert answer.citations[0].locator == "title"
    credit = chain.ask("Which newspaper published the article about the northern railway?")
    assert credit.answer == "This article is republished from The Northern Review. [1]"
    for question in (
        "Which newspaper published the article about rain records?",
        "When was the article about rain records published?",
    ):
        assert chain.ask(question).answer == REFUSAL, question
    assert "spring" in chain.ask("When will work on the harbour expansion start?").answer


def test_units_that_describe_their_document() -> None:
    def unit(text: str, kind: UnitKind = "paragraph") -> Unit:
        return Unit("u", "d", "a.txt", "T", kind, 1, 1, text)

    assert unit("Lee Smith is a senior editor at The Weekly Standard.").describes_document
    assert unit("By Jane Doe").describes_document
    assert unit("This article is republished from The Conversation.").describes_document
    assert unit("A title", "title").describes_document
    assert not unit("Smith said the talks failed.").describes_document
    assert not unit("Iran protests spread", "headline").describes_document


def test_reingest_parses_only_files_whose_bytes_changed(
    corpus: Path, tmp_path: Path, fake_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unchanged file is recognised by the hash of its bytes before it is decoded or parsed
    (at 100k units that was most of the cost of adding one file)."""
    import rag.index.ingest as ingest_module

    chain = make_chain(tmp_path / "data", [corpus], fake_embedder)
    chain.ingest()
    parsed: list[str] = []
    real = ingest_module.load_document

    def counting(path: Path) -> Document:
        parsed.append(path.name)
        return real(path)

    monkeypatch.setattr(ingest_module, "load_document", counting)
    assert chain.ingest().summary() == "2 files: 2 unchanged"
    assert parsed == []
    target = sorted(corpus.glob("*.txt"))[0]
    target.with_name(target.stem + ".meta.toml").write_text('outlet = "Reuters"\n')
    report = chain.ingest()
    assert report.summary() == "2 files: 1 changed, 1 unchanged"
    assert parsed == [target.name]


def test_unmatched_of_the_best_candidate_is_what_the_fit_learned_from(fake_chain: RagChain) -> None:
    """An answer computes ``unmatched`` for its best candidate only; the value must be the one
    ``evals.fit`` computed for every sentence, or the question stage reads a different feature
    from the one it was fitted on."""
    at = FEATURES.index("unmatched")
    answerer = fake_chain.extractive
    seen = 0
    for question in ("Which university did Lee Smith attend?", "Who is Samuel Charap?",
                     "What did Alex Vatanka say about Russian weapons sales?"):  # fmt: skip
        retrieval = fake_chain.retrieve(question)
        best = answerer.candidates(question, retrieval)[0]
        sentences, rows = answerer.featurize(question, retrieval)
        full = {(s.unit.unit_id, s.index): row[at] for s, row in zip(sentences, rows, strict=True)}
        assert best.features[at] == pytest.approx(full[(best.unit.unit_id, best.index)], abs=1e-6)
        seen += best.features[at] > 0
    assert seen  # the check above compared a feature that was there, not zeros


def test_the_question_without_names_is_embedded_with_the_question(
    fake_chain: RagChain, fake_embedder: Embedder
) -> None:
    """The answerer's ``dense_predicate`` reads the question without its names; the retriever
    embeds it in the same batch as the question, so the answerer need not embed it again."""
    question = "Which university did Lee Smith attend?"
    retrieval = fake_chain.retrieve(question)
    assert list(retrieval.also) == ["Which university did attend?"]
    assert retrieval.also["Which university did attend?"] == pytest.approx(
        fake_embedder.embed(["Which university did attend?"])[0]
    )
    assert fake_chain.retrieve("what is it").also == {}  # nobody named: nothing more to embed


def test_document_titles_are_what_the_index_holds(tmp_path: Path, fake_embedder: Embedder) -> None:
    """The chat's document choices: every indexed document's title once, a file ingested from
    outside the configured corpus included, a deleted one gone after the next ingest."""
    chain = _chain_over(tmp_path, fake_embedder, {
        "quake.txt": "Quake shakes the northern coast\n\nA strong earthquake shook the coast.\n",
        "flood.txt": "The river floods the valley\n\nThe river rose two metres overnight.\n",
    })  # fmt: skip
    assert chain.document_titles() == [
        "Quake shakes the northern coast",
        "The river floods the valley",
    ]
    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text("# Storm closes the port\n\nThe port closed for two days.\n", "utf-8")
    chain.ingest([elsewhere])
    assert "Storm closes the port" in chain.document_titles()
    (tmp_path / "docs" / "flood.txt").unlink()
    chain.ingest()
    assert "The river floods the valley" not in chain.document_titles()
