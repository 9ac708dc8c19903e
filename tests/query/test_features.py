"""Features of candidate sentences: pure functions, no model needed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.index.chunking import Unit, UnitKind
from rag.query.features import (
    FEATURES,
    QUESTION_FEATURES,
    ablations,
    absent_terms,
    answer_types,
    counted,
    counts,
    extract,
    has_type,
    is_explanatory,
    is_list_question,
    question_row,
    same_family,
    sentences_of,
    without_names,
)
from rag.query.retrieval import Evidence
from rag.text import keywords


def _unit(text: str, kind: UnitKind = "paragraph", uid: str = "u1") -> Unit:
    return Unit(uid, "d1", "a.txt", "A title", kind, 1, 1, text)


def test_answer_types_read_the_interrogative() -> None:
    assert answer_types("How many were killed?") == {"number"}
    assert answer_types("In what year did the war start?") == {"year"}
    assert "time" in answer_types("When did the conflict erupt?")
    assert "person" in answer_types("Who is Lee Smith?")
    assert "place" in answer_types("In which city is the base?")
    assert "organisation" in answer_types("Which outlet ran the headline?")
    assert "quote" in answer_types("What phrase did he use?")
    assert answer_types("What did he say?") == set()
    assert answer_types("What was he called?") == {"quote"}
    assert answer_types("Why was he called Ginger?") == set()  # a reason, not a name


def test_finer_kinds_replace_the_coarse_one_and_need_their_own_evidence() -> None:
    """A price is a number, but not every number is a price: "How much does it cost?" is
    answered by an amount of money in any currency, not by "one pack per order"."""
    assert answer_types("How much does a pack of toilet paper cost?") == {"money"}
    assert answer_types("How much money did they raise?") == {"money"}
    assert answer_types("What fine did the shops face?") == {"money"}
    assert answer_types("By what percentage did sales rise?") == {"percent"}
    assert answer_types("How much did sales rise?") == {"number"}
    assert answer_types("What is the title of his book?") == {"quote"}
    for text in ("is 900 million złotys", "valued at US$4.2 billion", "costs 5 kroner",
                 "PLN 20 each", "three million dollars", "50 pence", "for €12"):  # fmt: skip
        assert has_type("money", text, set()), text
    for text in ("limited to one pack per order", "in 2019", "the two countries"):
        assert not has_type("money", text, set()), text
    assert has_type("percent", "sales rose 40%", set())
    assert has_type("percent", "up 12 per cent", set())
    assert not has_type("percent", "sales rose by 40,000", set())
    assert has_type("year", "founded in 1978", set())
    assert not has_type("year", "founded on Thursday", set())
    assert has_type("duration", "The journey took 22 minutes", set())
    assert has_type("duration", "rivals for hundreds of years", set())
    assert not has_type("duration", "It started in 2014", set())


def test_counted_reads_what_a_count_question_counts() -> None:
    assert counted("How many Hezbollah fighters are in Syria?") == set(keywords("fighters are"))
    assert counted("What share of voters backed it?") == set(keywords("voters backed it"))
    assert counted("Who counted the votes?") is None
    assert counted("How many?") == set()


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("How many people were killed?", "Iran protests: 29 killed, over 1,200 arrested", True),
        ("How many were arrested?", "Over 1,200 protesters were arrested.", True),
        ("How much does the carpet cost?", "The carpet costs $5,000 in Tehran.", True),
        (
            "How many aircraft did Russia deploy?",
            "The two countries used to keep their aircraft apart.",
            False,
        ),
        ("How many executions took place?", "The report was published in 2025 by a group.", False),
        ("How many soldiers are there?", "Soldiers arrived in Syria.", False),
        ("How much did the campaign cost?", "The campaign started on November 20.", False),
        ("How many deaths were there?", "In 2014 deaths rose sharply.", False),
        ("How many deaths were there?", "In 2014, 16,000 deaths were recorded.", True),
    ],
)
def test_counts_wants_a_number_beside_the_counted_thing(
    question: str, text: str, expected: bool
) -> None:
    things = counted(question)
    assert things is not None
    assert counts(text, things) is expected


def test_count_features_reach_the_row() -> None:
    unit = _unit("The two countries met. At least 16 people died in Tehran.")
    sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
    question = "How many people died?"
    rows = extract(question, keywords(question), [1.0, 0.0], sents, [[0.2, 0.9], [0.8, 0.1]],
                   lambda term: 1.0, {})  # fmt: skip
    named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert [r["count_asked"] for r in named] == [1.0, 1.0]
    assert [r["count_match"] for r in named] == [0.0, 1.0]


def test_fragment_is_a_heading_line_as_rag_text_defines_it() -> None:
    """The ``fragment`` feature and the answerer's hand-over of a subheading's rank read one
    definition (``rag.text.is_heading``): a subheading or caption line is one; a sentence, a
    byline, a republication credit and a headline are not; a paragraph its file marks as a
    heading (``Unit.heading``) is one whatever its punctuation."""
    texts: dict[str, tuple[UnitKind, float]] = {
        "Beyond the initial scope": ("paragraph", 1.0),
        "Roger J. Kreuz, University of Memphis": ("paragraph", 1.0),
        "The plan was dropped.": ("paragraph", 0.0),
        "By Jane Doe": ("paragraph", 0.0),
        "This article is republished from The Conversation": ("paragraph", 0.0),
        "Iran protests: 29 killed": ("headline", 0.0),
    }
    for text, (kind, expected) in texts.items():
        sents = sentences_of([Evidence(_unit(text, kind), 0.6, 0.5, 1.0, 1)])
        question = "What was dropped?"
        (row,) = extract(question, keywords(question), [1.0], sents, [[1.0]], lambda t: 1.0, {})
        assert row[FEATURES.index("fragment")] == expected, text
    marked = replace(_unit("So where do we go from here?"), heading=True)
    for unit, expected in ((marked, 1.0), (replace(marked, heading=False), 0.0)):
        sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
        question = "Where do we go?"
        (row,) = extract(question, keywords(question), [1.0], sents, [[1.0]], lambda t: 1.0, {})
        assert row[FEATURES.index("fragment")] == expected, unit


def test_a_headline_is_matched_with_the_outlet_and_date_it_is_shown_with() -> None:
    """Asked when or by whom a headline ran, its date and outlet (shown beside it in the answer)
    are the asked-for fact, although its text holds neither."""
    bare = _unit("Iran launched satellites from Russia", kind="headline")
    dated = Unit("u2", "d1", "a.txt", "A title", "headline", 2, 2, bare.text, "Bloomberg",
                 "2025-12-28")  # fmt: skip
    sents = sentences_of([Evidence(bare, 0.6, 0.5, 1.0, 1), Evidence(dated, 0.6, 0.5, 1.0, 2)])
    questions = (
        "When did Bloomberg report that Iran launched satellites?",
        "Which outlet reported that Iran launched satellites from Russia?",
    )
    for question in questions:
        rows = extract(question, keywords(question), [1.0, 0.0], sents, [[1.0, 0.0]] * 2,
                       lambda term: 1.0, {})  # fmt: skip
        named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
        assert [r["type_match"] for r in named] == [0.0, 1.0], question


def test_question_shapes() -> None:
    assert is_explanatory("Why do analysts doubt it?")
    assert not is_explanatory("How many were killed?")
    for measure in ("How tall is the volcano?", "How fast did he fly?"):
        assert not is_explanatory(measure) and "number" in answer_types(measure)
    assert not is_explanatory("How long did it take?")
    assert answer_types("How long have they been rivals?") == {"duration"}
    assert answer_types("How long ago did it start?") == {"number", "time"}
    assert answer_types("What vaccination rate had Samoa reached?") == set()  # not adjacent
    assert answer_types("What rate had Samoa reached?") == {"number"}
    assert is_explanatory("How did Russia respond?")
    assert is_list_question("Which analysts are quoted?")
    assert is_list_question("What do the two articles disagree on?")
    assert not is_list_question("Who is Alex Vatanka?")


def test_sentences_split_paragraphs_but_not_headlines() -> None:
    para = _unit("First sentence here. Second one follows.")
    head = _unit("Iran protests: 29 killed. Over 1,200 arrested", kind="headline", uid="u2")
    got = sentences_of([Evidence(para, 0.5, 0.4, 0.3, 1), Evidence(head, 0.4, 0.3, 0.2, 2)])
    assert [s.text for s in got] == [
        "First sentence here.",
        "Second one follows.",
        "Iran protests: 29 killed. Over 1,200 arrested",
    ]
    assert [(s.index, s.count) for s in got] == [(0, 2), (1, 2), (0, 1)]


def test_feature_rows_follow_the_named_order() -> None:
    unit = _unit("The toll rose. At least 16 people died in the protests in Tehran.")
    sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
    question = "How many people died in the protests?"
    rows = extract(
        question,
        keywords(question),
        [1.0, 0.0],
        sents,
        [[0.2, 0.9], [0.8, 0.1]],
        lambda term: 2.0 if term == "protest" else 1.0,
        {},
    )
    named = [dict(zip(FEATURES, row, strict=True)) for row in rows]
    assert len(rows) == 2 and all(len(r) == len(FEATURES) for r in rows)
    first, second = named
    assert second["dense_sentence"] == pytest.approx(0.8) and second["dense_sentence_gap"] == 0.0
    assert first["dense_sentence_gap"] < 0
    assert second["type_asked"] == 1.0 and second["type_match"] == 1.0
    assert first["type_match"] == 0.0 and first["type_match_near"] == 1.0
    assert second["coverage_sentence"] == 1.0 and first["coverage_sentence"] == 0.0
    assert first["first_sentence"] == 1.0 and second["first_sentence"] == 0.0


def test_names_missing_and_missing_rare() -> None:
    unit = _unit("Russia and Iran need each other.")
    sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
    rows = extract(
        "What did Vatanka say about Syria?", ["vatanka", "syria"], [1.0], sents, [[0.5]],
        lambda term: 5.0 if term == "vatanka" else 1.0, {},
    )  # fmt: skip
    named = dict(zip(FEATURES, rows[0], strict=True))
    assert named["names_missing"] == 1.0
    assert named["missing_rare"] == 5.0 / 6.0 and named["coverage_unit"] == 0.0


def test_a_name_in_the_paragraph_before_is_not_missing() -> None:
    before = _unit("NIST's Jane Doe wrote the draft.", uid="u0")
    unit = _unit("Its initial effort covers agents inside organizations.")
    question = "Which agents does NIST's effort leave out?"

    def names_missing(preceding: Unit | None) -> float:
        sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1, preceding)])
        rows = extract(question, keywords(question), [1.0], sents, [[0.5]], lambda t: 1.0, {})
        return dict(zip(FEATURES, rows[0], strict=True))["names_missing"]

    assert names_missing(None) == 1.0
    assert names_missing(before) == 0.0


def test_ablations_leave_out_each_term_once() -> None:
    question = "Which university did Lee Smith attend?"
    got = ablations(question, keywords(question))
    assert got["univers"] == "Which did Lee Smith attend?"
    assert got["smith"] == "Which university did Lee attend?"
    assert set(got) == set(keywords(question))
    assert ablations("Iran?", ["iran"]) == {}  # nothing left to embed


def test_unmatched_terms_are_those_the_sentence_does_not_mean() -> None:
    """A term absent from the text counts against a sentence only when leaving it out of the
    question brings the question closer to the sentence (the sentence never meant it)."""
    unit = _unit("Lee Smith is a senior editor. He studied at Princeton.")
    sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
    question = "Which university did Lee Smith attend?"
    query = [1.0, 0.0]
    vectors = [[0.6, 0.8], [0.9, -0.436]]
    # Without "univers" the question moves towards the first sentence and away from the second;
    # without "attend" it moves nowhere.
    ablated = {"univers": [0.8, 0.6], "attend": [1.0, 0.0]}
    rows = extract(question, ["univers", "attend", "lee", "smith"], query, sents, vectors,
                   lambda term: 1.0, ablated)  # fmt: skip
    first, second = (dict(zip(FEATURES, row, strict=True)) for row in rows)
    assert first["unmatched"] == pytest.approx(0.6 * 0.8 + 0.8 * 0.6 - 0.6)
    assert second["unmatched"] == 0.0
    at = QUESTION_FEATURES.index("best_unmatched")
    assert question_row(rows, [0.9, 0.2])[at] == pytest.approx(first["unmatched"])
    assert question_row(rows, [0.2, 0.9])[at] == 0.0
    # A term the unit holds is no near miss, however the vectors move.
    ablated["lee"] = [0.0, 1.0]
    again = extract(question, ["univers", "attend", "lee", "smith"], query, sents, vectors,
                    lambda term: 1.0, ablated)  # fmt: skip
    assert again == rows


def test_without_names_keeps_what_is_asked_about_them() -> None:
    assert without_names("Which university did Lee Smith attend?") == "Which university did attend?"
    assert without_names("Why did Qassem Suleimani visit Moscow?") == "Why did visit?"
    assert without_names("Who is Lee Smith?") == "Who is?"
    assert without_names("what is it") == "what is it"  # nobody named: the question itself


def test_predicate_features_compare_sentences_with_the_question_without_names() -> None:
    unit = _unit("Lee Smith is a senior editor. He studied at Princeton.")
    sents = sentences_of([Evidence(unit, 0.6, 0.5, 1.0, 1)])
    question = "Which university did Lee Smith attend?"
    rows = extract(question, keywords(question), [1.0, 0.0], sents, [[0.9, 0.436], [0.6, 0.8]],
                   lambda term: 1.0, None, [0.0, 1.0])  # fmt: skip
    first, second = (dict(zip(FEATURES, row, strict=True)) for row in rows)
    assert first["dense_sentence"] > second["dense_sentence"]  # the name pulls to the first
    assert second["dense_predicate"] == pytest.approx(0.8)  # what is asked, to the second
    assert second["dense_predicate_gap"] == 0.0 and first["dense_predicate_gap"] < 0
    same = extract(question, keywords(question), [1.0, 0.0], sents, [[0.9, 0.436], [0.6, 0.8]],
                   lambda term: 1.0)  # fmt: skip
    at = FEATURES.index("dense_predicate")
    assert [r[at] for r in same] == [pytest.approx(0.9), pytest.approx(0.6)]  # no vector: q's


def test_same_family_is_the_prefix_rule_whatever_the_set_type() -> None:
    """The set look-up over cached stem prefixes (frozensets) and the scan (other sets) give
    what the rule says: one stem extends the other by at most three letters, both of five or
    more, checked against the rule itself on random stems over a small alphabet."""
    import random

    def rule(term: str, terms: set[str]) -> bool:
        return term in terms or (
            len(term) >= 5
            and any(
                len(o) >= 5 and abs(len(o) - len(term)) <= 3
                and (o.startswith(term) or term.startswith(o))
                for o in terms
            )
        )  # fmt: skip

    rng = random.Random(7)
    for _ in range(20000):
        term = "".join(rng.choice("ab") for _ in range(rng.randint(3, 9)))
        terms = {"".join(rng.choice("ab") for _ in range(rng.randint(3, 11))) for _ in range(4)}
        expected = rule(term, terms)
        assert same_family(term, frozenset(terms)) == expected, (term, terms)
        assert same_family(term, terms) == expected, (term, terms)


def test_a_unit_that_introduces_a_list_says_what_the_list_says() -> None:
    """ "The plan has three main parts:" holds "flood" through its items: the term is not absent,
    and the unit's coverage counts it."""
    intro = Unit("u1", "d", "a.md", "T", "paragraph", 1, 1, "The plan has three main parts:")
    item = Unit("u2", "d", "a.md", "T", "paragraph", 2, 2, "- Higher standards in flood zones.")
    terms = keywords("What are the main parts of the flood plan?")
    alone, introducing = (
        Evidence(intro, 0.6, 0.5, 1.0, 1),
        Evidence(intro, 0.6, 0.5, 1.0, 1, following=(item,)),
    )
    assert "flood" in absent_terms(terms, alone)
    assert absent_terms(terms, introducing) == []
    rows = [
        extract(
            "What are the main parts of the flood plan?",
            terms,
            [1.0, 0.0],
            sentences_of([ev]),
            [[1.0, 0.0]],
            lambda t: 1.0,
        )[0]  # fmt: skip
        for ev in (alone, introducing)
    ]
    cover = FEATURES.index("coverage_unit")
    assert rows[1][cover] > rows[0][cover]


def test_a_list_item_is_quoted_without_its_marker() -> None:
    item = Unit("u1", "d", "a.md", "T", "paragraph", 1, 1, "- Drains cost $40 million. More later.")
    first, second = sentences_of([Evidence(item, 0.6, 0.5, 1.0, 1)])
    assert (first.text, first.start) == ("Drains cost $40 million.", 2)
    assert second.text == "More later."


def test_the_question_row_reads_the_spread_and_the_kind_of_question() -> None:
    """``top_sum`` adds the five best probabilities only (a bigger corpus brings more candidates,
    not more evidence); ``type_met_near_top`` asks whether one of the three best holds the kind
    asked, and is 1.0 when no kind is asked; the kinds of question come from the rows."""
    blank = dict.fromkeys(FEATURES, 0.0)
    rows = [dict(blank) for _ in range(7)]
    for row in rows:
        row["type_asked"] = 1.0
        row["list_question"] = 1.0
    rows[2]["type_match"] = 1.0
    probs = [0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.05]
    q = dict(zip(QUESTION_FEATURES, question_row([list(r.values()) for r in rows], probs),
                 strict=True))  # fmt: skip
    assert q["top_sum"] == pytest.approx(1.5)
    assert (q["second"], q["third"]) == (0.4, 0.3)
    assert q["type_met_near_top"] == 1.0
    assert (q["question_list"], q["question_typed"], q["question_explanatory"]) == (1.0, 1.0, 0.0)
    rows[2]["type_match"], rows[3]["type_match"] = 0.0, 1.0
    q = dict(zip(QUESTION_FEATURES, question_row([list(r.values()) for r in rows], probs),
                 strict=True))  # fmt: skip
    assert q["type_met_near_top"] == 0.0
    for row in rows:
        row["type_asked"] = 0.0
    q = dict(zip(QUESTION_FEATURES, question_row([list(r.values()) for r in rows], probs),
                 strict=True))  # fmt: skip
    assert (q["type_met_near_top"], q["question_typed"]) == (1.0, 0.0)
