"""Which vector each candidate sentence is scored with (``ExtractiveAnswerer._sentence_vectors``):
a sentence of a paragraph is read in its paragraph's pass, anything else alone, each once."""

from __future__ import annotations

from rag.index.chunking import Unit
from rag.query.answer import ExtractiveAnswerer
from rag.query.features import Sentence, sentences_of
from rag.query.retrieval import Evidence

from ..fakes import HashingEmbedder, RecordingEmbedder

MARK = "in context: "


def _sentences(*units: Unit) -> list[Sentence]:
    return sentences_of([Evidence(u, 0.5, 0.5, 0.5, i + 1) for i, u in enumerate(units)])


def _unit(uid: str, kind: str, text: str) -> Unit:
    return Unit(uid, "d", "a.txt", "T", kind, 1, 1, text)  # type: ignore[arg-type]


PARAGRAPH = _unit("p1", "paragraph", "The agency approved it. It said the risk was low.")
SHORT = _unit("p2", "paragraph", "One sentence only here.")
HEADLINE = _unit("h1", "headline", "Agency approves harbour plan")
LONG = _unit("p3", "paragraph", " ".join(["Word word word word word."] * 60))


def test_a_paragraphs_sentences_are_read_in_it_and_others_alone() -> None:
    embedder = RecordingEmbedder(MARK)
    answerer = ExtractiveAnswerer(embedder, max_answer_sentences=4)
    sentences = _sentences(PARAGRAPH, SHORT, HEADLINE, LONG)
    vectors = answerer._sentence_vectors(sentences)
    plain = HashingEmbedder()
    for sentence, vector in zip(sentences, vectors, strict=True):
        pooled = sentence.unit is PARAGRAPH
        text = MARK + sentence.text if pooled else sentence.text
        assert vector == plain.embed([text])[0], sentence.text
    assert embedder.passes == [PARAGRAPH.text]  # LONG does not fit one pass (256 pieces)


def test_each_vector_is_computed_once() -> None:
    embedder = RecordingEmbedder(MARK)
    answerer = ExtractiveAnswerer(embedder, max_answer_sentences=4)
    sentences = _sentences(PARAGRAPH, HEADLINE)
    first = answerer._sentence_vectors(sentences)
    work = (list(embedder.passes), list(embedder.alone))
    assert answerer._sentence_vectors(list(reversed(sentences))) == list(reversed(first))
    assert (embedder.passes, embedder.alone) == work
