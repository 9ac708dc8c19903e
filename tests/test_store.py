"""The index on a real `chroma run` server on 127.0.0.1, as well as embedded."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.embedding import Embedder
from rag.errors import StoreError

from .conftest import SEEDS, free_port, make_chain, running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    command = [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    with running(
        command, lambda: httpx.get(heartbeat, timeout=1).status_code == 200, path / "chroma.log", 60
    ):
        yield port


def test_ingest_and_ask_through_a_chroma_server(
    chroma_server: int, tmp_path: Path, embedder: Embedder
) -> None:
    chain = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=chroma_server
    )
    assert chain.ingest().summary() == "2 files: 2 added"
    answer = chain.ask("What did Alex Vatanka say?")
    assert not answer.refused and "Vatanka" in answer.answer
    again = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=chroma_server
    )
    assert again.ingest().summary() == "2 files: 2 unchanged"
    assert not (tmp_path / "chroma").exists()  # nothing was written to the embedded store


def test_unreachable_server_names_the_setting(tmp_path: Path, embedder: Embedder) -> None:
    chain = make_chain(
        tmp_path, [SEEDS], embedder, chroma_host="127.0.0.1", chroma_port=free_port()
    )
    with pytest.raises(StoreError, match="RAG_CHROMA_HOST"):
        chain.ask("Who is Alex Vatanka?")
