"""The scoreboard's figures against the issue's targets: counts, intervals and what they say."""

from __future__ import annotations

import pytest

from evals.harness import (
    Cited,
    GoldItem,
    ItemScore,
    Response,
    Scoreboard,
    against_target,
    interval,
    render_markdown,
    render_terminal,
    score_item,
)


def _item(n: int, *, answerable: bool, refused: bool, facts: bool = True) -> ItemScore:
    facts_ok = (facts and not refused) if answerable else None
    answer = "" if refused else "A."
    return ItemScore(f"q{n}", "paragraph", "Q?", answer, refused, facts_ok, None, None, None, 0.0)


def _board(system: str, refused_unanswerable: int, refused_answerable: int) -> Scoreboard:
    unanswerable = [_item(i, answerable=False, refused=i < refused_unanswerable) for i in range(16)]
    answerable = [
        _item(100 + i, answerable=True, refused=i < refused_answerable) for i in range(68)
    ]
    return Scoreboard(system, unanswerable + answerable)


def test_counts_are_the_questions_behind_each_share() -> None:
    board = _board("citerag [test]", 15, 4)
    assert board.counts("refusal_accuracy") == (15, 16)
    assert board.counts("false_refusal_rate") == (4, 68)
    assert board.counts("fact_recall") == (64, 68)
    assert board.metrics()["false_refusal_rate"] == round(4 / 68, 4)
    assert Scoreboard("empty", []).counts("fact_recall") is None


def test_lead_precision_asks_whether_the_first_citation_supports() -> None:
    """The same two citations in either order: the same citation precision, and the lead is
    supported only when the supporting unit is cited first; refusals and unanswerable items
    have no lead."""
    item = GoldItem(
        "q1", "why", "Why do analysts doubt a split?", [["too many interests"]], ["Too many"]
    )
    reason = Cited("Too many interests hold them together.", "Too many interests hold them.")
    premise = Cited("We are willing to explore that.", "We are willing to explore that.")

    def scored(*cited: Cited, refused: bool = False) -> ItemScore:
        text = " ".join(c.text for c in cited)
        return score_item(item, Response(text, refused, list(cited), [], 0.0))

    first, second = scored(reason, premise), scored(premise, reason)
    assert first.citation_precision == second.citation_precision == 0.5
    assert (first.lead_supported, second.lead_supported) == (True, False)
    assert scored(refused=True).lead_supported is None
    board = Scoreboard("b", [first, second, scored(refused=True)])
    assert board.metrics()["lead_precision"] == 0.5


def test_an_interval_holds_the_share_and_narrows_with_more_questions() -> None:
    small, large = interval(15, 16), interval(150, 160)
    assert small[0] < 15 / 16 < small[1] and large[0] < 15 / 16 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    with pytest.raises(ValueError):
        interval(1, 0)


def test_a_target_is_met_or_missed_only_when_the_interval_says_so() -> None:
    def verdict(refused_unanswerable: int, refused_answerable: int, metric: str) -> str:
        said = against_target(_board("b", refused_unanswerable, refused_answerable), metric)
        assert said is not None
        return said

    assert verdict(15, 4, "refusal_accuracy").endswith("undecided")
    assert verdict(16, 0, "false_refusal_rate").endswith("met")
    assert verdict(8, 0, "refusal_accuracy").endswith("missed")
    assert verdict(16, 20, "false_refusal_rate").endswith("missed")
    assert "15 of 16" in verdict(15, 4, "refusal_accuracy")


def test_the_reports_give_the_held_out_boards_against_the_targets() -> None:
    boards = [_board("citerag [dev]", 10, 2), _board("citerag [test]", 15, 4)]
    markdown = render_markdown(boards, {}, [])
    section = markdown.split("## Against the targets")[1].split("\n## ")[0]
    assert "| citerag [test] | 0.941 = 64 of 68" in section and "[dev]" not in section
    assert "0.938 = 15 of 16 (0.736-0.997): undecided" in section
    terminal = render_terminal(boards, {}, [])
    assert "targets, citerag [test]: fact_recall 0.941 = 64 of 68" in terminal
    assert "targets, citerag [dev]" not in terminal


def test_unanswerable_questions_are_broken_out_by_tag() -> None:
    """Near misses and off-topic questions are refused at different rates, so the report gives
    each its own row; the tags come from the gold item through ``score_item``."""
    refusal = Response("The articles don't cover this question.", True, [], [], 0.0)
    answer = Response("Lee Smith is a senior editor.", False, [], [], 0.0)

    def unanswerable(n: int, tag: str, response: Response) -> ItemScore:
        return score_item(GoldItem(f"u{n}", "unanswerable", "Q?", [], [], tags=[tag]), response)

    board = Scoreboard(
        "citerag",
        [
            unanswerable(0, "near-miss", refusal),
            unanswerable(1, "near-miss", answer),
            unanswerable(2, "near-miss", answer),
            unanswerable(3, "off-topic", refusal),
            _item(9, answerable=True, refused=False),
        ],
    )
    kinds = board.by_kind()
    assert kinds["unanswerable"]["refusal_accuracy"] == 0.5
    assert kinds["unanswerable, near-miss"]["n"] == 3
    assert kinds["unanswerable, near-miss"]["refusal_accuracy"] == round(1 / 3, 4)
    assert kinds["unanswerable, off-topic"]["refusal_accuracy"] == 1.0
    assert "| unanswerable, near-miss | 3 |" in render_markdown([board], {}, [])
