from rag.text import keywords, normalize, numbers, split_sentences


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
