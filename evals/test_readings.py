"""The kept readings (``evals.readings``) with a fake reader (fast: no model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from evals.readings import CachedReader, key
from rag.query.reader import PHRASE, STATES, Prompt


class CountingReader:
    """Scores a pair by the length of its sentence, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def warm_up(self) -> None: ...

    def score(self, prompt: Prompt, question: str, sentence: str) -> float:
        self.calls += 1
        return len(sentence) / 7


def test_a_kept_reading_is_not_read_again_and_survives_a_save(tmp_path: Path) -> None:
    path = tmp_path / "scores.json"
    live = CountingReader()
    first = CachedReader(path, lambda: live)
    assert first.score(STATES, "Who?", "Anna did.") == round(9 / 7, 5)
    assert first.score(STATES, "Who?", "Anna did.") == round(9 / 7, 5)
    assert (first.read, live.calls) == (1, 1)
    first.save()

    made: list[CountingReader] = []

    def make() -> CountingReader:
        made.append(CountingReader())
        return made[-1]

    second = CachedReader(path, make)
    assert second.score(STATES, "Who?", "Anna did.") == round(9 / 7, 5)
    assert (second.read, made) == (0, []), "a fully kept run must not load a model"
    second.score(STATES, "Who?", "Bob.")
    assert second.read == 1 and made[0].calls == 1


def test_the_key_holds_question_and_sentence_and_prompts_apart() -> None:
    assert key(STATES, "a", "bc") != key(STATES, "ab", "c")
    assert key(STATES, "q", "s") == key(STATES, "q", "s")
    assert key(STATES, "q", "s") != key(PHRASE, "q", "s")


def test_recheck_reads_the_same_sample_again(tmp_path: Path) -> None:
    live = CountingReader()
    readings = CachedReader(tmp_path / "s.json", lambda: live)
    for n in range(5):
        readings.score(STATES, "q", "x" * n)
    readings.scores[key(STATES, "q", "xx")] += 1.0
    pairs = readings.recheck(5)
    assert len(pairs) == 5 and live.calls == 10
    assert sorted(round(kept - now, 5) for kept, now in pairs) == [0, 0, 0, 0, 1.0]


def test_a_new_frame_around_question_and_sentence_is_a_new_key() -> None:
    before = key(STATES, "When?", "In 1932.")
    assert key(replace(STATES, user="{sentence}{question}"), "When?", "In 1932.") != before
    assert key(replace(STATES, system="x"), "When?", "In 1932.") != before
