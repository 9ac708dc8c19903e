from pathlib import Path

import pytest

from rag.index.chunking import parse_headline, split_passages, split_units
from rag.index.loading import load_document

from ..conftest import STANDARD, WORLDVIEW


def _units(path: Path):
    return split_units(load_document(path))


def test_blank_line_separated_file_gives_one_unit_per_paragraph() -> None:
    units = _units(WORLDVIEW)
    kinds = [u.kind for u in units]
    # 16 blank-line separated blocks; the sign-up line that opens and closes the file once.
    assert kinds == ["paragraph"] * 15
    assert [u.ordinal for u in units] == list(range(1, 16))
    assert units[0].boilerplate and units[0].text.startswith("Want smart analysis")
    assert sum(u.boilerplate for u in units) == 1
    assert units[10].text.startswith("The idea of coaxing Russia away from Iran")


def test_newline_separated_file_gives_title_paragraphs_and_headlines() -> None:
    units = _units(STANDARD)
    counts = {k: sum(u.kind == k for u in units) for k in ("title", "paragraph", "headline")}
    assert counts == {"title": 1, "paragraph": 15, "headline": 80}
    assert units[0].kind == "title"
    # The title line repeated near the end ("See the article here:") is not a second unit.
    assert sum("Talk Putin Out of His Alliance" in u.text for u in units) == 1


def test_unit_ids_are_stable_and_unique() -> None:
    first = [u.unit_id for u in _units(STANDARD) + _units(WORLDVIEW)]
    second = [u.unit_id for u in _units(STANDARD) + _units(WORLDVIEW)]
    assert first == second
    assert len(set(first)) == len(first)


def test_nbsp_is_normalised_for_matching_but_kept_for_display() -> None:
    raw = WORLDVIEW.read_text(encoding="utf-8")
    units = _units(WORLDVIEW)
    with_nbsp = [u for u in units if "\u00a0" in u.text]
    assert len(with_nbsp) == 9  # nine paragraphs of file 000 use non-breaking spaces
    assert sum(u.text.count("\u00a0") for u in units) == raw.count("\u00a0")
    assert all("\u00a0" not in u.norm_text for u in units)
    # "weeks\u00a0of" and "weeks of" match alike.
    assert "In the first few weeks of the Trump administration" in with_nbsp[0].norm_text


def test_headlines_carry_outlet_and_iso_date() -> None:
    headlines = [u for u in _units(STANDARD) if u.kind == "headline"]
    second = headlines[1]
    assert second.text == "Iran protests: 29 killed, over 1,200 arrested by regime"
    assert second.outlet == "The Jerusalem Post"
    assert second.date == "2026-01-06"
    assert second.locator == "headline 2 (Jan 6, 2026)"
    assert second.attribution == "The Jerusalem Post, Jan 6, 2026"
    assert not [u for u in _units(STANDARD) if u.kind != "headline" and u.attribution]
    title = _units(STANDARD)[0]
    assert title.published == "The Weekly Standard" and not title.attribution  # no date known
    assert headlines[-1].date == "2025-12-22"
    assert {h.date for h in headlines} == {
        "2026-01-06",
        "2026-01-02",
        "2025-12-29",
        "2025-12-27",
        "2025-12-22",
    }


def test_headline_parsing_edge_cases() -> None:
    empty = parse_headline("- Iran warns it may act - - January 6th, 2026 [January 6th, 2026]")
    assert empty is not None and empty.outlet is None and empty.text == "Iran warns it may act"
    piped = parse_headline("- Toll hits 20 | Iran International - - January 6th, 2026 [x]")
    assert piped is not None and piped.outlet == "Iran International"
    assert piped.text == "Toll hits 20"
    acronym = parse_headline(
        "- Cabinet Turmoil Deepens - National Council of Resistance of Iran - NCRI"
        " - December 27th, 2025 [December 27th, 2025]"
    )
    assert acronym is not None
    assert acronym.outlet == "National Council of Resistance of Iran - NCRI"
    assert acronym.text == "Cabinet Turmoil Deepens"
    dashed = parse_headline("- Live - Protests continue - - January 2nd, 2026 [January 2nd, 2026]")
    assert dashed is not None and dashed.text == "Live - Protests continue"
    assert parse_headline("- just a bullet point") is None
    assert parse_headline("Plain sentence - with a dash - January 2nd, 2026") is None


def test_long_units_become_sentence_windows_that_fit_and_cover_the_text() -> None:
    units = _units(STANDARD)

    def count(text: str) -> int:
        return len(text.split())

    passages = split_passages(units, count, max_tokens=60, sentence_window=0)
    long_unit = max(units, key=lambda u: count(u.text))
    windows = [p for p in passages if p.unit.unit_id == long_unit.unit_id]
    assert len(windows) > 1
    assert all(count(p.text) <= 60 for p in passages)
    covered = " ".join(p.text for p in windows)
    for word in long_unit.norm_text.split():
        assert word in covered


def test_sentence_windows_cite_their_paragraph() -> None:
    units = _units(WORLDVIEW)
    passages = split_passages(units, lambda t: len(t.split()), max_tokens=254)
    extra = [p for p in passages if ":s" in p.passage_id]
    assert extra
    whole = {p.passage_id: p.text for p in passages if p.span is None}
    for p in extra:
        assert p.text in p.unit.norm_text
        assert p.span is not None
        start, end = p.span
        assert whole[p.unit.unit_id][start:end] == p.text


def test_a_window_of_a_unit_too_long_for_one_pass_has_no_span() -> None:
    units = _units(WORLDVIEW)
    longest = max(units, key=lambda u: len(u.text.split()))
    limit = len(longest.norm_text.split()) - 1
    passages = split_passages([longest], lambda t: len(t.split()), max_tokens=limit)
    assert longest.unit_id not in {p.passage_id for p in passages}
    assert all(p.span is None for p in passages)


@pytest.mark.slow
def test_real_tokenizer_window_is_respected(embedder) -> None:
    units = _units(STANDARD) + _units(WORLDVIEW)
    passages = split_passages(units, embedder.count_tokens, embedder.max_tokens)
    assert all(embedder.count_tokens(p.text) <= embedder.max_tokens for p in passages)


def test_a_huge_paragraph_is_windowed_in_linear_time() -> None:
    """A 2 MB paragraph with no sentence breaks: the tokenizer reads each distinct word once,
    not the growing text again and again (which took minutes on a 10 MB file)."""
    from rag.index.loading import Document

    words = [f"w{i % 5000}x{'y' * (i % 7)}" for i in range(300_000)]
    text = " ".join(words)
    read = 0

    def count(t: str) -> int:
        nonlocal read
        read += len(t)
        return sum(1 + len(w) // 4 for w in t.split())

    doc = Document(source="huge.txt", text=text, title="Huge")
    units = split_units(doc)
    read = 0
    passages = split_passages(units, count, max_tokens=254, sentence_window=0)
    assert read <= 2 * len(text)
    assert all(count(p.text) <= 254 for p in passages)
    assert " ".join(p.text for p in passages).split() == words


def test_a_paragraph_without_breaks_becomes_parts_no_longer_than_the_limit(tmp_path: Path) -> None:
    from rag.index.chunking import MAX_UNIT_CHARS

    sentences = [f"Sentence {i} says the port of Baku grew." for i in range(2000)]
    giant = " ".join(["unbroken"] * (MAX_UNIT_CHARS // 4))  # one sentence longer than the limit
    path = tmp_path / "dump.txt"
    path.write_text("A title\n\n" + " ".join(sentences) + " " + giant + ".\n\nAfter.", "utf-8")
    units = split_units(load_document(path))
    parts = [u for u in units if u.kind == "paragraph"][:-1]
    assert len(parts) > 10 and all(len(u.text) <= MAX_UNIT_CHARS for u in parts)
    assert (
        " ".join(u.text for u in parts).split() == (" ".join(sentences) + " " + giant + ".").split()
    )
    assert [u.ordinal for u in units if u.kind == "paragraph"] == list(range(1, len(parts) + 2))
    assert units[-1].text == "After."


# --- properties, on arbitrary documents (hypothesis) ------------------------------------------


def test_a_paragraph_its_file_marks_as_a_heading_is_a_heading_unit(tmp_path: Path) -> None:
    """``Unit.heading`` carries the file's markup to the answerer; the title stays the title."""
    md = tmp_path / "faq.md"
    md.write_text("# The guide\n\nOpening.\n\n## Why does it matter?\n\nBecause.\n", "utf-8")
    units = split_units(load_document(md))
    assert [(u.kind, u.text, u.heading) for u in units] == [
        ("title", "The guide", False),
        ("paragraph", "Opening.", False),
        ("paragraph", "Why does it matter?", True),
        ("paragraph", "Because.", False),
    ]


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rag.errors import DocumentError  # noqa: E402
from rag.index.chunking import MAX_UNIT_CHARS, _windows  # noqa: E402

_WORDS = st.sampled_from(
    ["Iran", "Russia", "said", "the", "U.S.", "deal.", "Mr.", "2,400", "-", "\u201cquote\u201d",
     "January 6th, 2026", "\n", "\n\n", "- Headline - Reuters -"]
)  # fmt: skip


def _count(text: str) -> int:
    return sum(len(w) // 4 + 1 for w in text.split())


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=300).map(" ".join), st.integers(8, 64))
def test_windows_fit_and_keep_every_word(text: str, limit: int) -> None:
    windows = _windows(text, _count, limit)
    assert all(_count(w) <= limit or len(w.split()) == 1 for w in windows)
    seen = " ".join(windows).split()
    assert set(seen) == set(text.split())


_BYTES = st.binary(max_size=3000) | st.lists(_WORDS, max_size=400).map(
    lambda w: " ".join(w).encode()
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_BYTES, suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_any_file_is_read_or_refused_with_a_reason(
    tmp_path: Path, data: bytes, suffix: str
) -> None:
    path = tmp_path / f"doc{suffix}"
    path.write_bytes(data)
    try:
        doc = load_document(path)
    except DocumentError as exc:
        assert exc.reason and "doc" in str(exc)
        return
    units = split_units(doc)
    assert all(
        u.text.strip() and len(u.text) <= MAX_UNIT_CHARS for u in units if u.kind == "paragraph"
    )
    assert len({u.unit_id for u in units}) == len(units)
    passages = split_passages(units, _count, 64)
    assert {p.unit.unit_id for p in passages} == {u.unit_id for u in units}


def test_a_line_of_marks_alone_is_no_unit_and_no_title(tmp_path: Path) -> None:
    """A page copied as text keeps its heading marks and rules ("#", "-", "* * *"): none is a
    unit to cite, and none is the title."""
    page = tmp_path / "copied.txt"
    text = "#\n\nA real paragraph.\n\n* * *\n\n## A moving target\n\n-\n\nThe end.\n"
    page.write_text(text, "utf-8")
    doc = load_document(page)
    assert doc.title == "A real paragraph."
    assert [u.text for u in split_units(doc)] == [
        "A real paragraph.",
        "## A moving target",
        "The end.",
    ]


def test_a_file_of_marks_alone_is_refused_as_empty(tmp_path: Path) -> None:
    page = tmp_path / "rules.txt"
    page.write_text("* * *\n\n---\n", "utf-8")
    with pytest.raises(DocumentError, match="rules.txt.*is empty"):
        load_document(page)
