"""Runs the systems over the gold set once per session and prints the scoreboard at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rag  # noqa: F401  (offline environment first)
from evals.harness import GoldItem, Scoreboard, citerag_system, load_gold, run, write_reports
from rag.chain import RagChain
from rag.config import Settings
from rag.embedding import Embedder, LlamaIndexEmbedding

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EVALS = Path(__file__).resolve().parent
_BOARDS: dict[str, Scoreboard] = {}


@pytest.fixture(scope="session")
def gold() -> list[GoldItem]:
    return load_gold()


@pytest.fixture(scope="session")
def eval_embedder() -> Embedder:
    embedder = Embedder.from_settings(Settings.load())
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def eval_chain(tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder) -> RagChain:
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("eval-index"), corpus=[SEEDS])
    chain = RagChain(settings, eval_embedder)
    chain.ensure_index()
    return chain


@pytest.fixture(scope="session")
def ours(eval_chain: RagChain, gold: list[GoldItem]) -> Scoreboard:
    board = run(citerag_system(eval_chain), gold, "citerag (extractive)")
    _BOARDS["ours"] = board
    return board


@pytest.fixture(scope="session")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, eval_embedder: Embedder, gold: list[GoldItem]
) -> Scoreboard:
    from evals.baseline import NAME, build_baseline

    system = build_baseline(
        SEEDS, tmp_path_factory.mktemp("baseline-index"), LlamaIndexEmbedding(eval_embedder)
    )
    board = run(system, gold, NAME)
    _BOARDS["baseline"] = board
    return board


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "ours" not in _BOARDS:
        return
    from evals.harness import ratios, render_terminal

    boards = [_BOARDS["ours"]] + ([_BOARDS["baseline"]] if "baseline" in _BOARDS else [])
    r = ratios(boards[0], boards[1]) if len(boards) > 1 else {}
    write_reports(boards, EVALS)
    terminalreporter.section("citerag scoreboard")
    terminalreporter.write_line(render_terminal(boards, r))
    terminalreporter.write_line(f"full report: {EVALS / 'report.md'} and report.json")
