"""Seeded synthetic news archives for the speed benchmark: `python bench/synth.py 10000 DIR`.

Each file is an article as the seeds are laid out (a title, paragraphs of two to four sentences
with names, organisations, places, numbers, dates and quotes) and about one in five ends with a
list of dated headlines like the seeds' second file, so every unit kind is exercised. The text is
nonsense in detail but news-like in shape: word lengths, sentence lengths and the mix of rare
names and common words that BM25 and the answerer see in real archives. The same seed and size
always give the same files; questions drawn from the corpus come with it (``questions()``).
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

FIRST = "Amir Sara Oleg Leila Dmitri Hana Viktor Nadia Karim Irina Tomas Zara Pavel Mina".split()
LAST = (
    "Petrov Karimi Novak Haddad Sokolov Rahimi Volkov Farahani Ivanova Moradi Orlov Tehrani".split()
)
ORGS = [
    "the foreign ministry", "the central bank", "the energy agency", "the defence council",
    "the trade union", "the port authority", "the national oil company", "the grain board",
    "the rail operator", "the space agency", "the shipping firm", "the university",
]  # fmt: skip
PLACES = (
    "Tehran Moscow Baku Yerevan Ankara Kazan Tabriz Astrakhan Isfahan Samara Bandar Sochi".split()
)
TOPICS = [
    "a gas pipeline", "a grain corridor", "drone exports", "a rail link", "oil sanctions",
    "a satellite launch", "a currency swap", "a naval exercise", "a nuclear plant", "wheat prices",
    "a port expansion", "an arms deal", "a border crossing", "electricity exports",
]  # fmt: skip
VERBS = [
    "announced", "criticised", "delayed", "approved", "questioned", "financed", "negotiated",
    "suspended", "expanded", "defended",
]  # fmt: skip
MONTHS = "January February March April May June July August September October November December"
OUTLETS = ["Reuters", "Al-Monitor", "Tass", "Iran International", "The National", "Eurasianet"]


@dataclass(frozen=True)
class Fact:
    """A sentence the generator wrote, and a question it answers (for latency runs)."""

    question: str
    sentence: str


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS.split())} {rng.randint(1, 28)}, {rng.randint(2019, 2026)}"


def _sentence(rng: random.Random, facts: list[Fact]) -> str:
    kind = rng.randrange(5)
    person, org, place, topic = _name(rng), rng.choice(ORGS), rng.choice(PLACES), rng.choice(TOPICS)
    if kind == 0:
        n = rng.randint(2, 900)
        s = f"In {place}, {org} {rng.choice(VERBS)} {topic} worth {n} million dollars."
        facts.append(Fact(f"How much was {topic} in {place} worth?", s))
    elif kind == 1:
        s = f'"We will not accept {topic} on these terms," said {person}, a spokesperson for {org}.'
        facts.append(Fact(f"What did {person} say about {topic}?", s))
    elif kind == 2:
        verb = rng.choice(VERBS)
        s = f"On {_date(rng)}, officials in {place} {verb} {topic} after months of talks."
        facts.append(Fact(f"When did officials in {place} act on {topic}?", s))
    elif kind == 3:
        k = rng.randint(3, 60)
        s = f"{person} said {k} percent of {topic} would pass through {place} by next year."
        facts.append(Fact(f"How much of {topic} will pass through {place}?", s))
    else:
        s = f"Analysts in {place} warned that {topic} could strain ties with {org}."
    return s


def article(rng: random.Random, paragraphs: int, facts: list[Fact]) -> str:
    title = f"{rng.choice(PLACES)} and {rng.choice(PLACES)} weigh {rng.choice(TOPICS)}"
    body = [
        " ".join(_sentence(rng, facts) for _ in range(rng.randint(2, 4))) for _ in range(paragraphs)
    ]
    lines = [title, "", f"By {_name(rng)}", "", *("\n\n".join(body).split("\n"))]
    if rng.random() < 0.2:
        lines += ["", "Related headlines", ""]
        for _ in range(rng.randint(5, 15)):
            d = _date(rng)
            headline = f"{rng.choice(PLACES)} {rng.choice(VERBS)} {rng.choice(TOPICS)}"
            lines.append(f"- {headline} - {rng.choice(OUTLETS)} - {d} [{d}]")
    return "\n".join(lines) + "\n"


def write_corpus(units: int, folder: Path, seed: int = 7) -> list[Fact]:
    """Write articles to ``folder`` until they hold about ``units`` units (paragraphs and
    headlines); returns the facts written, for questions. Existing files are left alone."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    facts: list[Fact] = []
    written, i = 0, 0
    while written < units:
        paragraphs = rng.randint(8, 30)
        text = article(rng, paragraphs, facts)
        (folder / f"article_{i:06d}.txt").write_text(text, encoding="utf-8")
        written += paragraphs + 2 + text.count("\n- ")
        i += 1
    return facts


def questions(facts: list[Fact], n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [f.question for f in rng.sample(facts, min(n, len(facts)))]


if __name__ == "__main__":
    size, target = int(sys.argv[1]), Path(sys.argv[2])
    written = write_corpus(size, target)
    print(f"{len(list(target.glob('*.txt')))} files, {len(written)} facts in {target}")
