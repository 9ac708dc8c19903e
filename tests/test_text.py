import pytest

from rag.text import (
    asks_about_authorship,
    asks_about_document,
    keywords,
    normalize,
    numbers,
    split_sentences,
)


def test_normalize_folds_quotes_dashes_and_nbsp() -> None:
    assert normalize("Won\u2019t\u00a0go \u2013 \u201cnow\u201d") == 'Won\'t go - "now"'


def test_split_sentences_keeps_abbreviations_and_offsets() -> None:
    text = 'Said H.R. McMaster, on Fox News. U.S. officials told the AP on Monday. "Yes," he said.'
    spans = split_sentences(text)
    assert [s.text for s in spans] == [
        "Said H.R. McMaster, on Fox News.",
        "U.S. officials told the AP on Monday.",
        '"Yes," he said.',
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_split_sentences_after_closing_quote() -> None:
    spans = split_sentences('He said, "the opposite result has been achieved." Then he left.')
    assert len(spans) == 2


def test_keywords_stem_drop_stopwords_and_keep_acronyms() -> None:
    assert keywords("What divided the allies?") == keywords("divides ally")
    assert "us." in keywords("U.S. forces")
    assert "us." not in keywords("let us go")
    assert "1200" in keywords("over 1,200 arrested")
    assert keywords("January 2nd") == keywords("january 2")


def test_numbers() -> None:
    assert numbers("29 killed, over 1,200 arrested") == {"29", "1200"}


# --- properties, on arbitrary text (hypothesis) ---------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = ["U.S.", "Dr.", "A.", "said", "Iran.", "?", "!", " ", "\n", '"', "3.5", "e.g.", "\u2019"]
_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400
) | st.lists(st.sampled_from(_PIECES), max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_sentences_are_ordered_slices_of_the_original(text: str) -> None:
    spans = split_sentences(text)
    end = 0
    for span in spans:
        assert span.text == text[span.start : span.end] and span.text.strip() == span.text
        assert span.start >= end and span.text
        end = span.end
    assert "".join(s.text for s in spans).split() == text.split() or not text.strip() or spans


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_normalize_is_idempotent_and_keywords_never_fail(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert all(k and " " not in k for k in keywords(text))


@pytest.mark.parametrize(
    ("question", "document", "authorship"),
    [
        ("Who wrote the article about the water system hacks?", True, True),
        ("Where does the author of the side-channel article teach?", True, True),
        ("Which outlet ran the headline about the protests?", True, False),
        ("What household device does the author compare a controller to?", False, False),
        ("What does the writer argue about sanctions?", False, False),
        ("According to the author, why did talks fail?", False, False),
        ("What did Putin say about Iran?", False, False),
    ],
)
def test_the_author_speaking_is_not_a_question_about_the_document(
    question: str, document: bool, authorship: bool
) -> None:
    assert asks_about_document(question) is document
    assert asks_about_authorship(question) is authorship
