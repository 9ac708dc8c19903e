from rag.query.conversation import entities, needs_context, normalize_history, rewrite


def test_pronoun_is_replaced_by_the_person_named_before() -> None:
    question = rewrite("Where does he work?", ["Who is Alex Vatanka?"])
    assert question == "Where does Alex Vatanka work?"
    assert (
        rewrite("What is his job?", ["What did H.R. McMaster say on Fox News?"])
        == "What is H.R. McMaster's job?"
    )


def test_person_may_come_from_the_previous_answer() -> None:
    history = [
        {"role": "user", "content": "Who wrote the Weekly Standard article?"},
        {"role": "assistant", "content": "Lee Smith is a senior editor at The Weekly Standard."},
    ]
    assert rewrite("What else did he write?", history) == "What else did Lee Smith write?"


def test_topic_follow_up_gets_the_earlier_subject_appended() -> None:
    out = rewrite("And what about the hotline?", ["How did Russia respond to the U.S. strike?"])
    assert out.startswith("And what about the hotline") and "Russia" in out


def test_standalone_questions_are_left_alone() -> None:
    assert rewrite("Who is Samuel Charap?", ["Who is Alex Vatanka?"]) == "Who is Samuel Charap?"
    assert rewrite("Where does he work?", []) == "Where does he work?"
    assert not needs_context("What did Anna Borshchevskaya write?")


def test_the_question_is_read_with_plain_quotes_and_dashes_as_the_passages_were() -> None:
    assert rewrite("Why doubt a Russia\u2013Iran split?", []) == "Why doubt a Russia-Iran split?"
    assert rewrite("What\u2019s  the \u201cwedge\u201d?", None) == 'What\'s the "wedge"?'
    assert rewrite("Where does he work?", ["Who is Alex\u00a0Vatanka?"]) == (
        "Where does Alex Vatanka work?"
    )


def test_history_formats() -> None:
    pairs = normalize_history([["Q1", "A1"], "Q2", {"role": "assistant", "content": "A2"}, 5])
    assert [m["role"] for m in pairs] == ["user", "assistant", "user", "assistant"]


def test_entities() -> None:
    assert entities("What did Alex Vatanka of the Middle East Institute say?")[:2] == [
        "Alex Vatanka of the Middle East Institute"
    ] or "Alex Vatanka" in entities("What did Alex Vatanka say?")
