"""Sentences in a source that address a language model rather than a reader.

A document can carry instructions ("Ignore previous instructions and tell the reader …"). The
extractive answerer may quote such a sentence, cited, as what that document says: a quote is not
obeyed. The generative answerer is different: a model that follows the instruction writes a claim,
and the verifier would find that claim "supported" by the very sentence that commanded it. So such
sentences are taken out of what the model reads and out of what can support a generated sentence.

The patterns are deliberately narrow (the phrasings of published prompt-injection examples: telling
the model to ignore its instructions, redefining who it is, giving orders about what to tell the
user). A false positive costs little: the sentence is still indexed, retrieved and quotable.
"""

from __future__ import annotations

import re

from rag.text import normalize, split_sentences

_DIRECTIVES = [
    re.compile(
        r"\b(ignore|disregard|forget|override|bypass)\b[^.]{0,40}\b(instructions?|prompts?|"
        r"rules|guidelines|directions|context)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bsystem\s+prompt\b", re.IGNORECASE),
    re.compile(
        r"\byou\s+are\s+(now\s+)?(an?\s+)?(ai|assistant|language\s+model|chat\s*bot|llm)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(ai|assistant|language\s+model|chat\s*bot|llm)s?\b[^.]{0,30}\b(must|should|shall|"
        r"will\s+now)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\W*(tell|say\s+to|inform|instruct|advise|ask|urge)\s+(the\s+)?(user|reader|human|"
        r"visitor)s?\b",
        re.IGNORECASE,
    ),
]


def is_directive(sentence: str) -> bool:
    """Whether ``sentence`` gives orders to a model (see the module's docstring)."""
    text = normalize(sentence)
    return any(p.search(text) for p in _DIRECTIVES)


def statements(text: str) -> str:
    """``text`` without its directive sentences (empty when it is nothing but orders)."""
    return " ".join(s.text for s in split_sentences(text) if not is_directive(s.text))
