"""The generative backends for real: llama.cpp in process on the packaged Qwen2.5-Coder-1.5B, and
the OpenAI-compatible client against llama-cpp-python's own server on 127.0.0.1.

Needs `make local-llm` (which `make test` runs); without llama-cpp-python these are skipped with
the reason, so `make test-fast` stays light.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.chain import RagChain
from rag.errors import ConfigError, ModelError
from rag.index.embedding import Embedder
from rag.query.verify import supports
from rag.results import Answer

from ..conftest import ROOT, SEEDS, free_port, make_chain, running

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed (run `make local-llm`)",
)

EXAMPLE = "Why do analysts doubt a Russia-Iran split?"


@pytest.fixture(scope="session")
def gguf() -> Path:
    from rag.query.llm import packaged_model

    return packaged_model(ROOT / ".rag")


@pytest.fixture(scope="module")
def local_chain(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, gguf: Path
) -> RagChain:
    chain = make_chain(
        tmp_path_factory.mktemp("llm-index"),
        [SEEDS],
        embedder,
        answerer="local",
        llm_model_path=gguf,
        llm_threads=2,
    )
    chain.ensure_index()
    return chain


def assert_verified(answer: Answer) -> None:
    """What the user sees is supported sentence by sentence by the units it cites."""
    by_n = {c.n: c.text for c in answer.citations}
    pieces = [p for p in re.split(r"(?<=\])\s+(?=[^\[])", answer.answer.strip()) if p]
    assert pieces
    for piece in pieces:
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", piece)]
        assert cited and all(n in by_n for n in cited), piece
        if answer.answerer != "extractive":
            body = re.sub(r"\s*(\[\d+\]\s*)+$", "", piece)
            assert any(supports(body, by_n[n])[0] for n in cited), piece


@pytest.mark.slow
@needs_llama
def test_packaged_model_is_assembled_and_verified(gguf: Path) -> None:
    assert gguf.stat().st_size > 1_000_000_000
    assert gguf.with_suffix(".sha256").read_text().strip().startswith("cc324af0")


@pytest.mark.slow
@needs_llama
def test_a_process_that_used_the_model_exits_quietly(gguf: Path) -> None:
    """llama-cpp-python's finaliser, run at interpreter shutdown, printed "Exception ignored ...
    TypeError" after every CLI answer and eval run that loaded the model; it is closed at exit."""
    # Held from a module torn down late, as pytest's fixture cache holds the evals' generator:
    # without LocalGenerator.close at exit this printed the TypeError (checked 2026-12-02).
    code = (
        "import threading; from pathlib import Path; from rag.query.llm import LocalGenerator; "
        f"g = LocalGenerator(Path({str(gguf)!r}), context=512, threads=2); "
        "y, n = g.logprobs([{'role': 'user', 'content': 'Say Yes.'}], ('Yes', 'No')); "
        "print(n < y < 0); "
        "threading.held = [g]"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow
@needs_llama
def test_local_backend_answers_the_example_with_verified_citations(local_chain: RagChain) -> None:
    events = list(local_chain.stream(EXAMPLE))
    assert events[0].kind == "evidence" and "[1]" in events[0].text
    answer = events[-1].result
    assert answer is not None and not answer.refused
    assert_verified(answer)


@pytest.mark.slow
@needs_llama
def test_local_backend_refuses_out_of_corpus_without_generating(local_chain: RagChain) -> None:
    events = list(local_chain.stream("What is the population of Tehran?"))
    assert [e.kind for e in events] == ["evidence", "final"]
    assert events[-1].result is not None and events[-1].result.refused


@pytest.mark.slow
@needs_llama
def test_local_backend_follow_up(local_chain: RagChain) -> None:
    answer = local_chain.ask(
        "Where does he work?", history=[{"role": "user", "content": "Who is Alex Vatanka?"}]
    )
    assert "Middle East Institute" in answer.answer
    assert_verified(answer)


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
    ]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with running(
        command, lambda: httpx.get(f"{url}/models", timeout=2).status_code == 200, log, 180
    ):
        yield url


@pytest.mark.slow
@needs_llama
def test_openai_backend_against_a_real_local_server(
    llama_server: str, tmp_path: Path, embedder: Embedder
) -> None:
    chain = make_chain(
        tmp_path,
        [SEEDS],
        embedder,
        answerer="openai",
        openai_base_url=llama_server,
        openai_model="qwen2.5-coder-1.5b",
    )
    answer = chain.ask("Who is Alex Vatanka?")
    assert not answer.refused
    assert "Vatanka" in answer.answer or "Middle East Institute" in answer.answer
    assert_verified(answer)


def test_openai_backend_must_be_configured(tmp_path: Path, fake_embedder: Embedder) -> None:
    chain = make_chain(tmp_path, [SEEDS], fake_embedder, answerer="openai")
    with pytest.raises(ConfigError, match="RAG_OPENAI_BASE_URL"):
        chain.ask("Who is Alex Vatanka?")


def test_unreachable_endpoint_names_the_setting(tmp_path: Path, fake_embedder: Embedder) -> None:
    chain = make_chain(
        tmp_path,
        [SEEDS],
        fake_embedder,
        answerer="openai",
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        openai_model="x",
    )
    with pytest.raises(ModelError, match="RAG_OPENAI_BASE_URL"):
        chain.ask("Who is Alex Vatanka?")


class _Endpoint:
    """A minimal OpenAI-compatible chat endpoint on loopback that streams a fixed reply (or
    fails with a status), recording what it was sent."""

    def __init__(self, reply: str = "", status: int = 200) -> None:
        import http.server
        import json
        import threading

        outer = self
        self.requests: list[tuple[dict[str, str], dict]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((dict(self.headers), body))
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model not found"}')
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i in range(0, len(reply), 5):
                    chunk = {"choices": [{"delta": {"content": reply[i : i + 5]}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b": keep-alive\n\ndata: [DONE]\n\n")

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()


def test_openai_stream_is_read_piece_by_piece_with_the_key_sent() -> None:
    from rag.query.llm import OpenAIGenerator

    endpoint = _Endpoint("Alex Vatanka is an Iran expert [1].")
    try:
        generator = OpenAIGenerator(endpoint.url, "m", api_key="sk-test")
        pieces = list(generator.stream([{"role": "user", "content": "Who?"}], 32))
    finally:
        endpoint.close()
    assert "".join(pieces) == "Alex Vatanka is an Iran expert [1]." and len(pieces) > 1
    headers, body = endpoint.requests[0]
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "m" and body["stream"] is True and body["max_tokens"] == 32


def test_openai_error_status_is_a_model_error_naming_the_settings() -> None:
    from rag.query.llm import OpenAIGenerator

    endpoint = _Endpoint(status=404)
    try:
        with pytest.raises(ModelError, match="404.*RAG_OPENAI_MODEL"):
            list(OpenAIGenerator(endpoint.url, "missing").stream([], 8))
    finally:
        endpoint.close()
