"""The local model's readings, kept by content hash so that a rerun reads only what is new.

A reading costs one to two seconds on two cores and is the same number every time for the same
prompt, question and sentence (to the last digits the threads move), so the fit and the
eval boards keep them in files beside the questions, as simonw/llm keys its cache by content:

- ``reader_scores.json``: dev questions' candidates, what ``make fit-reader`` fits on;
- ``reader_scores_held_out.json``: the candidates the shipped answerer reads on the frozen test
  part and the second corpus, what ``evals/test_reader.py`` reports. Nothing is fitted on it.

A changed scorer, prompt or question is a new key and is read live (and the file updated).
So that a cache cannot stand in for a model that has changed, the eval boards also read a fixed
sample of their cached pairs again and ``evals/test_reader.py`` compares the two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from rag.query.reader import Prompt, Reader

HERE = Path(__file__).resolve().parent
DEV = HERE / "reader_scores.json"
HELD_OUT = HERE / "reader_scores_held_out.json"
#: Readings are kept to five decimals: finer digits change with the threads and the KV cache.
DIGITS = 5


def key(prompt: Prompt, question: str, sentence: str) -> str:
    """The cache key of one reading: a hash of the whole chat the reader is asked
    (``Prompt.messages``), so a new wording of the instruction or of the frame around question
    and sentence is read anew, and each prompt's readings have keys of their own."""
    chat = "\0".join(m["content"] for m in prompt.messages(question, sentence))
    return hashlib.sha256(chat.encode()).hexdigest()[:20]


class CachedReader:
    """A ``rag.query.reader.Reader`` answering from ``path`` where it can and from the reader
    ``make()`` builds (on the first miss only, so a fully cached run never loads a model)."""

    def __init__(self, path: Path, make: Callable[[], Reader]) -> None:
        self.path = path
        self.make = make
        self.scores: dict[str, float] = (
            json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        )
        self._reader: Reader | None = None
        self.read = 0
        self.used: dict[str, tuple[Prompt, str, str]] = {}

    @property
    def live(self) -> Reader:
        if self._reader is None:
            self._reader = self.make()
        return self._reader

    def warm_up(self) -> None:
        """Nothing to load before the first miss."""

    def score(self, prompt: Prompt, question: str, sentence: str) -> float:
        k = key(prompt, question, sentence)
        self.used[k] = (prompt, question, sentence)
        if k not in self.scores:
            self.scores[k] = round(self.live.score(prompt, question, sentence), DIGITS)
            self.read += 1
        return self.scores[k]

    def recheck(self, n: int) -> list[tuple[float, float]]:
        """(kept, read now) for ``n`` of the pairs this run scored, the same ones on every run
        with the same candidates (the smallest keys)."""
        sample = sorted(self.used)[:n]
        return [(self.scores[k], round(self.live.score(*self.used[k]), DIGITS)) for k in sample]

    def save(self) -> None:
        text = json.dumps(dict(sorted(self.scores.items())), indent=0)
        self.path.write_text(text + "\n", encoding="utf-8")


__all__ = ["DEV", "HELD_OUT", "CachedReader", "key"]
