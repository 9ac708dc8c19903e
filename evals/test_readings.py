"""The kept readings (``evals.readings``) with a fake reader (fast: no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.readings import CachedReader, key


class CountingReader:
    """Scores a pair by the length of its sentence, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def warm_up(self) -> None: ...

    def score(self, question: str, sentence: str) -> float:
        self.calls += 1
        return len(sentence) / 7


def test_a_kept_reading_is_not_read_again_and_survives_a_save(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    live = CountingReader()
    first = CachedReader(path, lambda: live)
    assert first.score("Who?", "Anna did.") == round(9 / 7, 5)
    assert first.score("Who?", "Anna did.") == round(9 / 7, 5)
    assert (first.read, live.calls) == (1, 1)
    first.save()

    made: list[CountingReader] = []

    def make() -> CountingReader:
        made.append(CountingReader())
        return made[-1]

    second = CachedReader(path, make)
    assert second.score("Who?", "Anna did.") == round(9 / 7, 5)
    assert (second.read, made) == (0, []), "a fully kept run must not load a model"
    second.score("Who?", "Bob.")
    assert second.read == 1 and made[0].calls == 1


def test_the_key_holds_question_and_sentence_apart() -> None:
    assert key("a", "bc") != key("ab", "c")
    assert key("q", "s") == key("q", "s")


def test_recheck_reads_the_same_sample_again(tmp_path: Path) -> None:
    live = CountingReader()
    readings = CachedReader(tmp_path / "s.json", lambda: live)
    for n in range(5):
        readings.score("q", "x" * n)
    readings.scores[key("q", "xx")] += 1.0
    pairs = readings.recheck(5)
    assert len(pairs) == 5 and live.calls == 10
    assert sorted(round(kept - now, 5) for kept, now in pairs) == [0, 0, 0, 0, 1.0]


def test_a_new_frame_around_question_and_sentence_is_a_new_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = key("When?", "In 1932.")
    monkeypatch.setattr(
        "evals.readings.messages",
        lambda q, s: [{"role": "system", "content": "x"}, {"role": "user", "content": s + q}],
    )
    assert key("When?", "In 1932.") != before
