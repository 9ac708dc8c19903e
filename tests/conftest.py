"""Shared fixtures: the real embedding model and real Chroma, loaded once per test session; and
the same chain on the deterministic fakes of ``tests/fakes.py`` for fast behaviour tests."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import rag  # noqa: F401  (applies the offline environment first)
from rag.chain import RagChain
from rag.config import Settings
from rag.index.embedding import Embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
WORLDVIEW = SEEDS / "000_0584513ccffa5459.txt"
STANDARD = SEEDS / "001_0479f5dab17c5578.txt"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    model = Embedder.from_settings(Settings.load())
    model.warm_up()
    return model


def make_chain(
    data_dir: Path, corpus: list[Path], embedder: Embedder, **overrides: object
) -> RagChain:
    """A chain on its own data directory that shares the session's loaded model."""
    return RagChain(Settings.load(data_dir=data_dir, corpus=corpus, **overrides), embedder)


@pytest.fixture(scope="session")
def seed_chain(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> RagChain:
    """A chain over the seed corpus, indexed once for the whole session."""
    chain = make_chain(tmp_path_factory.mktemp("seed-index"), [SEEDS], embedder)
    chain.ensure_index()
    return chain


@pytest.fixture(scope="session")
def fake_embedder() -> Embedder:
    from .fakes import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture(scope="session")
def fake_chain(tmp_path_factory: pytest.TempPathFactory, fake_embedder: Embedder) -> RagChain:
    """The seed corpus indexed with the hashing embedder (real embedded Chroma): seconds."""
    chain = make_chain(tmp_path_factory.mktemp("fake-index"), [SEEDS], fake_embedder)
    chain.ensure_index()
    return chain


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every chain built from settings in this test (the CLI's, the server's) uses the hashing
    embedder, with its data in a fresh folder over the seeds; returns that folder."""
    from .fakes import HashingEmbedder

    monkeypatch.setattr(Embedder, "from_settings", classmethod(lambda cls, s: HashingEmbedder()))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_CORPUS", str(SEEDS))
    return tmp_path / "data"


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the seed corpus (documents and sidecar metadata)."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    yield folder


def free_port() -> int:
    """A loopback port nobody is listening on (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(
    command: list[str], ready: Callable[[], bool], log: Path, timeout: float, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a real server process, wait until ``ready()`` says it answers, stop it afterwards.
    Its output goes to ``log``, whose tail is shown if it dies or never gets ready."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{command[:3]} exited:\n{log.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if ready():
                        break
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{command[:3]} not ready in {timeout:.0f} s:\n{log.read_text()[-3000:]}"
                    )
                time.sleep(0.3)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
