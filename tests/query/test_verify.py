"""The verifier on hand-made model outputs: each failure mode has its expected outcome."""

from rag.query.verify import supports, verify

EVIDENCE = {
    1: 'The idea of coaxing Russia away from Iran is "certainly not going to go anywhere now," '
    "said Alex Vatanka, an Iran expert at the Middle East Institute in Washington.",
    2: "Iran protests: 29 killed, over 1,200 arrested by regime",
    3: "Both have supported Bashar al-Assad against an array of opposition forces since the "
    "Syrian conflict erupted in the summer of 2011.",
}


def test_correct_sentence_is_kept_as_is() -> None:
    result = verify("Alex Vatanka is an Iran expert at the Middle East Institute [1].", EVIDENCE)
    assert [s.text for s in result.kept] == [
        "Alex Vatanka is an Iran expert at the Middle East Institute. [1]"
    ]
    assert not result.kept[0].repaired and result.dropped == []


def test_wrong_citation_is_repaired_to_the_supporting_unit() -> None:
    result = verify("The Syrian conflict erupted in the summer of 2011 [2].", EVIDENCE)
    assert [s.cites for s in result.kept] == [(3,)]
    assert result.kept[0].repaired


def test_invented_number_is_dropped_with_the_reason() -> None:
    result = verify("In the protests, 10 civilians were killed [2].", EVIDENCE)
    assert result.kept == []
    assert "number 10" in result.dropped[0].reason


def test_missing_citation_is_repaired_or_dropped() -> None:
    repaired = verify("Over 1,200 people were arrested in the Iran protests.", EVIDENCE)
    assert [s.cites for s in repaired.kept] == [(2,)] and repaired.kept[0].repaired
    dropped = verify("Tehran has a population of nine million.", EVIDENCE)
    assert dropped.kept == [] and dropped.dropped[0].reason == "no citation"


def test_out_of_range_citation() -> None:
    result = verify("Vatanka said it is not going to go anywhere [7].", EVIDENCE)
    assert [s.cites for s in result.kept] == [(1,)] and result.kept[0].repaired
    unsupported = verify("Putin will visit Tehran next week [7].", EVIDENCE)
    assert unsupported.kept == [] and "[7]" in unsupported.dropped[0].reason


def test_invented_name_is_not_supported() -> None:
    ok, reason = supports("Vladimir Putin said it is not going anywhere.", EVIDENCE[1])
    assert not ok and "putin" in reason


def test_mixed_answer_keeps_the_good_sentences() -> None:
    result = verify(
        "Alex Vatanka works at the Middle East Institute [1]. He has written 12 books [1]. "
        "In the Iran protests 29 were killed [2].",
        EVIDENCE,
    )
    assert [s.cites for s in result.kept] == [(1,), (2,)]
    assert len(result.dropped) == 1 and "12" in result.dropped[0].reason
