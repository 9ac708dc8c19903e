"""How the extractive answerer turns scored candidates into an answer: no model, no index."""

from __future__ import annotations

from rag.config import Settings
from rag.index.chunking import Unit
from rag.query.answer import Candidate, ExtractiveAnswerer
from rag.query.features import FEATURES, Sentence
from rag.query.retrieval import Evidence
from rag.results import REFUSAL


def _candidate(
    uid: str,
    text: str,
    score: float,
    index: int = 0,
    source: str = "a.txt",
    attributed: bool = False,
    fragment: bool = False,
) -> Candidate:
    unit = Unit(uid, "d-" + source, source, "T", "paragraph", 1, 1, text)
    sentence = Sentence(unit, Evidence(unit, 0.5, 0.5, 0.5, 1), 0, len(text), text, index, 1)
    features = [0.0] * len(FEATURES)
    features[FEATURES.index("attributed")] = float(attributed)
    features[FEATURES.index("fragment")] = float(fragment)
    return Candidate(sentence, score, tuple(features))


def _answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(
        embedder=None,  # type: ignore[arg-type]
        max_answer_sentences=Settings.load().answer.max_answer_sentences,
    )


def test_below_the_threshold_is_a_refusal_with_no_citations() -> None:
    ranked = [_candidate("u1", "Alex Vatanka works at the Middle East Institute.", 0.9)]
    composed = _answerer().select("Who is Alex Vatanka?", ranked, 0.2, 0.5, 0.6, 0.4)
    assert composed.refused and composed.text == REFUSAL and composed.citations == []


def test_factoid_takes_the_best_and_those_close_to_it_at_most_two() -> None:
    ranked = [
        _candidate("u1", "Vatanka is an Iran expert at the Middle East Institute.", 0.9),
        _candidate("u2", "He spoke in Washington on Monday about the talks.", 0.6),
        _candidate("u3", "The institute was mentioned again later in the article.", 0.58),
        _candidate("u4", "Nothing here is about him at all, really.", 0.1),
    ]
    composed = _answerer().select("Who is Alex Vatanka?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert not composed.refused
    assert [c.unit_id for c in composed.citations] == ["u1", "u2"]
    assert composed.text.endswith("[2]") and "[1]" in composed.text


def test_list_questions_take_one_sentence_per_unit_with_the_wide_ratio() -> None:
    ranked = [
        _candidate("u1", "Samuel Charap, a Russia analyst, spoke first.", 0.8, source="a.txt"),
        _candidate("u1", "Charap added a second remark here.", 0.7, index=1, source="a.txt"),
        _candidate("u2", "Anna Borshchevskaya wrote about the wedge.", 0.4, source="b.txt"),
        _candidate("u3", "Alex Vatanka said it would go nowhere.", 0.35, source="c.txt"),
    ]
    composed = _answerer().select(
        "Which analysts are quoted in the articles?", ranked, 0.8, 0.5, 0.9, 0.4
    )
    assert [c.unit_id for c in composed.citations] == ["u1", "u2", "u3"]


def test_rank_orders_by_probability_then_retrieval_rank() -> None:
    a = _candidate("u1", "First.", 0.0).sentence
    b = _candidate("u2", "Second.", 0.0).sentence
    ranked = ExtractiveAnswerer.rank(
        [a, b], [[0.1] * len(FEATURES), [0.2] * len(FEATURES)], [0.3, 0.7]
    )
    assert [c.unit.unit_id for c in ranked] == ["u2", "u1"]
    assert [c.score for c in ranked] == [0.7, 0.3]


def test_why_answers_keep_the_best_sentence_first_then_the_analysts_words() -> None:
    ranked = [
        _candidate("u1", "Their alliance is strategic in the most fundamental way.", 0.6),
        _candidate("u2", "The White House floated a plan to split the two allies.", 0.5),
        _candidate("u3", "'It will go nowhere,' said Alex Vatanka.", 0.4, attributed=True),
    ]
    composed = _answerer().select("Why do analysts doubt a split?", ranked, 0.8, 0.5, 0.9, 0.4)
    assert [c.unit_id for c in composed.citations] == ["u1", "u3", "u2"]
    assert composed.text.startswith("Their alliance is strategic")
    factoid = _answerer().select("Who floated a plan?", ranked, 0.8, 0.5, 0.8, 0.4)
    assert [c.unit_id for c in factoid.citations] == ["u1", "u2"]


def test_a_quote_ending_in_a_colon_brings_what_it_introduces() -> None:
    """The list items a colon introduces are quoted after it, each cited as itself and without
    its marker. (The sentence splitter never ends a sentence at a colon inside a paragraph.)"""
    items = [
        Unit(f"i{n}", "d-a.md", "a.md", "T", "paragraph", n + 2, n + 2, f"- {text}")
        for n, text in enumerate(["A timing attack measures time.", "A power attack reads power."])
    ]
    intro = Unit("u1", "d-a.md", "a.md", "T", "paragraph", 1, 1, "There are several kinds:")
    evidence = Evidence(intro, 0.5, 0.5, 0.5, 1, following=tuple(items))
    sentence = Sentence(intro, evidence, 0, len(intro.text), intro.text, 0, 1)
    ranked = [Candidate(sentence, 0.9, (0.0,) * len(FEATURES))]
    composed = _answerer().select("What kinds are there?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert composed.text == (
        "There are several kinds: [1] A timing attack measures time. [2] "
        "A power attack reads power. [3]"
    )
    assert [c.unit_id for c in composed.citations] == ["u1", "i0", "i1"]
    assert composed.citations[1].quotes == ("A timing attack measures time.",)


def test_a_colon_that_does_not_end_the_quote_introduces_nothing() -> None:
    intro = Unit("u1", "d-a.md", "a.md", "T", "paragraph", 1, 1, "Kinds: timing and power.")
    after = Unit("u2", "d-a.md", "a.md", "T", "paragraph", 2, 2, "Unrelated next paragraph.")
    evidence = Evidence(intro, 0.5, 0.5, 0.5, 1, following=(after,))
    sentence = Sentence(intro, evidence, 0, len(intro.text), intro.text, 0, 1)
    ranked = [Candidate(sentence, 0.9, (0.0,) * len(FEATURES))]
    composed = _answerer().select("What kinds are there?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert [c.unit_id for c in composed.citations] == ["u1"]


def test_a_sentence_that_only_announces_is_left_out_unless_it_leads() -> None:
    ranked = [
        _candidate("u1", "The directive protects hosting sites from liability.", 0.9),
        _candidate("u2", "In its finding, the court set rules for compliance:", 0.8),
    ]
    composed = _answerer().select("Which law protects hosts?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert [c.unit_id for c in composed.citations] == ["u1"]


def _subheading() -> Candidate:
    head = Unit("u1", "d-a.md", "a.md", "T", "paragraph", 1, 1, "Beyond the initial scope")
    body = Unit("u2", "d-a.md", "a.md", "T", "paragraph", 2, 2, "It leaves out outside agents.")
    evidence = Evidence(head, 0.5, 0.5, 0.5, 1, following=(body,))
    sentence = Sentence(head, evidence, 0, len(head.text), head.text, 0, 1)
    features = [0.0] * len(FEATURES)
    features[FEATURES.index("fragment")] = 1.0
    return Candidate(sentence, 0.9, tuple(features))


def test_a_subheading_hands_its_rank_to_the_paragraph_it_heads() -> None:
    """A line that states nothing is not quoted for a question about the content; a subheading
    points to its section, so the paragraph it heads is quoted at its rank, cited as itself."""
    ranked = [_subheading(), _candidate("u3", "The paper leaves out agents from outside.", 0.5)]
    composed = _answerer().select("What does it leave out?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert composed.text == "It leaves out outside agents. [1]"
    assert [c.unit_id for c in composed.citations] == ["u2"]


def test_a_line_that_heads_nothing_is_left_out() -> None:
    """An author box line or a caption (no paragraph of its own after it, or only another such
    line) is not quoted; the best statement answers."""
    box = _candidate("u1", "Roger J. Kreuz, University of Memphis", 0.9, fragment=True)
    ranked = [box, _candidate("u3", "Most of the researchers were from Penn State.", 0.5)]
    composed = _answerer().select(
        "Which university were the researchers from?", ranked, 0.8, 0.5, 0.6, 0.4
    )
    assert [c.unit_id for c in composed.citations] == ["u3"]


def _headline(uid: str, text: str, score: float) -> Candidate:
    unit = Unit(uid, "d-h.txt", "h.txt", "T", "headline", 1, 1, text, "Reuters", "2026-01-02")
    sentence = Sentence(unit, Evidence(unit, 0.5, 0.5, 0.5, 1), 0, len(text), text, 0, 1)
    return Candidate(sentence, score, (0.0,) * len(FEATURES))


def test_a_headline_leads_or_lists_but_does_not_support() -> None:
    ranked = [
        _candidate("u1", "Russia cannot alienate the Sunni countries, Milani noted.", 0.9),
        _headline("h1", "No doubt Iran wants nuclear bomb, Putin told Bush", 0.85),
        _candidate("u2", "The alliance is a strategic relationship.", 0.8),
    ]
    why = _answerer().select("Why do analysts doubt a split?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert [c.unit_id for c in why.citations] == ["u1", "u2"]
    listed = _answerer().select("Which outlets ran headlines?", ranked, 0.8, 0.5, 0.6, 0.4)
    assert "h1" in [c.unit_id for c in listed.citations]
    led = _answerer().select("What did Putin tell Bush?", ranked[1:], 0.8, 0.5, 0.6, 0.4)
    assert [c.unit_id for c in led.citations] == ["h1", "u2"]
