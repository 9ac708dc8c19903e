"""Follow-up questions: rewrite "Where does he work?" into a question that stands on its own.

No model is needed: a follow-up that leans on the conversation (a pronoun, "what about ...", or
no subject of its own) takes the named entities of the most recent turn that had any. The pronoun
is replaced when that reads naturally, otherwise the entity is appended, which is all retrieval
needs.

    >>> rewrite("Where does he work?", [{"role": "user", "content": "Who is Alex Vatanka?"}])
    'Where does Alex Vatanka work?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rag.text import STOPWORDS, keywords, normalize

Message = dict[str, Any]

_PERSON = re.compile(r"\b(he|she|him)\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\b(his)\b", re.IGNORECASE)
_OTHER = re.compile(
    r"\b(they|them|their|it|its|this|that|these|those|there|her|hers)\b", re.IGNORECASE
)
_ELLIPTIC = re.compile(r"^\s*(and|what about|how about|what of|also|same for)\b", re.IGNORECASE)
_QUESTION_WORDS = {
    "who",
    "what",
    "when",
    "where",
    "why",
    "how",
    "which",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "can",
    "could",
    "would",
    "should",
    "will",
    "has",
    "have",
    "and",
    "the",
    "a",
    "an",
    "in",
    "on",
    "of",
    "tell",
    "according",
}


def normalize_history(history: Sequence[Any] | None) -> list[Message]:
    """Accept ``[{"role", "content"}]`` messages, ``[user, assistant]`` pairs or plain strings."""
    messages: list[Message] = []
    for item in history or []:
        if isinstance(item, dict) and "content" in item:
            content = item["content"]
            if isinstance(content, str):
                messages.append({"role": str(item.get("role", "user")), "content": content})
        elif isinstance(item, list | tuple) and len(item) == 2:
            user, assistant = item
            if isinstance(user, str):
                messages.append({"role": "user", "content": user})
            if isinstance(assistant, str):
                messages.append({"role": "assistant", "content": assistant})
        elif isinstance(item, str):
            messages.append({"role": "user", "content": item})
    return messages


def entities(text: str) -> list[str]:
    """Capitalised name spans ("Alex Vatanka", "Middle East Institute"), in order of appearance."""
    spans = re.findall(r"(?:[A-Z][\w'.\-]*(?:\s+(?:of|the|al|for)\s+|\s+)?)+", text)
    out = []
    for span in spans:
        words = [w for w in span.strip().split() if w]
        while words and words[0].lower().strip("'s") in _QUESTION_WORDS | STOPWORDS:
            words = words[1:]
        while words and words[-1].lower() in {"of", "the", "al", "for"}:
            words = words[:-1]
        name = " ".join(words).strip(" .,'")
        name = re.sub(r"'s$", "", name)
        if name and name.lower() not in STOPWORDS:
            out.append(name)
    return out


def needs_context(question: str) -> bool:
    if _ELLIPTIC.search(question) or _PERSON.search(question) or _POSSESSIVE.search(question):
        return True
    if _OTHER.search(question) and not entities(question):
        return True
    return len(keywords(question)) <= 1 and not entities(question)


def rewrite(question: str, history: Sequence[Any] | None) -> str:
    """A standalone version of ``question`` given the earlier turns, in ``normalize``d form:
    straight quotes and plain dashes, as the passages were embedded, so that "Russia–Iran"
    typed with an en dash is the same question as with a hyphen (it was not: the two got
    different answers to the README's own example)."""
    return normalize(_standalone(question, history))


def _standalone(question: str, history: Sequence[Any] | None) -> str:
    messages = normalize_history(history)
    if not messages or not needs_context(question):
        return question
    subject = _subject(
        messages, person=bool(_PERSON.search(question) or _POSSESSIVE.search(question))
    )
    if subject and _PERSON.search(question):
        return _PERSON.sub(subject, question, count=1)
    if subject and _POSSESSIVE.search(question):
        return _POSSESSIVE.sub(f"{subject}'s", question, count=1)
    topic = _topic(messages) or _subject(messages, person=False)
    if not topic:
        return question
    stripped = question.rstrip(" ?.!")
    return f"{stripped} ({topic})?" if question.rstrip().endswith("?") else f"{stripped} ({topic})"


def _topic(messages: list[Message]) -> str:
    """The content words of the latest user turn: what "it", "that" or "they" most likely mean."""
    for message in reversed(messages):
        if message["role"] == "user":
            words = re.findall(r"[\w'\-\u2013]+", message["content"])
            kept = [w for w in words if w.lower() not in STOPWORDS | _QUESTION_WORDS]
            if kept:
                return " ".join(kept)
    return ""


def _subject(messages: list[Message], person: bool) -> str | None:
    """The entity a pronoun most likely refers to: for he/she/his, the latest person-like name
    (two or three capitalised words not preceded by "the"), looking at the user's turns first and
    then the answers; otherwise the most specific entity of the latest user turn."""
    for role in ("user", "assistant"):
        for message in reversed(messages):
            if message["role"] != role:
                continue
            text = re.sub(r"\[\d+\]", "", message["content"])
            found = entities(text)
            if person:
                found = [e for e in found if _person_like(e, text)]
            if found:
                return max(found[:3], key=lambda e: len(e.split()))
    return None


def _person_like(name: str, text: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 3 or any(w.lower() in {"of", "for"} for w in words):
        return False
    return not re.search(rf"\bthe\s+{re.escape(name)}", text, re.IGNORECASE)
