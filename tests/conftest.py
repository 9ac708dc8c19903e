"""Shared fixtures: the real embedding model and real Chroma, loaded once per test session."""

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
from rag.embedding import Embedder

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
