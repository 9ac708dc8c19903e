"""Text normalisation, sentence splitting and keyword tokenisation.

Matching happens on normalised text (NFKC, straight quotes, plain hyphens, single spaces) so that
"Won’t" and "Won't" or a non-breaking space never decide whether a passage is found; display and
citation always use the original text, which is why sentence spans are offsets into the original.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

#: English month names, the one list that headline dates, BM25 terms and answer features read.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": None,
        "\u200b": None,
        "\ufeff": None,
    }
)
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Return ``text`` in the canonical form used for hashing and matching.

    >>> normalize("Won\u2019t\u00a0go \u2013 now")
    "Won't go - now"
    """
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _SPACES.sub(" ", text).strip()


# --- sentences -------------------------------------------------------------------------------

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "gov",
    "sen",
    "rep",
    "st",
    "jr",
    "sr",
    "lt",
    "col",
    "capt",
    "sgt",
    "corp",
    "inc",
    "ltd",
    "co",
    "no",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "u.n",
    "h.r",
    "d.c",
    "a.m",
    "p.m",
}
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Span:
    """A sentence as ``text[start:end]`` of the original string."""

    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Span]:
    """Split ``text`` into sentences, keeping offsets into the original string.

    Abbreviations ("U.S.", "H.R. McMaster", "Gov.") and initials do not end a sentence.

    >>> [s.text for s in split_sentences("U.S. officials spoke. Russia denied it.")]
    ['U.S. officials spoke.', 'Russia denied it.']
    """
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        word = re.search(r"([\w.]+)[.!?]+[\"'\u201d\u2019)\]]*$", text[start:end])
        if word and match.group(0).startswith("."):
            token = word.group(1).lower().rstrip(".")
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue
            if re.fullmatch(r"(?:[a-z]\.)+[a-z]", token):
                continue
        _append(spans, text, start, end)
        start = end
    _append(spans, text, start, len(text))
    return spans


def _append(spans: list[Span], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    offset = start + chunk.index(stripped)
    spans.append(Span(offset, offset + len(stripped), stripped))


# --- keywords --------------------------------------------------------------------------------

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    say says said tell told according article articles text source sources mention mentioned
    mentions report reported reports describe described think thinks know known way ways many
    much one ones get got make made us did does do happen happened according""".split()
)
_WORD = re.compile(r"\d{1,3}(?:,\d{3})+|[A-Za-z0-9]+(?:[.'][A-Za-z0-9]+)*")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
# Snowball's Porter rather than NLTK's: importing NLTK pulls in scipy, scikit-learn and pandas,
# 0.9 s and 127 MiB of every cold start (measured with -X importtime). The two differ on 2 % of
# the evals' words (NLTK's extensions: "day" vs "dai"), the same on question and text alike.
# A Snowball stemmer keeps state while stemming, hence the lock.
_STEMMER = snowballstemmer.stemmer("porter")
_STEM_LOCK = threading.Lock()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Porter stem of a lower-case word ("divided", "divides" -> "divid"; "2nd" -> "2")."""
    ordinal = _ORDINAL.match(word)
    if ordinal:
        return ordinal.group(1)
    if word.endswith("'s"):
        word = word[:-2]
    with _STEM_LOCK:
        stemmed = str(_STEMMER.stemWord(word))
    return stemmed or word  # Snowball's Porter strips a lone "s" to nothing


def words(text: str) -> Iterator[str]:
    """Lower-cased word tokens of normalised text (punctuation dropped, "U.S." -> "us.")."""
    for match in _WORD.finditer(normalize(text)):
        yield _token(match.group(0))


def _token(raw: str) -> str:
    if "," in raw and raw[0].isdigit():
        return raw.replace(",", "")
    # Acronyms ("U.S.", "US", "UN") must not collapse into stopwords such as "us".
    if (raw.isupper() and len(raw) > 1 and raw.isalpha()) or re.fullmatch(
        r"(?:[A-Za-z]\.)+[A-Za-z]", raw
    ):
        return raw.replace(".", "").lower() + "."
    return raw.lower()


def keywords(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order, stopwords removed: the BM25 vocabulary.

    >>> keywords("What did Alex Vatanka say about Russia's allies and the U.S.?")
    ['alex', 'vatanka', 'russia', 'alli', 'us.']
    """
    out = []
    for word in words(text):
        if word.endswith("."):
            out.append(word)
        elif word not in STOPWORDS:
            out.append(stem(word))
    return out


_NUMBER = re.compile(r"\b\d[\d,.]*\b")


def numbers(text: str) -> set[str]:
    """Digit groups in ``text`` with thousands separators removed ("1,200" -> "1200")."""
    return {m.group(0).rstrip(".,").replace(",", "") for m in _NUMBER.finditer(normalize(text))}


#: Where a document first ran ("which outlet originally published ...", "where did it first
#: appear?"): what a republication credit answers.
_FIRST_RAN = re.compile(
    r"\b(?:originally|first) (?:publish|ran|run|appear)\w*|\brepublished\b", re.IGNORECASE
)
_WHERE_IT_RAN = re.compile(
    _FIRST_RAN.pattern + r"|\b(?:which|what) (?:outlet|publication|newspaper|site|magazine)\b",
    re.IGNORECASE,
)

_DOCUMENT_QUESTION = re.compile(
    r"\b(who wrote|written by|author|by whom|which outlet|what outlet|which publication|"
    r"published|publication|ran the headline|headline|newsletter|title of)\b|" + _FIRST_RAN.pattern,
    re.IGNORECASE,
)


#: The author as the one speaking in the text ("What does the author compare a controller to?",
#: "according to the writer"): the question asks what the document says, so the word "author"
#: does not make it a question about the document. Verbs of saying, arguing and explaining, the
#: same kind ``features`` reads as attribution.
_AUTHOR_SPEAKS = re.compile(
    r"\b(?:author|writer)s?\s+(?:\w+ly\s+)?(?:say|said|argue|compare|use|explain|describe|call|"
    r"suggest|recommend|claim|believe|think|thought|mean|meant|propose|warn|note|mention|cite|"
    r"conclude|predict|expect|fear|worry|worrie|hope|want|contrast|liken|illustrate|give|gave|"
    r"offer|list|identify|identifie|quote|ask|consider|see|saw|find|found|blame|credit|"
    r"critici[sz]e|praise|reject|dismiss|doubt|question|emphasi[sz]e|highlight|point|tell|told|"
    r"write about|wrote about|make|made)(?:s|es|d|ed|ing)?\b"
    r"|\baccording to the (?:author|writer)s?\b",
    re.IGNORECASE,
)


def asks_about_document(question: str) -> bool:
    """The question is about a document (who wrote it, where or when it ran, its title), not
    about what the document says.

    >>> asks_about_document("Who wrote the piece about AI agents?")
    True
    >>> asks_about_document("What does the author compare a controller to?")
    False
    """
    return bool(_DOCUMENT_QUESTION.search(_AUTHOR_SPEAKS.sub(" ", question)))


_AUTHORSHIP = re.compile(
    r"\b(who wrote|written by|authors?|by whom|writers?)\b|" + _FIRST_RAN.pattern,
    re.IGNORECASE,
)


def asks_about_authorship(question: str) -> bool:
    """The question asks who wrote a document or where it first ran: what its byline or credit
    line says ("Where does the author teach?"), not what the author says in it.

    >>> asks_about_authorship("Where does the author of the side-channel article teach?")
    True
    >>> asks_about_authorship("What everyday object does the author use to explain it?")
    False
    """
    return bool(_AUTHORSHIP.search(_AUTHOR_SPEAKS.sub(" ", question)))


def asks_where_it_ran(question: str) -> bool:
    """The question asks where a document first ran, not who wrote it.

    >>> asks_where_it_ran("Where did the piece on the earthquake first appear?")
    True
    >>> asks_where_it_ran("Who wrote the piece on the earthquake?")
    False
    """
    return bool(_WHERE_IT_RAN.search(question))


#: A byline or author's note: "By Jane Doe", "Lee Smith is a senior editor at The Weekly Standard".
BYLINE = re.compile(
    r"^([Bb]y\s+[A-Z]|[A-Z][\w.'-]+(\s+[A-Z][\w.'-]+){1,3},?\s+(is|was)\s+(a|an|the)\s+[\w\s-]{0,40}"
    r"(?i:editor|writer|reporter|correspondent|columnist|contributor|analyst|fellow|journalist|"
    r"professor|lecturer|researcher|scientist|scholar|author))",
)
#: Where a document first ran: "This article is republished from The Conversation".
CREDIT = re.compile(
    r"\b(republished from|originally (published|appeared) (in|on|by)|first (published|appeared) "
    r"(in|on))\b",
    re.IGNORECASE,
)


#: A byline that is only a name ("By Jane Doe and John Roe"), as loading makes from metadata.
BARE_BYLINE = re.compile(r"^\s*[Bb]y\s+[^.!?]{0,80}$")
#: A document named by a word for one: "the Washington Post piece", "this analysis".
_A_PIECE = (
    r"(?:the|this|that)\s+(?:[\w'.-]+\s+){0,4}?"
    r"(?:article|piece|analysis|column|op-ed|essay|commentary|story)\b"
)
#: Questions about a piece itself, which its byline, credit line or metadata answer, not its
#: text: "Who wrote the Washington Post piece?" (but not "Who wrote that Russia is hardly
#: interested ...?", about a claim), "Which outlet published the harbour article?", "When was
#: this analysis published?".
_PIECE_QUESTIONS: dict[str, re.Pattern[str]] = {
    "author": re.compile(
        rf"\b(?:who wrote|(?:author|writer) of|written by|by whom was)\s+{_A_PIECE}", re.I
    ),
    "outlet": re.compile(
        r"\b(?:(?:which|what) (?:outlet|publication|newspaper|paper|site|website|magazine)|who)"
        rf"\s+(?:published|ran|carried|printed)\s+{_A_PIECE}|\bwhere was\s+{_A_PIECE}.*\bpublished",
        re.I,
    ),
    "date": re.compile(
        rf"\bwhen (?:was|were)\s+{_A_PIECE}.*\b(?:published|written|posted|released)\b|"
        rf"\b(?:what|which) (?:date|day)\b.*\b(?:publish|post)\w*\s+{_A_PIECE}|"
        rf"\b(?:what|which) (?:date|day) (?:was|were)\s+{_A_PIECE}.*\b(?:published|posted)\b",
        re.I,
    ),
}


def asks_about_piece(question: str) -> str | None:
    """What a question asks about a piece itself ("author", "outlet" or "date"), or None.

    >>> asks_about_piece("Who wrote the Washington Post piece?")
    'author'
    >>> asks_about_piece("When was the harbour article published?")
    'date'
    >>> asks_about_piece("Which outlet published the harbour article?")
    'outlet'
    >>> asks_about_piece("Who published the harbour article?")
    'outlet'
    >>> asks_about_piece("Who wrote that Russia is hardly interested in the axis?") is None
    True
    """
    return next((k for k, p in _PIECE_QUESTIONS.items() if p.search(question)), None)


_ASKS_WHO = re.compile(r"^\s*who\b|\bby whom\b|\bwritten by\b|\bname of the (author|writer)", re.I)


def asks_who(question: str) -> bool:
    """The question asks for a name ("Who wrote it?", "Written by whom?"): what a bare byline
    answers, and nothing else about the author does.

    >>> asks_who("Who wrote the piece on sea stars?"), asks_who("Where does the author teach?")
    (True, False)
    """
    return bool(_ASKS_WHO.search(question))


def credits_document(sentence: str) -> bool:
    """A byline, an author's note or a republication credit."""
    return bool(BYLINE.match(sentence) or CREDIT.search(sentence))


#: The marker of a list item: "- ", "* ", "• " (how the loaders write an HTML or Markdown list).
LIST_MARKER = re.compile(r"^\s*[-*\u2022]\s+")


def item_start(text: str) -> int:
    """Where the words of a list item begin, after its marker (0 for any other text): the marker
    is how the loader marks the item, not something to quote.

    >>> item_start("- A power attack."), item_start("A power attack.")
    (2, 0)
    """
    marker = LIST_MARKER.match(text)
    return marker.end() if marker else 0


def has_words(text: str) -> bool:
    """A letter or a digit is in it. A line of marks alone ("#", "-", "* * *": a page copied as
    text keeps its heading marks and rules) is no text to cite or to title a document with.

    >>> [has_words(t) for t in ("#", "- -", "* * *", "## A moving target", "2024")]
    [False, False, False, True, True]
    """
    return any(c.isalnum() for c in text)


#: Closing punctuation: a line that ends in none of these is a fragment (a subheading, a caption).
CLOSED = re.compile(r"[.!?:;\"'\u201d\u2019)\]]\s*$")


def is_heading(text: str) -> bool:
    """A line with no closing punctuation that is neither a byline or credit nor a list item: a
    subheading ("Beyond NIST's initial scope"), which heads the paragraph after it, or a caption
    or author box line, which heads nothing. Quoted, it states nothing; the answerer's
    ``fragment`` feature and its hand-over of a subheading's rank both read it.

    >>> is_heading("Beyond NIST's initial scope"), is_heading("Roger J. Kreuz, Univ. of Memphis")
    (True, True)
    >>> is_heading("- Power attack"), is_heading("By Jane Doe"), is_heading("It was late.")
    (False, False, False)
    """
    return not CLOSED.search(text) and not credits_document(text) and not LIST_MARKER.match(text)


def introduces(text: str) -> bool:
    """Text that ends with a colon announces what follows: a list ("There are several kinds of
    side channel:"), a statement ("The court ruled:"); so does a subheading. Quoted alone, it
    says nothing.

    >>> introduces("There are several common types of side channels:")
    True
    >>> introduces("Beyond NIST's initial scope")
    True
    >>> introduces("The note: it was late.") or introduces("By Jane Doe")
    False
    """
    stripped = text.rstrip()
    return stripped.endswith(":") or is_heading(stripped)
